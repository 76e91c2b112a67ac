"""Training options: each option's effect, the refused combinations, the digest, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganbench.architectures import ArchSpec, MinibatchStd, apply_spectral_norm
from ganbench.architectures.dcgan import DCGAN
from ganbench.architectures.mlp import MLP
from ganbench.cli import app
from ganbench.config import RunConfig, SweepConfig, apply_setting, resolve_runs, variant_params
from ganbench.errors import UsageError
from ganbench.options import TrainingOptions, instance_noise_std
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.timing import PhaseTimer
from ganbench.training import Models, StepSettings, build_models, build_variant, generator_step, train
from ganbench.variants.vanilla import Vanilla


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def make_config(catalog, variant="vanilla", steps=6, **options) -> RunConfig:
    return RunConfig(variant=variant, dataset="ring-8", seed=0, arch="mlp", steps=steps, batch_size=16,
                     latent_dim=4, device="cpu", variant_params=variant_params(catalog, variant, {}),
                     options=TrainingOptions(**options).to_dict())


def sweep_with(catalog, variants="vanilla", dataset="ring-8", **options) -> list[RunConfig]:
    sweep = SweepConfig(variants=variants.split(","), datasets=[dataset])
    for name, value in options.items():
        apply_setting(sweep, f"options.{name}", value, catalog)
    return resolve_runs(sweep, catalog)


# --- label smoothing ------------------------------------------------------------------------

def test_real_target_changes_bce_by_the_hand_computed_amount():
    real, fake = torch.tensor([2.0]), torch.tensor([0.0])
    plain = Vanilla().discriminator_loss(real, fake)
    smoothed = Vanilla().discriminator_loss(real, fake, real_target=0.9)
    # BCE(σ(2), 0.9) = -0.9 log σ(2) - 0.1 log(1 - σ(2)); the fake term log 2 is unchanged.
    p = 1 / (1 + math.exp(-2.0))
    assert plain.item() == pytest.approx(-math.log(p) + math.log(2), rel=1e-6)
    assert smoothed.item() == pytest.approx(-0.9 * math.log(p) - 0.1 * math.log(1 - p) + math.log(2), rel=1e-6)
    assert smoothed.item() - plain.item() == pytest.approx(0.1 * (math.log(p) - math.log(1 - p)), rel=1e-6)


# --- instance noise -------------------------------------------------------------------------

def test_instance_noise_is_annealed_linearly_to_zero():
    options = TrainingOptions(instance_noise=0.2)
    assert instance_noise_std(options, 0, 101) == pytest.approx(0.2)
    assert instance_noise_std(options, 50, 101) == pytest.approx(0.1)
    assert instance_noise_std(options, 100, 101) == 0.0
    assert instance_noise_std(TrainingOptions(), 0, 101) == 0.0


def test_instance_noise_changes_training_and_none_leaves_it_as_before(catalog):
    plain = train(make_config(catalog), catalog).history
    zero = train(make_config(catalog, instance_noise=0.0), catalog).history
    noisy = train(make_config(catalog, instance_noise=0.5), catalog).history
    assert plain.equals(zero)
    assert not plain["d_loss"].equals(noisy["d_loss"])


# --- minibatch standard deviation -----------------------------------------------------------

def test_minibatch_std_appends_the_mean_std_as_a_feature_and_a_channel():
    x = torch.tensor([[0.0, 2.0], [2.0, 6.0]])  # per-feature std (biased) 1 and 2: mean 1.5
    out = MinibatchStd(eps=0.0)(x)
    assert out.shape == (2, 3)
    assert torch.allclose(out[:, 2], torch.tensor([1.5, 1.5]))
    images = torch.randn(4, 3, 5, 5)
    maps = MinibatchStd()(images)
    assert maps.shape == (4, 4, 5, 5)
    expected = (images.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(maps[:, 3], expected.expand(4, 5, 5))


@pytest.mark.parametrize("arch, shape, kind", [(MLP, (2,), "vector"), (MLP, (1, 28, 28), "image"),
                                               (DCGAN, (1, 28, 28), "image"), (DCGAN, (3, 32, 32), "image")])
def test_architectures_build_critics_with_a_minibatch_std_layer(arch, shape, kind):
    _, critic = arch().build(ArchSpec(shape, kind, 8, minibatch_std=True))
    assert any(isinstance(m, MinibatchStd) for m in critic.modules())
    assert critic(torch.randn(4, *shape)).shape == (4,)


# --- unrolled critic ------------------------------------------------------------------------

def test_unrolled_generator_step_leaves_the_real_critic_and_its_optimiser_unchanged(catalog):
    config = make_config(catalog, unrolled_steps=3)
    variant = build_variant(config, catalog)
    source = catalog.datasets.get("ring-8")().load(device=torch.device("cpu"), seed=0)
    models = build_models(config, catalog, variant, catalog.datasets.get("ring-8")(), torch.device("cpu"))
    from ganbench.training import critic_step

    critic_step(variant, models, source, StepSettings(16, 4), PhaseTimer(torch.device("cpu")))  # Adam state
    critic_before = {k: v.clone() for k, v in models.critic.state_dict().items()}
    state_before = {k: v.clone() for k, v in models.opt_d.state_dict()["state"][0].items()}
    g_before = [p.clone() for p in models.generator.parameters()]
    generator_step(variant, models, source, StepSettings(16, 4), torch.device("cpu"), unrolled_steps=3)
    for key, value in models.critic.state_dict().items():
        assert torch.equal(value, critic_before[key])
    for key, value in models.opt_d.state_dict()["state"][0].items():
        assert torch.equal(value, state_before[key])
    assert any(not torch.equal(a, b) for a, b in zip(g_before, models.generator.parameters()))


def test_unrolled_steps_change_the_generator_update(catalog):
    plain = train(make_config(catalog), catalog).history
    unrolled = train(make_config(catalog, unrolled_steps=2), catalog).history
    assert not plain["g_loss"].equals(unrolled["g_loss"])


def test_unrolled_steps_work_with_a_gradient_penalty(catalog):
    outcome = train(make_config(catalog, "wgan-gp", steps=3, unrolled_steps=2), catalog)
    assert outcome.status == "finished" and len(outcome.history) == 3


# --- TTUR -----------------------------------------------------------------------------------

def test_ttur_sets_the_critic_lr_to_four_times_the_generators_in_the_optimisers(catalog):
    (run,) = sweep_with(catalog, ttur=True)
    assert run.variant_params["lr_g"] == 2e-4 and run.variant_params["lr_d"] == pytest.approx(8e-4)
    variant = build_variant(run, catalog)
    models = build_models(dataclasses.replace(run, device="cpu"), catalog, variant,
                          catalog.datasets.get("ring-8")(), torch.device("cpu"))
    assert models.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4)
    assert models.opt_d.param_groups[0]["lr"] == pytest.approx(8e-4)


# --- spectral norm --------------------------------------------------------------------------

def test_spectral_norm_makes_every_critic_layers_largest_singular_value_one():
    _, critic = DCGAN().build(ArchSpec((1, 28, 28), "image", 8, critic_norm="none"))
    apply_spectral_norm(critic)
    apply_spectral_norm(critic)  # idempotent: a layer is normalised once
    layers = [m for m in critic.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers
    critic.train()
    for _ in range(30):  # power iterations run on forward passes in training mode
        critic(torch.randn(2, 1, 28, 28))
    for layer in layers:
        assert len(layer.parametrizations.weight) == 1
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(start_dim=1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_option_reaches_the_trained_critic(catalog):
    outcome = train(make_config(catalog, steps=2, spectral_norm=True), catalog)
    assert any(hasattr(m, "parametrizations") for m in outcome.critic.modules())


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("variants, options, message", [
    ("wgan", {"spectral_norm": True}, "spectral normalisation cannot be combined with 'wgan'"),
    ("wgan", {"real_target": 0.9}, "label smoothing (options.real_target=0.9) applies to variants with a logit/BCE"),
    ("wgan-gp", {"real_target": 0.9}, "but 'wgan-gp' has a score critic"),
    ("vanilla", {"real_target": 0.4}, "options.real_target must be in (0.5, 1]"),
    ("vanilla", {"instance_noise": -1}, "options.instance_noise is a standard deviation"),
    ("vanilla", {"unrolled_steps": -1}, "options.unrolled_steps must be between 0"),
    ("ebgan", {"minibatch_std": True}, "but 'ebgan' uses a 'autoencoder' critic, which has no such layer"),
    ("cyclegan", {"instance_noise": 0.1, "dataset": "fashion-mnist-tops2shoes"},
     "options.instance_noise apply to the noise-to-sample training loop, but 'cyclegan' is a translation variant"),
])
def test_impossible_combinations_are_refused_before_training(catalog, variants, options, message):
    options = dict(options)
    dataset = options.pop("dataset", "ring-8")
    with pytest.raises(UsageError) as error:
        sweep_with(catalog, variants, dataset, **options)
    assert message in str(error.value)


def test_ttur_with_an_explicit_critic_lr_is_refused(catalog):
    sweep = SweepConfig(variants=["vanilla"], datasets=["ring-8"])
    apply_setting(sweep, "options.ttur", "true", catalog)
    apply_setting(sweep, "vanilla.lr_d", "1e-3", catalog)
    with pytest.raises(UsageError, match="use one or the other"):
        resolve_runs(sweep, catalog)


def test_minibatch_std_with_a_batch_of_one_is_refused(catalog):
    sweep = SweepConfig(variants=["vanilla"], datasets=["ring-8"])
    apply_setting(sweep, "options.minibatch_std", "true", catalog)
    apply_setting(sweep, "train.batch_size", "1", catalog)
    with pytest.raises(UsageError, match="at least 2 samples"):
        resolve_runs(sweep, catalog)


def test_unknown_option_names_the_known_ones(catalog):
    with pytest.raises(UsageError, match="did you mean 'spectral_norm'"):
        apply_setting(SweepConfig(), "options.spectral_nrm", "true", catalog)


# --- configuration --------------------------------------------------------------------------

def test_options_change_the_digest_and_defaults_keep_the_old_one(catalog):
    plain = make_config(catalog)
    legacy = RunConfig.from_dict({k: v for k, v in plain.to_dict().items() if k != "options"})
    assert legacy.digest() == plain.digest()
    digests = {plain.digest()}
    for options in ({"real_target": 0.9}, {"instance_noise": 0.1}, {"minibatch_std": True},
                    {"unrolled_steps": 2}, {"ttur": True}, {"spectral_norm": True}):
        digests.add(make_config(catalog, **options).digest())
    assert len(digests) == 7


def test_options_from_a_config_file(tmp_path, catalog):
    from ganbench.config import load_config_file

    path = tmp_path / "sweep.toml"
    path.write_text('variants = ["vanilla"]\ndatasets = ["ring-8"]\n[options]\nreal_target = 0.9\nspectral_norm = true\n')
    sweep = SweepConfig()
    load_config_file(path, sweep, catalog)
    (run,) = resolve_runs(sweep, catalog)
    assert run.training_options == TrainingOptions(real_target=0.9, spectral_norm=True)


def test_cli_run_with_options_records_them_and_refuses_wgan_with_spectral_norm(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "4",
                                 "--batch-size", "16", "--eval-samples", "200", "--out", str(tmp_path),
                                 "--quiet", "--real-target", "0.9", "--instance-noise", "0.1",
                                 "--minibatch-std", "--unrolled-steps", "1", "--ttur", "--spectral-norm"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (config_file,) = (tmp_path / "default").glob("*/config.json")
    recorded = json.loads(config_file.read_text())["config"]
    assert recorded["options"] == {"real_target": 0.9, "instance_noise": 0.1, "minibatch_std": True,
                                   "unrolled_steps": 1, "ttur": True, "spectral_norm": True}
    assert recorded["variant_params"]["lr_d"] == pytest.approx(4 * recorded["variant_params"]["lr_g"])
    refused = runner.invoke(app, ["run", "--variants", "wgan", "--datasets", "ring-8", "--steps", "2",
                                  "--out", str(tmp_path / "refused"), "--spectral-norm"])
    assert refused.exit_code == 2
    assert "spectral normalisation cannot be combined with 'wgan'" in refused.output
    assert not (tmp_path / "refused").exists()
