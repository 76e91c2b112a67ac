"""Phase timers that do not force a host–device synchronisation on every step."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

import torch


class PhaseTimer:
    """Accumulates wall-clock seconds per named phase.

    On CPU it reads ``time.perf_counter``. On CUDA it records CUDA events and only turns them
    into seconds in :meth:`resolve`, which the training loop calls when it reads the loss
    buffer back anyway (once per chunk of steps).
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self._pending: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.counts[name] += 1
        if self.cuda:
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
