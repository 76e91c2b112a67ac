"""Running a sweep: each variant × data set × seed, resumable, one failure does not stop the rest."""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.catalog import Catalog
from ganbench.checkpoints import CheckpointInterval, Checkpointer, CheckpointMismatch, remove_checkpoints
from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.executors import DEFAULT_EXECUTOR, Executor, make_executor, opened, run_guarded
from ganbench.loggers import RunLoggers
from ganbench.fast import ComputeMode, apply_backend_flags, backend_flags, default_backends
from ganbench.metrics import EvaluationContext, EvaluationOptions, MetricSkipped
from ganbench.plugins import plugin_changes, plugin_record
from ganbench.samples import fixed_noise, sample_labels, save_samples
from ganbench.seeding import torch_threads
from ganbench.storage import (
    CONFIG_FILE, CRITIC_FILE, EVALUATIONS_FILE, GENERATOR_FILE, HISTORY_FILE, LOCK_FILE, METRICS_FILE,
    SAMPLES_FILE, atomic_path, completed_run, file_state, record_files, remove_temporaries, run_lock, write_json,
)
from ganbench.tasks import RunRecord, RunTask, record_failure  # defined below runner and executors; re-exported
from ganbench.timing import one_off_seconds
from ganbench.training import train
from ganbench.translation import save_translation_samples, train_translation

logger = logging.getLogger("ganbench")


