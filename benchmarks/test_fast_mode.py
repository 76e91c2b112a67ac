"""Fast mode (``--fast``, ``--precision bf16``) against the default, deterministic mode.

Run with ``python -m pytest benchmarks/test_fast_mode.py --benchmark-enable -s``. The same
``vanilla`` run (same seed, networks and data: random uint8 images held in memory on the
device) is trained by :func:`ganbench.training.train` in the default mode, in fast mode and in
fast mode with bf16, on the course's MLP (28×28) and on DCGAN (32×32 colour), one after the
other in the same process; the first run of each mode is a warm-up (in fast mode on CUDA it
compiles the networks). ``extra_info`` and the printed line give steps/s of each mode and the
ratio fast / default. On the CPU fast mode only makes convolutions channels-last (nothing is
compiled), so the MLP is not expected to gain there.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from ganbench.config import RunConfig, resolve_device, variant_params
from ganbench.training import train

from benchmarks.bench_data import catalog_with, random_images
from benchmarks.bench_sizes import quick_mode, size

STEPS = size(150, 2)
BATCH = size(64, 8)
IMAGES = size(4096, 64)
DEVICE = resolve_device("auto")
MODES = {"default": {}, "fast": {"fast": True}, "fast+bf16": {"fast": True, "precision": "bf16"}}


@pytest.mark.parametrize("arch, dataset", [("mlp", "bench-28"), ("dcgan", "bench-32")])
def test_fast_mode_against_the_default_mode(benchmark, arch, dataset):
    catalog = catalog_with(random_images("bench-28", (1, 28, 28), IMAGES), random_images("bench-32", (3, 32, 32), IMAGES))
    base = RunConfig(variant="vanilla", dataset=dataset, seed=0, arch=arch, steps=STEPS, batch_size=BATCH,
                     latent_dim=64, device=DEVICE, variant_params=variant_params(catalog, "vanilla", {}))
    configs = {mode: dataclasses.replace(base, **settings) for mode, settings in MODES.items()}
    for config in configs.values() if not quick_mode() else ():  # warm-up: one-off costs (compilation) untimed
        train(dataclasses.replace(config, steps=20), catalog)
    rates = {}
    for mode, config in configs.items():
        if mode == "fast":
            outcome = benchmark.pedantic(train, args=(config, catalog), rounds=1, iterations=1)
        else:
            outcome = train(config, catalog)
        assert outcome.status == "finished"
        assert torch.isfinite(torch.tensor(outcome.history[["g_loss", "d_loss"]].to_numpy())).all()
        rates[mode] = outcome.timings["steps_per_s"]
    torch.use_deterministic_algorithms(False)
    benchmark.extra_info.update({f"{mode}_steps_per_s": rate for mode, rate in rates.items()})
    benchmark.extra_info["ratio_fast"] = rates["fast"] / rates["default"]
    benchmark.extra_info["ratio_fast_bf16"] = rates["fast+bf16"] / rates["default"]
    print(f"\nvanilla, {arch} on {dataset}, {DEVICE} ({torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}), batch {BATCH}, {STEPS} steps: default {rates['default']:.1f} steps/s, "
          f"fast {rates['fast']:.1f} ({rates['fast'] / rates['default']:.2f}x), fast+bf16 "
          f"{rates['fast+bf16']:.1f} ({rates['fast+bf16'] / rates['default']:.2f}x)")
