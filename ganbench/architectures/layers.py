"""The building blocks that architectures share: ``nn.Module`` subclasses (a reshape, a
residual connection, an auto-encoder critic, a minibatch-std layer, a projection critic, a
class-conditional generator), the default labels of a conditional generator, and the layers
that spectral normalisation applies to.

Defining an ``nn.Module`` subclass imports torch, so these live apart from the architecture
base classes in :mod:`ganbench.architectures`, which re-exports them on first use
(``from ganbench.architectures import Reshape`` still works) and imports them where networks
are built: ``ganbench list`` and ``ganbench --help`` then never import torch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SPECTRAL_NORM_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Residual(nn.Module):
    """``x + body(x)``: a residual connection around ``body``."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ReconstructionEnergy(nn.Module):
    """An auto-encoder critic: the energy of each sample is its mean squared reconstruction error."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: Tensor) -> Tensor:
        reconstruction = self.decoder(self.encoder(x)).reshape(x.shape)
        return (reconstruction - x).pow(2).flatten(start_dim=1).mean(dim=1)


class MinibatchStd(nn.Module):
    """Karras et al. (2018): append the mean over features of the per-feature standard
    deviation across the batch as one constant extra feature (``(N, F)`` → ``(N, F + 1)``) or
    channel (``(N, C, H, W)`` → ``(N, C + 1, H, W)``)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        std = (x.var(dim=0, unbiased=False) + self.eps).sqrt().mean()
        extra = std.expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, extra], dim=1)


class ProjectionCritic(nn.Module):
    """Miyato & Koyama (2018): ``head(φ(x)) + ⟨embed(y), φ(x)⟩`` with φ the critic's body."""

    def __init__(self, body: nn.Module, head: nn.Module, num_classes: int, feature_width: int):
        super().__init__()
        self.body = body
        self.head = head
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, feature_width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        features = self.body(x)
        projection = (self.embed(labels) * features.flatten(start_dim=1)).sum(dim=1)
        return self.head(features).flatten() + projection


class ConditionalGenerator(nn.Module):
    """G(z, y) = net([z, embed(y)]). Without labels it generates classes 0, 1, ..., C-1, 0, ...
    in turn, so callers that know nothing of labels get a balanced, reproducible set."""

    def __init__(self, net: nn.Module, num_classes: int, embed_dim: int):
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            labels = cyclic_labels(z.shape[0], self.num_classes, z.device)
        return self.net(torch.cat([z, self.embed(labels)], dim=1))


def cyclic_labels(count: int, num_classes: int, device: torch.device | str = "cpu") -> Tensor:
    """``0, 1, ..., num_classes - 1, 0, 1, ...``: the labels a conditional G makes by default."""
    return torch.arange(count, device=device) % num_classes


__all__ = ["SPECTRAL_NORM_LAYERS", "ConditionalGenerator", "MinibatchStd", "ProjectionCritic", "ReconstructionEnergy",
           "Reshape", "Residual", "cyclic_labels"]
