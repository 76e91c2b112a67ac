"""Training options that combine with any variant where they make sense.

Set them with ``--real-target 0.9``, ``--instance-noise 0.1``, ``--minibatch-std``,
``--unrolled-steps 5``, ``--ttur``, ``--spectral-norm``, with ``--set options.FIELD=VALUE``
or in an ``[options]`` table of a config file. They are part of the run's configuration (and
of its digest) and are checked against the variant and the architecture before training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ganbench.errors import UsageError
from ganbench.variants import Variant

TTUR_RATIO = 4.0  # Heusel et al. (2017): the critic learns 4x faster than the generator
MAX_UNROLLED_STEPS = 100


@dataclass(frozen=True)
class TrainingOptions:
    """Stabilising tricks; the defaults leave training exactly as the variant defines it.

    * ``real_target``: one-sided label smoothing, the BCE target for real samples (e.g. 0.9;
      fakes keep 0). Only for variants with ``supports_real_target`` (logit/BCE losses).
    * ``instance_noise``: initial std of Gaussian noise added to every critic input (real and
      fake, in critic and generator steps), annealed linearly to 0 at the last step.
    * ``minibatch_std``: append the minibatch standard deviation (Karras et al. 2018) as one
      extra feature/channel before the critic's last layer.
    * ``unrolled_steps``: k > 0 computes the generator's loss against a copy of the critic
      (and of its optimiser state) after k extra critic steps; the real critic is not changed
      (Metz et al. 2017, without back-propagating through the unrolled steps).
    * ``ttur``: two time-scale update rule, ``lr_d = 4 × lr_g`` (the variant's ``lr_g``,
      possibly overridden); for other ratios set ``VARIANT.lr_d`` directly instead.
    * ``spectral_norm``: spectral normalisation on every linear/convolutional critic layer.
    """

    real_target: float = 1.0
    instance_noise: float = 0.0
    minibatch_std: bool = False
    unrolled_steps: int = 0
    ttur: bool = False
    spectral_norm: bool = False

    def validate(self) -> None:
        """Check each value on its own; :func:`check_compatible` checks combinations."""
        if not 0.5 < self.real_target <= 1.0:
            raise UsageError(f"options.real_target must be in (0.5, 1] (1 means no smoothing, 0.9 is "
                             f"the usual one-sided smoothing), got {self.real_target}.")
        if self.instance_noise < 0:
            raise UsageError(f"options.instance_noise is a standard deviation and must be >= 0, "
                             f"got {self.instance_noise}.")
        if not 0 <= self.unrolled_steps <= MAX_UNROLLED_STEPS:
            raise UsageError(f"options.unrolled_steps must be between 0 (off) and {MAX_UNROLLED_STEPS}, "
                             f"got {self.unrolled_steps}.")

    def is_default(self) -> bool:
        return self == TrainingOptions()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainingOptions:
        return cls(**(data or {}))


def instance_noise_std(options: TrainingOptions, step: int, total_steps: int) -> float:
    """The instance-noise std at generator step ``step`` (0-based): linear from the initial
    value at step 0 to 0 at the last step."""
    if options.instance_noise == 0 or total_steps <= 1:
        return 0.0
    return options.instance_noise * (1 - step / (total_steps - 1))


def check_compatible(options: TrainingOptions, variant_cls: type, arch_cls: type, *,
                     batch_size: int, variant_overrides: dict[str, Any]) -> None:
    """Refuse combinations of options, variant and architecture that cannot work.

    :raises UsageError: naming the conflict and what to do instead.
    """
    options.validate()
    name = variant_cls.name
    if getattr(variant_cls, "task", "generation") != "generation":
        used = [f for f in dataclasses.fields(options)
                if f.name != "ttur" and getattr(options, f.name) != f.default]
        if used:
            raise UsageError(
                f"{', '.join('options.' + f.name for f in used)} apply to the noise-to-sample training "
                f"loop, but {name!r} is a {variant_cls.task} variant trained by its own loop, which does "
                f"not use them (only --ttur applies); run {name!r} without them or separately."
            )
    if options.minibatch_std and getattr(variant_cls, "critic_kind", "scalar") != "scalar":
        raise UsageError(
            f"--minibatch-std adds a feature before a scoring critic's last layer, but {name!r} uses a "
            f"{variant_cls.critic_kind!r} critic, which has no such layer; drop --minibatch-std for {name!r}."
        )
    if options.real_target != 1.0 and not getattr(variant_cls, "supports_real_target", False):
        raise UsageError(
            f"label smoothing (options.real_target={options.real_target}) applies to variants with "
            f"a logit/BCE discriminator loss, but {name!r} has a {variant_cls.critic_output} critic "
            f"without a real-label target; drop --real-target for {name!r} or run it separately."
        )
    overrides_constraint = variant_cls.after_critic_step is not Variant.after_critic_step
    if options.spectral_norm and overrides_constraint:
        raise UsageError(
            f"spectral normalisation cannot be combined with {name!r}, which constrains the critic "
            f"after every step itself (e.g. weight clipping): the two constraints fight. Drop "
            f"--spectral-norm, or use a variant without a constraint (e.g. wgan-gp for a Lipschitz critic)."
        )
    if options.ttur and "lr_d" in variant_overrides:
        raise UsageError(
            f"--ttur sets lr_d = {TTUR_RATIO:g} x lr_g, but {name}.lr_d is also set explicitly "
            f"({variant_overrides['lr_d']}); use one or the other."
        )
    if options.minibatch_std and not getattr(arch_cls, "supports_minibatch_std", False):
        raise UsageError(f"architecture {arch_cls.name!r} has no minibatch standard deviation layer; "
                         f"drop --minibatch-std or use --arch mlp or dcgan.")
    if options.minibatch_std and batch_size < 2:
        raise UsageError(f"--minibatch-std needs a batch of at least 2 samples, got batch size {batch_size}.")


def apply_ttur(options: TrainingOptions, params: dict[str, Any]) -> dict[str, Any]:
    """The variant's hyperparameters with ``lr_d = 4 × lr_g`` when ``ttur`` is on."""
    if not options.ttur:
        return params
    return {**params, "lr_d": TTUR_RATIO * params["lr_g"]}


__all__ = ["MAX_UNROLLED_STEPS", "TTUR_RATIO", "TrainingOptions", "apply_ttur", "check_compatible",
           "instance_noise_std"]
