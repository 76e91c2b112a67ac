"""``ragan``: Jolicoeur-Martineau (2018), the relativistic average GAN (see :mod:`.rsgan`)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganbench.hookspecs import hookimpl
from ganbench.variants import Variant
from ganbench.variants.rsgan import require_real_scores


class RaGAN(Variant):
    name = "ragan"
    description = "Relativistic average GAN: BCE on C(x) - mean C(other batch); Adam 2e-4 (0.5, 0.999)."
    critic_output = "relativistic"
    generator_uses_real = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # BCE(C(x_r) - mean C(x_f), 1) + BCE(C(x_f) - mean C(x_r), 0)
        return (F.softplus(-(real_scores - fake_scores.mean())).mean()
                + F.softplus(fake_scores - real_scores.mean()).mean())

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        # the same with the labels swapped: BCE(C(x_f) - mean C(x_r), 1) + BCE(C(x_r) - mean C(x_f), 0)
        real_scores = require_real_scores(real_scores, self.name)
        return (F.softplus(-(fake_scores - real_scores.mean())).mean()
                + F.softplus(real_scores - fake_scores.mean()).mean())


@hookimpl
def register_variants(register):
    register(RaGAN)
