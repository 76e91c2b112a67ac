"""The one training loop. Variants supply the objective; this module runs it and measures it."""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganbench.architectures import ArchSpec, apply_spectral_norm
from ganbench.catalog import Catalog
from ganbench.checkpoints import CheckpointMismatch, Checkpointer, capture_rng, restore_rng
from ganbench.config import RunConfig
from ganbench.datasets import DataSource, Dataset
from ganbench.double_backward import backward_skipping_zeros
from ganbench.fast import apply_backend_flags, backend_flags, prepare_models, should_compile, uncompile
from ganbench.memory import PeakMemory
from ganbench.options import instance_noise_std
from ganbench.seeding import seed_everything
from ganbench.step_graph import GraphedStep, make_capturable
from ganbench.timing import PhaseTimer
from ganbench.variants import Variant

HISTORY_COLUMNS = ("g_loss", "d_loss", "penalty", "wasserstein", "d_real", "d_fake",
                   "critic_real", "critic_fake")
READBACK_EVERY = 50  # steps between reading the on-device loss buffer back to the host
PENALTY_PROBE_STEPS = 10


@dataclass
class TrainingOutcome:
    """What one training run produced (before evaluation)."""

    status: str  # "finished" or "diverged"
    diverged_at: int | None
    history: pd.DataFrame
    generator: nn.Module
    critic: nn.Module
    variant: Variant
    dataset: Dataset
    source: DataSource
    timings: dict[str, float] = field(default_factory=dict)
    # how the steps ran: {"step": "eager" | "compiled" | "cuda-graph"}, and why a capture failed
    execution: dict[str, str] = field(default_factory=lambda: {"step": "eager"})


@dataclass
class Models:
    generator: nn.Module
    critic: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


@dataclass(frozen=True)
class StepSettings:
    """What one critic or generator step needs besides the models and the data."""

    batch_size: int
    latent_dim: int
    real_target: float = 1.0
    noise_std: float = 0.0  # instance noise at this step

    @classmethod
    def at(cls, config: RunConfig, step: int) -> StepSettings:
        options = config.training_options
        return cls(config.batch_size, config.latent_dim, options.real_target,
                   instance_noise_std(options, step, config.steps))


class LabelledCritic(nn.Module):
    """A conditional critic with its labels bound, so that ``critic(x)`` works for penalties."""

    def __init__(self, critic: nn.Module, labels: Tensor):
        super().__init__()
        self.critic = critic
        self.labels = labels

    def forward(self, x: Tensor) -> Tensor:
        return self.critic(x, self.labels)


def _real_batch(variant: Variant, source: DataSource, batch_size: int) -> tuple[Tensor, Tensor | None]:
    if variant.conditional:
        return source.sample_with_labels(batch_size)
    return source.sample(batch_size), None


def _with_noise(batch: Tensor, std: float) -> Tensor:
    return batch if std == 0 else batch + std * torch.randn_like(batch)


def build_variant(config: RunConfig, catalog: Catalog) -> Variant:
    variant_cls = catalog.variants.get(config.variant)
    return variant_cls(variant_cls.Params(**config.variant_params))


def start_run(config: RunConfig, catalog: Catalog) -> tuple[torch.device, Dataset, Variant, PeakMemory]:
    """What every training loop does first: pick the device, start measuring the run's peak
    memory, seed every random source, set torch's backend flags for the run's mode
    (:mod:`ganbench.fast`), and make the run's data set and variant."""
    device = torch.device(config.device)
    memory = PeakMemory(device)
    seed_everything(config.seed, device)
    apply_backend_flags(backend_flags(config.compute_mode, device), device)
    return device, catalog.datasets.get(config.dataset)(), build_variant(config, catalog), memory


