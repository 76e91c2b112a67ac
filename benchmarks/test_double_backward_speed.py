"""The gradient penalty's double backward with and without its branches of exact zeros.

Run with ``python -m pytest benchmarks/test_double_backward_speed.py --benchmark-enable -s``.
For the critics ``wgan-gp`` trains on (the course's MLP on 28×28 grey images, batch 128; the
DCGAN critic with layer norm on 32×32 RGB images, batch 64), it times
:func:`ganbench.double_backward.backward_skipping_zeros` against a plain
``penalty.backward(inputs=weights)`` on the same penalty, alternately, :data:`REPEATS` times each
at one thread, and prints the medians and their ratio (plain / skipping: the speed-up of the
backward pass alone). Quick mode: a few repeats on small batches.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from ganbench.architectures import ArchSpec
from ganbench.double_backward import backward_skipping_zeros
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.seeding import torch_threads
from ganbench.variants.wgan_gp import gradient_penalty

from benchmarks.bench_sizes import size

REPEATS = size(30, 2)
CASES = {  # architecture, data shape, batch
    "mlp-28x28": ("mlp", (1, 28, 28), size(128, 8)),
    "dcgan-32x32": ("dcgan", (3, 32, 32), size(64, 4)),
}


def _critic(arch: str, shape: tuple[int, int, int]) -> torch.nn.Module:
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    spec = ArchSpec(data_shape=shape, data_kind="image", latent_dim=64, critic_norm="layer")
    _generator, critic = catalog.architectures.get(arch)().build(spec)
    return critic


@pytest.mark.parametrize("case", sorted(CASES))
def test_double_backward_without_zeros(benchmark, case):
    arch, shape, batch = CASES[case]
    torch.manual_seed(0)
    critic = _critic(arch, shape)
    weights = list(critic.parameters())
    real, fake = torch.rand(batch, *shape) * 2 - 1, torch.rand(batch, *shape) * 2 - 1

    def backward_seconds(skip: bool) -> float:
        penalty = gradient_penalty(critic, real, fake)
        start = time.perf_counter()
        if skip:
            backward_skipping_zeros(penalty, weights)
        else:
            penalty.backward(inputs=weights)
        return time.perf_counter() - start

    def compare() -> dict[bool, list[float]]:
        times: dict[bool, list[float]] = {True: [], False: []}
        for repeat in range(REPEATS):
            for skip in ((True, False) if repeat % 2 == 0 else (False, True)):
                times[skip].append(backward_seconds(skip))
        return times

    with torch_threads(1):
        times = benchmark.pedantic(compare, rounds=1, iterations=1)
    plain, skipping = statistics.median(times[False]), statistics.median(times[True])
    benchmark.extra_info.update({"plain_ms": round(plain * 1e3, 3), "skipping_ms": round(skipping * 1e3, 3),
                                 "speed_up": round(plain / skipping, 3), "batch": batch})
    print(f"\npenalty double backward, {case} critic, batch {batch}, 1 thread, median of {REPEATS}: "
          f"plain {plain * 1e3:.2f} ms, skipping zeros {skipping * 1e3:.2f} ms, {plain / skipping:.2f}x")
    assert plain > 0 and skipping > 0
