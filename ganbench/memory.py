"""Peak memory of one run, on CUDA and on CPU.

- CUDA: ``torch.cuda.max_memory_allocated`` since the run reset the counter: the tensors the
  run held at its peak.
- CPU (Linux): the anonymous memory (tensors, buffers; not library code) the run added at its
  peak. At the start of the run the memory that earlier runs of the process freed is handed
  back to the system (``gc.collect``, glibc's ``malloc_trim``), so that the run's allocations
  show again, and the resident-set high-water mark (``VmHWM``) is reset
  (``/proc/self/clear_refs``); the figure is the high-water mark less the file-backed resident
  pages at the end (code of the libraries, loaded on first use) and less the anonymous memory
  the process had at the start (``RssAnon``). Once per process, before the first run, torch's
  CPU machinery is warmed up on a tiny network (its one-off buffers and thread pools), so that the
  first run of a process is not charged for them. Without ``malloc_trim`` (not glibc) memory a
  run reuses from earlier runs' freed blocks is not counted.
- Elsewhere (no ``/proc``, or it cannot be written) only the process-wide peak since it
  started (``ru_maxrss``) is available; it is recorded as ``process_peak_memory_mb``, which is
  not a per-run figure and is never ranked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import resource
import sys
from pathlib import Path

from ganbench.lazy import lazy_import

torch = lazy_import("torch")


PROC_STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_HIGH_WATER_MARK = "5"  # see proc(5), /proc/pid/clear_refs


def _status_mib(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MiB, or None where it cannot be read."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> None:
    """Hand memory that the process freed back to the system, where the C library can."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def warm_up_cpu() -> None:
    """Run torch's CPU machinery once on a tiny network (a forward pass, an input gradient with
    its double backward, a fused Adam step), leaving the random state untouched, so that its
    one-off buffers and thread pools are not charged to the first run of the process."""
    with torch.random.fork_rng(devices=[]):
        network = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.BatchNorm1d(16), torch.nn.LeakyReLU(0.2),
                                      torch.nn.Linear(16, 1))
        optimizer = torch.optim.Adam(network.parameters(), fused=True)
        inputs = torch.randn(4, 16, requires_grad=True)
        (gradient,) = torch.autograd.grad(network(inputs).sum(), inputs, create_graph=True)
        (gradient.norm() + network(inputs).mean()).backward()
        optimizer.step()


class PeakMemory:
    """Measures a run's peak memory on ``device``: create it at the start of the run, call
    :meth:`figures` at the end."""

    def __init__(self, device: torch.device):
        self.device = device
        self.start_anon_mb: float | None = None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            return
        warm_up_cpu()
        release_freed_memory()
        try:
            CLEAR_REFS.write_text(RESET_HIGH_WATER_MARK)
        except OSError:
            return
        self.start_anon_mb = _status_mib("RssAnon")

    def figures(self) -> dict[str, float]:
        """``{"peak_memory_mb": ...}`` for the run, or ``{"process_peak_memory_mb": ...}`` where
        only the process-wide peak can be had."""
        if self.device.type == "cuda":
            return {"peak_memory_mb": torch.cuda.max_memory_allocated(self.device) / 2**20}
        readings = [_status_mib(field) for field in ("VmHWM", "RssFile", "RssShmem")]
        if self.start_anon_mb is not None and None not in readings:
            high_water, files, shared = readings
            return {"peak_memory_mb": max(high_water - files - shared - self.start_anon_mb, 0.0)}
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"process_peak_memory_mb": peak / (2**20 if sys.platform == "darwin" else 1024)}


__all__ = ["PeakMemory"]