def build_models(config: RunConfig, catalog: Catalog, variant: Variant, dataset: Dataset,
                 device: torch.device) -> Models:
    """Build the pair, let the variant re-initialise it, spectrally normalise the critic if the
    variant or the training options ask, and make the optimisers."""
    options = config.training_options
    architecture = catalog.architectures.get(config.arch)()
    spec = ArchSpec(dataset.shape, dataset.kind, config.latent_dim, variant.critic_norm,
                    variant.critic_kind,
                    num_classes=dataset.num_classes if variant.conditional else None,
                    minibatch_std=options.minibatch_std)
    architecture.check_critic_kind(spec.critic_kind)
    generator, critic = architecture.build(spec)
    variant.init_weights(generator)
    variant.init_weights(critic)
    if variant.spectral_norm or options.spectral_norm:
        apply_spectral_norm(critic)
    generator.to(device)
    critic.to(device)
    opt_g, opt_d = variant.make_optimizers(generator, critic)  # TTUR is already in variant_params
    return Models(generator, critic, opt_g, opt_d)


# Layers whose output for a sample depends on that sample alone, with no side effect per call
# (unlike batch norm's batch statistics and running averages, minibatch std, dropout's draws).
PER_SAMPLE_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Sequential, nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.LayerNorm, nn.GroupNorm, nn.Flatten,
    nn.Unflatten, nn.Identity, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
    nn.Softplus, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d,
)


def scores_each_sample_alone(critic: nn.Module) -> bool:
    """Whether scoring two batches together gives each sample the score it gets alone: every
    module of ``critic`` is exactly one of :data:`PER_SAMPLE_LAYERS` (not a subclass, which
    may change ``forward``), without hooks or parametrisations (spectral norm's power
    iteration runs once per call)."""
    return all(type(module) in PER_SAMPLE_LAYERS and not module._forward_hooks
               and not module._forward_pre_hooks and not parametrize.is_parametrized(module)
               for module in critic.modules())


@dataclass
class CriticBatch:
    """The batches of one critic step: real samples (and their labels, for a conditional
    variant) and generated ones. ``fake`` keeps the generator's graph when the generator step
    reuses it (:func:`draw_batch` with ``for_generator``)."""

    real: Tensor
    labels: Tensor | None
    fake: Tensor


def draw_batch(variant: Variant, models: Models, source: DataSource, settings: StepSettings,
               for_generator: bool = False) -> CriticBatch:
    """A real batch and a generated batch of the same size (with the real batch's labels).

    With ``for_generator`` the generator's forward pass keeps its graph, so that the
    generator step after this critic step can backpropagate through the same samples instead
    of generating new ones: the generator's forward is done once per step, not twice.
    """
    real, labels = _real_batch(variant, source, settings.batch_size)
    noise = torch.randn(settings.batch_size, settings.latent_dim, device=real.device)
    with torch.set_grad_enabled(for_generator):
        fake = models.generator(noise) if labels is None else models.generator(noise, labels)
    return CriticBatch(real, labels, fake)


