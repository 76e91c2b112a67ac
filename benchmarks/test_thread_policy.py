"""The thread policy against fixed thread counts, idle and with one busy neighbour core.

Run with ``python -m pytest benchmarks/test_thread_policy.py --benchmark-enable -s``. In a
fresh Python that imports ganbench before torch (as the ``ganbench`` command does, so that
``OMP_WAIT_POLICY=PASSIVE`` applies), it trains the course's MLP with ``vanilla`` on
Fashion-MNIST-shaped data (batch 128) with 1 thread, 2 threads and the count the local
executor's policy chooses (:func:`ganbench.threads.choose_threads`, sampled once as a sweep
does), interleaved, :data:`ROUNDS` times each. For the busy case the benchmark first starts a
neighbour process that spins on one core. It prints the steps/s of each, the policy's choice
and its ratio to the better of 1 and 2 threads (targets: ≥ 0.9 with the neighbour, ≥ 0.95
idle), and the load average. The figures are for the lead to read; nothing is asserted about
speed.
"""

from __future__ import annotations

import ganbench  # first: ganbench sets OMP_WAIT_POLICY before torch loads OpenMP  # noqa: I001

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.bench_sizes import size

STEPS = size(150, 3)
ROUNDS = size(3, 1)
TARGETS = {"idle": 0.95, "busy neighbour": 0.9}
ROOT = Path(__file__).resolve().parent.parent


def measure(steps: int, rounds: int) -> dict:
    """In this process: steps/s of 1, 2 and the policy's thread count, interleaved."""
    import torch

    from benchmarks.test_training_speed import BATCH, LATENT, catalog
    from ganbench.config import RunConfig, variant_params
    from ganbench.seeding import torch_threads
    from ganbench.threads import choose_threads, passive_waits
    from ganbench.training import train

    choice = choose_threads(None, torch.get_num_threads())
    catalog_ = catalog()
    config = RunConfig(variant="vanilla", dataset="bench-images", seed=0, arch="mlp", steps=steps,
                       batch_size=BATCH, latent_dim=LATENT, device="cpu",
                       variant_params=variant_params(catalog_, "vanilla", {}))
    settings = {"1": 1, "2": 2, "policy": choice.count}
    speeds: dict[str, list[float]] = {name: [] for name in settings}
    with torch_threads(1):
        train(dataclasses.replace(config, steps=2), catalog_)  # warm up
    for round_ in range(rounds):
        names = list(settings)
        names = names[round_ % len(names):] + names[:round_ % len(names)]  # each goes first in turn
        for name in names:
            with torch_threads(settings[name]):
                speeds[name].append(train(config, catalog_).timings["steps_per_s"])
    return {"speeds": speeds, "policy_threads": choice.count, "busy_elsewhere": choice.busy_elsewhere,
            "usable": choice.usable, "passive_waits": passive_waits()}


def run_child(steps: int, rounds: int) -> dict:
    """:func:`measure` in a fresh Python, with OpenMP's wait policy left to ganbench."""
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), environment.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "benchmarks.test_thread_policy", str(steps), str(rounds)],
                          capture_output=True, text=True, cwd=ROOT, env=environment, timeout=1800)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("condition", list(TARGETS))
def test_thread_policy_against_one_and_two_threads(benchmark, condition):
    neighbour = None
    if condition == "busy neighbour":
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)  # let it settle on a core before the policy samples the load
    try:
        load_before = os.getloadavg()[0]
        result = benchmark.pedantic(run_child, args=(STEPS, ROUNDS), rounds=1, iterations=1)
        load_after = os.getloadavg()[0]
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    medians = {name: statistics.median(values) for name, values in result["speeds"].items()}
    best = max(medians["1"], medians["2"])
    ratio = medians["policy"] / best
    benchmark.extra_info.update({"condition": condition, "steps": STEPS, "rounds": ROUNDS, **result,
                                 "medians": medians, "ratio_to_best": round(ratio, 3),
                                 "target": TARGETS[condition],
                                 "load_average": [round(load_before, 2), round(load_after, 2)]})
    print(f"\n{condition}: policy chose {result['policy_threads']} thread(s) ({result['usable']} usable CPUs, "
          f"{result['busy_elsewhere']:.1f} busy elsewhere; OpenMP passive waits: {result['passive_waits']}); "
          f"vanilla MLP steps/s, median of {ROUNDS}: 1 thread {medians['1']:.1f}, 2 threads {medians['2']:.1f}, "
          f"policy {medians['policy']:.1f}; policy / best of 1 and 2 = {ratio:.2f} (target ≥ {TARGETS[condition]}); "
          f"1-min load average {load_before:.2f} before, {load_after:.2f} after")
    assert result["passive_waits"] and result["policy_threads"] >= 1 and all(m > 0 for m in medians.values())


if __name__ == "__main__":  # the child of run_child
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]))))
