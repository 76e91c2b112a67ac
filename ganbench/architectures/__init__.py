"""Generator/critic architectures.

Subclass :class:`Architecture`, set ``name`` and ``description``, say how well it suits a
data shape in :meth:`Architecture.suitability` and build the pair in
:meth:`Architecture.build`; register the class from a ``register_architectures`` hook.

A module that registers an architecture is imported by every command, ``ganbench --help``
included, so it defines no ``nn.Module`` subclass (that would import torch): networks live in
a module that ``build`` imports (:mod:`ganbench.architectures.layers`, ``stylegan_networks``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ganbench.datasets import DatasetKind
from ganbench.lazy import lazy_import
from ganbench.variants import CriticKind, CriticNorm

torch = lazy_import("torch")
nn = lazy_import("torch.nn")

# nn.Module subclasses live in ganbench.architectures.layers (defining one imports torch); they
# are importable from here too, loaded on first use, so that listing architectures needs no torch.
_LAZY_NAMES = ("ConditionalGenerator", "MinibatchStd", "ProjectionCritic", "ReconstructionEnergy", "Reshape",
               "Residual", "SPECTRAL_NORM_LAYERS", "cyclic_labels")


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        from ganbench.architectures import layers

        return getattr(layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


AUTO_MIN_SUITABILITY = 2  # --arch auto picks only architectures that score this or more


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture must build for: the data (``data_shape``, ``data_kind``), the
    latent size ``latent_dim``, the critic's ``critic_norm`` and ``critic_kind`` (the
    variant's), and two options: ``num_classes`` (build a class-conditional pair, see
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
        """The number of values in one sample: the product of ``data_shape``."""
        return math.prod(self.data_shape)


class Architecture:
    """A generator/critic pair. The critic returns one raw score per sample (shape ``(N,)``).

    Subclasses set ``name`` and ``description`` and implement the class methods
    :meth:`suitability` and :meth:`default_latent_dim` and the method :meth:`build`.

    ``critic_kinds`` lists the critic kinds :meth:`build` can make (see
    :attr:`ArchSpec.critic_kind`); an ``"autoencoder"`` critic returns each sample's
    reconstruction error, e.g. through :class:`ReconstructionEnergy`.
    ``supports_minibatch_std`` and ``supports_conditional`` say whether :meth:`build` honours
    ``ArchSpec.minibatch_std`` and ``ArchSpec.num_classes``; ganbench refuses the option otherwise.
    ``capturable`` says whether the networks do the same tensor work on every call in training
    mode, with no host synchronisation and no Python decision on a tensor's value (StyleGAN's
    style mixing draws on the host); fast mode on CUDA may then capture whole training steps
    as a CUDA graph (:mod:`ganbench.step_graph`). ``False`` (the default) keeps them eager.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    supports_minibatch_std: ClassVar[bool] = False
    supports_conditional: ClassVar[bool] = False
    critic_kinds: ClassVar[tuple[CriticKind, ...]] = ("scalar",)
    capturable: ClassVar[bool] = False

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
        """The latent size of runs on this data that give no ``--latent-dim``."""
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


def critic_with_head(body: nn.Sequential, head: nn.Sequential, spec: ArchSpec) -> nn.Module:
    """The critic ``head(body(x))`` flattened to ``(N,)``, or, with ``spec.num_classes``, a
    :class:`ProjectionCritic`. A :class:`MinibatchStd` layer goes between body and head when
    ``spec.minibatch_std`` is set (the head must then take one extra feature/channel)."""
    from ganbench.architectures.layers import MinibatchStd, ProjectionCritic

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


def label_embedding_dim(num_classes: int) -> int:
    """The width of G's label embedding concatenated to z."""
    return min(num_classes, 50)


def conditional_generator(net: nn.Module, spec: ArchSpec) -> nn.Module:
    """``net`` itself, or, with ``spec.num_classes``, a :class:`ConditionalGenerator` around it
    (``net`` must then take ``latent_dim + label_embedding_dim(num_classes)`` inputs)."""
    from ganbench.architectures.layers import ConditionalGenerator

    if not spec.num_classes:
        return net
    return ConditionalGenerator(net, spec.num_classes, label_embedding_dim(spec.num_classes))


def generator_input_dim(spec: ArchSpec) -> int:
    """The width of G's input: z, plus the label embedding for a conditional pair."""
    return spec.latent_dim + (label_embedding_dim(spec.num_classes) if spec.num_classes else 0)


def generator_classes(generator: nn.Module) -> int | None:
    """The number of classes of a conditional generator, ``None`` for an unconditional one."""
    from ganbench.architectures.layers import ConditionalGenerator

    return generator.num_classes if isinstance(generator, ConditionalGenerator) else None


def apply_spectral_norm(critic: nn.Module) -> nn.Module:
    """Spectrally normalise the weight of every linear and convolution layer of ``critic``.

    Layers already parametrised are left alone, so calling it twice is harmless. Returns
    ``critic`` (changed in place).
    """
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm

    from ganbench.architectures.layers import SPECTRAL_NORM_LAYERS

    for module in critic.modules():
        if isinstance(module, SPECTRAL_NORM_LAYERS) and not parametrize.is_parametrized(module, "weight"):
            spectral_norm(module)
    return critic


__all__ = ["ArchSpec", "Architecture", "ConditionalGenerator", "MinibatchStd", "ProjectionCritic",
           "ReconstructionEnergy", "Reshape", "SPECTRAL_NORM_LAYERS", "apply_spectral_norm", "conditional_generator", "critic_with_head",
           "cyclic_labels", "generator_classes", "generator_input_dim", "label_embedding_dim", "norm_1d", "norm_2d"]
