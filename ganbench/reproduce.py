"""Re-running one recorded run from its stored config and checking that it gives the same numbers.

On CPU a run is bit-for-bit repeatable (same software, hardware and thread count), so losses
and metric values must be identical. On CUDA some kernels are not deterministic, and a run in
fast mode (:mod:`ganbench.fast`) gives up repeatability for speed on any device, so those are
compared within :data:`CUDA_TOLERANCE`. Timings are measurements of the machine and are
never compared.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch

from ganbench.catalog import Catalog
from ganbench.config import RunConfig, recorded_run_config
from ganbench.errors import UsageError
from ganbench.plugins import plugin_changes, plugin_source
from ganbench.runner import run_one
from ganbench.seeding import torch_threads
from ganbench.storage import (
    CONFIG_FILE, DONE_STATUSES, EVALUATIONS_FILE, HISTORY_FILE, METRICS_FILE, WEIGHT_FILES, DamagedRun,
    damaged_files, is_evaluation, read_json, read_run,
)

CUDA_TOLERANCE = {"rtol": 1e-3, "atol": 1e-5}


@dataclass
class Reproduction:
    """The verdict of :func:`reproduce`: ``matches`` and, if not, what differs."""

    run_dir: Path
    run_id: str
    device: str  # where the re-run ran
    matches: bool
    tolerance: dict[str, float] | None  # None: compared bit for bit
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history_steps: int = 0
    history_max_abs_diff: dict[str, float] = field(default_factory=dict)
    metrics_compared: int = 0
    wall_clock_s: dict[str, float | None] = field(default_factory=dict)  # recorded / rerun, not compared
    new_run_dir: Path | None = None  # None when the re-run went to a temporary folder

    def verdict(self) -> str:
        """One line: reproduced (how strictly) or not."""
        what = f"losses ({self.history_steps} steps) and {self.metrics_compared} metric values"
        if not self.matches:
            return f"NOT reproduced: {len(self.differences)} difference(s)"
        if self.tolerance is None:
            return f"reproduced: {what} identical (bit for bit)"
        return f"reproduced: {what} equal within rtol={self.tolerance['rtol']:g}, atol={self.tolerance['atol']:g}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["new_run_dir"] = str(self.new_run_dir) if self.new_run_dir else None
        data["history_max_abs_diff"] = {k: _json_number(v) for k, v in self.history_max_abs_diff.items()}
        data["verdict"] = self.verdict()
        return data


def reproduce(run_dir: Path, catalog: Catalog, *, device: str | None = None, data_root: Path | None = None,
              workdir: Path | None = None, data: dict[str, Path] | None = None) -> Reproduction:
    """Re-run the run recorded in ``run_dir`` and compare its losses, status and metrics.

    A weight file that is missing or no longer has its recorded size and SHA-256 makes the
    verdict "not reproduced", naming the file, without a re-run.

    :param device: ``cpu`` or ``cuda`` (default: the recorded device).
    :param data_root: where to look for data set files (default: the recorded one).
    :param data: the new place of a data set made from the user's files (``folder:PATH``,
        ``array:FILE``), by the data set's recorded name, for a run whose data were moved or
        copied to another machine; used only when its decoded content is the recorded one.
    :param workdir: keep the re-run in this folder (it must not exist or be empty);
        by default it goes to a temporary folder that is deleted afterwards.
    :raises UsageError: ``run_dir`` is not a completed run, its config was edited, its data are
        missing or differ from the recorded ones, or the device is not available.
    """
    run_dir = Path(run_dir)
    record, summary = _load_record(run_dir)
    _check_plugins_loaded(record, catalog)
    moved_to = _moved_data(record, data or {})
    recorded = _rebuild_config(record, run_dir, catalog, moved_to)
    damaged = damaged_files(run_dir, summary, WEIGHT_FILES)  # losses and metrics are compared below
    if damaged:
        return Reproduction(
            run_dir=run_dir, run_id=record.get("run_id", run_dir.name), device=recorded.device, matches=False,
            tolerance=None, differences=damaged,
            notes=["not re-run: the recorded weights are damaged or missing, so the record cannot be trusted"],
        )
    config = dataclasses.replace(recorded, device=_choose_device(recorded.device, device, record))
    data_root = _existing_data_root(data_root, record)
    if workdir is not None:
        _check_workdir(Path(workdir), run_dir)

    recorded_env = record.get("environment") or {}
    on_cpu = recorded.device == config.device == "cpu"
    tolerance = None if on_cpu and not recorded.fast else dict(CUDA_TOLERANCE)
    notes: list[str] = []
    if moved_to is not None:
        notes.append(f"data set {recorded.data['name']!r} read from {recorded.data['argument']} (recorded at "
                     f"{record['config']['data']['argument']}; same content key {recorded.data['content_key'][:12]})")
    if recorded.fast:
        notes.append(f"the run was made in fast mode, which gives up bit-for-bit repeatability for speed: "
                     f"compared within rtol={CUDA_TOLERANCE['rtol']:g}, atol={CUDA_TOLERANCE['atol']:g}")
    if config.device != recorded.device:
        notes.append(f"recorded on {recorded.device}, re-run on {config.device}: different kernels, "
                     "so only agreement within the tolerance can be hoped for")
    if not on_cpu:
        notes.append(f"compared within rtol={tolerance['rtol']:g}, atol={tolerance['atol']:g}: "
                     "CUDA kernels are not bit-for-bit repeatable")

    threads = recorded_env.get("torch_threads") if config.device == "cpu" else None
    recorded_history = _read_csv(run_dir / HISTORY_FILE)
    with _new_run_folder(workdir) as new_dir, torch_threads(_recorded_threads(threads, notes)):
        new_summary = run_one(config, catalog, new_dir, data_root=data_root,
                              command=["ganbench", "reproduce", str(run_dir)])
        new_summary = read_json(new_dir / METRICS_FILE)  # as stored: NaN reads back as null
        new_record = read_json(new_dir / CONFIG_FILE)
        new_env = new_record.get("environment") or {}
        differences, max_abs = _compare_tables(
            "history", recorded_history, _read_csv(new_dir / HISTORY_FILE), tolerance)
        differences += _compare_outcome(summary, new_summary)
        differences += _compare_metrics(summary, new_summary, tolerance)
        differences += _compare_evaluations(run_dir, new_dir, tolerance)

    notes += plugin_changes(record.get("plugins") or {}, new_record.get("plugins") or {})
    notes += _environment_notes(recorded_env, new_env)
    if _data_description(summary, moved_to) != _data_description(new_summary, moved_to):
        notes.append(f"data set description differs: recorded {summary.get('data')}, re-run {new_summary.get('data')}")
    wall = {"recorded": (summary.get("timings") or {}).get("wall_clock_s"),
            "rerun": (new_summary.get("timings") or {}).get("wall_clock_s")}
    notes.append("wall clock (not compared): recorded " + _seconds(wall["recorded"]) + ", re-run " + _seconds(wall["rerun"]))
    return Reproduction(
        run_dir=run_dir, run_id=record.get("run_id", run_dir.name), device=config.device,
        matches=not differences, tolerance=tolerance, differences=differences, notes=notes,
        history_steps=len(recorded_history), history_max_abs_diff=max_abs,
        metrics_compared=len(summary.get("metrics") or {}), wall_clock_s=wall,
        new_run_dir=Path(workdir) if workdir is not None else None,
    )


# --- reading the record -----------------------------------------------------------------------

def _load_record(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``config.json`` and ``metrics.json`` of a completed run, or a :class:`UsageError`."""
    missing = [name for name in (CONFIG_FILE, METRICS_FILE, HISTORY_FILE) if not (run_dir / name).is_file()]
    if missing == [HISTORY_FILE] and _is_evaluation_folder(run_dir):
        raise UsageError(f"{run_dir} is an evaluation (ganbench evaluate), not a trained run: nothing was trained "
                         f"to re-run; run the command recorded in its {CONFIG_FILE} again to score the samples anew.")
    if missing:
        runs = sorted(p.parent.name for p in run_dir.glob(f"*/{CONFIG_FILE}")) if run_dir.is_dir() else []
        hint = (f"it holds run folders ({', '.join(runs[:3])}{', ...' if len(runs) > 3 else ''}); pass one of them"
                if runs else "pass a run folder such as results/default/wgan-gp_ring-8_seed0_1a2b3c4d/")
        raise UsageError(f"{run_dir} is not a completed ganbench run: it has no {', '.join(missing)}; {hint}.")
    try:
        record, summary = read_json(run_dir / CONFIG_FILE), read_json(run_dir / METRICS_FILE)
    except ValueError as exc:
        raise UsageError(f"{run_dir} holds a config.json or metrics.json that is not valid JSON: {exc}.") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) or "digest" not in record:
        raise UsageError(f"{run_dir / CONFIG_FILE} lacks the 'config' and 'digest' that ganbench records; "
                         "it was not written by ganbench run.")
    status = summary.get("status") if isinstance(summary, dict) else None
    if status not in DONE_STATUSES:
        raise UsageError(f"run {run_dir.name} did not complete (status {status!r}); only finished or diverged "
                         "runs can be reproduced. Run the sweep again to redo it.")
    try:
        read_run(run_dir, check_files=False)
    except DamagedRun as exc:
        raise UsageError(f"{run_dir} is not a usable ganbench run: {exc}.") from None
    return record, summary


