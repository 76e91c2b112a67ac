"""``resnet-sngan`` and ``resnet-wgangp``: the 32×32 ResNet pairs of the published CIFAR-10 tables.

The ResNet generator and critic of Gulrajani et al. (2017, appendix F) as Miyato et al. (2018,
appendix B.4) and Mimicry (Lee & Town 2020, ``torch_mimicry/nets/sngan/sngan_32.py`` and
``wgan_gp/wgan_gp_32.py``) use them for CIFAR-10:

* G: z (128) → linear → 4×4×256 → three up-sampling residual blocks (BN, ReLU, 2× bilinear
  up-sampling, 3×3 conv, BN, ReLU, 3×3 conv; a 1×1 conv on the up-sampled shortcut) → BN,
  ReLU, 3×3 conv to the image, Tanh.
* Critic: an "optimised" first block (3×3 conv, ReLU, 3×3 conv, 2×2 average pooling; shortcut:
  pooling then 1×1 conv), one down-sampling block and two plain blocks (ReLU, 3×3 conv, ReLU,
  3×3 conv), all 128 wide, then ReLU, global pooling and a linear read-out. No normalisation
  (Gulrajani et al.'s ``NORMALIZATION_D = False``), so every variant's ``critic_norm`` allows it;
  a variant with ``spectral_norm`` gets it on every convolution and the read-out, as SNGAN.

The two differ only in the critic's global pooling: a sum over positions (SNGAN, Miyato et al.'s
Chainer code and Mimicry) or a mean (WGAN-GP). Both have Mimicry's parameter counts: G
4,276,739 and critic 1,053,825 for 3×32×32 images (Mimicry's WGAN-GP critic adds layer norms
that it creates lazily inside ``forward``; they are not in its count and this critic has none).
Weights: Xavier-uniform with gain √2 in the residual convolutions, 1 in the shortcuts, the
first linear layer, the output convolution and the read-out; zero biases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ganbench.architectures import (
    ArchSpec, Architecture, conditional_generator, critic_with_head, generator_input_dim,
)
from ganbench.hookspecs import hookimpl

if TYPE_CHECKING:
    from torch import nn

SIZE = 32
BOTTOM = 4  # G starts from 4×4 and doubles three times

# The networks live in ganbench.architectures.resnet_networks (defining them imports torch);
# they are importable from here too, loaded on first use.
_NETWORKS = ("CriticBlock", "GeneratorBlock", "GlobalPool")


def __getattr__(name: str) -> Any:
    if name in _NETWORKS:
        from ganbench.architectures import resnet_networks
        return getattr(resnet_networks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ResNet32(Architecture):
    """The shared 32×32 ResNet pair; subclasses set the widths and the critic's pooling."""

    generator_width: ClassVar[int] = 256
    critic_width: ClassVar[int] = 128
    pooling: ClassVar[Literal["sum", "mean"]] = "sum"
    supports_conditional = True  # G's input takes a label embedding; the critic a projection
    capturable = True  # no host synchronisation in training mode

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        fits = data_kind == "image" and len(data_shape) == 3 and data_shape[1:] == (SIZE, SIZE)
        return 1 if fits else 0  # used when named (e.g. by a recipe); --arch auto keeps dcgan

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        return 128

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        from torch import nn

        from ganbench.architectures.layers import Reshape
        from ganbench.architectures.resnet_networks import CriticBlock, GeneratorBlock, GlobalPool, _xavier

        self.check_critic_kind(spec.critic_kind)
        channels, g, d = spec.data_shape[0], self.generator_width, self.critic_width
        generator = nn.Sequential(
            _xavier(nn.Linear(generator_input_dim(spec), BOTTOM * BOTTOM * g), 1.0), Reshape(g, BOTTOM, BOTTOM),
            GeneratorBlock(g, g), GeneratorBlock(g, g), GeneratorBlock(g, g),
            nn.BatchNorm2d(g), nn.ReLU(), _xavier(nn.Conv2d(g, channels, 3, 1, 1), 1.0), nn.Tanh(),
        )
        body = nn.Sequential(
            CriticBlock(channels, d, downsample=True, first=True), CriticBlock(d, d, downsample=True),
            CriticBlock(d, d, downsample=False), CriticBlock(d, d, downsample=False),
            nn.ReLU(), GlobalPool(self.pooling),
        )
        head = nn.Sequential(_xavier(nn.Linear(d, 1), 1.0))
        return conditional_generator(generator, spec), critic_with_head(body, head, spec)


class ResNetSNGAN(ResNet32):
    name = "resnet-sngan"
    description = ("SNGAN's 32x32 ResNet (Miyato et al. 2018; Mimicry sngan_32): G 256 wide, critic 128 "
                   "wide with global sum pooling. Named only (e.g. by recipes).")
    pooling = "sum"


class ResNetWGANGP(ResNet32):
    name = "resnet-wgangp"
    description = ("WGAN-GP's 32x32 ResNet (Gulrajani et al. 2017; Mimicry wgan_gp_32): G 256 wide, critic "
                   "128 wide with global mean pooling, no normalisation. Named only (e.g. by recipes).")
    pooling = "mean"


@hookimpl
def register_architectures(register):
    register(ResNetSNGAN)
    register(ResNetWGANGP)


__all__ = ["CriticBlock", "GeneratorBlock", "GlobalPool", "ResNetSNGAN", "ResNetWGANGP"]
