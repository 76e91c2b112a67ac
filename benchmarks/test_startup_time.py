"""Start-up time of the commands that compute nothing: ``ganbench --help``, ``list`` (every
kind), ``list variants`` and ``plugins``.

Run with ``python -m pytest benchmarks/test_startup_time.py --benchmark-enable -s``. Each
command runs in a fresh interpreter (``python -m ganbench ARGS``, output discarded) with the
built-in plugins only (``GANBENCH_LOAD_PLUGINS=""``), :data:`ROUNDS` times; the median
wall-clock is printed next to two baselines measured in the same run: ``python -c pass`` (the
interpreter alone) and ``python -c "import torch"`` (what every command paid before torch was
imported on first use). One more row loads the installed plugins too: a plugin that imports
torch at its top (the example package does) brings that cost back for its users.
``extra_info`` records every median and the 1-minute load average before and after. The
target, under 1.5 s on an idle 2-core machine, is reported, not asserted: on a shared
machine the figure says more about the neighbours. Quick mode: one round each.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_sizes import size

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = size(5, 1)
TARGET_S = 1.5
BUILT_IN_ONLY = {"GANBENCH_LOAD_PLUGINS": ""}
# name: (python's arguments, environment, a word its output must contain)
CASES: dict[str, tuple[list[str], dict[str, str], str]] = {
    "python -c pass": (["-c", "pass"], {}, ""),
    "python -c 'import torch'": (["-c", "import torch"], {}, ""),
    "ganbench --help": (["-m", "ganbench", "--help"], BUILT_IN_ONLY, "Usage"),
    "ganbench list": (["-m", "ganbench", "list"], BUILT_IN_ONLY, "resnet-patchgan"),
    "ganbench list variants": (["-m", "ganbench", "list", "variants"], BUILT_IN_ONLY, "wgan-gp"),
    "ganbench plugins": (["-m", "ganbench", "plugins"], BUILT_IN_ONLY, "ganbench.variants.wgan_gp"),
    "ganbench --help, installed plugins too": (["-m", "ganbench", "--help"], {}, "Usage"),
}


def median_seconds(args: list[str], env: dict[str, str], expected: str, rounds: int) -> float:
    """The median wall-clock of ``python ARGS`` run ``rounds`` times; each must succeed and
    print ``expected``."""
    base = {key: value for key, value in os.environ.items() if key not in ("GANBENCH_LOAD_PLUGINS", "GANBENCH_PLUGINS")}
    base.update(PYTHONPATH=os.pathsep.join([str(ROOT), base.get("PYTHONPATH", "")]), COLUMNS="200")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, *args], env={**base, **env}, capture_output=True, text=True,
                                timeout=300)
        times.append(time.perf_counter() - started)
        assert result.returncode == 0 and expected in result.stdout, result.stderr[-2000:]
    return statistics.median(times)


def test_startup_time_of_the_listing_commands(benchmark):
    load_before = os.getloadavg()[0]
    medians: dict[str, float] = {}

    def measure() -> None:
        for name, (args, env, expected) in CASES.items():
            medians[name] = median_seconds(args, env, expected, ROUNDS)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    load_after = os.getloadavg()[0]
    bare, torch_s = medians["python -c pass"], medians["python -c 'import torch'"]
    lines = [f"\nstart-up, median of {ROUNDS} (load average {load_before:.2f} before, {load_after:.2f} after; "
             f"{os.cpu_count()} CPUs):",
             f"  {'command':<42} {'s':>6} {'s beyond python -c pass':>24} {'× import torch':>15}"]
    lines += [f"  {name:<42} {seconds:6.2f} {seconds - bare:24.2f} {seconds / torch_s:15.2f}"
              for name, seconds in medians.items()]
    print("\n".join(lines))
    benchmark.extra_info.update({name: round(seconds, 3) for name, seconds in medians.items()})
    benchmark.extra_info.update(rounds=ROUNDS, target_s=TARGET_S, load_before=load_before, load_after=load_after,
                                cpu_count=os.cpu_count())
