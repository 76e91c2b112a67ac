"""Checkpoints of an unfinished run: when to take them, the random states they hold, and
writing, finding and loading their files.

A run folder keeps its checkpoints in ``checkpoints/step-NNNNNNNNN.pt``. Each file is one
``torch.save`` of a dict of tensors and plain values (so it loads with
``weights_only=True``), written atomically: ``format``, the run's config ``digest``, the
``step`` it was taken after, its ``index`` (1 for the run's first checkpoint, counted across
resumed segments), ``training`` (what the training loop keeps: networks, optimisers, random
states, history so far, timer totals) and what the runner adds (evaluations so far, time of
earlier segments, the steps resumed from).

Everything here imports only :mod:`ganbench.errors` and :mod:`ganbench.storage`.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ganbench.errors import UsageError
from ganbench.lazy import lazy_import
from ganbench.storage import atomic_path, remove_temporaries

np = lazy_import("numpy")  # imported on first use: the CLI's start-up parses intervals only
torch = lazy_import("torch")

CHECKPOINT_DIR = "checkpoints"  # inside a run folder
CHECKPOINT_FORMAT = 1
DEFAULT_CHECKPOINT_EVERY = "10m"
_FILE_PATTERN = re.compile(r"step-(\d{9})\.pt")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}

logger = logging.getLogger("ganbench")


class CheckpointMismatch(Exception):
    """A readable checkpoint that does not fit the run it was loaded for (its networks or
    optimisers have other shapes or names, e.g. after an architecture changed). The runner
    then warns once and starts the run from step 0."""


@dataclass(frozen=True)
class CheckpointInterval:
    """How often a run saves a checkpoint: every ``steps`` generator steps, or once at least
    ``seconds`` of the training loop's wall-clock time have passed since the last one; neither
    (``off``): never."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str | int) -> CheckpointInterval:
        """``500`` (steps), ``90s``, ``10m``, ``1.5h`` (training time) or ``off``.

        :raises UsageError: anything else, zero or a negative interval.
        """
        value = str(text).strip().lower()
        if value == "off":
            return cls()
        expected = ("expected a positive number of steps (500), of training time (90s, 10m, 1h), "
                    "or off to save none")
        match = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*([smh]?)", value)
        if match is None:
            raise UsageError(f"--checkpoint-every (train.checkpoint_every) {text!r} is not an interval; {expected}.")
        number, unit = float(match.group(1)), match.group(2)
        if number <= 0:
            raise UsageError(f"--checkpoint-every (train.checkpoint_every) must be positive, got {text!r}; {expected}.")
        if unit:
            return cls(seconds=number * _UNITS[unit])
        if not number.is_integer():
            raise UsageError(f"--checkpoint-every (train.checkpoint_every) {text!r}: a number of steps must be whole; {expected}.")
        return cls(steps=int(number))

    @property
    def off(self) -> bool:
        return self.steps is None and self.seconds is None


def check_keep_checkpoints(keep: int) -> None:
    """:raises UsageError: ``keep`` is negative (0 keeps only the latest checkpoint)."""
    if keep < 0:
        raise UsageError(f"--keep-checkpoints (train.keep_checkpoints) must be 0 (only the latest checkpoint) or K > 0 (also "
                         f"every K-th one), got {keep}.")


# --- random states ------------------------------------------------------------------------

def capture_rng(device: torch.device) -> dict[str, Any]:
    """Every global random state a run draws from (Python, NumPy, torch CPU, and CUDA when the
    run uses it) as tensors and plain values."""
    version, python_state, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    """Set the random states that :func:`capture_rng` returned."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state((numpy["name"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# --- files --------------------------------------------------------------------------------

def checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoint files of ``run_dir``, latest step first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _FILE_PATTERN.fullmatch(path.name)]
    return sorted(found, key=lambda path: path.name, reverse=True)


def remove_checkpoints(run_dir: Path) -> None:
    """Delete ``run_dir``'s checkpoint folder (a finished run needs none)."""
    shutil.rmtree(Path(run_dir) / CHECKPOINT_DIR, ignore_errors=True)


