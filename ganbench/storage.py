"""Atomic files and the layout of a run folder.

``results/<sweep>/<run-id>/`` holds ``config.json``, ``history.csv``, ``samples.png``,
``generator.pt``, ``critic.pt``, ``evaluations.csv`` (with ``--eval-every``) and, written last, ``metrics.json``. Every file is written to
a temporary name in the same folder and renamed into place, so a run killed half-way never
leaves a ``metrics.json`` behind, and only a run with one counts as done.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.png"
GENERATOR_FILE = "generator.pt"
CRITIC_FILE = "critic.pt"
EVALUATIONS_FILE = "evaluations.csv"  # metrics over training (--eval-every)
DONE_STATUSES = ("finished", "diverged")
# "kind" in the config.json and metrics.json of an evaluation folder (ganbench evaluate):
# samples made elsewhere, scored like a run, without training history or cost figures.
EVALUATION_KIND = "evaluation"


def is_evaluation(record: dict[str, Any]) -> bool:
    """Whether a ``config.json`` or ``metrics.json`` record is an evaluation's, not a trained run's."""
    return record.get("kind") == EVALUATION_KIND


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically; non-finite floats become ``null``."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_safe(data), indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def is_done(run_dir: Path, digest: str | None = None) -> bool:
    """Whether ``run_dir`` holds a completed run (of config ``digest``, if given)."""
    try:
        metrics = read_json(run_dir / METRICS_FILE)
        config = read_json(run_dir / CONFIG_FILE)
    except (OSError, ValueError):
        return False
    if metrics.get("status") not in DONE_STATUSES:
        return False
    return digest is None or config.get("digest") == digest
