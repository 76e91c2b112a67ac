"""``resnet-patchgan``: a small CycleGAN pair (Zhu et al. 2017) for two-domain image data.

Translator (image → image of the same shape): 7×7 conv (32) → 3×3 stride-2 conv (64) →
:data:`RESNET_BLOCKS` residual blocks → 3×3 transposed conv back to full size (32) → 7×7
conv → Tanh; instance norm and ReLU after every convolution except the last. The paper uses
two down-samplings and 6-9 blocks at 128-256 px; one down-sampling and 3 blocks suit 28×28.

PatchGAN critic: 4×4 stride-2 convs (32, 64) with LeakyReLU(0.2) and instance norm (none on
the input layer, none at all with ``critic_norm="none"``), then a 4×4 conv to one score per
overlapping patch. It returns ``(N, patches)`` raw scores: adversarial losses average them.

:meth:`ResnetPatchGAN.build` returns one translator and one critic; the translation loop
builds it twice (X→Y with Y's critic, Y→X with X's critic). Only two-domain data sets use it.
"""

from __future__ import annotations

from ganbench.architectures import ArchSpec, Architecture
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

nn = lazy_import("torch.nn")

WIDTH = 32
RESNET_BLOCKS = 3


def _conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect"),
            nn.InstanceNorm2d(c_out), nn.ReLU(True)]


def residual_block(channels: int) -> nn.Module:
    """``x + body(x)``, the body two reflect-padded 3×3 convolutions with instance norm."""
    from ganbench.architectures.layers import Residual

    return Residual(nn.Sequential(
        *_conv_norm_relu(channels, channels, 3),
        nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(channels),
    ))


def translator(channels: int, width: int = WIDTH, blocks: int = RESNET_BLOCKS) -> nn.Sequential:
    """Encoder (one down-sampling) → residual blocks → decoder; images stay the same size."""
    return nn.Sequential(
        *_conv_norm_relu(channels, width, 7),
        *_conv_norm_relu(width, 2 * width, 3, stride=2),
        *[residual_block(2 * width) for _ in range(blocks)],
        nn.ConvTranspose2d(2 * width, width, 3, stride=2, padding=1, output_padding=1),
        nn.InstanceNorm2d(width), nn.ReLU(True),
        nn.Conv2d(width, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh(),
    )


def patch_critic(channels: int, norm: str, width: int = WIDTH) -> nn.Sequential:
    """PatchGAN: one raw score per overlapping patch, shape ``(N, patches)``."""
    normed = norm != "none"
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=not normed),
        nn.InstanceNorm2d(2 * width) if normed else nn.Identity(), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 4, 1, 1), nn.Flatten(1),
    )


class ResnetPatchGAN(Architecture):
    name = "resnet-patchgan"
    description = "CycleGAN pair for two-domain images: ResNet translator, PatchGAN critic."

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        if data_kind != "two-domain" or len(data_shape) != 3 or min(data_shape[1:]) < 16:
            return 0
        return 10 if data_shape[1] % 2 == 0 and data_shape[2] % 2 == 0 else 0

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        return 1  # translation takes no noise; the field is unused

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        channels = spec.data_shape[0]
        return translator(channels), patch_critic(channels, spec.critic_norm)


@hookimpl
def register_architectures(register):
    register(ResnetPatchGAN)
