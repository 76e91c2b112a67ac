"""``ebgan``: Zhao et al. (2016), an energy-based GAN with an auto-encoder discriminator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.variants import Variant, VariantParams

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class EBGANParams(VariantParams):
    """Margin m 1.0; Adam 2e-4, betas (0.5, 0.999).

    The energy is the per-sample *mean* squared reconstruction error. For data in [-1, 1]
    an element's squared error is at most 4, and a reconstruction that ignores its input
    (predicting the mean) errs by the data's variance, at most 1. A margin of 1 therefore
    asks D to reconstruct fakes no better than such a blind guess, while real samples are
    pulled towards 0; far larger margins are never reached and only feed D a constant push.
    """

    margin: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not self.margin > 0:
            raise ValueError(f"margin must be a positive number, got {self.margin!r}")


class EBGAN(Variant):
    name = "ebgan"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Energy-based GAN: auto-encoder D, energy = reconstruction MSE, hinge at margin m=1."
    Params = EBGANParams
    critic_output = "raw"  # the recorded critic_real / critic_fake are the mean energies
    critic_kind = "autoencoder"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # E[D(x)] + E[max(0, m - D(G(z)))]
        return real_scores.mean() + F.relu(self.params.margin - fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return fake_scores.mean()


@hookimpl
def register_variants(register):
    register(EBGAN)
