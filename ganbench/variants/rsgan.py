"""``rsgan``: Jolicoeur-Martineau (2018), the relativistic standard GAN.

The critic C outputs a logit; the discriminator is σ of the difference between a real and a
fake logit (``rsgan``: paired samples) or between a logit and the other batch's mean logit
(``ragan``). Both losses are BCE on these differences, so the generator needs C on real data.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganbench.hookspecs import hookimpl
from ganbench.variants import Variant


def require_real_scores(real_scores: Tensor | None, variant: str) -> Tensor:
    if real_scores is None:
        raise ValueError(f"{variant}'s generator loss needs the critic's scores on a real batch "
                         "(generator_uses_real is True); pass real_scores.")
    return real_scores


class RSGAN(Variant):
    name = "rsgan"
    description = "Relativistic standard GAN: BCE on C(x_r) - C(x_f); Adam 2e-4 (0.5, 0.999)."
    critic_output = "relativistic"
    generator_uses_real = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # BCE(C(x_r) - C(x_f), 1) = softplus(-(r - f))
        return F.softplus(fake_scores - real_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        # BCE(C(x_f) - C(x_r), 1)
        return F.softplus(require_real_scores(real_scores, self.name) - fake_scores).mean()


@hookimpl
def register_variants(register):
    register(RSGAN)
