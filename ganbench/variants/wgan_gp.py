"""``wgan-gp``: Gulrajani et al. (2017), a gradient penalty on interpolates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.spaces import IntRange, LogUniform, Uniform, searched
from ganbench.variants import Variant, VariantParams
from ganbench.variants.wgan import WassersteinLosses

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor, nn


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E[(‖∇ₓ̂ C(x̂)‖₂ − 1)²] on x̂ = εx + (1−ε)G(z), one ε ~ U[0, 1] per sample.

    Keeps the graph (``create_graph=True``) so that backpropagating the result trains the
    critic through the gradient norm (the "double backward").
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    interpolates = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(interpolates)
    (grad,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    norms = grad.flatten(start_dim=1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


@dataclass
class WGANGPParams(VariantParams):
    """Adam 1e-4, betas (0.0, 0.9) as in the paper, n_critic 5, penalty weight 10."""

    # Search spaces: Lucic et al. (2018)'s wide ranges (compare_gan): learning rate log-uniform on
    # [1e-5, 1e-2], beta1 on [0, 1) (capped at 0.99), critic steps 1 to 5, lambda log-uniform on [0.1, 100].
    lr_g: float = searched(1e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(1e-4, LogUniform(1e-5, 1e-2))
    beta1: float = searched(0.0, Uniform(0.0, 0.99))
    beta2: float = 0.9
    n_critic: int = searched(5, IntRange(1, 5))
    lambda_gp: float = searched(10.0, LogUniform(0.1, 100.0))

    def validate(self) -> None:
        super().validate()
        if not self.lambda_gp >= 0:
            raise ValueError(f"lambda_gp must be a non-negative number, got {self.lambda_gp!r}")


class WGANGP(WassersteinLosses, Variant):
    name = "wgan-gp"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "WGAN with gradient penalty (lambda 10) on interpolates; critic without batch norm."
    Params = WGANGPParams
    critic_norm = "layer"

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return self.params.lambda_gp * gradient_penalty(critic, real, fake)


@hookimpl
def register_variants(register):
    register(WGANGP)
