"""Generator/critic architectures.

Subclass :class:`Architecture`, set ``name`` and ``description``, say how well it suits a
data shape in :meth:`Architecture.suitability` and build the pair in
:meth:`Architecture.build`; register the class from a ``register_architectures`` hook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from ganbench.datasets import DatasetKind
from ganbench.variants import CriticNorm


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture must build for: the data, the latent size and the critic's norm."""

    data_shape: tuple[int, ...]
    data_kind: DatasetKind
    latent_dim: int
    critic_norm: CriticNorm = "batch"

    @property
    def data_dim(self) -> int:
        return math.prod(self.data_shape)


class Architecture:
    """A generator/critic pair. The critic returns one raw score per sample (shape ``(N,)``)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def suitability(cls, data_shape: tuple[int, ...], data_kind: DatasetKind) -> int:
        """0 if the architecture cannot model this data; otherwise a preference (higher wins)."""
        raise NotImplementedError

    @classmethod
    def default_latent_dim(cls, data_shape: tuple[int, ...], data_kind: DatasetKind) -> int:
        raise NotImplementedError

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        """``(generator, critic)``: G maps ``(N, latent_dim)`` noise to ``(N, *data_shape)``."""
        raise NotImplementedError


def norm_1d(kind: CriticNorm, features: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(features), "layer": lambda: nn.LayerNorm(features),
            "none": nn.Identity}[kind]()


def norm_2d(kind: CriticNorm, channels: int) -> nn.Module:
    # GroupNorm with one group normalises each sample over (C, H, W): layer norm for images.
    return {"batch": lambda: nn.BatchNorm2d(channels), "layer": lambda: nn.GroupNorm(1, channels),
            "none": nn.Identity}[kind]()


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


__all__ = ["ArchSpec", "Architecture", "Reshape", "norm_1d", "norm_2d"]
