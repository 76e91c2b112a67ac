"""Quick mode: every benchmark runs once, on small sizes, inside the ordinary test command.

``python -m pytest`` (the project's test command; ``--benchmark-disable`` is in ``addopts``)
collects ``benchmarks/`` too and runs each benchmark once with the small sizes of its quick
mode, so that a benchmark that no longer runs fails CI. ``--benchmark-enable`` measures at
full size. ``GANBENCH_BENCH_QUICK=1`` or ``0`` forces either size.
"""

from __future__ import annotations

import os

import pytest

from benchmarks.bench_sizes import QUICK_ENV


def pytest_configure(config: pytest.Config) -> None:
    if QUICK_ENV not in os.environ:
        disabled = config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False)
        os.environ[QUICK_ENV] = "1" if disabled else "0"



@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Benchmarks never write to the user's cache."""
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "")
