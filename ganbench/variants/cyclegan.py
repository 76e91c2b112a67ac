"""``cyclegan``: Zhu et al. (2017), unpaired translation with cycle consistency.

Objective only (the loop is :mod:`ganbench.translation`): per domain, a least-squares
adversarial loss as in the paper (``adversarial = "bce"`` for the logits form), the
discriminator's half-weighted as in the paper; cycle consistency λ_cyc·‖F(G(x)) − x‖₁ per
direction with λ_cyc = 10; an identity term λ_id·‖G(y) − y‖₁ per direction, off by default
(``lambda_identity = 0``): the paper uses λ_id = 0.5·λ_cyc = 5 only for tasks that keep
colours (photo ↔ painting), and tops ↔ shoes should change the shape. Adam 2e-4, (0.5, 0.999).
The paper's history pool of 50 generated images for the discriminators is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.variants import TranslationVariant, VariantParams

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class CycleGANParams(VariantParams):
    """Adam 2e-4, betas (0.5, 0.999); λ_cyc = 10; λ_id = 0 (the paper's 5 = 0.5·λ_cyc is optional)."""

    lambda_cyc: float = 10.0
    lambda_identity: float = 0.0
    adversarial: Literal["lsgan", "bce"] = "lsgan"

    def validate(self) -> None:
        super().validate()
        if not self.lambda_cyc >= 0:
            raise ValueError(f"lambda_cyc must be a non-negative number, got {self.lambda_cyc!r}")
        if not self.lambda_identity >= 0:
            raise ValueError(f"lambda_identity must be a non-negative number, got {self.lambda_identity!r}")
        if self.adversarial not in ("lsgan", "bce"):
            raise ValueError(f"adversarial must be 'lsgan' or 'bce', got {self.adversarial!r}")


class CycleGAN(TranslationVariant):
    name = "cyclegan"
    description = "CycleGAN: two translators, two PatchGAN critics, LSGAN + 10·L1 cycle consistency."
    Params = CycleGANParams
    critic_norm = "layer"  # instance norm in the PatchGAN critic, as in the paper

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        if self.params.adversarial == "bce":
            loss = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
        else:
            loss = (real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean()
        return 0.5 * loss  # the paper halves D's objective to slow it relative to G

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        if self.params.adversarial == "bce":
            return F.softplus(-fake_scores).mean()
        return (fake_scores - 1).pow(2).mean()

    def cycle_loss(self, real: Tensor, reconstructed: Tensor) -> Tensor:
        return self.params.lambda_cyc * (reconstructed - real).abs().mean()

    def uses_identity(self) -> bool:
        return self.params.lambda_identity > 0

    def identity_loss(self, real: Tensor, mapped: Tensor) -> Tensor | None:
        return self.params.lambda_identity * (mapped - real).abs().mean()


@hookimpl
def register_variants(register):
    register(CycleGAN)
