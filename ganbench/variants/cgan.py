"""``cgan``: Mirza & Osindero (2014), a class-conditional GAN with vanilla's losses.

G receives a learned label embedding concatenated to z; the critic is a projection
discriminator (Miyato & Koyama 2018): ``linear(φ(x)) + ⟨embed(y), φ(x)⟩``. The architectures
build both when ``ArchSpec.num_classes`` is set; the data set must have labels (toy mixtures
use their mode index).
"""

from __future__ import annotations

from ganbench.hookspecs import hookimpl
from ganbench.variants.vanilla import Vanilla, VanillaParams


class CGAN(Vanilla):
    name = "cgan"
    description = "Class-conditional GAN: label embedding into G, projection discriminator, BCE losses."
    Params = VanillaParams
    conditional = True


@hookimpl
def register_variants(register):
    register(CGAN)
