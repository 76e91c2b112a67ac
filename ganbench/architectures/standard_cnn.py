"""``sngan-cnn``: the "standard CNN" of Miyato et al. (2018, table 3) for 32×32 images.

* G: z (128) → linear → 4×4×512 → three 4×4 stride-2 transposed convolutions (256, 128, 64),
  each with BN and ReLU → 3×3 conv to the image, Tanh.
* Critic: three pairs of a 3×3 stride-1 and a 4×4 stride-2 convolution (64, 128, 256 wide),
  a 3×3 convolution to 512 channels, LeakyReLU(0.1) after each, then a global sum over
  positions and a linear read-out, as StudioGAN's ``deep_conv`` backbone (Miyato et al. read
  out the flattened 4×4×512 map instead). After every convolution, the variant's
  ``critic_norm`` (batch norm for ``vanilla``, as StudioGAN's DCGAN, none for ``hinge``, whose
  spectral norm is applied by ganbench as for every critic).

Parameter counts equal StudioGAN's ``src/models/deep_conv.py`` for 3×32×32 images: G 3,812,355;
critic 2,928,193 without normalisation, 2,931,009 with batch norm. Weights: orthogonal (StudioGAN's
default ``ortho`` initialisation), zero biases; BN gains 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.architectures import (
    ArchSpec, Architecture, conditional_generator, critic_with_head, generator_input_dim, norm_2d,
)
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

if TYPE_CHECKING:
    from torch import nn
else:
    nn = lazy_import("torch.nn")

SIZE = 32
GENERATOR_WIDTHS = (512, 256, 128, 64)
CRITIC_WIDTHS = (64, 128, 256)
CRITIC_TOP = 512
SLOPE = 0.1  # LeakyReLU slope of the critic (Miyato et al.)


def orthogonal_init(module: nn.Module) -> None:
    """Orthogonal weights and zero biases for conv and linear layers: ``model.apply(orthogonal_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.orthogonal_(module.weight)
        nn.init.zeros_(module.bias)


def _critic_conv(channels_in: int, channels_out: int, kernel: int, stride: int, norm: str) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(channels_in, channels_out, kernel, stride, 1)]
    if norm != "none":
        layers.append(norm_2d(norm, channels_out))
    return layers + [nn.LeakyReLU(SLOPE)]


class StandardCNN(Architecture):
    name = "sngan-cnn"
    capturable = True  # no host synchronisation in training mode
    description = ("Miyato et al.'s standard CNN for 32x32 images (StudioGAN deep_conv): 3 transposed convs in G, "
                   "7 convs in the critic, global sum pooling. Named only (e.g. by recipes).")
    critic_kinds = ("scalar",)
    supports_conditional = True

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        fits = data_kind == "image" and len(data_shape) == 3 and data_shape[1:] == (SIZE, SIZE)
        return 1 if fits else 0  # used when named; --arch auto keeps dcgan for 32x32

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        return 128

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        from ganbench.architectures.layers import Reshape
        from ganbench.architectures.resnet_networks import GlobalPool

        self.check_critic_kind(spec.critic_kind)
        channels, norm = spec.data_shape[0], spec.critic_norm
        top = GENERATOR_WIDTHS[0]
        layers: list[nn.Module] = [nn.Linear(generator_input_dim(spec), top * 4 * 4), Reshape(top, 4, 4)]
        for width_in, width in zip(GENERATOR_WIDTHS, GENERATOR_WIDTHS[1:]):
            layers += [nn.ConvTranspose2d(width_in, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        generator = nn.Sequential(*layers, nn.Conv2d(GENERATOR_WIDTHS[-1], channels, 3, 1, 1), nn.Tanh())

        body: list[nn.Module] = []
        width_in = channels
        for width in CRITIC_WIDTHS:
            body += _critic_conv(width_in, width, 3, 1, norm) + _critic_conv(width, width, 4, 2, norm)
            width_in = width
        body += _critic_conv(width_in, CRITIC_TOP, 3, 1, norm) + [GlobalPool("sum")]
        generator.apply(orthogonal_init)
        critic = critic_with_head(nn.Sequential(*body), nn.Sequential(nn.Linear(CRITIC_TOP, 1)), spec)
        critic.apply(orthogonal_init)
        return conditional_generator(generator, spec), critic


@hookimpl
def register_architectures(register):
    register(StandardCNN)


__all__ = ["StandardCNN", "orthogonal_init"]
