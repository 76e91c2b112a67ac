"""``dcgan``: Radford et al. (2015) convolutional pairs for 28×28, 32×32 and 64×64 images.

Strided convolutions in the critic and transposed convolutions in G; normalisation everywhere
except the critic's input layer and G's output layer; ReLU in G with Tanh out, LeakyReLU(0.2)
in the critic; convolutions followed by normalisation have no bias; weights N(0, 0.02),
normalisation gains N(1, 0.02). The critic's normalisation is the variant's ``critic_norm``
(batch norm by default, layer norm for ``wgan-gp``). For an ``"autoencoder"`` critic the
strided encoder is mirrored by a transposed-convolution decoder and the critic returns each
image's reconstruction error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ganbench.architectures import (
    ArchSpec, Architecture, conditional_generator, critic_with_head, generator_input_dim, norm_2d,
)
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

nn = lazy_import("torch.nn")

if TYPE_CHECKING:
    from ganbench.architectures.layers import ReconstructionEnergy

SIZES = (28, 32, 64)
BASE_WIDTH = 64


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for conv and linear weights; N(1, 0.02) gains and zero biases for norms.

    Apply it to every submodule: ``model.apply(dcgan_init)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _widths(size: int) -> list[int]:
    return [BASE_WIDTH * 2**i for i in range(2 if size == 28 else int(math.log2(size // 4)))]


def _encoder(channels: int, size: int, norm: str) -> list[nn.Module]:
    """Strided convolutions down to 7×7 (for 28) or 4×4; no normalisation on the input layer."""
    layers: list[nn.Module] = []
    width_in = channels
    for i, width in enumerate(_widths(size)):
        normed = i > 0 and norm != "none"
        layers += [nn.Conv2d(width_in, width, 4, 2, 1, bias=not normed)]
        if normed:
            layers.append(norm_2d(norm, width))
        layers.append(nn.LeakyReLU(0.2))
        width_in = width
    return layers


def _critic(channels: int, size: int, norm: str, spec: ArchSpec) -> nn.Module:
    layers = _encoder(channels, size, norm)
    width_in = _widths(size)[-1] + spec.minibatch_std  # the minibatch-std channel, appended before the head
    if size == 28:  # 28 → 14 → 7, then a linear read-out
        head = nn.Sequential(nn.Flatten(), nn.Linear(width_in * 7 * 7, 1))
    else:  # size → ... → 4, then a 4×4 convolution to one score
        head = nn.Sequential(nn.Conv2d(width_in, 1, 4, 1, 0))
    return critic_with_head(nn.Sequential(*layers), head, spec)


def _autoencoder(channels: int, size: int, norm: str) -> ReconstructionEnergy:
    """The encoder of :func:`_critic` and its mirror image in transposed convolutions."""
    from ganbench.architectures.layers import ReconstructionEnergy

    widths = _widths(size)
    decoder: list[nn.Module] = []
    for width_in, width in zip(widths[::-1], widths[-2::-1]):
        normed = norm != "none"
        decoder += [nn.ConvTranspose2d(width_in, width, 4, 2, 1, bias=not normed)]
        if normed:
            decoder.append(norm_2d(norm, width))
        decoder.append(nn.LeakyReLU(0.2))
    decoder.append(nn.ConvTranspose2d(widths[0], channels, 4, 2, 1))
    return ReconstructionEnergy(nn.Sequential(*_encoder(channels, size, norm)), nn.Sequential(*decoder))


def _generator(latent_dim: int, channels: int, size: int) -> nn.Sequential:
    from ganbench.architectures.layers import Reshape

    layers: list[nn.Module]
    if size == 28:  # Linear z → 128·7·7, then 7 → 14 → 28
        width = 2 * BASE_WIDTH
        layers = [nn.Linear(latent_dim, width * 7 * 7, bias=False), Reshape(width, 7, 7),
                  nn.BatchNorm2d(width), nn.ReLU(True)]
        ups = 1
    else:  # z → 4×4×(w·2^k), doubling resolution until size
        ups = int(math.log2(size // 4)) - 1
        width = BASE_WIDTH * 2**ups
        layers = [Reshape(latent_dim, 1, 1), nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
                  nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(ups):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)


class DCGAN(Architecture):
    name = "dcgan"
    capturable = True  # no host synchronisation in training mode
    description = "DCGAN convolutional pair for 28x28, 32x32 and 64x64 images, N(0, 0.02) init."
    critic_kinds = ("scalar", "autoencoder")
    supports_minibatch_std = True
    supports_conditional = True

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        if data_kind != "image" or data_shape[1] != data_shape[2] or data_shape[1] not in SIZES:
            return 0
        return 5 if data_shape[1] == 28 else 10

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        return 100

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        channels, size = spec.data_shape[0], spec.data_shape[1]
        generator = conditional_generator(_generator(generator_input_dim(spec), channels, size), spec)
        self.check_critic_kind(spec.critic_kind)
        if spec.critic_kind == "autoencoder":
            critic = _autoencoder(channels, size, spec.critic_norm)
        else:
            critic = _critic(channels, size, spec.critic_norm, spec)
        generator.apply(dcgan_init)
        critic.apply(dcgan_init)
        return generator, critic


@hookimpl
def register_architectures(register):
    register(DCGAN)
