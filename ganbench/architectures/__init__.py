"""Generator/critic architectures.

Subclass :class:`Architecture`, set ``name`` and ``description``, say how well it suits a
data shape in :meth:`Architecture.suitability` and build the pair in
:meth:`Architecture.build`; register the class from a ``register_architectures`` hook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.datasets import DatasetKind
from ganbench.variants import CriticKind, CriticNorm


AUTO_MIN_SUITABILITY = 2  # --arch auto picks only architectures that score this or more


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture must build for: the data, the latent size, the critic's norm and
    kind, and two options: ``num_classes`` (build a class-conditional pair, see
    :func:`conditional_generator`) and ``minibatch_std`` (a :class:`MinibatchStd` layer before
    the critic's last layer)."""

    data_shape: tuple[int, ...]
    data_kind: DatasetKind
    latent_dim: int
    critic_norm: CriticNorm = "batch"
    critic_kind: CriticKind = "scalar"
    num_classes: int | None = None
    minibatch_std: bool = False

    @property
    def data_dim(self) -> int:
        return math.prod(self.data_shape)


class Architecture:
    """A generator/critic pair. The critic returns one raw score per sample (shape ``(N,)``).

    ``critic_kinds`` lists the critic kinds :meth:`build` can make (see
    :attr:`ArchSpec.critic_kind`); an ``"autoencoder"`` critic returns each sample's
    reconstruction error, e.g. through :class:`ReconstructionEnergy`.
    ``supports_minibatch_std`` and ``supports_conditional`` say whether :meth:`build` honours
    ``ArchSpec.minibatch_std`` and ``ArchSpec.num_classes``; ganbench refuses the option otherwise.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    supports_minibatch_std: ClassVar[bool] = False
    supports_conditional: ClassVar[bool] = False
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
        """How well the architecture fits this data: 0 it cannot model it; 1 it can, but is a
        weak fit, used only when named (``--arch NAME``; ``--arch auto`` never picks it);
        :data:`AUTO_MIN_SUITABILITY` or more, a fit that ``--arch auto`` may pick (the highest wins)."""
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


def critic_with_head(body: nn.Sequential, head: nn.Sequential, spec: ArchSpec) -> nn.Module:
    """The critic ``head(body(x))`` flattened to ``(N,)``, or, with ``spec.num_classes``, a
    :class:`ProjectionCritic`. A :class:`MinibatchStd` layer goes between body and head when
    ``spec.minibatch_std`` is set (the head must then take one extra feature/channel)."""
    if spec.minibatch_std:
        body = nn.Sequential(*body, MinibatchStd())
    if not spec.num_classes:
        return nn.Sequential(*body, *head, nn.Flatten(0))
    was_training = body.training
    body.eval()  # a dry run to measure φ(x), without touching batch-norm statistics
    with torch.no_grad():
        width = body(torch.zeros(2, *spec.data_shape)).flatten(start_dim=1).shape[1]
    body.train(was_training)
    return ProjectionCritic(body, head, spec.num_classes, width)


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


def label_embedding_dim(num_classes: int) -> int:
    """The width of G's label embedding concatenated to z."""
    return min(num_classes, 50)


def conditional_generator(net: nn.Module, spec: ArchSpec) -> nn.Module:
    """``net`` itself, or, with ``spec.num_classes``, a :class:`ConditionalGenerator` around it
    (``net`` must then take ``latent_dim + label_embedding_dim(num_classes)`` inputs)."""
    if not spec.num_classes:
        return net
    return ConditionalGenerator(net, spec.num_classes, label_embedding_dim(spec.num_classes))


def generator_input_dim(spec: ArchSpec) -> int:
    """The width of G's input: z, plus the label embedding for a conditional pair."""
    return spec.latent_dim + (label_embedding_dim(spec.num_classes) if spec.num_classes else 0)


def generator_classes(generator: nn.Module) -> int | None:
    """The number of classes of a conditional generator, ``None`` for an unconditional one."""
    return generator.num_classes if isinstance(generator, ConditionalGenerator) else None


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


__all__ = ["ArchSpec", "Architecture", "ConditionalGenerator", "MinibatchStd", "ProjectionCritic",
           "ReconstructionEnergy", "Reshape", "apply_spectral_norm", "conditional_generator", "critic_with_head",
           "cyclic_labels", "generator_classes", "generator_input_dim", "label_embedding_dim", "norm_1d", "norm_2d"]
