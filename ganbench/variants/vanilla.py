"""``vanilla``: Goodfellow et al. (2014), BCE on logits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.spaces import IntRange, LogUniform, Uniform, searched
from ganbench.variants import Variant, VariantParams

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class VanillaParams(VariantParams):
    """Adam 2e-4, betas (0.5, 0.999); ``generator_loss``: ``non-saturating`` or ``minimax``."""

    # Search spaces: the "wide" ranges of Lucic et al. (2018), compare_gan's gan_lib ranges: learning
    # rate log-uniform on [1e-5, 1e-2], beta1 uniform on [0, 1) (capped at 0.99: Adam needs < 1),
    # discriminator steps 1 to 5.
    lr_g: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    beta1: float = searched(0.5, Uniform(0.0, 0.99))
    n_critic: int = searched(1, IntRange(1, 5))
    generator_loss: Literal["non-saturating", "minimax"] = "non-saturating"

    def validate(self) -> None:
        super().validate()
        if self.generator_loss not in ("non-saturating", "minimax"):
            raise ValueError(
                f"generator_loss must be 'non-saturating' or 'minimax', got {self.generator_loss!r}"
            )


class Vanilla(Variant):
    name = "vanilla"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Original GAN: BCE on logits, non-saturating (or minimax) generator loss."
    Params = VanillaParams
    supports_real_target = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor, real_target: float = 1.0) -> Tensor:
        # BCE(D(x), t) + BCE(D(G(z)), 0) on logits: -t log σ(r) - (1 - t) log(1 - σ(r)) - log(1 - σ(f)).
        real_loss = F.softplus(-real_scores).mean()
        if real_target != 1.0:
            real_loss = real_target * real_loss + (1 - real_target) * F.softplus(real_scores).mean()
        return real_loss + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        if self.params.generator_loss == "minimax":
            # Minimise log(1 - σ(f)) = -softplus(f): saturates when D confidently rejects fakes.
            return -F.softplus(fake_scores).mean()
        # Non-saturating: BCE(D(G(z)), 1) = -log σ(f).
        return F.softplus(-fake_scores).mean()


@hookimpl
def register_variants(register):
    register(Vanilla)