def _is_evaluation_folder(run_dir: Path) -> bool:
    """Whether ``run_dir``'s ``config.json`` is an evaluation's (False when unreadable)."""
    try:
        record = read_json(run_dir / CONFIG_FILE)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and is_evaluation(record)


_KIND_REGISTRIES = {"variant": "variants", "dataset": "datasets", "architecture": "architectures",
                    "metric": "metrics"}


def _made_by(record: dict[str, Any], dataset: str) -> str:
    """The registered data set that makes ``dataset`` (``folder``, say, for a ``folder:PATH``
    data set recorded in the config's ``data`` spec), or ``dataset`` itself."""
    spec = (record.get("config") or {}).get("data")
    if isinstance(spec, dict) and spec.get("name") == dataset and isinstance(spec.get("dataset"), str):
        return spec["dataset"]
    return dataset


def _check_plugins_loaded(record: dict[str, Any], catalog: Catalog) -> None:
    """A :class:`UsageError` naming the plugins the run used whose names are unknown now, and
    how to load them. Runs recorded without ``plugins`` are checked by :func:`_rebuild_config`."""
    missing: dict[str, tuple[dict[str, Any], list[str]]] = {}
    recorded = record.get("plugins") if isinstance(record.get("plugins"), dict) else {}
    for kind, attribute in _KIND_REGISTRIES.items():
        registry, names = getattr(catalog, attribute), recorded.get(kind)
        if not isinstance(names, dict):
            continue
        for name, plugin in names.items():
            if kind == "dataset":  # a data set made from files is made again by its factory
                name = _made_by(record, name)
            if name not in registry and isinstance(plugin, dict):
                where = plugin_source(plugin)
                missing.setdefault(where, (plugin, []))[1].append(f"{kind} {name!r}")
    if not missing:
        return
    parts, remedies = [], []
    for where, (plugin, used) in missing.items():
        parts.append(f"{' and '.join(used)} from plugin {where}")
        if plugin.get("path") and str(plugin.get("plugin", "")).endswith(".py"):
            remedies.append(f"set GANBENCH_PLUGINS={plugin['path']} (or install its package)")
        elif plugin.get("package") and plugin["package"] != "ganbench":
            remedies.append(f"install {plugin['package']}=={plugin.get('version')}")
        elif plugin.get("package") == "ganbench":
            remedies.append(f"use ganbench {plugin.get('version')}, which provided it")
        else:
            remedies.append(f"set GANBENCH_PLUGINS={plugin.get('plugin')} (or install its package)")
    which = "which is" if len(missing) == 1 else "which are"
    raise UsageError(f"this run used {'; '.join(parts)}, {which} not loaded: {'; '.join(remedies)} "
                     "and run again.")


