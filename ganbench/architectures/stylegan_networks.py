"""The networks of the ``stylegan`` architecture (:mod:`ganbench.architectures.stylegan`
describes them): the mapping network, the styled convolution and the generator.

They are ``nn.Module`` subclasses, so defining them imports torch; the architecture imports
this module when it builds a pair, so ``ganbench list`` does not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.architectures.dcgan import SIZES

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
