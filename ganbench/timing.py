"""Phase timers that do not force a host–device synchronisation on every step, and the clock
of one-off setup work that a run's compared timings leave out."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

from ganbench.lazy import lazy_import

torch = lazy_import("torch")


_one_off_lock = threading.Lock()
_one_off_totals = [0.0, 0.0]  # wall-clock and CPU seconds of one-off work in this process so far
_one_off_depth = threading.local()


@contextmanager
def one_off_work() -> Iterator[None]:
    """Count the block's wall-clock and CPU time as one-off setup work of this process.

    Wrap work that only the first run of a process (or of a cache) pays: training the domain
    classifier, computing cached real-data statistics, loading a feature network. A run reads
    :func:`one_off_seconds` before and after and records the difference as ``setup_time_s``,
    outside its compared wall-clock, CPU and evaluation times. Nested blocks count once.
    """
    depth = getattr(_one_off_depth, "value", 0)
    _one_off_depth.value = depth + 1
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        _one_off_depth.value = depth
        if depth == 0:
            with _one_off_lock:
                _one_off_totals[0] += time.perf_counter() - wall
                _one_off_totals[1] += time.process_time() - cpu


def one_off_seconds() -> tuple[float, float]:
    """``(wall-clock, CPU)`` seconds spent in :func:`one_off_work` blocks by this process so far."""
    with _one_off_lock:
        return _one_off_totals[0], _one_off_totals[1]


class PhaseTimer:
    """Accumulates wall-clock seconds per named phase.

    On CPU it reads ``time.perf_counter``. On CUDA it records CUDA events and only turns them
    into seconds in :meth:`resolve`, which the training loop calls when it reads the loss
    buffer back anyway (once per chunk of steps).
    """

    def __init__(self, device: torch.device, *, enabled: bool = True):
        self.cuda = device.type == "cuda"
        self.enabled = enabled  # off: phases are counted, not timed (a step replayed as a CUDA graph)
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self._pending: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.counts[name] += 1
        if not self.enabled:
            yield
        elif self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self._pending.append((name, start, end))
        else:
            start_time = time.perf_counter()
            yield
            self.totals[name] += time.perf_counter() - start_time

    def resolve(self) -> None:
        """Turn recorded CUDA events into seconds (synchronises once)."""
        if self._pending:
            self._pending[-1][2].synchronize()
            for name, start, end in self._pending:
                self.totals[name] += start.elapsed_time(end) / 1000.0
            self._pending.clear()

    def seconds(self, name: str) -> float:
        self.resolve()
        return self.totals.get(name, 0.0)
