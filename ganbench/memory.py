"""Peak memory of one run, on CUDA and on CPU.

- CUDA: ``torch.cuda.max_memory_allocated`` since the run reset the counter: the tensors the
  run held at its peak.
- CPU (Linux): the process's resident-set high-water mark (``VmHWM``) is reset at the start of
  the run (``/proc/self/clear_refs``), and the run's figure is how far it rose above the
  resident set the process had then (``VmRSS``): the memory the run added at its peak. Memory
  kept by the process from earlier runs (allocator caches, loaded libraries) is not counted;
  memory the run reuses from those caches is not counted either, so figures of the first and
  later runs of one process can differ somewhat.
- Elsewhere (no ``/proc``, or it cannot be written) only the process-wide peak since it
  started (``ru_maxrss``) is available; it is recorded as ``process_peak_memory_mb``, which is
  not a per-run figure and is never ranked.
"""

from __future__ import annotations

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


class PeakMemory:
    """Measures a run's peak memory on ``device``: create it at the start of the run, call
    :meth:`figures` at the end."""

    def __init__(self, device: torch.device):
        self.device = device
        self.start_rss_mb: float | None = None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            return
        try:
            CLEAR_REFS.write_text(RESET_HIGH_WATER_MARK)
        except OSError:
            return
        self.start_rss_mb = _status_mib("VmRSS")

    def figures(self) -> dict[str, float]:
        """``{"peak_memory_mb": ...}`` for the run, or ``{"process_peak_memory_mb": ...}`` where
        only the process-wide peak can be had."""
        if self.device.type == "cuda":
            return {"peak_memory_mb": torch.cuda.max_memory_allocated(self.device) / 2**20}
        high_water = _status_mib("VmHWM")
        if self.start_rss_mb is not None and high_water is not None:
            return {"peak_memory_mb": max(high_water - self.start_rss_mb, 0.0)}
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"process_peak_memory_mb": peak / (2**20 if sys.platform == "darwin" else 1024)}


__all__ = ["PeakMemory"]
