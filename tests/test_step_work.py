"""The work one training step does: no pass done twice, fused Adam, batch statistics kept apart."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.architectures import ArchSpec, apply_spectral_norm
from ganbench.architectures.dcgan import DCGAN
from ganbench.architectures.mlp import MLP
from ganbench.config import RunConfig, variant_params
from ganbench.options import TrainingOptions
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.training import build_variant, scores_each_sample_alone, train


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def config(catalog, variant="vanilla", steps=4, **options) -> RunConfig:
    return RunConfig(variant=variant, dataset="ring-8", seed=0, arch="mlp", steps=steps, batch_size=16,
                     latent_dim=4, device="cpu", variant_params=variant_params(catalog, variant, {}),
                     options=TrainingOptions(**options).to_dict())


def count_forwards(monkeypatch):
    """Wrap ``build_models`` so that each network's forward calls (and batch sizes) are recorded."""
    import ganbench.training as training

    calls: dict[str, list[int]] = {"generator": [], "critic": []}
    real_build = training.build_models

    def counting_build(*args, **kwargs):
        models = real_build(*args, **kwargs)
        for name in calls:  # an instance's forward, not a hook: a hook would change how the critic is used
            module = getattr(models, name)

            def forward(x, *rest, name=name, forward=module.forward):
                calls[name].append(x.shape[0])
                return forward(x, *rest)

            module.forward = forward
        return models

    monkeypatch.setattr(training, "build_models", counting_build)
    return calls


def test_a_step_runs_the_generator_forward_once_and_scores_real_and_fake_together(catalog, monkeypatch):
    calls = count_forwards(monkeypatch)
    outcome = train(config(catalog, steps=4), catalog)
    assert outcome.status == "finished"
    # the generator step reuses the critic step's generated batch: 1 generator forward per step, not 2
    assert calls["generator"] == [16] * 4
    # per step: real and fake in one critic forward (the MLP critic scores each sample alone),
    # then the generator step's critic forward on the generated batch
    assert calls["critic"] == [32, 16] * 4


def test_n_critic_steps_need_n_generator_forwards(catalog, monkeypatch):
    import ganbench.training as training

    monkeypatch.setattr(training, "measure_penalty_ratio", lambda *args, **kwargs: 1.0)
    calls = count_forwards(monkeypatch)
    train(config(catalog, "wgan-gp", steps=2), catalog)
    assert len(calls["generator"]) == 2 * 5  # was 2 * (5 + 1)


def test_batch_statistics_keep_real_and_fake_batches_apart(catalog, monkeypatch):
    calls = count_forwards(monkeypatch)
    train(config(catalog, steps=2, minibatch_std=True), catalog)
    assert calls["critic"] == [16, 16, 16] * 2  # minibatch std: real, fake, then the generator's batch


@pytest.mark.parametrize(("critic_norm", "minibatch_std", "spectral", "alone"), [
    ("layer", False, False, True),
    ("batch", False, False, True),   # the MLP critic has no normalisation layer
    ("layer", True, False, False),   # minibatch std mixes the batch
    ("layer", False, True, False),   # spectral norm's power iteration runs once per call
])
def test_which_critics_score_each_sample_alone(critic_norm, minibatch_std, spectral, alone):
    _, critic = MLP().build(ArchSpec((1, 28, 28), "image", 8, critic_norm, "scalar", minibatch_std=minibatch_std))
    if spectral:
        apply_spectral_norm(critic)
    assert scores_each_sample_alone(critic) is alone
    if alone:  # scoring two batches together gives each sample its own score
        real, fake = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)
        together = critic(torch.cat([real, fake]))
        torch.testing.assert_close(together, torch.cat([critic(real), critic(fake)]))


def test_a_batch_norm_critic_or_a_subclassed_layer_is_scored_batch_by_batch():
    _, critic = DCGAN().build(ArchSpec((1, 32, 32), "image", 8, "batch", "scalar"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert not scores_each_sample_alone(critic)

    class MixingLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x - x.mean(dim=0))

    assert not scores_each_sample_alone(nn.Sequential(MixingLinear(4, 1)))
    assert scores_each_sample_alone(nn.Sequential(nn.Linear(4, 1)))


def test_adam_is_fused_where_torch_has_the_kernel(catalog):
    variant = build_variant(config(catalog), catalog)
    opt_g, opt_d = variant.make_optimizers(nn.Linear(2, 2), nn.Linear(2, 1))
    assert opt_g.defaults["fused"] and opt_d.defaults["fused"]
    wgan = build_variant(config(catalog, "wgan"), catalog)
    assert all(isinstance(opt, torch.optim.RMSprop) for opt in wgan.make_optimizers(nn.Linear(2, 2), nn.Linear(2, 1)))
