"""``wgan-lp``: Petzka, Fischer and Lukovnikov (2018), a one-sided Lipschitz penalty.

WGAN-GP pushes the critic's gradient norm towards 1 everywhere on the interpolates; WGAN-LP
only penalises norms above 1: λ·E[max(0, ‖∇ₓ̂ C(x̂)‖₂ − 1)²].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ganbench
from ganbench import IntRange, LogUniform, searched

# torch is imported on first use, so that `ganbench --help` and `ganbench list` do not wait for it.
torch = ganbench.lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor, nn


def lipschitz_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E[max(0, ‖∇ₓ̂ C(x̂)‖₂ − 1)²] on x̂ = εx + (1−ε)G(z), one ε ~ U[0, 1] per sample.

    ``create_graph=True`` keeps the graph so the critic is trained through the gradient norm.
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    interpolates = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(interpolates).sum(), interpolates, create_graph=True)
    norms = grad.flatten(start_dim=1).norm(2, dim=1)
    return torch.clamp(norms - 1, min=0).pow(2).mean()


@dataclass
class WGANLPParams(ganbench.VariantParams):
    """The paper's WGAN-GP settings (Adam 1e-4, betas 0.0/0.9, n_critic 5) and λ = 10."""

    # Search spaces (ganbench search): WGAN-GP's wide ranges from Lucic et al. (2018).
    lr_g: float = searched(1e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(1e-4, LogUniform(1e-5, 1e-2))
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = searched(5, IntRange(1, 5))
    lambda_lp: float = searched(10.0, LogUniform(0.1, 100.0))

    def validate(self) -> None:
        super().validate()
        if not self.lambda_lp >= 0:
            raise ValueError(f"lambda_lp must be a non-negative number, got {self.lambda_lp!r}")


class WGANLP(ganbench.Variant):
    name = "wgan-lp"
    description = "WGAN with a one-sided Lipschitz penalty (lambda 10) on interpolates (Petzka 2018)."
    Params = WGANLPParams
    critic_output = "score"
    critic_norm = "layer"  # batch norm would couple the samples whose gradients are penalised
    capturable = True  # tensor work only, no .item(): --fast on CUDA may replay the step as a CUDA graph

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return -fake_scores.mean()

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        return self.params.lambda_lp * lipschitz_penalty(critic, real, fake)
