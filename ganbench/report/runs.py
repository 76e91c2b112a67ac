"""The runs of a results folder, loaded with everything a report needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ganbench.storage import EVALUATIONS_FILE, HISTORY_FILE, SAMPLES_FILE, DamagedRun, RunFolder, scan_runs
from ganbench.tables import comparison_labels

logger = logging.getLogger("ganbench")


@dataclass
class RunData:
    """One run on disk: its identity, stored config and summary, and its curves."""

    run_dir: Path
    config: dict[str, Any]  # config.json: run_id, digest, config, environment, command, data_root
    summary: dict[str, Any]  # metrics.json: status, timings, metrics, metric_errors, ...
    history: pd.DataFrame | None  # per-step losses (history.csv)
    evaluations: pd.DataFrame | None  # metrics over training (evaluations.csv, --eval-every)
    label: str = ""  # the name it is compared under (see ganbench.tables.comparison_labels)

    @property
    def run_id(self) -> str:
        """The run folder's name."""
        return self.run_dir.name

    @property
    def variant(self) -> str:
        """The variant as compared: its name, plus the settings that set it apart from other
        runs of that variant (``vanilla [arch=stylegan]``)."""
        return self.label or self.summary["variant"]

    @property
    def dataset(self) -> str:
        return self.summary["dataset"]

    @property
    def seed(self) -> int:
        return int(self.summary["seed"])

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def samples_png(self) -> Path | None:
        path = self.run_dir / SAMPLES_FILE
        return path if path.is_file() else None


def _csv(path: Path) -> pd.DataFrame | None:
    """A per-step table with a numeric ``step`` column, ``None`` if absent; :class:`DamagedRun`
    if it cannot be read as one."""
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DamagedRun(f"{path.name} is not a readable CSV table ({str(exc).strip()})") from None
    if "step" not in table.columns or not all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes):
        raise DamagedRun(f"{path.name} is not a table of numbers with a 'step' column")
    return table


def load_runs(path: Path | Sequence[RunFolder]) -> list[RunData]:
    """Every usable run at or below ``path`` (or of the runs :func:`ganbench.storage.scan_runs`
    found), sorted by data set, variant and seed; a damaged or unfinished run folder is skipped
    with one warning line naming it and the reason."""
    folders = scan_runs(path) if isinstance(path, (str, Path)) else list(path)
    labels = comparison_labels({run.run_dir: run.record["config"] for run in folders})
    runs = []
    for folder in folders:
        try:
            history = _csv(folder.run_dir / HISTORY_FILE)
            evaluations = _csv(folder.run_dir / EVALUATIONS_FILE)
        except DamagedRun as exc:
            logger.warning("skipping run folder %s: %s", folder.run_dir, exc)
            continue
        runs.append(RunData(folder.run_dir, folder.record, folder.summary, history, evaluations,
                            labels[folder.run_dir]))
    return sorted(runs, key=lambda r: (r.dataset, r.variant, r.seed, r.run_id))
