"""``dcgan``: Radford et al. (2015), the DCGAN training recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.architectures.dcgan import dcgan_init
from ganbench.hookspecs import hookimpl
from ganbench.variants.vanilla import Vanilla

if TYPE_CHECKING:
    from torch import nn


class DCGANRecipe(Vanilla):
    """Vanilla's BCE on logits (non-saturating G) with DCGAN's init and architecture.

    Adam 2e-4, betas (0.5, 0.999) (vanilla's defaults); every conv/linear weight N(0, 0.02),
    batch-norm gains N(1, 0.02), biases zero, whatever the architecture; the ``dcgan``
    architecture under ``--arch auto`` when it can model the data (images of 28, 32 or 64 px).
    """

    name = "dcgan"
    description = "DCGAN recipe: BCE on logits, Adam 2e-4 (0.5, 0.999), N(0, 0.02) init, DCGAN architecture."
    preferred_arch = "dcgan"

    def init_weights(self, model: nn.Module) -> None:
        model.apply(dcgan_init)


@hookimpl
def register_variants(register):
    register(DCGANRecipe)