def parse_data_paths(values: list[str]) -> dict[str, Path]:
    """``--data NAME=PATH`` values as ``{NAME: PATH}``; a :class:`UsageError` for a value
    without a name and a path, or for a name given twice."""
    paths: dict[str, Path] = {}
    for text in values:
        name, sep, path = text.partition("=")
        if not sep or not name.strip() or not path:
            raise UsageError(f"--data expects NAME=PATH (the data set's recorded name, such as folder-faces, and "
                             f"where its files are now), got {text!r}.")
        if name.strip() in paths:
            raise UsageError(f"--data names data set {name.strip()!r} twice; give one path for it.")
        paths[name.strip()] = Path(path)
    return paths


def _moved_data(record: dict[str, Any], data: dict[str, Path]) -> Path | None:
    """The new place (``--data NAME=PATH``) of the run's data set made from files, or None to
    read the recorded path; a :class:`UsageError` for a name the run did not use, or for a
    recorded path that is gone when no new place was given (naming ``--data``).

    Only a data set whose recorded spec holds a ``content_key`` can move: the key is what shows
    that the new place holds the recorded data (a plugin's argument, such as ``moons:0.1``, has none
    and need not be a path)."""
    spec = record["config"].get("data")
    name = spec.get("name") if isinstance(spec, dict) else None
    run_id = record.get("run_id")
    for given in data:
        if given != name:
            dataset = record["config"].get("dataset")
            used = (f"its data set made from files is {name!r}" if name else
                    f"its data set {dataset!r} is not made from files (folder:PATH, array:FILE)")
            raise UsageError(f"--data {given}=... names a data set that run {run_id} did not use: {used}.")
    if name is None:
        return None
    if not isinstance(spec.get("content_key"), str):
        if name in data:
            raise UsageError(f"--data {name}=...: run {run_id} records no content key for data set {name!r}, so "
                             "nothing can show that another place holds the same data; reproduce it without --data.")
        return None
    if name in data:
        return Path(data[name]).expanduser().resolve()
    argument = spec.get("argument")
    if isinstance(argument, str) and not Path(argument).exists():
        raise UsageError(f"run {run_id} read data set {name!r} from {argument}, which does not exist here. If the "
                         f"data moved or came from another machine, pass --data {name}=NEW-PATH: it is used if its "
                         f"content is the recorded one (content key {str(spec.get('content_key'))[:12]}).")
    return None