class Checkpointer:
    """Saves, finds and loads the checkpoints of one run folder.

    ``digest`` is the run's config digest: a checkpoint of another digest is never loaded.
    After each save the previous checkpoint is deleted, unless ``keep_every`` is K > 0 and
    its index is a multiple of K (the 1st, 2nd, ... checkpoint of the run: with K = 3 the
    3rd, 6th, ... stay, and always the latest). ``extra`` returns what the caller adds to
    each checkpoint besides the training state (plain values and tensors).
    """

    def __init__(self, run_dir: Path, digest: str, interval: CheckpointInterval = CheckpointInterval(),
                 keep_every: int = 0, extra: Callable[[], dict[str, Any]] | None = None):
        check_keep_checkpoints(keep_every)
        self.folder = Path(run_dir) / CHECKPOINT_DIR
        self.digest = digest
        self.interval = interval
        self.keep_every = keep_every
        self.extra = extra
        self.save_seconds = 0.0  # time spent writing checkpoints in this process
        self._index = 0  # of the latest checkpoint written or loaded
        self._latest: Path | None = None
        self._last_time: float | None = None  # of the last save, or of the first due() call

    def due(self, step: int) -> bool:
        """Whether a checkpoint should be taken after ``step`` steps. A time interval counts
        from the last save, or from the loop's first step (not from data loading or setup)."""
        if self.interval.steps is not None:
            return step % self.interval.steps == 0
        if self.interval.seconds is not None:
            now = time.perf_counter()
            if self._last_time is None:
                self._last_time = now
            return now - self._last_time >= self.interval.seconds
        return False

    def save(self, step: int, training: dict[str, Any]) -> Path:
        """Write the checkpoint taken after ``step`` steps; returns its path."""
        began = time.perf_counter()
        index = self._index + 1
        payload = {"format": CHECKPOINT_FORMAT, "digest": self.digest, "step": step, "index": index,
                   "training": training, **(self.extra() if self.extra else {})}
        path = self.folder / f"step-{step:09d}.pt"
        with atomic_path(path) as tmp, open(tmp, "wb") as file:
            torch.save(payload, file)
        previous, self._latest, self._index = self._latest, path, index
        if previous is not None and previous != path and not (self.keep_every and (index - 1) % self.keep_every == 0):
            previous.unlink(missing_ok=True)
        self._last_time = time.perf_counter()
        self.save_seconds += self._last_time - began
        return path

    def load_latest(self, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The latest usable checkpoint of this run, or ``None`` (start from step 0).

        ``required``: top-level keys (besides ``training``) that a usable checkpoint must hold.

        A file that cannot be read (truncated, corrupt, of another format) is removed with one
        warning naming it, and the one before it is tried; a checkpoint of another config
        digest is never loaded (one warning). The temporary files of saves that were killed
        half-way are deleted first: call this only holding the run's lock.
        """
        remove_temporaries(self.folder)
        for path in checkpoint_files(self.folder.parent):
            try:
                payload = torch.load(path, map_location="cpu", weights_only=True)
                if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
                    raise ValueError(f"not a ganbench checkpoint of format {CHECKPOINT_FORMAT}")
                missing = [key for key in ("step", "index", "training", *required) if key not in payload]
                if missing:
                    raise ValueError(f"it lacks {', '.join(missing)}")
                step, index = payload["step"], payload["index"]
                if not isinstance(step, int) or not isinstance(index, int) or step < 1 or index < 1:
                    raise ValueError(f"its step {step!r} or index {index!r} is not a positive integer")
            except Exception as exc:  # noqa: BLE001 - any damage means the file cannot be used
                logger.warning("ignoring checkpoint %s: it is truncated or damaged (%s: %s); removed it",
                               path, type(exc).__name__, (str(exc).splitlines() or [""])[0])
                path.unlink(missing_ok=True)  # it can never be used, and must not shadow later ones
                continue
            if payload.get("digest") != self.digest:
                logger.warning("ignoring checkpoint %s: it belongs to config digest %.12s, not this run's "
                               "%.12s; the run starts from step 0", path, payload.get("digest"), self.digest)
                return None
            self._index, self._latest = index, path
            return payload
        return None
