"""GAN variants: a variant is its objective, the training loop lives in :mod:`ganbench.training`.

Subclass :class:`Variant`, give it a ``name``, a ``description`` and a ``Params`` dataclass of
hyperparameters, implement the two losses (and, if needed, :meth:`Variant.penalty` and
:meth:`Variant.after_critic_step`), and register the class from a ``register_variants`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ganbench.datasets import Task
from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor, nn

CriticOutput = Literal["logit", "score", "raw", "relativistic"]
CriticNorm = Literal["batch", "layer", "none"]
CriticKind = Literal["scalar", "autoencoder"]


@dataclass
class VariantParams:
    """Hyperparameters every variant has; subclass it (as a ``@dataclass``) to add a variant's own.

    ``optimizer`` (``"adam"`` or ``"rmsprop"``), the learning rates ``lr_g`` and ``lr_d``,
    Adam's ``beta1`` and ``beta2``, and ``n_critic``, the critic steps per generator step.
    Each field can be overridden with ``--set VARIANT.FIELD=VALUE`` or in a config file.
    """

    optimizer: Literal["adam", "rmsprop"] = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field and the expected range when a value is wrong."""
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be a positive integer, got {self.n_critic!r}")


class Variant:
    """A GAN training objective.

    Class attributes a subclass sets:

    * ``name`` and ``description`` (one line);
    * ``Params``: the hyperparameter dataclass (a subclass of :class:`VariantParams`);
    * ``critic_output``: what the critic's raw output means, which decides what the history
      records: ``"logit"`` for a probability discriminator (mean σ(D(x)) and σ(D(G(z))) as
      ``d_real``/``d_fake``), ``"score"`` for a Wasserstein critic (the estimate
      mean C(real) − mean C(fake) as ``wasserstein``), ``"raw"`` for any other score, e.g. a
      least-squares target or an energy (the plain means as ``critic_real``/``critic_fake``),
      ``"relativistic"`` for a relativistic logit (σ(C(x_r) − mean C(x_f)) and
      σ(C(x_f) − mean C(x_r)) averaged, as ``d_real``/``d_fake``);
    * ``critic_norm``: the normalisation the critic may use (``"batch"``, ``"layer"`` or
      ``"none"``); architectures honour it;
    * ``critic_kind``: ``"scalar"`` (one score per sample) or ``"autoencoder"`` (the critic
      reconstructs its input and returns the per-sample reconstruction error);
    * ``spectral_norm``: whether every conv/linear layer of the critic gets spectral
      normalisation (:func:`ganbench.architectures.apply_spectral_norm`);
    * ``preferred_arch``: the architecture used with ``--arch auto`` when it can model the data
      (``None``: the most suitable one);
    * ``generator_uses_real``: whether :meth:`generator_loss` needs the critic's output on a
      real batch (relativistic losses do);
    * ``task``: ``"generation"`` (noise to samples, trained by :mod:`ganbench.training`) or
      ``"translation"`` (two unpaired domains, trained by :mod:`ganbench.translation`; see
      :class:`TranslationVariant`). Runs pair variants only with data sets of the same task.
    * ``supports_real_target``: whether :meth:`discriminator_loss` accepts a keyword
      ``real_target`` (the target for real samples, below 1 with one-sided label smoothing,
      ``--real-target``). Logit/BCE variants set it; the core passes the keyword only when
      smoothing is on, so other variants keep the two-argument signature;
    * ``conditional``: whether G and the critic take class labels. ganbench then samples
      labelled batches, builds class-conditional networks (``ArchSpec.num_classes``) and calls
      ``generator(z, labels)`` and ``critic(x, labels)``; the losses are unchanged.
    * ``capturable``: whether the losses, the penalty and :meth:`after_critic_step` do the same
      tensor work on every step, with no host synchronisation (no ``.item()``, ``float(t)``,
      ``if t.any():``) and no Python state that changes from step to step. Fast mode on CUDA
      then captures the whole training step as one CUDA graph and replays it
      (:mod:`ganbench.step_graph`); a graph would replay the first step's Python decisions
      forever. ``False`` (the default) keeps the variant's steps eager.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[VariantParams]] = VariantParams
    critic_output: ClassVar[CriticOutput] = "logit"
    critic_norm: ClassVar[CriticNorm] = "batch"
    critic_kind: ClassVar[CriticKind] = "scalar"
    spectral_norm: ClassVar[bool] = False
    preferred_arch: ClassVar[str | None] = None
    generator_uses_real: ClassVar[bool] = False
    task: ClassVar[Task] = "generation"
    supports_real_target: ClassVar[bool] = False
    conditional: ClassVar[bool] = False
    capturable: ClassVar[bool] = False

    def __init__(self, params: VariantParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.params.validate()

    @property
    def n_critic(self) -> int:
        """Critic steps per generator step: ``self.params.n_critic``."""
        return self.params.n_critic

    @classmethod
    def has_penalty(cls) -> bool:
        """Whether the variant overrides :meth:`penalty`."""
        return cls.penalty is not Variant.penalty

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic's loss (without penalty) from its raw outputs on a real and a fake batch.

        With ``supports_real_target``, also accept ``real_target: float = 1.0``.
        """
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """The generator's loss from the critic's raw outputs on generated samples."""
        raise NotImplementedError

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        """An extra critic loss term (already weighted), or ``None``. Timed separately."""
        return None

    def after_critic_step(self, critic: nn.Module) -> None:
        """A constraint applied after every critic optimiser step (e.g. weight clipping)."""

    def init_weights(self, model: nn.Module) -> None:
        """Re-initialise a freshly built generator or critic; by default keep the architecture's."""

    def state_dict(self) -> dict[str, Any]:
        """What the variant keeps between steps (e.g. a BEGAN-style balance term), as tensors
        and plain values, saved in every checkpoint. Stateless variants (all built-in ones)
        keep nothing: ``{}``. A variant that changes attributes during training must return
        them here and set them again in :meth:`load_state_dict`, or a resumed run differs."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set what :meth:`state_dict` returned (when a run resumes from a checkpoint)."""

    def make_optimizers(
        self, generator: nn.Module, critic: nn.Module
    ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """The generator's and the critic's optimisers, from :attr:`params`.

        Adam uses torch's fused implementation (one kernel per parameter, on CPU and CUDA;
        deterministic) where every parameter allows it, the loop-over-tensors one otherwise.
        """
        p = self.params
        if p.optimizer == "rmsprop":
            return (
                torch.optim.RMSprop(generator.parameters(), lr=p.lr_g),
                torch.optim.RMSprop(critic.parameters(), lr=p.lr_d),
            )
        return (
            torch.optim.Adam(generator.parameters(), lr=p.lr_g, betas=(p.beta1, p.beta2),
                             fused=fused_allowed(generator)),
            torch.optim.Adam(critic.parameters(), lr=p.lr_d, betas=(p.beta1, p.beta2),
                             fused=fused_allowed(critic)),
        )


FUSED_DEVICES = ("cpu", "cuda")  # where torch has fused Adam kernels


def fused_allowed(model: nn.Module) -> bool:
    """Whether torch's fused optimiser kernels can update every parameter of ``model``: floating
    point tensors on a device in :data:`FUSED_DEVICES`."""
    return all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in model.parameters())


class TranslationVariant(Variant):
    """An unpaired image-to-image translation objective (two generators, two critics).

    :meth:`discriminator_loss` and :meth:`generator_loss` are the adversarial losses of one
    domain (the loop applies them to both); :meth:`cycle_loss` and :meth:`identity_loss`
    return the already weighted reconstruction terms. :mod:`ganbench.translation` runs it.
    """

    task = "translation"

    def cycle_loss(self, real: Tensor, reconstructed: Tensor) -> Tensor:
        """The weighted cycle-consistency term for one direction, e.g. λ·‖F(G(x)) − x‖₁."""
        raise NotImplementedError

    def uses_identity(self) -> bool:
        """Whether the loop computes :meth:`identity_loss` (two extra translator passes)."""
        return False

    def identity_loss(self, real: Tensor, mapped: Tensor) -> Tensor | None:
        """The weighted identity term for one direction (e.g. λ·‖G(y) − y‖₁), or ``None``."""
        return None


__all__ = ["CriticKind", "CriticNorm", "CriticOutput", "TranslationVariant", "Variant", "VariantParams"]
