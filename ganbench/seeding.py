"""Seeding every random source, and deterministic algorithms."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Iterator

from ganbench.lazy import lazy_import

np = lazy_import("numpy")
torch = lazy_import("torch")


def seed_everything(seed: int, device: torch.device) -> None:
    """Seed Python, NumPy and torch (all devices) and ask torch for deterministic algorithms.

    On CPU this makes a run bit-for-bit repeatable on the same machine and thread count. On
    CUDA some kernels have no deterministic implementation; torch then warns instead of
    failing (``warn_only``), and results agree only within a tolerance.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.use_deterministic_algorithms(True)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` torch CPU threads inside the block (``None``: leave the setting alone).

    CPU results can depend on the thread count, so runs that must agree use the same one.
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
