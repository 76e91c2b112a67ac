"""``rsgan``: Jolicoeur-Martineau (2018), the relativistic standard GAN.

The critic C outputs a logit; the discriminator is σ of the difference between a real and a
fake logit (``rsgan``: paired samples) or between a logit and the other batch's mean logit
(``ragan``). Both losses are BCE on these differences, so the generator needs C on real data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.variants import Variant

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


def require_real_scores(real_scores: Tensor | None, variant: str) -> Tensor:
    if real_scores is None:
        raise ValueError(f"{variant}'s generator loss needs the critic's scores on a real batch "
                         "(generator_uses_real is True); pass real_scores.")
    return real_scores


def relativistic_loss(winners: Tensor, losers: Tensor) -> Tensor:
    """BCE(C(w) - C(l), 1) = softplus(C(l) - C(w)) on paired samples: ``winners`` should score
    above ``losers``. D uses (real, fake), G the same with the roles swapped."""
    return F.softplus(losers - winners).mean()


class RSGAN(Variant):
    name = "rsgan"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Relativistic standard GAN: BCE on C(x_r) - C(x_f); Adam 2e-4 (0.5, 0.999)."
    critic_output = "relativistic"
    generator_uses_real = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return relativistic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return relativistic_loss(fake_scores, require_real_scores(real_scores, self.name))


@hookimpl
def register_variants(register):
    register(RSGAN)
