"""``wgan``: Arjovsky et al. (2017), a weight-clipped critic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.spaces import IntRange, LogUniform, searched
from ganbench.variants import Variant, VariantParams

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor, nn


class WassersteinLosses:
    """The Wasserstein critic and generator losses, shared by ``wgan`` and ``wgan-gp``."""

    critic_output = "score"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return -fake_scores.mean()


@dataclass
class WGANParams(VariantParams):
    """RMSprop 5e-5, n_critic 5, critic weights clipped to [-clip_value, clip_value]."""

    optimizer: Literal["adam", "rmsprop"] = "rmsprop"
    # Search spaces: Lucic et al. (2018)'s wide ranges (compare_gan): learning rate log-uniform on
    # [1e-5, 1e-2], critic steps 1 to 5, clipping log-uniform on [1e-3, 1]; RMSprop has no betas.
    lr_g: float = searched(5e-5, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(5e-5, LogUniform(1e-5, 1e-2))
    n_critic: int = searched(5, IntRange(1, 5))
    clip_value: float = searched(0.01, LogUniform(1e-3, 1.0))

    def validate(self) -> None:
        super().validate()
        if not self.clip_value > 0:
            raise ValueError(f"clip_value must be a positive number, got {self.clip_value!r}")


class WGAN(WassersteinLosses, Variant):
    name = "wgan"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Wasserstein GAN: critic weights clipped after each step, RMSprop, n_critic 5."
    Params = WGANParams

    def after_critic_step(self, critic: nn.Module) -> None:
        c = self.params.clip_value
        with torch.no_grad():
            for parameter in critic.parameters():
                parameter.clamp_(-c, c)


@hookimpl
def register_variants(register):
    register(WGAN)
