"""How many CPU threads a run's torch uses, and OpenMP threads that sleep instead of spinning.

The thread policy of the ``local`` executor, chosen once per sweep:

* the ceiling is torch's own thread count (its default: the physical cores, or what
  ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` set), and no more than the CPUs this
  process may run on (``os.sched_getaffinity``, e.g. under ``taskset`` or a container's cpuset);
* from it, the CPUs that other processes keep busy are taken away: their share of those CPUs
  is sampled from ``/proc/stat`` over :data:`LOAD_SAMPLE_S` seconds, less this process's own
  CPU time (where ``/proc/stat`` is missing, the 1-minute load average less one stands in);
* the result is rounded to the nearest whole thread, at least 1.

A thread that shares its core with a busy neighbour is worse than no thread at all: each
OpenMP parallel region waits for its slowest thread. ``--cpus-per-run N`` overrides the policy.

OpenMP's worker threads otherwise spin for a while after every parallel region, taking CPU
from anything that shares the machine; ``OMP_WAIT_POLICY=PASSIVE`` makes them sleep. OpenMP
reads it once, when torch loads it, so :func:`request_passive_waits` sets it when ganbench is
imported: that works for the ``ganbench`` command and for programs that import ganbench
before torch, not for those that imported torch first (:func:`passive_waits` tells which).

This module imports neither torch nor the rest of ganbench, so that ``ganbench/__init__.py``
can call it before anything loads torch.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
LOAD_SAMPLE_S = 0.5  # seconds over which the CPUs' use by other processes is sampled
PROC_STAT = Path("/proc/stat")

_passive_before_torch: bool | None = None  # decided by request_passive_waits()


def request_passive_waits() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy, and note whether it can
    still take effect (torch not loaded yet). Called by ``ganbench/__init__.py``; idempotent."""
    global _passive_before_torch
    if _passive_before_torch is None:
        user_set = WAIT_POLICY_ENV in os.environ  # taken as set before Python started
        os.environ.setdefault(WAIT_POLICY_ENV, "PASSIVE")
        _passive_before_torch = user_set or "torch" not in sys.modules


def passive_waits() -> bool:
    """Whether this process's OpenMP threads sleep while waiting: ``OMP_WAIT_POLICY`` was
    ``PASSIVE`` before torch was loaded."""
    return bool(_passive_before_torch) and os.environ.get(WAIT_POLICY_ENV, "").upper() == "PASSIVE"


def usable_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask; all CPUs where that is
    not available)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _busy_jiffies(cpus: set[int], stat_text: str) -> tuple[int, int]:
    """``(busy, total)`` jiffies summed over ``cpus`` from the text of ``/proc/stat``."""
    busy = total = 0
    for line in stat_text.splitlines():
        name, *fields = line.split() or [""]
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user already)
        values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
        idle = values[3] + values[4]
        total += sum(values)
        busy += sum(values) - idle
    return busy, total


def busy_cpus_elsewhere(interval_s: float = LOAD_SAMPLE_S) -> float:
    """How many of this process's usable CPUs other processes keep busy, in CPUs (e.g. 1.0
    for one spinning neighbour): sampled from ``/proc/stat`` over ``interval_s`` seconds, less
    this process's own CPU time. Without ``/proc/stat``: the 1-minute load average less one
    (this process); 0 where neither exists."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not PROC_STAT.is_file() or not cpus:
        if hasattr(os, "getloadavg"):
            return max(0.0, os.getloadavg()[0] - 1.0)
        return 0.0
    before, own_before, wall_before = PROC_STAT.read_text(), time.process_time(), time.perf_counter()
    time.sleep(interval_s)
    after, own_after, wall_after = PROC_STAT.read_text(), time.process_time(), time.perf_counter()
    return busy_between(before, after, cpus, own_cpu_s=own_after - own_before, wall_s=wall_after - wall_before)


def busy_between(stat_before: str, stat_after: str, cpus: set[int], *, own_cpu_s: float, wall_s: float) -> float:
    """CPUs' worth of ``cpus`` that was busy between two readings of ``/proc/stat``, less
    this process's own ``own_cpu_s`` CPU seconds over those ``wall_s`` seconds; at least 0."""
    busy_before, total_before = _busy_jiffies(cpus, stat_before)
    busy_after, total_after = _busy_jiffies(cpus, stat_after)
    if total_after <= total_before or wall_s <= 0:
        return 0.0
    busy_share = (busy_after - busy_before) / (total_after - total_before)  # of the CPUs' time, 0 to 1
    return max(0.0, busy_share * len(cpus) - own_cpu_s / wall_s)


def choose_thread_count(ceiling: int, usable: int, busy_elsewhere: float) -> int:
    """The thread policy: ``min(ceiling, usable)`` less the CPUs busy elsewhere, rounded to the
    nearest whole thread (halves up), at least 1.

    >>> choose_thread_count(ceiling=2, usable=2, busy_elsewhere=1.1)
    1
    >>> choose_thread_count(ceiling=2, usable=2, busy_elsewhere=0.05)
    2
    """
    return max(1, min(ceiling, usable, math.floor(usable - busy_elsewhere + 0.5)))


@dataclass(frozen=True)
class ThreadChoice:
    """The torch thread count of a sweep's runs and why it was chosen."""

    count: int
    requested: bool  # ``--cpus-per-run`` named it
    usable: int | None = None  # CPUs this process may use
    busy_elsewhere: float | None = None  # of those, CPUs busy with other processes

    def describe(self) -> str:
        """One line for the user, e.g. ``torch threads per run: 1 (2 usable CPUs, 1.0 busy
        with other processes; --cpus-per-run N to choose)``."""
        if self.requested:
            line = f"torch threads per run: {self.count} (--cpus-per-run)"
        else:
            line = (f"torch threads per run: {self.count} ({self.usable} usable CPUs, "
                    f"{self.busy_elsewhere:.1f} busy with other processes; --cpus-per-run N to choose)")
        note = spinning_note()
        return line if note is None else f"{line}; {note}"


def spinning_note() -> str | None:
    """Why this process's OpenMP threads spin while waiting, or ``None`` when they sleep."""
    policy = os.environ.get(WAIT_POLICY_ENV, "")
    if policy.upper() != "PASSIVE":
        return f"OpenMP threads spin while waiting ({WAIT_POLICY_ENV}={policy})"
    if not passive_waits():
        return (f"OpenMP threads spin while waiting: torch was loaded before ganbench set "
                f"{WAIT_POLICY_ENV}=PASSIVE (set it before starting Python)")
    return None


def choose_threads(requested: int | None, ceiling: int, *, usable: int | None = None,
                   busy_elsewhere: float | None = None) -> ThreadChoice:
    """The sweep's :class:`ThreadChoice`: ``requested`` (``--cpus-per-run``) when given,
    otherwise :func:`choose_thread_count` on the usable CPUs and their load, measured unless
    given. ``ceiling`` is torch's own thread count (``torch.get_num_threads()``)."""
    if requested is not None:
        return ThreadChoice(requested, requested=True)
    usable = usable_cpus() if usable is None else usable
    busy_elsewhere = busy_cpus_elsewhere() if busy_elsewhere is None else busy_elsewhere
    return ThreadChoice(choose_thread_count(ceiling, usable, busy_elsewhere), requested=False,
                        usable=usable, busy_elsewhere=busy_elsewhere)
