"""``stylegan``: a small StyleGAN-style generator (Karras et al. 2019) with a DCGAN critic.

Generator:

* a mapping network z → w: an MLP of :data:`MAPPING_DEPTH` fully connected layers with
  LeakyReLU(0.2) (8 layers in the paper; 4 are plenty for 28×28 images and train faster);
* a learned constant input of ``width × base × base`` (7×7 for 28×28, 4×4 for 32×32/64×64);
* two style layers per resolution, each: (nearest ×2 upsampling at the first layer of a new
  resolution) → 3×3 convolution → per-layer noise input (a per-channel learned scale times a
  fresh N(0, 1) map) → LeakyReLU(0.2) → AdaIN: instance norm, then a per-channel scale
  ``1 + a`` and bias ``b`` from a learned affine map of that layer's w;
* a 1×1 convolution to the image channels and Tanh.

Style mixing regularisation: in training mode, with probability ``mixing_prob`` a second
z gives w₂ and the layers from a random crossover layer on use w₂ instead of w₁. In eval
mode (sampling, metrics) there is no mixing. Noise maps may be passed in to make the
generator deterministic (:meth:`StyleGenerator.synthesis`).

The critic is the DCGAN critic, honouring the variant's ``critic_norm``. The architecture is
picked only when asked for (``--arch stylegan``): its suitability is 1, below ``dcgan`` and
``mlp``, so ``--arch auto`` never chooses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganbench.architectures import ArchSpec, Architecture
from ganbench.architectures.dcgan import SIZES, _critic, dcgan_init
from ganbench.hookspecs import hookimpl

if TYPE_CHECKING:
    from torch import nn

# The networks live in ganbench.architectures.stylegan_networks (defining them imports torch);
# they are importable from here too, loaded on first use.
_NETWORK_NAMES = ("MAPPING_DEPTH", "MIXING_PROB", "WIDTH", "MappingNetwork", "StyleGenerator", "StyledConv")


def __getattr__(name: str) -> Any:
    if name in _NETWORK_NAMES:
        from ganbench.architectures import stylegan_networks

        return getattr(stylegan_networks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class StyleGAN(Architecture):
    name = "stylegan"
    description = ("StyleGAN-style G (mapping net, constant input, AdaIN, noise, style mixing) "
                   "with the DCGAN critic; only with --arch stylegan.")
    supports_minibatch_std = True

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        if data_kind != "image" or data_shape[1] != data_shape[2] or data_shape[1] not in SIZES:
            return 0
        return 1  # lowest preference: never chosen by --arch auto over dcgan or mlp

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        return 64

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        from ganbench.architectures.stylegan_networks import StyleGenerator

        channels, size = spec.data_shape[0], spec.data_shape[1]
        generator = StyleGenerator(spec.latent_dim, channels, size)
        critic = _critic(channels, size, spec.critic_norm, spec)  # honours --minibatch-std
        critic.apply(dcgan_init)
        return generator, critic


@hookimpl
def register_architectures(register):
    register(StyleGAN)