def _data_description(summary: dict[str, Any], moved_to: Path | None) -> Any:
    """The recorded data description, without its ``source`` (the path) when the data moved."""
    description = summary.get("data")
    if moved_to is None or not isinstance(description, dict):
        return description
    return {key: value for key, value in description.items() if key != "source"}


def _rebuild_config(record: dict[str, Any], run_dir: Path, catalog: Catalog, moved_to: Path | None) -> RunConfig:
    """The recorded :class:`RunConfig`, checked as ``ganbench run`` checks its settings and
    against the recorded digest. With ``moved_to`` its data are read from there: the digest is
    checked with the recorded path, and the config returned records the new one."""
    config = recorded_run_config(record["config"], catalog, str(run_dir / CONFIG_FILE), data_moved_to=moved_to)
    as_recorded = config
    if moved_to is not None:
        recorded_path = record["config"]["data"]["argument"]
        as_recorded = dataclasses.replace(config, data={**config.data, "argument": recorded_path})
    if as_recorded.digest() != record["digest"]:
        raise UsageError(
            f"{run_dir / CONFIG_FILE} was edited: its 'config' hashes to digest {as_recorded.digest()[:12]}..., "
            f"but the run was recorded with digest {str(record['digest'])[:12]}..., so its results belong "
            "to another config. Restore the file, or start a new run with the changed settings (ganbench run)."
        )
    return config