def critic_step(variant: Variant, models: Models, source: DataSource, settings: StepSettings,
                timer: PhaseTimer, use_penalty: bool = True, batch: CriticBatch | None = None,
                ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """One critic update on ``batch`` (default: a fresh :func:`draw_batch`). The penalty's
    forward and double backward are timed as ``penalty``.

    The adversarial loss and the penalty are backpropagated separately so that the penalty's
    share of the time can be measured; their gradients add up exactly as for their sum.
    With instance noise, the critic (and its penalty) see the noisy real and fake batches.
    """
    batch = batch or draw_batch(variant, models, source, settings)
    labels = batch.labels
    real, fake = _with_noise(batch.real, settings.noise_std), _with_noise(batch.fake.detach(), settings.noise_std)
    critic = models.critic if labels is None else LabelledCritic(models.critic, labels)
    if labels is None and scores_each_sample_alone(models.critic):
        # one forward (and one backward) over both batches: larger matrix products, fewer calls
        real_scores, fake_scores = critic(torch.cat([real, fake])).split([real.shape[0], fake.shape[0]])
    else:  # batch statistics (batch norm, minibatch std): each batch on its own, as the variant expects
        real_scores = critic(real)
        fake_scores = critic(fake)
    if settings.real_target != 1.0:
        loss = variant.discriminator_loss(real_scores, fake_scores, real_target=settings.real_target)
    else:
        loss = variant.discriminator_loss(real_scores, fake_scores)
    models.opt_d.zero_grad(set_to_none=True)
    weights = [p for group in models.opt_d.param_groups for p in group["params"] if p.requires_grad]
    loss.backward(inputs=weights)
    penalty = None
    if use_penalty:
        with timer.phase("penalty"):
            penalty = variant.penalty(critic, real, fake)
            if penalty is not None:
                # only the critic's weights (not the gradient of the interpolates the penalty
                # made), without the branches of exact zeros of the double backward
                backward_skipping_zeros(penalty, weights)
    models.opt_d.step()
    variant.after_critic_step(models.critic)
    return loss.detach(), None if penalty is None else penalty.detach(), real_scores.detach(), fake_scores.detach()


def lookahead_critic(variant: Variant, models: Models, source: DataSource, settings: StepSettings,
                     steps: int) -> nn.Module:
    """A copy of the critic after ``steps`` further critic steps (unrolled GAN, Metz et al. 2017).

    The copy starts from the critic's weights and its optimiser's state; the real critic and
    its optimiser are left unchanged. The steps' time counts as the generator step's.
    """
    critic = copy.deepcopy(models.critic)
    _, optimizer = variant.make_optimizers(models.generator, critic)
    optimizer.load_state_dict(copy.deepcopy(models.opt_d.state_dict()))
    ahead = Models(models.generator, critic, models.opt_g, optimizer)
    scratch_timer = PhaseTimer(torch.device("cpu"))
    for _ in range(steps):
        critic_step(variant, ahead, source, settings, scratch_timer)
    return critic


def generator_step(variant: Variant, models: Models, source: DataSource, settings: StepSettings,
                   device: torch.device, unrolled_steps: int = 0, batch: CriticBatch | None = None) -> Tensor:
    """One generator update, against a :func:`lookahead_critic` when ``unrolled_steps`` > 0.

    ``batch``, the last critic step's (drawn ``for_generator``), supplies the generated
    samples, with their graph, and their labels (and the real batch when the variant's loss
    needs one); without it the step draws its own.
    """
    critic = models.critic
    if unrolled_steps:
        critic = lookahead_critic(variant, models, source, settings, unrolled_steps)
    critic.requires_grad_(False)  # no critic gradients are needed for G's update
    if batch is not None:
        real, labels, fake = batch.real, batch.labels, batch.fake
    else:
        real, labels = _real_batch(variant, source, settings.batch_size) if variant.conditional else (None, None)
        noise = torch.randn(settings.batch_size, settings.latent_dim, device=device)
        fake = models.generator(noise) if labels is None else models.generator(noise, labels)
    scorer = critic if labels is None else LabelledCritic(critic, labels)
    fake_scores = scorer(_with_noise(fake, settings.noise_std))
    real_scores = None
    if variant.generator_uses_real:
        real = source.sample(settings.batch_size) if real is None else real
        real_scores = scorer(_with_noise(real, settings.noise_std))
    loss = variant.generator_loss(fake_scores, real_scores)
    models.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    models.opt_g.step()
    models.critic.requires_grad_(True)
    return loss.detach()


def critic_diagnostics(variant: Variant, real_scores: Tensor, fake_scores: Tensor, nan: Tensor
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(wasserstein, d_real, d_fake, critic_real, critic_fake)`` as the critic's output means
    (see :attr:`Variant.critic_output`); what does not apply is ``nan``."""
    kind = variant.critic_output
    if kind == "score":
        return real_scores.mean() - fake_scores.mean(), nan, nan, nan, nan
    if kind == "raw":
        return nan, nan, nan, real_scores.mean(), fake_scores.mean()
    if kind == "relativistic":
        d_real = torch.sigmoid(real_scores - fake_scores.mean()).mean()
        d_fake = torch.sigmoid(fake_scores - real_scores.mean()).mean()
        return nan, d_real, d_fake, nan, nan
    if kind == "logit":
        return nan, torch.sigmoid(real_scores).mean(), torch.sigmoid(fake_scores).mean(), nan, nan
    raise ValueError(f"variant {variant.name!r} has critic_output {kind!r}; expected one of "
                     "'logit', 'score', 'raw', 'relativistic'.")


def measure_penalty_ratio(variant: Variant, models: Models, source: DataSource, config: RunConfig,
                          device: torch.device, steps: int = PENALTY_PROBE_STEPS) -> float:
    """Median critic-step time with the penalty over the same step without it.

    Runs on copies of the trained models, with the random state saved and restored, so the
    run's results do not depend on it. Steps with and without penalty alternate so that both
    see the same machine load.
    """
    probe = Models(copy.deepcopy(models.generator), copy.deepcopy(models.critic), models.opt_g, models.opt_d)
    _, probe.opt_d = variant.make_optimizers(probe.generator, probe.critic)
    timer = PhaseTimer(torch.device("cpu"))
    times: dict[bool, list[float]] = {True: [], False: []}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for i in range(2 * steps + 2):
            use_penalty = i % 2 == 0
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            critic_step(variant, probe, source, StepSettings.at(config, 0), timer, use_penalty)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= 2:  # the first pair warms up
                times[use_penalty].append(time.perf_counter() - start)
    return statistics.median(times[True]) / statistics.median(times[False])


@dataclass
class LoopOutcome:
    """What :func:`run_loop` recorded: the per-step history and how the loop ended."""

    history: pd.DataFrame
    status: str  # "finished", "diverged" or "pruned" (a callback stopped it)
    diverged_at: int | None
    train_seconds: float  # wall clock of the steps, callbacks excluded


@dataclass
class LoopState:
    """Where :func:`run_loop` stands after ``step`` steps: what it needs to go on exactly."""

    step: int
    history: Tensor  # (step, columns) float32 on the CPU: every row so far
    train_seconds: float  # wall clock of the steps so far (earlier segments included)


class LoopCheckpoint(Protocol):
    """What :func:`run_loop` calls to take checkpoints."""

    def due(self, step: int) -> bool:
        """Whether to save after ``step`` steps (called after every step but the last)."""

    def save(self, state: LoopState) -> None:
        """Save the loop's ``state`` with everything else the run needs to go on."""


def _rows_frame(values: Tensor, columns: Sequence[str], first_step: int) -> pd.DataFrame:
    """History rows as a data frame with a ``step`` column counted from ``first_step``."""
    frame = pd.DataFrame(values.double().numpy(), columns=list(columns))
    frame.insert(0, "step", range(first_step, first_step + len(frame)))
    return frame


def run_loop(steps: int, device: torch.device, columns: Sequence[str], one_step: Callable[[int], Tensor], *,
             watch: Sequence[str] = ("g_loss", "d_loss"),
             on_progress: Callable[[int, pd.DataFrame], None] | None = None,
             callbacks: Sequence[tuple[int, Callable[[int], bool | None]]] = (),
             start: LoopState | None = None, checkpoint: LoopCheckpoint | None = None) -> LoopOutcome:
    """Run ``one_step(step)`` ``steps`` times and record what it returns, without a host sync per step.

    ``one_step`` returns one value per column as a tensor on ``device``; the values stay on the
    device and are read back every :data:`READBACK_EVERY` steps, when the ``watch`` columns are
    checked: the first non-finite one ends the run as diverged at that step. ``on_progress``
    gets the number of steps checked so far and the rows just checked (a data frame of
    ``step`` and ``columns``, up to the diverged step; none when a resumed loop starts). Each
    ``(every, callback)`` is called with the step count every ``every`` steps (0: never; not
    after the last step) under a saved and restored random state; one that returns a true
    value ends the run there as ``pruned`` (a search stopping a weak trial), unless the rows
    up to there show it diverged. The time of ``on_progress``, the callbacks and the
    checkpoints is not counted as training time. Columns that are NaN throughout are dropped
    from the history, except the ``watch`` columns, which are always kept (a run that
    diverges at step 0 still has its losses, as NaN).

    ``checkpoint.save`` is called, after the callbacks, whenever ``checkpoint.due`` says so
    (not after the last step), with the rows so far, like a callback. ``start`` continues a
    loop from a saved :class:`LoopState`: the divergence checks still happen every
    :data:`READBACK_EVERY` steps counted from step 0, so where a checkpoint was taken never
    changes the outcome.
    """
    buffer = torch.full((steps, len(columns)), math.nan, device=device)
    watched = [list(columns).index(name) for name in watch]
    first = 0 if start is None else start.step
    rows: list[Tensor] = [] if start is None else [start.history]
    # rows read back (for a checkpoint) but not yet checked: those since the last multiple of READBACK_EVERY
    unchecked: list[Tensor] = [] if start is None else [start.history[first - first % READBACK_EVERY:]]
    status, diverged_at = "finished", None
    callback_seconds = 0.0
    earlier_seconds = 0.0 if start is None else start.train_seconds
    began_at = time.perf_counter()
    read_up_to = first

    def read_back(done: int) -> None:
        """Copy the rows up to ``done`` to the host; they are checked by the next :func:`check`."""
        nonlocal read_up_to
        if read_up_to < done:
            chunk = buffer[read_up_to:done].cpu()
            rows.append(chunk)
            unchecked.append(chunk)
            read_up_to = done

    def check(done: int) -> bool:
        """Check the rows read back up to ``done`` and hand them to ``on_progress``; True if diverged."""
        nonlocal diverged_at, status, callback_seconds
        if not unchecked:
            return False
        checked = torch.cat(unchecked)
        unchecked.clear()
        checked_from = done - checked.shape[0]
        bad = ~torch.isfinite(checked[:, watched]).all(dim=1)
        if bad.any():
            diverged_at = int(torch.nonzero(bad)[0, 0]) + checked_from
            status = "diverged"
            checked = checked[: diverged_at + 1 - checked_from]
        if on_progress is not None:
            began = time.perf_counter()
            on_progress(checked_from + len(checked), _rows_frame(checked, columns, checked_from))
            callback_seconds += time.perf_counter() - began
        return diverged_at is not None

    if on_progress is not None and first:
        on_progress(first, _rows_frame(torch.empty(0, len(columns)), columns, first))
    for step in range(first, steps):
        buffer[step] = one_step(step).float()
        done, last = step + 1, step + 1 == steps
        if done % READBACK_EVERY == 0 or last:
            read_back(done)
            if check(done):
                break
        stop = False
        for every, callback in callbacks:
            if every and done % every == 0 and not last:
                began = time.perf_counter()
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    stop = bool(callback(done)) or stop
                callback_seconds += time.perf_counter() - began
        if stop:  # callbacks run at read-back steps only by chance: read and check the rest first
            read_back(done)
            if not check(done):
                status = "pruned"
            break
        if checkpoint is not None and not last and checkpoint.due(done):
            began = time.perf_counter()
            read_back(done)
            rows[:] = [torch.cat(rows)]
            so_far = earlier_seconds + began - began_at - callback_seconds
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                checkpoint.save(LoopState(done, rows[0], so_far))
            callback_seconds += time.perf_counter() - began
    train_seconds = earlier_seconds + time.perf_counter() - began_at - callback_seconds

    history = pd.DataFrame(torch.cat(rows).double().numpy(), columns=list(columns))
    if diverged_at is not None:
        history = history.iloc[: diverged_at + 1]
    history.insert(0, "step", range(len(history)))
    empty = [c for c in columns if c not in watch and history[c].isna().all()]
    return LoopOutcome(history.drop(columns=empty), status, diverged_at, train_seconds)


@dataclass
class TrainingState:
    """Everything a training loop keeps between steps, to save in a checkpoint and set again.

    ``modules`` and ``optimizers`` by name (e.g. ``generator``, ``critic``; ``opt_g``,
    ``opt_d``); with the variant's and the data source's own state, every global random
    state, the phase timer's totals and the peak memory so far. The runner's
    :class:`~ganbench.checkpoints.Checkpointer` writes it: :meth:`save` is the
    :class:`LoopCheckpoint` that :func:`run_loop` calls.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    variant: Variant
    source: DataSource
    timer: PhaseTimer
    memory: PeakMemory
    device: torch.device
    checkpointer: Checkpointer | None = None
    peak_before: dict[str, float] = field(default_factory=dict)  # peak memory of earlier segments

    def due(self, step: int) -> bool:
        return self.checkpointer is not None and self.checkpointer.due(step)

    def save(self, state: LoopState) -> None:
        if self.checkpointer is not None:
            self.checkpointer.save(state.step, self.capture(state))

    def capture(self, loop: LoopState) -> dict[str, Any]:
        """The training part of a checkpoint (tensors are the live ones: save them at once)."""
        self.timer.resolve()
        return {
            "modules": {name: module.state_dict() for name, module in self.modules.items()},
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
            "variant": self.variant.state_dict(), "source": self.source.state_dict(),
            "rng": capture_rng(self.device),
            "timer": {"totals": dict(self.timer.totals), "counts": dict(self.timer.counts)},
            "peak_memory": self.peak_memory(),
            "loop": {"step": loop.step, "history": loop.history, "train_seconds": loop.train_seconds},
        }

    def restore(self, saved: dict[str, Any]) -> LoopState:
        """Set the state :meth:`capture` returned; returns where the loop goes on from.

        :raises CheckpointMismatch: ``saved`` does not fit these networks and optimisers.
        """
        try:
            return self._restore(saved)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointMismatch(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from exc

    def _restore(self, saved: dict[str, Any]) -> LoopState:
        for name, module in self.modules.items():
            module.load_state_dict(saved["modules"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
        self.variant.load_state_dict(saved["variant"])
        self.source.load_state_dict(saved["source"])
        self.timer.totals.update(saved["timer"]["totals"])
        self.timer.counts.update(saved["timer"]["counts"])
        self.peak_before = dict(saved["peak_memory"])
        restore_rng(saved["rng"], self.device)
        loop = saved["loop"]
        return LoopState(loop["step"], loop["history"], loop["train_seconds"])

    def peak_memory(self) -> dict[str, float]:
        """:meth:`PeakMemory.figures`, each the largest over this and earlier segments."""
        figures = self.memory.figures()
        return {key: max(value, self.peak_before.get(key, value)) for key, value in figures.items()}


def capturable_run(config: RunConfig, catalog: Catalog, variant: Variant, source: DataSource,
                   device: torch.device) -> bool:
    """Whether fast mode captures this run's whole training step as a CUDA graph
    (:mod:`ganbench.step_graph`): fast mode on CUDA, a variant, data source and architecture
    that each declare ``capturable``, and no option that changes a step's work from step to
    step (annealed instance noise) or copies the critic every step (unrolled steps)."""
    options = config.training_options
    return (config.compute_mode.fast and device.type == "cuda" and variant.capturable and source.capturable
            and catalog.architectures.get(config.arch).capturable
            and options.instance_noise == 0 and options.unrolled_steps == 0)


def train(config: RunConfig, catalog: Catalog, *, data_root: Path | None = None,
          on_progress: Callable[[int, pd.DataFrame], None] | None = None,
          on_samples: Callable[[int, nn.Module], None] | None = None,
          on_evaluate: Callable[[int, nn.Module, Dataset, DataSource], None] | None = None,
          checkpointer: Checkpointer | None = None, resume: dict[str, Any] | None = None,
          ) -> TrainingOutcome:
    """Train one run of ``config`` and measure it.

    :param on_progress: called with the number of finished generator steps and the history
        rows just read back (a data frame) after each loss read-back.
    :param on_samples: called with (step, generator) every ``config.sample_every`` steps.
    :param on_evaluate: called with (step, generator, dataset, source) every
        ``config.eval_every`` steps.

    :param checkpointer: saves a checkpoint whenever it is due.
    :param resume: a checkpoint (as :meth:`Checkpointer.load_latest` returns it) to go on
        from; the outcome is then the one of an uninterrupted run (bit for bit on CPU).

    Callbacks run with the random state saved and restored, and their time is not counted
    as training time, so they change neither the results nor the timings.
    """
    device, dataset, variant, memory = start_run(config, catalog)
    source = dataset.load(device=device, seed=config.seed, data_root=data_root)
    models = build_models(config, catalog, variant, dataset, device)
    graphed = capturable_run(config, catalog, variant, source, device)
    compiled = not graphed and should_compile(config.compute_mode, device, has_penalty=variant.has_penalty(),
                                              unrolled_steps=config.training_options.unrolled_steps)
    prepare_models((models.generator, models.critic), config.compute_mode, device, compile_networks=compiled)
    timer = PhaseTimer(device, enabled=not graphed)  # a replayed graph has no phases to time
    state = TrainingState({"generator": models.generator, "critic": models.critic},
                          {"opt_g": models.opt_g, "opt_d": models.opt_d}, variant, source, timer, memory,
                          device, checkpointer)
    start = state.restore(resume["training"]) if resume is not None else None
    if graphed:
        make_capturable(models.opt_g)
        make_capturable(models.opt_d)

    nan = torch.tensor(math.nan, device=device)
    unrolled_steps = config.training_options.unrolled_steps

    def one_step(step: int) -> Tensor:
        settings = StepSettings.at(config, step)
        with timer.phase("critic"):
            for i in range(variant.n_critic):
                # the last critic step's generated batch, with its graph, serves the generator step
                batch = draw_batch(variant, models, source, settings, for_generator=i == variant.n_critic - 1)
                d_loss, penalty, real_scores, fake_scores = critic_step(
                    variant, models, source, settings, timer, batch=batch)
        with timer.phase("generator"):
            g_loss = generator_step(variant, models, source, settings, device, unrolled_steps, batch=batch)
        return torch.stack([g_loss, d_loss, nan if penalty is None else penalty,
                            *critic_diagnostics(variant, real_scores, fake_scores, nan)])

    callbacks: list[tuple[int, Callable[[int], None]]] = []
    if on_samples is not None:
        callbacks.append((config.sample_every, lambda step: on_samples(step, models.generator)))
    if on_evaluate is not None:
        callbacks.append((config.eval_every, lambda step: on_evaluate(step, models.generator, dataset, source)))
    stepper = GraphedStep(one_step) if graphed else one_step
    loop = run_loop(config.steps, device, HISTORY_COLUMNS, stepper, on_progress=on_progress, callbacks=callbacks,
                    start=start, checkpoint=state)
    timer.resolve()
    for module in (models.generator, models.critic) if compiled else ():
        uncompile(module)  # evaluation runs the networks eagerly
    history, status, diverged_at, train_seconds = loop.history, loop.status, loop.diverged_at, loop.train_seconds

    steps_done = len(history)
    # the phases of a step replayed as a CUDA graph are not timed: NaN
    critic_s, generator_s, penalty_s = (timer.seconds(name) if timer.enabled else math.nan
                                        for name in ("critic", "generator", "penalty"))
    timings = {
        "train_time_s": train_seconds,
        "critic_time_s": critic_s,
        "generator_time_s": generator_s,
        "penalty_time_s": penalty_s if variant.has_penalty() else math.nan,  # n/a without a penalty
        "steps_per_s": steps_done / train_seconds if train_seconds > 0 else math.nan,
        "gp_share": penalty_s / critic_s if variant.has_penalty() and critic_s > 0 else math.nan,
        "gp_step_ratio": math.nan,
        **state.peak_memory(),
    }
    if variant.has_penalty() and status == "finished":
        timings["gp_step_ratio"] = measure_penalty_ratio(variant, models, source, config, device)
    execution = {"step": "cuda-graph" if graphed and stepper.captured else "compiled" if compiled else "eager"}
    if graphed and stepper.failure:
        execution["capture_failure"] = stepper.failure
    return TrainingOutcome(status, diverged_at, history, models.generator, models.critic,
                           variant, dataset, source, timings, execution)
