"""What the runner and the executors share: a run to do, the record of a run, a failed run.

These sit below both, so that neither imports the other; :mod:`ganbench.runner` re-exports
them (``ganbench.runner.RunTask`` and friends keep working).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ganbench.storage import METRICS_FILE, write_json

if TYPE_CHECKING:
    from ganbench.config import RunConfig


@dataclass
class RunRecord:
    """The outcome of one run of a sweep."""

    config: RunConfig
    run_dir: Path
    status: str  # finished, diverged, failed, or skipped (already done earlier)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunTask:
    """One run to do: what an executor receives, and all a worker needs besides the catalog."""

    config: RunConfig
    run_dir: Path
    data_root: Path | None = None
    command: list[str] | None = None  # the driver's command line, recorded in config.json
    attempt: int = 1
    # metrics.json as the driver saw it when it planned the run (storage.file_state): a
    # completed run whose metrics.json has changed since was done by another process.
    seen: tuple[int, int, int] | None = None
    loggers: tuple[str, ...] = ()  # --log: the loggers the run sends what it records to
    # ganbench search's early stopping: called with (step, values over training) at each
    # evaluation, True stops the run as "pruned"; picklable, so it travels to Ray workers too.
    stop_rule: Callable[[int, dict[str, float]], bool] | None = None


def record_failure(task: RunTask, error: str) -> RunRecord:
    """Write a failed run's ``metrics.json`` (status ``failed``, the error text) and return its record.

    A failed run does not count as done, so the next sweep redoes it.
    """
    config = task.config
    write_json(task.run_dir / METRICS_FILE, {
        "run_id": config.run_id, "status": "failed", "variant": config.variant,
        "dataset": config.dataset, "seed": config.seed, "error": error, "attempt": task.attempt,
    })
    return RunRecord(config, task.run_dir, "failed", error=error)
