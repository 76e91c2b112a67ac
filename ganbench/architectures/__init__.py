"""Generator/critic architectures.

Subclass :class:`Architecture`, set ``name`` and ``description``, say how well it suits a
data shape in :meth:`Architecture.suitability` and build the pair in
:meth:`Architecture.build`; register the class from a ``register_architectures`` hook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.datasets import DatasetKind
from ganbench.variants import CriticKind, CriticNorm


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture must build for: the data, the latent size, the critic's norm and kind."""

    data_shape: tuple[int, ...]
    data_kind: DatasetKind
    latent_dim: int
    critic_norm: CriticNorm = "batch"
    critic_kind: CriticKind = "scalar"

    @property
    def data_dim(self) -> int:
        return math.prod(self.data_shape)


class Architecture:
    """A generator/critic pair. The critic returns one raw score per sample (shape ``(N,)``).

    ``critic_kinds`` lists the critic kinds :meth:`build` can make (see
    :attr:`ArchSpec.critic_kind`); an ``"autoencoder"`` critic returns each sample's
    reconstruction error, e.g. through :class:`ReconstructionEnergy`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    critic_kinds: ClassVar[tuple[CriticKind, ...]] = ("scalar",)

    @classmethod
    def check_critic_kind(cls, kind: CriticKind) -> None:
        """Raise ``ValueError`` when this architecture cannot build a ``kind`` critic."""
        if kind not in cls.critic_kinds:
            raise ValueError(
                f"architecture {cls.name!r} cannot build a {kind!r} critic (it builds "
                f"{', '.join(cls.critic_kinds)}); choose an architecture that lists {kind!r} "
                f"in its critic_kinds, e.g. with --arch auto."
            )

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


class ReconstructionEnergy(nn.Module):
    """An auto-encoder critic: the energy of each sample is its mean squared reconstruction error."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: Tensor) -> Tensor:
        reconstruction = self.decoder(self.encoder(x)).reshape(x.shape)
        return (reconstruction - x).pow(2).flatten(start_dim=1).mean(dim=1)


SPECTRAL_NORM_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def apply_spectral_norm(critic: nn.Module) -> nn.Module:
    """Spectrally normalise the weight of every linear and convolution layer of ``critic``.

    Layers already parametrised are left alone, so calling it twice is harmless. Returns
    ``critic`` (changed in place).
    """
    for module in critic.modules():
        if isinstance(module, SPECTRAL_NORM_LAYERS) and not parametrize.is_parametrized(module, "weight"):
            spectral_norm(module)
    return critic


__all__ = ["ArchSpec", "Architecture", "ReconstructionEnergy", "Reshape", "apply_spectral_norm",
           "norm_1d", "norm_2d"]
