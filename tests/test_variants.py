"""Each built-in variant's objective against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.plugins import build_catalog
from ganbench.variants.vanilla import Vanilla, VanillaParams
from ganbench.variants.wgan import WGAN
from ganbench.variants.wgan_gp import WGANGP, WGANGPParams, gradient_penalty


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_vanilla_discriminator_loss_is_bce_on_logits():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected = -(log_sigmoid(2.0) + log_sigmoid(-1.0)) / 2 - (
        math.log(1 - 1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(3.0)))
    ) / 2
    assert Vanilla().discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)
    bce = nn.BCEWithLogitsLoss()
    assert Vanilla().discriminator_loss(real, fake).item() == pytest.approx(
        (bce(real, torch.ones(2)) + bce(fake, torch.zeros(2))).item(), rel=1e-6)


def test_vanilla_generator_losses_non_saturating_and_minimax():
    fake = torch.tensor([0.5, -3.0])
    non_saturating = Vanilla().generator_loss(fake).item()
    assert non_saturating == pytest.approx(-(log_sigmoid(0.5) + log_sigmoid(-3.0)) / 2, rel=1e-6)
    minimax = Vanilla(VanillaParams(generator_loss="minimax")).generator_loss(fake).item()
    expected = (math.log(1 - 1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(3.0)))) / 2
    assert minimax == pytest.approx(expected, rel=1e-6)
    # Both fall as D(G(z)) rises; minimax saturates where D rejects fakes confidently.
    assert minimax < 0 < non_saturating
    low = torch.tensor([-10.0], requires_grad=True)
    Vanilla(VanillaParams(generator_loss="minimax")).generator_loss(low).backward()
    saturating_grad = abs(low.grad.item())
    low.grad = None
    Vanilla().generator_loss(low).backward()
    assert abs(low.grad.item()) > 1000 * saturating_grad


def test_vanilla_rejects_unknown_generator_loss():
    with pytest.raises(ValueError, match="generator_loss must be"):
        Vanilla(VanillaParams(generator_loss="hinge"))


def test_wasserstein_losses_signs_and_values():
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([-1.0, 0.0])
    for variant in (WGAN(), WGANGP()):
        # critic: mean C(fake) - mean C(real) = -0.5 - 2 = -2.5; generator: -mean C(fake) = 0.5
        assert variant.discriminator_loss(real, fake).item() == pytest.approx(-2.5)
        assert variant.generator_loss(fake).item() == pytest.approx(0.5)
        assert variant.critic_output == "score"


def test_defaults_match_the_papers():
    catalog = build_catalog()
    vanilla = catalog.variants.get("vanilla").Params()
    assert (vanilla.optimizer, vanilla.lr_d, vanilla.beta1, vanilla.beta2, vanilla.n_critic) == ("adam", 2e-4, 0.5, 0.999, 1)
    wgan = catalog.variants.get("wgan").Params()
    assert (wgan.optimizer, wgan.lr_d, wgan.n_critic, wgan.clip_value) == ("rmsprop", 5e-5, 5, 0.01)
    gp = catalog.variants.get("wgan-gp").Params()
    assert (gp.optimizer, gp.lr_d, gp.beta1, gp.beta2, gp.n_critic, gp.lambda_gp) == ("adam", 1e-4, 0.0, 0.9, 5, 10.0)
    assert catalog.variants.get("wgan-gp").critic_norm != "batch"


def test_optimizers_follow_params():
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    opt_g, opt_d = WGAN().make_optimizers(g, d)
    assert isinstance(opt_d, torch.optim.RMSprop) and opt_d.defaults["lr"] == 5e-5
    opt_g, opt_d = WGANGP().make_optimizers(g, d)
    assert isinstance(opt_g, torch.optim.Adam) and opt_g.defaults["betas"] == (0.0, 0.9)


def test_gradient_penalty_is_zero_for_linear_critic_with_unit_norm_weights():
    torch.manual_seed(0)
    critic = nn.Linear(8, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.randn(1, 8))
        critic.weight /= critic.weight.norm()
    real, fake = torch.randn(16, 8), torch.randn(16, 8)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_is_positive_otherwise_and_scaled_by_lambda():
    torch.manual_seed(0)
    critic = nn.Linear(8, 1)
    with torch.no_grad():
        critic.weight.copy_(3 * torch.ones(1, 8) / math.sqrt(8))  # gradient norm 3 everywhere
    real, fake = torch.randn(16, 8), torch.randn(16, 8)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(4.0, rel=1e-5)
    torch.manual_seed(1)
    weighted = WGANGP(WGANGPParams(lambda_gp=2.5)).penalty(critic, real, fake)
    assert weighted.item() == pytest.approx(10.0, rel=1e-5)
    nonlinear = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    assert gradient_penalty(nonlinear, real, fake).item() > 0


def test_gradient_penalty_trains_the_critic_through_the_double_backward():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    penalty = gradient_penalty(critic, torch.randn(8, 4), torch.randn(8, 4))
    penalty.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic[0].parameters())


def test_clipping_bounds_hold_after_a_step():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    variant = WGAN()
    _, opt = variant.make_optimizers(nn.Linear(1, 1), critic)
    for _ in range(3):
        loss = variant.discriminator_loss(critic(torch.randn(8, 4) + 2), critic(torch.randn(8, 4)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        variant.after_critic_step(critic)
        for parameter in critic.parameters():
            assert parameter.abs().max().item() <= 0.01
    assert any(parameter.abs().max().item() == pytest.approx(0.01) for parameter in critic.parameters())


@pytest.mark.parametrize("field,value,message", [
    ("lambda_gp", -1.0, "lambda_gp must be a non-negative number"),
    ("n_critic", 0, "n_critic must be a positive integer"),
    ("lr_d", 0.0, "lr_d must be a positive number"),
])
def test_invalid_hyperparameters_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        WGANGP(WGANGPParams(**{field: value}))
