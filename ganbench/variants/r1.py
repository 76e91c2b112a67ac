"""``r1``: Mescheder et al. (2018), non-saturating loss with the R1 gradient penalty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.spaces import IntRange, LogUniform, Uniform, searched
from ganbench.variants import Variant, VariantParams

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor, nn


def r1_penalty(critic: nn.Module, real: Tensor) -> Tensor:
    """E[‖∇ₓ D(x)‖²] on the real batch, keeping the graph so the critic trains through it."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return grad.flatten(start_dim=1).pow(2).sum(dim=1).mean()


@dataclass
class R1Params(VariantParams):
    """Adam 2e-4, betas (0.5, 0.999); penalty (gamma / 2)·E[‖∇ₓD(x)‖²] with gamma 10."""

    # Search spaces: the "wide" ranges of Lucic et al. (2018), compare_gan's gan_lib ranges: learning
    # rate log-uniform on [1e-5, 1e-2], beta1 uniform on [0, 1) (capped at 0.99: Adam needs < 1),
    # discriminator steps 1 to 5.
    lr_g: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    beta1: float = searched(0.5, Uniform(0.0, 0.99))
    n_critic: int = searched(1, IntRange(1, 5))
    # gamma: log-uniform on [0.1, 100], Lucic et al.'s wide range for penalty weights.
    gamma: float = searched(10.0, LogUniform(0.1, 100.0))

    def validate(self) -> None:
        super().validate()
        if not self.gamma >= 0:
            raise ValueError(f"gamma must be a non-negative number, got {self.gamma!r}")


class R1(Variant):
    name = "r1"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Non-saturating GAN with the R1 penalty (gamma/2)·E‖∇D(x)‖² on real data, gamma 10."
    Params = R1Params
    critic_norm = "none"  # batch norm would couple the samples whose gradients are penalised

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # BCE(D(x), 1) + BCE(D(G(z)), 0) on logits
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        # non-saturating: BCE(D(G(z)), 1)
        return F.softplus(-fake_scores).mean()

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return 0.5 * self.params.gamma * r1_penalty(critic, real)


@hookimpl
def register_variants(register):
    register(R1)
