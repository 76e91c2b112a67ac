"""The runs of a results folder, loaded with everything a report needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.storage import CONFIG_FILE, EVALUATIONS_FILE, HISTORY_FILE, METRICS_FILE, SAMPLES_FILE, read_json
from ganbench.tables import comparison_labels, find_run_dirs


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
        return self.summary.get("run_id", self.run_dir.name)

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
    return pd.read_csv(path) if path.is_file() else None


def load_runs(path: Path) -> list[RunData]:
    """Every run at or below ``path``, sorted by data set, variant and seed."""
    run_dirs = find_run_dirs(path)
    configs = {run_dir: read_json(run_dir / CONFIG_FILE) for run_dir in run_dirs}
    labels = comparison_labels({run_dir: record["config"] for run_dir, record in configs.items()})
    runs = [
        RunData(run_dir, configs[run_dir], read_json(run_dir / METRICS_FILE),
                _csv(run_dir / HISTORY_FILE), _csv(run_dir / EVALUATIONS_FILE), labels[run_dir])
        for run_dir in run_dirs
    ]
    return sorted(runs, key=lambda r: (r.dataset, r.variant, r.seed, r.run_id))
