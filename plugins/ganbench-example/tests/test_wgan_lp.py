"""The variant's objective on inputs whose answer is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("ganbench_example", reason="the example plugin is not installed: pip install -e plugins/ganbench-example")

from ganbench_example.wgan_lp import WGANLP, WGANLPParams, lipschitz_penalty  # noqa: E402


def linear_critic(weights: list[float]) -> nn.Linear:
    """C(x) = w·x: its gradient is w everywhere, so the penalty is known exactly."""
    critic = nn.Linear(len(weights), 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weights]))
    return critic


def test_wasserstein_losses():
    variant = WGANLP()
    real, fake = torch.tensor([[3.0], [1.0]]), torch.tensor([[0.5], [-0.5]])
    assert variant.discriminator_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert variant.generator_loss(fake).item() == pytest.approx(0.0)
    assert variant.generator_loss(torch.tensor([[2.0]])).item() == pytest.approx(-2.0)


def test_penalty_is_one_sided():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    # Gradient norm 2: penalised by (2 - 1)^2 = 1, times lambda 10.
    steep = linear_critic([1.2, 1.6])
    assert lipschitz_penalty(steep, real, fake).item() == pytest.approx(1.0)
    assert WGANLP().penalty(steep, real, fake).item() == pytest.approx(10.0)
    # Gradient norm 0.5: WGAN-GP would charge (0.5 - 1)^2 = 0.25; the one-sided penalty is 0.
    flat = linear_critic([0.3, 0.4])
    assert lipschitz_penalty(flat, real, fake).item() == 0.0


def test_penalty_trains_the_critic_through_the_gradient_norm():
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    with torch.no_grad():
        for parameter in critic.parameters():
            parameter.mul_(5)  # steep enough that the penalty is active
    penalty = lipschitz_penalty(critic, torch.randn(32, 2), torch.randn(32, 2))
    assert penalty.item() > 0
    penalty.backward()
    assert critic[0].weight.grad is not None and critic[0].weight.grad.abs().sum() > 0


def test_defaults_and_validation():
    variant = WGANLP()
    assert (variant.n_critic, variant.params.lambda_lp, variant.params.beta1) == (5, 10.0, 0.0)
    assert WGANLP.critic_output == "score" and WGANLP.has_penalty()
    assert WGANLP.capturable  # no host synchronisation: --fast on CUDA may replay its steps as a CUDA graph
    with pytest.raises(ValueError, match="lambda_lp must be a non-negative number"):
        WGANLP(WGANLPParams(lambda_lp=-1.0))
