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

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.architectures import ArchSpec, Architecture
from ganbench.architectures.dcgan import SIZES, _critic, dcgan_init
from ganbench.hookspecs import hookimpl

MAPPING_DEPTH = 4
WIDTH = 64
MIXING_PROB = 0.9  # the paper's style mixing probability


class MappingNetwork(nn.Module):
    """z → w: ``depth`` linear layers with LeakyReLU(0.2), after normalising z to unit RMS."""

    def __init__(self, latent_dim: int, w_dim: int, depth: int = MAPPING_DEPTH):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(latent_dim if i == 0 else w_dim, w_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.net(z)


class StyledConv(nn.Module):
    """(upsample) → conv 3×3 → noise → LeakyReLU → AdaIN modulated by the layer's w."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.noise_scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.style = nn.Linear(w_dim, 2 * out_channels)  # per-channel (scale, bias)
        self.norm = nn.InstanceNorm2d(out_channels, affine=False)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(x)
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        x = F.leaky_relu(x + self.noise_scale * noise, 0.2)
        scale, bias = self.style(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + bias


class StyleGenerator(nn.Module):
    """Maps ``(N, latent_dim)`` noise to ``(N, channels, size, size)`` images in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int = WIDTH,
                 mapping_depth: int = MAPPING_DEPTH, mixing_prob: float = MIXING_PROB):
        super().__init__()
        if not 0 <= mixing_prob <= 1:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob!r}")
        self.latent_dim = latent_dim
        self.mixing_prob = mixing_prob
        base = 7 if size == 28 else 4
        ups = int(math.log2(size // base))
        if base * 2**ups != size:
            raise ValueError(f"stylegan builds images of size {SIZES}, got {size}")
        self.mapping = MappingNetwork(latent_dim, latent_dim, mapping_depth)
        self.constant = nn.Parameter(torch.randn(1, width, base, base))
        layers = [StyledConv(width, width, latent_dim, upsample=False)]
        for _ in range(ups):
            layers += [StyledConv(width, width, latent_dim, upsample=True),
                       StyledConv(width, width, latent_dim, upsample=False)]
        self.layers = nn.ModuleList(layers)
        self.to_image = nn.Conv2d(width, channels, 1)

    @property
    def num_layers(self) -> int:
        """How many style inputs (and noise inputs) the synthesis network takes."""
        return len(self.layers)

    def noise_shapes(self, batch_size: int) -> list[tuple[int, ...]]:
        """The shape of each layer's noise map, for callers that fix the noise."""
        size = self.constant.shape[-1]
        shapes = []
        for layer in self.layers:
            size *= 2 if layer.upsample else 1
            shapes.append((batch_size, 1, size, size))
        return shapes

    def synthesis(self, ws: Tensor, noises: list[Tensor] | None = None) -> Tensor:
        """Images from per-layer styles ``ws`` of shape ``(N, num_layers, w_dim)``."""
        if ws.shape[1] != self.num_layers:
            raise ValueError(f"synthesis needs {self.num_layers} styles per sample, got {ws.shape[1]}")
        x = self.constant.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noises is None else noises[i])
        return torch.tanh(self.to_image(x))

    def mixed_styles(self, w1: Tensor, w2: Tensor, crossover: int) -> Tensor:
        """Per-layer styles: w1 for the layers before ``crossover``, w2 from it on."""
        ws = w1.unsqueeze(1).repeat(1, self.num_layers, 1)
        ws[:, crossover:] = w2.unsqueeze(1)
        return ws

    def forward(self, z: Tensor, noises: list[Tensor] | None = None) -> Tensor:
        w = w2 = self.mapping(z)
        crossover = self.num_layers  # no mixing: every layer uses w
        if self.training and self.mixing_prob > 0 and torch.rand(()).item() < self.mixing_prob:
            crossover = int(torch.randint(1, self.num_layers, ()).item())
            w2 = self.mapping(torch.randn_like(z))
        return self.synthesis(self.mixed_styles(w, w2, crossover), noises)


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
        channels, size = spec.data_shape[0], spec.data_shape[1]
        generator = StyleGenerator(spec.latent_dim, channels, size)
        critic = _critic(channels, size, spec.critic_norm, spec)  # honours --minibatch-std
        critic.apply(dcgan_init)
        return generator, critic


@hookimpl
def register_architectures(register):
    register(StyleGAN)