def environment() -> dict[str, Any]:
    """Versions and hardware recorded with every run."""
    from ganbench import __version__

    cuda = torch.cuda.is_available()
    return {
        "ganbench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": __import__("torchvision").__version__,
        "cuda": torch.version.cuda if cuda else None,
        "device_name": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


def plugin_records(config: RunConfig, catalog: Catalog) -> dict[str, dict[str, dict[str, Any]]]:
    """``{kind: {name: plugin_record}}`` for the variant, data set, architecture and metrics
    ``config`` uses: which plugin (and which version or file of it) provides each name.
    A metric's record also lists the value keys it declares, so that tables can say which
    plugin a value came from when that plugin is not loaded."""
    used = (("variant", catalog.variants, [config.variant]), ("dataset", catalog.datasets, [config.dataset]),
            ("architecture", catalog.architectures, [config.arch]), ("metric", catalog.metrics, config.metrics))
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, registry, names in used:
        for name in names:
            if name in registry:
                record = plugin_record(registry.plugin_of(name))
                if kind == "metric":
                    record["values"] = sorted(registry.get(name).value_info())
                records.setdefault(kind, {})[name] = record
    return records


def _git_commit() -> str | None:
    """The commit of ganbench's source when it runs from a git checkout (``+dirty`` if edited)."""
    source = Path(__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def evaluate(config: RunConfig, catalog: Catalog, *, dataset, source, generator, history,
             data_root: Path | None = None, over_training_only: bool = False,
             skip_reason: str | None = None) -> tuple[dict, dict, dict]:
    """Compute the run's metrics: ``(values, errors, details)`` (see :func:`compute_metrics`)."""
    context = EvaluationContext(
        dataset=dataset, source=source, generator=generator, latent_dim=config.latent_dim,
        history=history, eval_samples=config.eval_samples, device=torch.device(config.device),
        seed=config.seed, options=EvaluationOptions(config.fid_pipeline, config.inception_weights, data_root),
    )
    return compute_metrics(context, config.metrics, catalog, subject=f"run {config.run_id}",
                           over_training_only=over_training_only, skip_reason=skip_reason)


def compute_metrics(context: EvaluationContext, metrics: Iterable[str], catalog: Catalog, *, subject: str,
                    over_training_only: bool = False, skip_reason: str | None = None,
                    strict: bool = False) -> tuple[dict, dict, dict]:
    """Compute the named metrics on ``context``: ``(values, errors, details)``.

    The one place metrics are computed, for trained runs and for ``ganbench evaluate``.
    A metric that fails or is skipped is reported in ``errors`` (``"skipped: ..."`` for a
    :class:`MetricSkipped`), never raised, so a broken metric plugin cannot lose the run;
    with ``strict``, a :class:`GanbenchError` (a problem with the user's input) is raised
    instead. ``details`` records how each figure was obtained (features, sample counts).
    ``subject`` names what is evaluated in warnings.
    """
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in metrics:
        metric_cls = catalog.metrics.get(name)
        if over_training_only and not metric_cls.over_training:
            continue
        if skip_reason is not None and metric_cls.requires & {"samples"}:
            errors[name] = f"skipped: {skip_reason}"
            continue
        try:
            computed = metric_cls().compute(context)
            values.update(checked_values(computed, name, catalog.metrics.plugin_of(name)))
        except MetricSkipped as exc:
            errors[name] = f"skipped: {exc}"
        except GanbenchError as exc:
            if strict:
                raise
            errors[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"metric {name!r} could not run on {subject}: {exc}", stacklevel=2)
        except Exception as exc:  # noqa: BLE001 - a broken metric plugin must not lose the run
            errors[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"metric {name!r} failed on {subject}: {errors[name]}", stacklevel=2)
    return values, errors, context.details


def checked_values(computed: Any, metric: str, plugin: str) -> dict[str, float]:
    """A metric's ``compute`` result as ``{value key: float}``; anything else is the metric's error.

    Values must be real numbers, finite or NaN (undefined, stored as ``null``); an infinity,
    a string, a tensor or a bool raises :class:`TypeError` naming the metric and its plugin.
    """
    where = f"metric {metric!r} (plugin {plugin!r})"
    if not isinstance(computed, dict):
        raise TypeError(f"{where} returned a {type(computed).__name__}; compute() must return a dict "
                        "of {value key: number}.")
    values: dict[str, float] = {}
    for key, value in computed.items():
        if not isinstance(key, str):
            raise TypeError(f"{where} returned the value key {key!r}; keys must be strings.")
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isinf(value):
            raise TypeError(f"{where} returned {key}={value!r} ({type(value).__name__}); values must be "
                            "finite numbers, or NaN when undefined (use float(...), .item() for tensors).")
        values[key] = float(value)
    return values


def _clear(run_dir: Path) -> None:
    """Empty ``run_dir`` (an unfinished or forced run starts from scratch), keeping its lock."""
    for child in run_dir.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def run_one(config: RunConfig, catalog: Catalog, run_dir: Path, *, data_root: Path | None = None,
            command: list[str] | None = None, on_step: Callable[[int, dict[str, float]], None] | None = None,
            loggers: Sequence[str] = (),
            stop_rule: Callable[[int, dict[str, float]], bool] | None = None) -> dict[str, Any]:
    """Train, evaluate and save one run into ``run_dir``; returns the ``metrics.json`` content.

    ``on_step`` is called after each loss read-back with the number of finished generator
    steps and the latest step's losses (``{"g_loss": ..., "d_loss": ...}``), for progress
    display. ``loggers`` names loggers of ``catalog.loggers`` (``--log``) that receive the
    losses of every step, the metrics, the sample grids and the configuration; one that raises
    is dropped with a warning (:class:`ganbench.loggers.RunLoggers`) and the run goes on.

    ``stop_rule`` (``ganbench search``'s pruning) gets each evaluation over training
    (``config.eval_every``); when it returns ``True`` the run ends there with status ``pruned``
    and is evaluated and saved as it is.

    A checkpoint is saved whenever ``config.checkpoint_every`` says; a folder that holds a
    usable checkpoint of the same config digest is not emptied: the run goes on from its
    latest checkpoint, with results identical to an uninterrupted run (bit for bit on CPU),
    and ``resumed_from`` lists the steps it went on from. Training, wall-clock and CPU times
    are summed over the segments, each counted up to the checkpoint the next went on from;
    peak memory is the largest of the segments'. A finished run's checkpoints are deleted.
    One-off work done during the run (:func:`ganbench.timing.one_off_work`: a domain
    classifier trained, real statistics computed) is recorded as ``setup_time_s`` (summed over
    the segments as the other times) and left out of ``wall_clock_s``, ``cpu_time_s`` and
    ``eval_time_s``, so the first run of a sweep is not charged for the caches every later run
    uses.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpointer = Checkpointer(run_dir, config.digest(), CheckpointInterval.parse(config.checkpoint_every),
                                config.keep_checkpoints)
    resume = checkpointer.load_latest(required=("evaluations", "resumed_from", "segments"))
    if resume is None:
        _clear(run_dir)
    else:
        remove_temporaries(run_dir)  # of files whose writing was killed (the checkpoints' are gone)
    with torch_threads(_resumed_threads(resume, config, run_dir)):
        write_json(run_dir / CONFIG_FILE, {
            "run_id": config.run_id, "digest": config.digest(), "config": config.to_dict(),
            "environment": environment(), "command": command or sys.argv,
            "data_root": str(Path(data_root).resolve()) if data_root else None,
            "plugins": plugin_records(config, catalog),  # beside "config": its digest is unchanged
        })
        logged_config = {"run_id": config.run_id, "digest": config.digest(), **config.to_dict()}
        run_loggers = RunLoggers.open(loggers, catalog.loggers, run_dir, logged_config)
        try:
            if run_loggers:
                run_loggers.log_text("config", json.dumps(logged_config, indent=2))
            return _train_and_save(config, catalog, run_dir, run_loggers, checkpointer, resume, data_root=data_root,
                                   on_step=on_step, stop_rule=stop_rule)
        except CheckpointMismatch as exc:
            logger.warning("ignoring checkpoint of step %s in %s: it does not fit this run (%s); the run starts "
                           "from step 0", resume["step"] if resume else "?", run_dir, exc)
            remove_checkpoints(run_dir)
        finally:
            run_loggers.close()
    return run_one(config, catalog, run_dir, data_root=data_root, command=command, on_step=on_step,
                   loggers=loggers, stop_rule=stop_rule)


def _resumed_threads(resume: dict[str, Any] | None, config: RunConfig, run_dir: Path) -> int | None:
    """The torch thread count a resumed CPU run started with, when it differs from the current
    one: CPU results depend on the thread count, so the run goes on with the same (warned)."""
    threads = resume.get("torch_threads") if resume is not None and config.device == "cpu" else None
    if not isinstance(threads, int) or threads < 1 or threads == torch.get_num_threads():
        return None
    logger.warning("run %s goes on with %d torch threads, as it started (here: %d), so that it ends as an "
                   "uninterrupted run would", run_dir.name, threads, torch.get_num_threads())
    return threads


def latest_losses(rows: pd.DataFrame) -> dict[str, float]:
    """The last row of history ``rows`` without its ``step`` and its NaN (not applicable) values."""
    if rows.empty:
        return {}
    last = rows.iloc[-1].drop("step", errors="ignore")
    return {key: float(value) for key, value in last.items() if not math.isnan(value)}


def _log_picture(run_loggers: RunLoggers, step: int, path: Path) -> None:
    """Send the picture saved at ``path`` to the loggers, as saved (a ``(3, H, W)`` uint8 tensor)."""
    if run_loggers:
        import numpy as np
        from PIL import Image

        with Image.open(path) as picture:
            pixels = np.asarray(picture.convert("RGB"))
        run_loggers.log_images(step, "samples", torch.from_numpy(pixels.copy()).permute(2, 0, 1))


def _train_and_save(config: RunConfig, catalog: Catalog, run_dir: Path, run_loggers: RunLoggers,
                    checkpointer: Checkpointer, resume: dict[str, Any] | None, *,
                    data_root: Path | None, on_step: Callable[[int, dict[str, float]], None] | None,
                    stop_rule: Callable[[int, dict[str, float]], bool] | None = None) -> dict[str, Any]:
    """What :func:`run_one` does once the run's folder and loggers are ready."""
    started, cpu_started = time.perf_counter(), time.process_time()
    setup_started = one_off_seconds()
    dataset_cls = catalog.datasets.get(config.dataset)
    dataset_kind = dataset_cls.kind
    translation = dataset_cls.task == "translation"
    num_classes = dataset_cls.num_classes if catalog.variants.get(config.variant).conditional else None
    noise = None if translation else fixed_noise(config.seed, dataset_kind, config.latent_dim, num_classes)
    labels = sample_labels(noise.shape[0], dataset_kind, num_classes) if num_classes else None
    train_run = train_translation if translation else train

    def on_samples(step: int, generator, source=None) -> None:
        path = run_dir / f"samples-step{step:06d}.png"
        if translation:  # the translation loop passes its data: the pictures show fixed images
            save_translation_samples(generator, source, path)
        else:
            save_samples(generator, noise, dataset_kind, path, title=f"{config.variant} step {step}", labels=labels)
        _log_picture(run_loggers, step, path)

    evaluations: list[dict[str, Any]] = list(resume["evaluations"]) if resume else []
    earlier = resume["segments"] if resume else {"wall_clock_s": 0.0, "cpu_time_s": 0.0}
    resumed_from = [*resume["resumed_from"], resume["step"]] if resume else []

    def segments() -> dict[str, float]:
        """Wall-clock and CPU seconds of this run so far, setup work left out; and that setup
        work's wall-clock seconds (every segment does its own)."""
        setup_wall, setup_cpu = (now - then for now, then in zip(one_off_seconds(), setup_started))
        return {"wall_clock_s": earlier["wall_clock_s"] + time.perf_counter() - started - setup_wall,
                "cpu_time_s": earlier["cpu_time_s"] + time.process_time() - cpu_started - setup_cpu,
                "checkpoint_time_s": earlier.get("checkpoint_time_s", 0.0) + checkpointer.save_seconds,
                "setup_time_s": earlier.get("setup_time_s", 0.0) + setup_wall}

    checkpointer.extra = lambda: {"evaluations": evaluations, "resumed_from": resumed_from, "segments": segments(),
                                  "torch_threads": torch.get_num_threads()}

    def on_evaluate(step: int, generator, dataset, source) -> bool:
        with default_backends(torch.device(config.device)):  # as after training, whatever the mode
            values, _errors, _details = evaluate(config, catalog, dataset=dataset, source=source,
                                                 generator=generator, history=None, data_root=data_root,
                                                 over_training_only=True)
        evaluations.append({"step": step, **values})
        run_loggers.log_scalars(step, {f"eval/{key}": value for key, value in values.items()})
        return stop_rule is not None and stop_rule(step, values)

    def on_progress(done: int, rows: pd.DataFrame) -> None:
        if run_loggers:
            for row in rows.to_dict("records"):
                step = int(row.pop("step"))
                run_loggers.log_scalars(step, {f"loss/{key}": value for key, value in row.items()})
        if on_step is not None:
            on_step(done, latest_losses(rows))

    outcome = train_run(config, catalog, data_root=data_root, on_samples=on_samples, on_evaluate=on_evaluate,
                        on_progress=on_progress, checkpointer=checkpointer, resume=resume)
    device = torch.device(config.device)
    apply_backend_flags(backend_flags(ComputeMode(), device), device)  # every mode is evaluated alike

    eval_start, eval_setup_start = time.perf_counter(), one_off_seconds()[0]
    if translation:
        save_translation_samples(outcome.generator, outcome.source, run_dir / SAMPLES_FILE)
    else:
        real = outcome.source.sample(2000) if dataset_kind == "vector" else None
        save_samples(outcome.generator, noise, dataset_kind, run_dir / SAMPLES_FILE, real=real,
                     title=f"{config.variant} on {config.dataset}, seed {config.seed}", labels=labels)
    values, errors, details = evaluate(
        config, catalog, dataset=outcome.dataset, source=outcome.source, generator=outcome.generator,
        history=outcome.history, data_root=data_root,
        skip_reason=f"the run diverged at step {outcome.diverged_at}" if outcome.status == "diverged" else None,
    )
    eval_seconds = time.perf_counter() - eval_start - (one_off_seconds()[0] - eval_setup_start)
    _log_picture(run_loggers, len(outcome.history), run_dir / SAMPLES_FILE)
    run_loggers.log_scalars(len(outcome.history), {f"metrics/{key}": value for key, value in values.items()})
    if evaluations:
        tracked = {key for name in config.metrics if catalog.metrics.get(name).over_training
                   for key in catalog.metrics.get(name).higher_is_better}
        evaluations.append({"step": len(outcome.history), **{k: v for k, v in values.items() if k in tracked}})
        with atomic_path(run_dir / EVALUATIONS_FILE) as tmp:
            pd.DataFrame(evaluations).to_csv(tmp, index=False)

    with atomic_path(run_dir / HISTORY_FILE) as tmp:
        outcome.history.to_csv(tmp, index=False)
    for name, module in ((GENERATOR_FILE, outcome.generator), (CRITIC_FILE, outcome.critic)):
        with atomic_path(run_dir / name) as tmp, open(tmp, "wb") as file:
            # through a file object: the archive inside is then named "archive", not after the
            # temporary file, so identical weights give identical files (and SHA-256 records)
            torch.save(module.state_dict(), file)
    summary = {
        "run_id": config.run_id, "status": outcome.status, "diverged_at": outcome.diverged_at,
        "variant": config.variant, "dataset": config.dataset, "seed": config.seed,
        "resumed_from": resumed_from,
        "timings": {**outcome.timings, "eval_time_s": eval_seconds, **segments()},
        "metrics": values, "metric_errors": errors, "metric_details": details,
        "data": outcome.source.describe(),
        "execution": outcome.execution,  # eager, compiled or CUDA-graph steps (fast mode)
        "files": record_files(run_dir),  # size and SHA-256 of each file written above
    }
    write_json(run_dir / METRICS_FILE, summary)  # last: marks the run as done
    remove_checkpoints(run_dir)
    return summary


def _check_run_folder(run_dir: Path) -> None:
    """Make ``run_dir``, a real folder this process may write to, or raise :class:`GanbenchError`."""
    if run_dir.is_symlink():
        raise GanbenchError(f"{run_dir} is a symbolic link; ganbench writes a run only into a real folder "
                            "inside --out. Remove the link (its target is left alone) and run again.")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanbenchError(f"cannot create the run folder {run_dir}: {exc.strerror or exc}; "
                            "check that --out is a folder you may write to.") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise GanbenchError(f"cannot write into the run folder {run_dir} (permission denied); "
                            "check the permissions of --out.")


def execute(task: RunTask, catalog: Catalog,
            on_step: Callable[[int, dict[str, float]], None] | None = None) -> RunRecord:
    """Do one run under its folder's lock; an exception in it becomes a ``failed`` record with
    its traceback. ``on_step(done, latest_losses)`` is called after each loss read-back (see
    :func:`run_one`); the run's loggers are ``task.loggers``. A run that another process
    completed while this one waited for the lock comes back ``skipped``, with that process's
    summary.

    A :class:`GanbenchError` (a problem with the user's input, such as a missing data set) is
    raised instead, since every other run would fail the same way.
    """
    _check_run_folder(task.run_dir)
    with run_lock(task.run_dir):
        if file_state(task.run_dir / METRICS_FILE) != task.seen:  # changed since the sweep was planned
            done = completed_run(task.run_dir, task.config.digest())
            if done is not None:  # another process did this run while we waited for its lock
                return RunRecord(task.config, task.run_dir, "skipped", done.summary)
        try:
            summary = run_one(task.config, catalog, task.run_dir, data_root=task.data_root,
                              command=task.command, on_step=on_step, loggers=task.loggers,
                              stop_rule=task.stop_rule)
        except GanbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken run must not end the sweep
            return record_failure(task, "".join(traceback.format_exception(exc)))
    return RunRecord(task.config, task.run_dir, summary["status"], summary)


PROGRESS_EVERY_S = 30.0  # seconds between plain progress lines when stderr is not a terminal


@dataclass
class RunWatch:
    """What a progress display knows of one running run: its steps, speed and latest losses."""

    total: int
    started: float  # clock reading when the run started
    done: int = 0
    latest: dict[str, float] = field(default_factory=dict)
    updated: float | None = None  # clock reading of the latest report
    first: tuple[int, float] | None = None  # (done, clock) of the first report

    def update(self, done: int, latest: Mapping[str, float] | None, now: float) -> None:
        if self.first is None:
            self.first = (done, now)
        self.done, self.updated = done, now
        if latest:
            self.latest = dict(latest)

    def steps_per_s(self) -> float | None:
        """Steps per second since the first report (before a second one: since the start,
        which includes building the models)."""
        if self.first is None or self.updated is None:
            return None
        done0, time0 = self.first
        if self.done > done0 and self.updated > time0:
            return (self.done - done0) / (self.updated - time0)
        return self.done / (self.updated - self.started) if self.updated > self.started else None

    def seconds_left(self) -> float | None:
        rate = self.steps_per_s()
        return (self.total - self.done) / rate if rate else None

    def describe(self, separator: str = "  ") -> tuple[str, str, str]:
        """``("52.1 steps/s", "38 s left", "G 0.6931  D 1.386")``, parts empty while unknown."""
        rate, left = self.steps_per_s(), self.seconds_left()
        losses = separator.join(f"{label} {self.latest[key]:.4g}"
                                for label, key in (("G", "g_loss"), ("D", "d_loss")) if key in self.latest)
        return (f"{rate:.1f} steps/s" if rate else "", f"{format_duration(left)} left" if left is not None else "",
                losses)


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"2 h 04 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _RichSweepProgress:
    """Overall progress of a sweep, and a bar per run (steps/s, time left, latest G and D loss)
    for executors that report steps: what a terminal shows."""

    def __init__(self, console: Console, total: int, done: int, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[left]}"), TextColumn("{task.fields[losses]}"),
            console=console, disable=quiet, transient=False,
        )
        self.clock = clock
        self.sweep_task = self.progress.add_task("sweep", total=total, completed=done, speed="", left="", losses="")
        self.run_tasks: dict[str, tuple[Any, RunWatch]] = {}

    def __enter__(self) -> _RichSweepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.__exit__(*exc_info)

    def started(self, config: RunConfig) -> None:
        task = self.progress.add_task(config.run_id, total=config.steps, speed="", left="", losses="")
        self.run_tasks[config.run_id] = (task, RunWatch(config.steps, self.clock()))

    def step(self, config: RunConfig, done: int, latest: Mapping[str, float] | None = None) -> None:
        if config.run_id in self.run_tasks:
            task, watch = self.run_tasks[config.run_id]
            watch.update(done, latest, self.clock())
            speed, left, losses = watch.describe()
            self.progress.update(task, completed=done, speed=speed, left=left, losses=losses)

    def stopped(self, config: RunConfig) -> None:
        if config.run_id in self.run_tasks:
            self.progress.remove_task(self.run_tasks.pop(config.run_id)[0])

    def finished(self, record: RunRecord) -> None:
        self.progress.advance(self.sweep_task)


class _PlainSweepProgress:
    """Progress as plain lines, for a stderr that is not a terminal (CI, ``nohup``, a cluster's
    log): one line per running run every ``every_s`` seconds, and one per finished run."""

    def __init__(self, console: Console, total: int, done: int, every_s: float = PROGRESS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.total, self.done, self.every_s, self.clock = console, total, done, every_s, clock
        self.watches: dict[str, RunWatch] = {}
        self.printed: dict[str, float] = {}

    def __enter__(self) -> _PlainSweepProgress:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        pass

    def started(self, config: RunConfig) -> None:
        now = self.clock()
        self.watches[config.run_id] = RunWatch(config.steps, now)
        self.printed[config.run_id] = now

    def step(self, config: RunConfig, done: int, latest: Mapping[str, float] | None = None) -> None:
        watch = self.watches.get(config.run_id)
        if watch is None:
            return
        now = self.clock()
        watch.update(done, latest, now)
        if now - self.printed[config.run_id] >= self.every_s:
            self.printed[config.run_id] = now
            parts = [f"step {done}/{watch.total}", *(part for part in watch.describe(", ") if part)]
            self.console.print(f"run {config.run_id}: {', '.join(parts)}", highlight=False, soft_wrap=True)

    def stopped(self, config: RunConfig) -> None:
        self.watches.pop(config.run_id, None)
        self.printed.pop(config.run_id, None)

    def finished(self, record: RunRecord) -> None:
        self.done += 1
        self.console.print(f"run {record.config.run_id} {record.status} ({self.done}/{self.total} runs done)",
                           highlight=False, soft_wrap=True)


def announce_data(tasks: Iterable[RunTask], catalog: Catalog, data_root: Path | None, console: Console) -> None:
    """Open each data set of ``tasks`` once before any training and print where it comes from.

    :raises GanbenchError: a data set cannot be had (missing, damaged files): the sweep stops
        before any run starts.
    """
    for name in dict.fromkeys(task.config.dataset for task in tasks):
        source = catalog.datasets.get(name)().load(device=torch.device("cpu"), seed=0, data_root=data_root)
        origin = source.describe().get("source")
        if origin:
            console.print(f"data set {name}: {origin}", highlight=False, soft_wrap=True)


def run_sweep(runs: Iterable[RunConfig], catalog: Catalog, sweep_dir: Path, *,
              force: bool = False, data_root: Path | None = None, quiet: bool = False,
              console: Console | None = None, executor: Executor | None = None,
              retries: int = 0, loggers: Sequence[str] = (),
              progress_every_s: float = PROGRESS_EVERY_S,
              stop_rules: dict[str, Callable[[int, dict[str, float]], bool]] | None = None) -> list[RunRecord]:
    """Run every configuration not already done in ``sweep_dir`` (all of them with ``force``).

    ``executor`` does the runs (default: the catalog's :data:`~ganbench.executors.DEFAULT_EXECUTOR`,
    ``local``: in this process, one after another).
    A diverged run is recorded as such; a run that raises or crashes is recorded as failed with
    its traceback or error, tried again up to ``retries`` more times, and redone by the next
    sweep; either way the sweep goes on. A problem with the user's input
    (:class:`GanbenchError`, e.g. a missing data set) stops the sweep. A finished run is kept
    while its config digest matches, with one warning if a plugin it used has changed since.
    Records come back in the order of ``runs``.

    Progress goes to ``console``: bars on a terminal, otherwise a plain line per running run
    every ``progress_every_s`` seconds and one per finished run; nothing with ``quiet``. Each
    run sends what it records to ``loggers`` (names in ``catalog.loggers``, ``--log``).
    ``stop_rules`` maps run ids to the rule that may stop that run early
    (:attr:`ganbench.tasks.RunTask.stop_rule`).
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}.")
    runs = list(runs)
    console = console or Console(stderr=True, markup=False, emoji=False)  # paths print as given
    executor = executor or make_executor(catalog, DEFAULT_EXECUTOR)
    records: dict[str, RunRecord] = {}
    pending: list[RunTask] = []
    for config in runs:
        run_dir = sweep_dir / config.run_id
        seen = file_state(run_dir / METRICS_FILE)
        done = None if force else completed_run(run_dir, config.digest())
        if done is not None:
            records[config.run_id] = RunRecord(config, run_dir, "skipped", done.summary)
            for change in plugin_changes(done.record.get("plugins") or {}, plugin_records(config, catalog)):
                console.print(f"[yellow]warning:[/yellow] {escape(f'run {config.run_id} is kept, but {change}; ')}"
                              "--force redoes it", markup=True, highlight=False, soft_wrap=True)
        else:
            pending.append(RunTask(config, run_dir, data_root, list(sys.argv), seen=seen, loggers=tuple(loggers),
                                   stop_rule=(stop_rules or {}).get(config.run_id)))
    if records:
        console.print(f"skipping {len(records)} finished run(s) in {sweep_dir}; --force redoes them",
                      highlight=False, soft_wrap=True)
    announce_data(pending, catalog, data_root, console)
    if quiet or console.is_terminal:
        display: Any = _RichSweepProgress(console, len(runs), len(records), quiet=quiet)
    else:
        display = _PlainSweepProgress(console, len(runs), len(records), every_s=progress_every_s)
    with display, opened(executor, catalog):
        if pending and (setup := executor.setup_line_once()):
            console.print(setup, highlight=False, soft_wrap=True)
        for attempt in range(1, retries + 2):
            by_id = {task.config.run_id: task for task in pending}
            for task in pending:
                task.attempt = attempt
            failed: list[RunTask] = []
            for record in run_guarded(executor, pending, catalog, display):
                records[record.config.run_id] = record
                final = record.status != "failed" or attempt > retries
                if record.status == "failed":
                    failed.append(by_id[record.config.run_id])
                    last_line = ((record.error or "").strip().splitlines() or ["unknown error"])[-1]
                    console.print(f"[red]run {escape(record.config.run_id)} failed{'' if final else ' (will retry)'}:"
                                  f"[/red] {escape(last_line)}", markup=True, highlight=False)
                if final:
                    display.finished(record)
            pending = failed
            if not pending:
                break
    return [records[config.run_id] for config in runs]
