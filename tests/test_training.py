"""The training loop: determinism, recorded quantities, penalty timing, divergence."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from ganbench.config import RunConfig, variant_params
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.training import HISTORY_COLUMNS, train
from ganbench.variants.vanilla import Vanilla


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def make_config(catalog, variant="vanilla", dataset="ring-8", seed=0, steps=30, **overrides) -> RunConfig:
    return RunConfig(
        variant=variant, dataset=dataset, seed=seed, arch="mlp", steps=steps, batch_size=32,
        latent_dim=4, device="cpu", variant_params=variant_params(catalog, variant, overrides),
    )


@pytest.mark.parametrize("variant", ["vanilla", "wgan", "wgan-gp"])
def test_same_seed_is_bit_identical_and_another_seed_differs(catalog, variant):
    first = train(make_config(catalog, variant), catalog)
    second = train(make_config(catalog, variant), catalog)
    other = train(make_config(catalog, variant, seed=1), catalog)
    assert first.history.equals(second.history)
    for a, b in zip(first.generator.state_dict().values(), second.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert not np.array_equal(first.history["g_loss"], other.history["g_loss"])


def test_recorded_columns_per_kind_of_critic(catalog):
    probability = train(make_config(catalog, "vanilla"), catalog).history
    assert {"step", "g_loss", "d_loss", "d_real", "d_fake"} <= set(probability.columns)
    assert "wasserstein" not in probability and "penalty" not in probability
    assert probability[["d_real", "d_fake"]].stack().between(0, 1).all()
    assert len(probability) == 30 and list(probability["step"]) == list(range(30))
    critic = train(make_config(catalog, "wgan-gp"), catalog).history
    assert {"wasserstein", "penalty"} <= set(critic.columns) and "d_real" not in critic
    assert (critic["penalty"] >= 0).all()


def test_wasserstein_estimate_matches_the_critic_loss_without_penalty(catalog):
    history = train(make_config(catalog, "wgan"), catalog).history
    # the critic loss is mean C(fake) - mean C(real) = -(Wasserstein estimate), same batch
    assert np.allclose(history["d_loss"], -history["wasserstein"], atol=1e-6)


def test_timings_and_penalty_overhead(catalog):
    outcome = train(make_config(catalog, "wgan-gp", steps=20), catalog)
    t = outcome.timings
    assert t["steps_per_s"] > 0 and t["critic_time_s"] > 0 and t["generator_time_s"] > 0
    assert 0 < t["penalty_time_s"] < t["critic_time_s"]
    assert 0 < t["gp_share"] < 1
    # On a tiny model the penalty's cost is within the machine's timing noise, so only the
    # ratio's presence is checked here; test_penalty_ratio_measures_the_penalty checks its value.
    assert math.isfinite(t["gp_step_ratio"]) and t["gp_step_ratio"] > 0
    assert math.isfinite(t["peak_memory_mb"]) and t["peak_memory_mb"] >= 0  # the run's rise: may be 0
    plain = train(make_config(catalog, "wgan", steps=5), catalog).timings
    assert math.isnan(plain["gp_share"]) and math.isnan(plain["gp_step_ratio"])


def test_penalty_ratio_measures_the_penalty(catalog):
    """A penalty that takes a known 30 ms on top of a ~1 ms step shows up in the ratio."""
    import time

    from ganbench.training import build_models, build_variant, measure_penalty_ratio

    config = make_config(catalog, "wgan-gp", steps=1)
    variant = build_variant(config, catalog)
    original = variant.penalty

    def slow_penalty(critic, real, fake):
        time.sleep(0.03)
        return original(critic, real, fake)

    variant.penalty = slow_penalty
    dataset = catalog.datasets.get(config.dataset)()
    source = dataset.load(device=torch.device("cpu"), seed=0)
    models = build_models(config, catalog, variant, dataset, torch.device("cpu"))
    ratio = measure_penalty_ratio(variant, models, source, config, torch.device("cpu"), steps=3)
    assert ratio > 3  # (t + 30 ms) / t with t, a tiny critic step, far below 15 ms


def test_penalty_probe_does_not_change_the_results(catalog, monkeypatch):
    import ganbench.training as training

    with_probe = train(make_config(catalog, "wgan-gp", steps=10), catalog)
    monkeypatch.setattr(training, "measure_penalty_ratio", lambda *a, **k: 1.0)
    without = train(make_config(catalog, "wgan-gp", steps=10), catalog)
    assert with_probe.history.equals(without.history)


class Exploding(Vanilla):
    """Returns NaN from step 7 on: a stand-in for a diverging run."""

    name = "exploding"
    calls = 0

    def generator_loss(self, fake_scores, real_scores=None):
        Exploding.calls += 1
        loss = super().generator_loss(fake_scores)
        return loss * math.nan if Exploding.calls > 7 else loss


def test_divergence_is_recorded_with_its_step(catalog):
    catalog.variants.add(Exploding, plugin="test")
    try:
        Exploding.calls = 0
        outcome = train(make_config(catalog, "exploding", steps=120), catalog)
    finally:
        del catalog.variants.entries["exploding"]
    assert outcome.status == "diverged" and outcome.diverged_at == 7
    assert len(outcome.history) == 8 and math.isnan(outcome.history["g_loss"].iloc[-1])


def test_history_columns_are_known():
    assert HISTORY_COLUMNS[:2] == ("g_loss", "d_loss")


def test_sampling_callback(catalog):
    steps_seen = []
    config = dataclasses.replace(make_config(catalog, steps=10), sample_every=4)
    train(config, catalog, on_samples=lambda step, g: steps_seen.append(step))
    assert steps_seen == [4, 8]
