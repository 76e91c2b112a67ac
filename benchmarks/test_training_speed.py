"""Training throughput: ganbench's loop against a hand-written loop for the same model and data.

Run with ``python -m pytest benchmarks/test_training_speed.py --benchmark-enable -s``. For
``vanilla`` and ``wgan-gp`` on the course's MLP with Fashion-MNIST-shaped data (random uint8
images held in memory, batch 128) it trains through :func:`ganbench.training.train` (the whole
harness: options, timers, history, divergence checks), and the same networks, built by the same
architecture from the same seed, in a plain PyTorch loop of the kind a course notebook has
(``torch.optim.Adam`` with the variant's settings, per-batch losses read back with ``.item()``).
Both run in the same process on :data:`THREADS` thread, alternately (each goes first in turn),
:data:`REPEATS` times; ``extra_info`` and the printed line give every pair's steps/s, the
medians, their ratio (harness / hand-written) and the 1-minute load average before and after."""

from __future__ import annotations

import math
import os
import statistics
import time

import pytest
import torch
from torch import nn

from ganbench.config import RunConfig, resolve_device, variant_params
from ganbench.seeding import torch_threads
from ganbench.training import build_models, start_run, train

from benchmarks.bench_data import catalog_with, random_images
from benchmarks.bench_sizes import size

STEPS = size(300, 5)
REPEATS = size(3, 1)  # alternating harness / hand-written runs; the ratio of their medians is reported
THREADS = 1  # ratios are measured at one thread, where a shared machine disturbs them least
BATCH = 128
LATENT = 64
IMAGES = size(10_000, 512)


RandomImages = random_images("bench-images", (1, 28, 28), IMAGES)  # Fashion-MNIST-shaped


def catalog():
    return catalog_with(RandomImages)


def hand_written_loop(variant_name: str, config: RunConfig, catalog_) -> float:
    """Steps/s of a plain loop over the same networks, optimisers and data; losses kept per batch."""
    device, dataset, variant, _memory = start_run(config, catalog_)
    source = dataset.load(device=device, seed=config.seed)
    models = build_models(config, catalog_, variant, dataset, device)  # the same networks, same init
    generator, critic = models.generator, models.critic
    p = variant.params  # the optimisers as a student writes them (torch's defaults otherwise)
    opt_g = torch.optim.Adam(generator.parameters(), lr=p.lr_g, betas=(p.beta1, p.beta2))
    opt_d = torch.optim.Adam(critic.parameters(), lr=p.lr_d, betas=(p.beta1, p.beta2))
    bce = nn.BCEWithLogitsLoss()
    n_critic = variant.n_critic
    losses: list[tuple[float, float]] = []
    batch, latent = config.batch_size, config.latent_dim

    def real_batch() -> torch.Tensor:
        return source.sample(batch)

    start = time.perf_counter()
    for _ in range(config.steps):
        for _ in range(n_critic):
            real = real_batch()
            with torch.no_grad():
                fake = generator(torch.randn(batch, latent, device=device))
            real_scores, fake_scores = critic(real), critic(fake)
            if variant_name == "vanilla":
                d_loss = bce(real_scores, torch.ones_like(real_scores)) + bce(fake_scores, torch.zeros_like(fake_scores))
            else:
                alpha = torch.rand((batch,) + (1,) * (real.dim() - 1), device=device)
                mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
                penalty = 10.0 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                d_loss = fake_scores.mean() - real_scores.mean() + penalty
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        fake_scores = critic(generator(torch.randn(batch, latent, device=device)))
        if variant_name == "vanilla":
            g_loss = bce(fake_scores, torch.ones_like(fake_scores))
        else:
            g_loss = -fake_scores.mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        losses.append((g_loss.item(), d_loss.item()))
    seconds = time.perf_counter() - start
    assert all(math.isfinite(g) and math.isfinite(d) for g, d in losses)
    return config.steps / seconds


def compare(variant_name: str, config: RunConfig, catalog_) -> dict[str, list[float]]:
    """Steps/s of the harness and of the hand-written loop, alternating, :data:`REPEATS` times each."""
    speeds: dict[str, list[float]] = {"harness": [], "hand": []}
    for repeat in range(REPEATS):
        order = ("harness", "hand") if repeat % 2 == 0 else ("hand", "harness")  # neither always goes first
        for which in order:
            if which == "harness":
                outcome = train(config, catalog_)
                assert outcome.status == "finished" and len(outcome.history) == config.steps
                speeds["harness"].append(outcome.timings["steps_per_s"])
            else:
                speeds["hand"].append(hand_written_loop(variant_name, config, catalog_))
    return speeds


@pytest.mark.parametrize("variant_name", ["vanilla", "wgan-gp"])
def test_harness_against_hand_written_loop(benchmark, variant_name):
    catalog_ = catalog()
    device = resolve_device("auto")
    config = RunConfig(variant=variant_name, dataset="bench-images", seed=0, arch="mlp", steps=STEPS,
                       batch_size=BATCH, latent_dim=LATENT, device=device,
                       variant_params=variant_params(catalog_, variant_name, {}))
    load_before = os.getloadavg()[0]
    with torch_threads(THREADS):
        speeds = benchmark.pedantic(compare, args=(variant_name, config, catalog_), rounds=1, iterations=1)
    load_after = os.getloadavg()[0]
    harness, hand = statistics.median(speeds["harness"]), statistics.median(speeds["hand"])
    ratio = harness / hand
    pairs = ", ".join(f"{h:.1f}/{m:.1f}" for h, m in zip(speeds["harness"], speeds["hand"]))
    benchmark.extra_info.update({"device": device, "threads": THREADS, "steps": STEPS, "repeats": REPEATS,
                                 "harness_steps_per_s": round(harness, 2),
                                 "hand_written_steps_per_s": round(hand, 2), "ratio": round(ratio, 3),
                                 "load_average": [round(load_before, 2), round(load_after, 2)]})
    print(f"\n{variant_name} on {device}, {THREADS} thread, {STEPS} steps, median of {REPEATS}: ganbench "
          f"{harness:.1f} steps/s, hand-written loop {hand:.1f} steps/s, ratio {ratio:.2f}x "
          f"(each pair ganbench/hand: {pairs}; 1-min load average {load_before:.2f} before, {load_after:.2f} after)")
    assert harness > 0 and hand > 0