def _existing_data_root(requested: Path | None, record: dict[str, Any]) -> Path | None:
    """``--data-root``, else the recorded one; it must be an existing folder, so that the re-run
    never creates folders (a data set download) outside its temporary one."""
    if requested is not None:
        if not Path(requested).is_dir():
            raise UsageError(f"--data-root {requested} is not a folder; name the folder that holds the data set's files.")
        return Path(requested)
    recorded = record.get("data_root")
    if not recorded:
        return None
    if not isinstance(recorded, str) or not Path(recorded).is_dir():
        raise UsageError(f"run {record.get('run_id')} was recorded with --data-root {recorded!r}, which is not a "
                         "folder here; pass --data-root DIR with the data set's files.")
    return Path(recorded)


def _choose_device(recorded: str, requested: str | None, record: dict[str, Any]) -> str:
    wanted = requested or recorded
    if wanted != "cpu" and wanted != "cuda" and not wanted.startswith("cuda:"):
        raise UsageError(f"--device must be cpu or cuda, got {wanted!r}.")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        if requested is None:
            where = (record.get("environment") or {}).get("device_name") or "a GPU"
            raise UsageError(f"run {record.get('run_id')} was recorded on {recorded} ({where}), but torch sees no "
                             "CUDA device here. Re-run it on the CPU with --device cpu (then compared within a "
                             "tolerance, not bit for bit), or on a machine with a GPU.")
        raise UsageError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu.")
    return wanted


def _check_workdir(workdir: Path, run_dir: Path) -> None:
    if workdir.resolve() == run_dir.resolve():
        raise UsageError(f"--keep {workdir} is the run being reproduced; name a new folder for the re-run.")
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"--keep {workdir} already exists and is not an empty folder; "
                         "name a new folder for the re-run, or delete that one.")


@contextmanager
def _new_run_folder(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="ganbench-reproduce-") as tmp:
        yield Path(tmp) / "run"


def _recorded_threads(threads: Any, notes: list[str]) -> int | None:
    """The recorded CPU thread count to re-run with (results can depend on it), noted when it
    differs from this machine's default; ``None`` when nothing usable was recorded."""
    current = torch.get_num_threads()
    if not isinstance(threads, int) or threads < 1 or threads == current:
        return None
    notes.append(f"re-ran with {threads} torch threads as recorded (default here: {current})")
    return threads


def _read_csv(path: Path) -> pd.DataFrame:
    """A per-step table (pandas' default float parser reads back exactly what ``to_csv`` wrote)."""
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UsageError(f"{path} is not a readable CSV table ({exc}); the run folder is damaged.") from None


# --- comparing --------------------------------------------------------------------------------

