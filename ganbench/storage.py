"""Atomic files, the layout of a run folder, and reading run folders back safely.

``results/<sweep>/<run-id>/`` holds ``config.json``, ``history.csv``, ``samples.png``,
``generator.pt``, ``critic.pt``, ``evaluations.csv`` (with ``--eval-every``) and, written last, ``metrics.json``. Every file is written to
a temporary name in the same folder and renamed into place, so a run killed half-way never
leaves a ``metrics.json`` behind, and only a run with one counts as done. A finished run's
``metrics.json`` records the size and SHA-256 of the files written before it (``files``), so
a damaged or missing file is noticed. :func:`read_run` checks all of this: whatever it
returns has the documented types; anything else raises :class:`DamagedRun`.

Everything here imports nothing of the rest of ganbench.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import math
import numbers
import os
import re
import secrets
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.png"
GENERATOR_FILE = "generator.pt"
CRITIC_FILE = "critic.pt"
EVALUATIONS_FILE = "evaluations.csv"  # metrics over training (--eval-every)
SEARCH_FILE = "search.json"  # in a ganbench search folder: the search's record
LOCK_FILE = ".lock"  # held (flock) by the process training the run
DONE_STATUSES = ("finished", "diverged", "pruned")  # pruned: stopped early by ganbench search
STATUSES = (*DONE_STATUSES, "failed")
# Files a finished run must have; their size and SHA-256 go into metrics.json["files"].
REQUIRED_FILES = (HISTORY_FILE, GENERATOR_FILE, CRITIC_FILE)
WEIGHT_FILES = (GENERATOR_FILE, CRITIC_FILE)
RECORDED_FILES = (HISTORY_FILE, EVALUATIONS_FILE, SAMPLES_FILE, GENERATOR_FILE, CRITIC_FILE)
# "kind" in the config.json and metrics.json of an evaluation folder (ganbench evaluate):
# samples made elsewhere, scored like a run, without training history or cost figures.
EVALUATION_KIND = "evaluation"


def is_evaluation(record: dict[str, Any]) -> bool:
    """Whether a ``config.json`` or ``metrics.json`` record is an evaluation's, not a trained run's."""
    return record.get("kind") == EVALUATION_KIND

logger = logging.getLogger("ganbench")


# --- writing ------------------------------------------------------------------------------

@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The file is created with the permissions the umask gives (``0644`` under the usual umask
    022), like any file a program writes, so a shared results folder stays readable by others.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"  # as _TEMPORARY_NAME
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode 0666 & ~umask
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


_TEMPORARY_NAME = re.compile(r"\..+\.\d+\.[0-9a-f]{8}\.tmp")  # the temporary names atomic_path gives


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left in ``folder`` (not below it) when
    its process was killed mid-write; returns their paths. Files of other names stay.

    Call it only while no other process can be writing there (e.g. holding the run's lock).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(path for path in folder.iterdir() if _TEMPORARY_NAME.fullmatch(path.name) and path.is_file())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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


def slug(text: object) -> str:
    """A safe file-name stem for any text: lower case, each run of characters other than
    ``a-z0-9._`` as ``-``, no leading or trailing ``-`` or ``.`` (so never ``..`` or a hidden
    name), ``unnamed`` if nothing is left. Every name read from a results folder goes
    through it before it becomes part of a path."""
    return re.sub(r"[^a-z0-9._]+", "-", str(text).lower()).strip("-.") or "unnamed"


def file_record(path: Path) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def record_files(run_dir: Path) -> dict[str, dict[str, Any]]:
    """:func:`file_record` of each of :data:`RECORDED_FILES` present in ``run_dir``."""
    return {name: file_record(run_dir / name) for name in RECORDED_FILES if (run_dir / name).is_file()}


def file_problems(run_dir: Path, files: dict[str, Any]) -> list[str]:
    """What is wrong with the files recorded in ``files`` (see :func:`record_files`): one
    line per missing, resized or changed file naming it; empty when all are intact."""
    problems = []
    for name, recorded in sorted(files.items()):
        if name not in RECORDED_FILES or not isinstance(recorded, dict):
            problems.append(f"metrics.json records an unexpected file entry {name!r}")
            continue
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        try:
            size = path.stat().st_size
            if size != recorded.get("bytes"):
                problems.append(f"{path} has {size} bytes, {recorded.get('bytes')} were recorded")
            elif file_record(path)["sha256"] != recorded.get("sha256"):
                problems.append(f"{path} does not match its recorded SHA-256 (the file was changed or damaged)")
        except OSError as exc:
            problems.append(f"{path} cannot be read ({exc.strerror or exc})")
    return problems


def damaged_files(run_dir: Path, summary: dict[str, Any], names: tuple[str, ...] | None = None) -> list[str]:
    """One line per file of a completed run that is missing, or changed since ``summary``
    (its ``metrics.json``) recorded its size and SHA-256; runs recorded before ganbench kept
    hashes need their history and weights present and non-empty. ``names``: check only these."""
    files = summary.get("files")
    expected = () if is_evaluation(summary) else REQUIRED_FILES  # an evaluation trained nothing
    required = [name for name in expected if names is None or name in names]
    if not isinstance(files, dict):
        return [f"{run_dir / name} is missing or empty" for name in required
                if not (run_dir / name).is_file() or (run_dir / name).stat().st_size == 0]
    checked = {name: entry for name, entry in files.items() if names is None or name in names}
    return [f"{METRICS_FILE} does not record {name}" for name in required if name not in files] \
        + file_problems(run_dir, checked)


# --- reading run folders back ---------------------------------------------------------------

class DamagedRun(Exception):
    """A run folder that is not a usable run: a file is missing, empty, truncated, of the
    wrong type or changed since it was recorded. The message says which and why."""


@dataclass
class RunFolder:
    """A run folder whose ``config.json`` and ``metrics.json`` were checked by :func:`read_run`."""

    run_dir: Path
    record: dict[str, Any]  # config.json: run_id, digest, config, environment, command, data_root
    summary: dict[str, Any]  # metrics.json: status, timings, metrics, metric_errors, files, ...

    @property
    def done(self) -> bool:
        return self.summary["status"] in DONE_STATUSES


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _load(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        raise DamagedRun(f"no {path.name} (unfinished run)")
    if not path.is_file():
        raise DamagedRun(f"{path.name} is not a file")
    try:
        text = path.read_text()
    except OSError as exc:
        raise DamagedRun(f"{path.name} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DamagedRun(f"{path.name} is empty, truncated or not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DamagedRun(f"{path.name} holds a JSON {type(data).__name__}, not the {what} object ganbench writes")
    return data


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DamagedRun(message)


def _check_identity(data: dict[str, Any], file: str) -> None:
    for key in ("variant", "dataset"):
        _expect(isinstance(data.get(key), str), f"{file}: {key!r} is {data.get(key)!r}, expected a name")
    seed = data.get("seed")
    _expect(isinstance(seed, int) and not isinstance(seed, bool), f"{file}: 'seed' is {seed!r}, expected an integer")


def _check_numbers(summary: dict[str, Any], key: str) -> None:
    values = summary.get(key, {})
    _expect(isinstance(values, dict), f"{METRICS_FILE}: {key!r} is a {type(values).__name__}, expected an object")
    for name, value in values.items():
        _expect(value is None or (_is_number(value) and math.isfinite(value)),
                f"{METRICS_FILE}: {key}.{name} is {value!r}, expected a number or null")


def read_run(run_dir: Path, *, check_files: bool = True) -> RunFolder:
    """The checked ``config.json`` and ``metrics.json`` of ``run_dir``, or :class:`DamagedRun`.

    Both files must be JSON objects with the types ganbench writes (names are strings, the
    seed an integer, metric values numbers or ``null``, the status one of :data:`STATUSES`)
    and agree on the variant, data set and seed. For a finished or diverged run with
    ``check_files``, every file recorded in ``metrics.json`` must still have its size and
    SHA-256 (runs written before hashes were recorded need their history and weights present
    and non-empty).
    """
    run_dir = Path(run_dir)
    record = _load(run_dir / CONFIG_FILE, "configuration")
    summary = _load(run_dir / METRICS_FILE, "summary")
    config = record.get("config")
    _expect(isinstance(config, dict), f"{CONFIG_FILE} has no 'config' object")
    _expect(isinstance(record.get("digest"), str), f"{CONFIG_FILE}: 'digest' is {record.get('digest')!r}, expected text")
    _check_identity(config, CONFIG_FILE)
    for key, kind in (("environment", dict), ("command", list)):
        _expect(record.get(key) is None or isinstance(record[key], kind),
                f"{CONFIG_FILE}: {key!r} is a {type(record.get(key)).__name__}, expected a {kind.__name__}")
    status = summary.get("status")
    _expect(status in STATUSES, f"{METRICS_FILE}: status {status!r} is not one of {', '.join(STATUSES)}")
    _check_identity(summary, METRICS_FILE)
    for key in ("variant", "dataset", "seed"):
        _expect(summary[key] == config[key],
                f"{METRICS_FILE} says {key} {summary[key]!r} but {CONFIG_FILE} says {config[key]!r}")
    _expect(isinstance(summary.get("run_id", ""), str), f"{METRICS_FILE}: 'run_id' is not text")
    _check_numbers(summary, "metrics")
    _check_numbers(summary, "timings")
    errors = summary.get("metric_errors", {})
    _expect(isinstance(errors, dict) and all(isinstance(v, str) for v in errors.values()),
            f"{METRICS_FILE}: 'metric_errors' is not an object of texts")
    if status in DONE_STATUSES:
        files = summary.get("files")
        _expect(files is None or isinstance(files, dict), f"{METRICS_FILE}: 'files' is not an object")
        if check_files:
            problems = damaged_files(run_dir, summary)
            _expect(not problems, "; ".join(problems))
    else:
        _expect(isinstance(summary.get("error", ""), str), f"{METRICS_FILE}: 'error' is not text")
    return RunFolder(run_dir, record, summary)


def candidate_run_dirs(path: Path) -> list[Path]:
    """Folders at or below ``path`` holding a ``config.json`` or a ``metrics.json``."""
    path = Path(path)
    found = {p.parent for name in (CONFIG_FILE, METRICS_FILE) for p in path.rglob(name)}
    return sorted(found)


def scan_runs(path: Path) -> list[RunFolder]:
    """Every usable run folder at or below ``path`` (a run, a sweep or a results folder).

    A damaged or unfinished folder is skipped with one warning line on the ``ganbench``
    logger naming the folder and the reason.

    :raises FileNotFoundError: ``path`` is not a folder.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder of ganbench results.")
    runs = []
    for run_dir in candidate_run_dirs(path):
        try:
            runs.append(read_run(run_dir))
        except DamagedRun as exc:
            logger.warning("skipping run folder %s: %s", run_dir, exc)
    return runs


