"""``ragan``: Jolicoeur-Martineau (2018), the relativistic average GAN (see :mod:`.rsgan`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.variants import Variant
from ganbench.variants.rsgan import require_real_scores

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


def relativistic_average_loss(winners: Tensor, losers: Tensor) -> Tensor:
    """BCE(C(w) - mean C(l), 1) + BCE(C(l) - mean C(w), 0): ``winners`` should score above the
    other batch's average and ``losers`` below it. D uses (real, fake), G the roles swapped."""
    return (F.softplus(-(winners - losers.mean())).mean()
            + F.softplus(losers - winners.mean()).mean())


class RaGAN(Variant):
    name = "ragan"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Relativistic average GAN: BCE on C(x) - mean C(other batch); Adam 2e-4 (0.5, 0.999)."
    critic_output = "relativistic"
    generator_uses_real = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return relativistic_average_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return relativistic_average_loss(fake_scores, require_real_scores(real_scores, self.name))


@hookimpl
def register_variants(register):
    register(RaGAN)