def _same(a: np.ndarray, b: np.ndarray, tolerance: dict[str, float] | None) -> np.ndarray:
    """Elementwise equality (NaN equals NaN), exact or within ``tolerance``."""
    if tolerance is None:
        return (a == b) | (np.isnan(a) & np.isnan(b))
    return np.isclose(a, b, rtol=tolerance["rtol"], atol=tolerance["atol"], equal_nan=True)


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b|`` with 0 where both are NaN and inf where only one is."""
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    equal = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(equal, 0.0, np.where(np.isnan(diff), math.inf, diff))


def _compare_tables(name: str, recorded: pd.DataFrame, rerun: pd.DataFrame,
                    tolerance: dict[str, float] | None) -> tuple[list[str], dict[str, float]]:
    """Differences between two per-step tables, and the max absolute difference per column."""
    differences: list[str] = []
    if list(recorded.columns) != list(rerun.columns):
        differences.append(f"{name}: columns differ: recorded {list(recorded.columns)}, "
                           f"re-run {list(rerun.columns)}")
    if len(recorded) != len(rerun):
        differences.append(f"{name}: {len(recorded)} steps recorded, {len(rerun)} in the re-run")
    rows = min(len(recorded), len(rerun))
    steps = recorded["step"].to_numpy()[:rows] if "step" in recorded.columns else np.arange(rows)
    firsts: list[tuple[int, str]] = []
    max_abs: dict[str, float] = {}
    for column in [c for c in recorded.columns if c in rerun.columns]:
        old, new = recorded[column].iloc[:rows], rerun[column].iloc[:rows]
        if pd.api.types.is_numeric_dtype(old) and pd.api.types.is_numeric_dtype(new):
            a, b = old.to_numpy(dtype=float), new.to_numpy(dtype=float)
            same = _same(a, b, tolerance)
            diff = _abs_diff(a, b)
            max_abs[column] = float(diff.max()) if rows else 0.0
        else:
            a, b = old.astype(str).to_numpy(), new.astype(str).to_numpy()
            same, diff = a == b, None
        if same.all():
            continue
        i = int(np.argmin(same))
        text = (f"{name}: {column} first differs at step {steps[i]} (recorded {_value(a[i])}, "
                f"re-run {_value(b[i])}); {int((~same).sum())} of {rows} values differ")
        if diff is not None:
            text += f", max |difference| {max_abs[column]:.3g}"
        firsts.append((i, text))
    differences += [text for _, text in sorted(firsts, key=lambda item: item[0])]
    return differences, max_abs


def _compare_outcome(summary: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{key}: recorded {summary.get(key)!r}, re-run {new.get(key)!r}"
            for key in ("status", "diverged_at") if summary.get(key) != new.get(key)]


def _compare_metrics(summary: dict[str, Any], new: dict[str, Any], tolerance: dict[str, float] | None) -> list[str]:
    old_values, new_values = summary.get("metrics") or {}, new.get("metrics") or {}
    differences = []
    for key in sorted(old_values.keys() | new_values.keys()):
        if key not in new_values:
            differences.append(f"metric {key}: recorded {_value(old_values[key])}, missing from the re-run")
        elif key not in old_values:
            differences.append(f"metric {key}: not recorded, {_value(new_values[key])} in the re-run")
        elif not _metric_equal(old_values[key], new_values[key], tolerance):
            a, b = old_values[key], new_values[key]
            gap = f" (|difference| {abs(a - b):.3g})" if _is_number(a) and _is_number(b) else ""
            differences.append(f"metric {key}: recorded {_value(a)}, re-run {_value(b)}{gap}")
    old_errors, new_errors = summary.get("metric_errors") or {}, new.get("metric_errors") or {}
    for name in sorted(old_errors.keys() ^ new_errors.keys()):
        differences.append(f"metric {name} failed or was skipped in the "
                           + (f"record ({old_errors[name]})" if name in old_errors else f"re-run ({new_errors[name]})"))
    return differences


def _metric_equal(a: Any, b: Any, tolerance: dict[str, float] | None) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(_same(np.array([a], dtype=float), np.array([b], dtype=float), tolerance)[0])
    return a == b  # None (a NaN written as null), strings, lists


def _compare_evaluations(run_dir: Path, new_dir: Path, tolerance: dict[str, float] | None) -> list[str]:
    """Metrics over training (``evaluations.csv``), when the run recorded them."""
    old, new = run_dir / EVALUATIONS_FILE, new_dir / EVALUATIONS_FILE
    if not old.exists() and not new.exists():
        return []
    if old.exists() != new.exists():
        return [f"{EVALUATIONS_FILE}: " + ("missing from the re-run" if old.exists() else "not recorded")]
    return _compare_tables("evaluations", _read_csv(old), _read_csv(new), tolerance)[0]


def _environment_notes(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    changed = [f"{key}: recorded {recorded.get(key)}, now {now.get(key)}"
               for key in sorted(recorded.keys() | now.keys()) if recorded.get(key) != now.get(key)]
    if not changed:
        return []
    return ["environment differs (bit-identity is only expected on the same software and hardware): "
            + "; ".join(changed)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def _seconds(value: Any) -> str:
    return f"{value:.2f} s" if _is_number(value) else "unknown"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None