def completed_run(run_dir: Path, digest: str | None = None) -> RunFolder | None:
    """The completed, intact run in ``run_dir`` (of config ``digest``, if given), else ``None``."""
    try:
        run = read_run(run_dir)
    except DamagedRun:
        return None
    return run if run.done and (digest is None or run.record["digest"] == digest) else None


def is_done(run_dir: Path, digest: str | None = None) -> bool:
    """Whether ``run_dir`` holds a completed, intact run (of config ``digest``, if given)."""
    return completed_run(run_dir, digest) is not None


def file_state(path: Path) -> tuple[int, int, int] | None:
    """``(inode, size, mtime_ns)`` of ``path``, ``None`` if absent: tells whether it was replaced."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


# --- one process per run --------------------------------------------------------------------

@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block, waiting while another process holds it.

    The lock is ``flock`` on ``run_dir/.lock``, which names the holder's host and pid while it
    is held and is deleted when the block ends. The system releases a lock when its holder
    ends in any way (``kill -9``, a crash), so a lock left by a dead process is never in force.
    On a file system without locks the block runs unlocked, after a warning.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            logger.warning("run folder %s is locked by %s; waiting for it", run_dir, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # a file system without locks (Lustre mounted without -o flock)
            if exc.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP):
                os.close(fd)
                raise
            logger.warning("cannot lock run folder %s (%s); two processes could train it at once",
                           run_dir, exc.strerror)
            os.close(fd)
            yield
            return
        if file_state(path) is not None and os.fstat(fd).st_ino == file_state(path)[0]:
            break  # locked the file that is still in place (not one its holder deleted)
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # still holding the lock: a waiter will see it was deleted
        os.close(fd)  # releases the lock
