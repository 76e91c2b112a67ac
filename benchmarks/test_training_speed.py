"""Training-step speed per variant (pytest-benchmark).

Run with ``python -m pytest benchmarks --benchmark-enable``. Each case times one generator
step (with its ``n_critic`` critic steps) of the course's MLP on Fashion-MNIST-shaped data
held in memory, batch 128, on the device ganbench would pick.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.config import RunConfig, resolve_device, variant_params
from ganbench.datasets import TensorSource
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.timing import PhaseTimer
from ganbench.training import build_models, build_variant, critic_step, generator_step

CATALOG = build_catalog(create_plugin_manager(load_entry_points=False))


@pytest.mark.parametrize("variant_name", ["vanilla", "wgan", "wgan-gp"])
def test_generator_step_speed(benchmark, variant_name):
    device = torch.device(resolve_device("auto"))
    torch.manual_seed(0)
    config = RunConfig(variant=variant_name, dataset="fashion-mnist", seed=0, arch="mlp", steps=1,
                       batch_size=128, latent_dim=64, device=device.type,
                       variant_params=variant_params(CATALOG, variant_name, {}))
    dataset = CATALOG.datasets.get("fashion-mnist")()
    source = TensorSource(torch.randint(0, 256, (2048, 1, 28, 28), dtype=torch.uint8, device=device))
    variant = build_variant(config, CATALOG)
    models = build_models(config, CATALOG, variant, dataset, device)
    timer = PhaseTimer(device)

    def one_step():
        for _ in range(variant.n_critic):
            critic_step(variant, models, source, 128, 64, timer)
        generator_step(variant, models, source, 128, 64, device)
        if device.type == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(one_step, rounds=20, warmup_rounds=3)
    benchmark.extra_info["device"] = device.type
    benchmark.extra_info["n_critic"] = variant.n_critic
