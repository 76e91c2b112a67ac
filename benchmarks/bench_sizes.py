"""Sizes of the benchmarks: full when measuring, small in quick mode (see ``conftest.py``)."""

from __future__ import annotations

import os

QUICK_ENV = "GANBENCH_BENCH_QUICK"


def quick_mode() -> bool:
    """Whether the benchmarks run once on small sizes."""
    return os.environ.get(QUICK_ENV, "0") == "1"


def size(full: int, quick: int) -> int:
    """``full`` when measuring, ``quick`` in quick mode."""
    return quick if quick_mode() else full
