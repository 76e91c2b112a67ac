"""The one training loop. Variants supply the objective; this module runs it and measures it."""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from ganbench.architectures import ArchSpec, apply_spectral_norm
from ganbench.catalog import Catalog
from ganbench.config import RunConfig
from ganbench.datasets import DataSource, Dataset
from ganbench.fast import apply_backend_flags, backend_flags, prepare_models, should_compile, uncompile
from ganbench.memory import PeakMemory
from ganbench.options import instance_noise_std
from ganbench.seeding import seed_everything
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


def critic_step(variant: Variant, models: Models, source: DataSource, settings: StepSettings,
                timer: PhaseTimer, use_penalty: bool = True
                ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """One critic update. The penalty's forward and double backward are timed as ``penalty``.

    The adversarial loss and the penalty are backpropagated separately so that the penalty's
    share of the time can be measured; their gradients add up exactly as for their sum.
    With instance noise, the critic (and its penalty) see the noisy real and fake batches.
    """
    real, labels = _real_batch(variant, source, settings.batch_size)
    noise = torch.randn(settings.batch_size, settings.latent_dim, device=real.device)
    with torch.no_grad():
        fake = models.generator(noise) if labels is None else models.generator(noise, labels)
    real, fake = _with_noise(real, settings.noise_std), _with_noise(fake, settings.noise_std)
    critic = models.critic if labels is None else LabelledCritic(models.critic, labels)
    real_scores = critic(real)
    fake_scores = critic(fake)
    if settings.real_target != 1.0:
        loss = variant.discriminator_loss(real_scores, fake_scores, real_target=settings.real_target)
    else:
        loss = variant.discriminator_loss(real_scores, fake_scores)
    models.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    penalty = None
    if use_penalty:
        with timer.phase("penalty"):
            penalty = variant.penalty(critic, real, fake)
            if penalty is not None:
                penalty.backward()
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
                   device: torch.device, unrolled_steps: int = 0) -> Tensor:
    """One generator update, against a :func:`lookahead_critic` when ``unrolled_steps`` > 0."""
    critic = models.critic
    if unrolled_steps:
        critic = lookahead_critic(variant, models, source, settings, unrolled_steps)
    critic.requires_grad_(False)  # no critic gradients are needed for G's update
    real, labels = _real_batch(variant, source, settings.batch_size) if variant.conditional else (None, None)
    scorer = critic if labels is None else LabelledCritic(critic, labels)
    noise = torch.randn(settings.batch_size, settings.latent_dim, device=device)
    fake = models.generator(noise) if labels is None else models.generator(noise, labels)
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
    status: str  # "finished" or "diverged"
    diverged_at: int | None
    train_seconds: float  # wall clock of the steps, callbacks excluded


def run_loop(steps: int, device: torch.device, columns: Sequence[str], one_step: Callable[[int], Tensor], *,
             watch: Sequence[str] = ("g_loss", "d_loss"),
             on_progress: Callable[[int], None] | None = None,
             callbacks: Sequence[tuple[int, Callable[[int], None]]] = ()) -> LoopOutcome:
    """Run ``one_step(step)`` ``steps`` times and record what it returns, without a host sync per step.

    ``one_step`` returns one value per column as a tensor on ``device``; the values stay on the
    device and are read back every :data:`READBACK_EVERY` steps, when the ``watch`` columns are
    checked: the first non-finite one ends the run as diverged at that step. ``on_progress``
    gets the number of steps read back so far. Each ``(every, callback)`` is called with the
    step count every ``every`` steps (0: never; not after the last step) under a saved and
    restored random state, and its time is not counted as training time. Columns that are NaN
    throughout are dropped from the history, except the ``watch`` columns, which are always
    kept (a run that diverges at step 0 still has its losses, as NaN).
    """
    buffer = torch.full((steps, len(columns)), math.nan, device=device)
    watched = [list(columns).index(name) for name in watch]
    rows: list[Tensor] = []
    status, diverged_at = "finished", None
    callback_seconds = 0.0
    start = time.perf_counter()
    read_up_to = 0
    for step in range(steps):
        buffer[step] = one_step(step).float()
        done, last = step + 1, step + 1 == steps
        if done % READBACK_EVERY == 0 or last:
            chunk = buffer[read_up_to:done].cpu()
            rows.append(chunk)
            bad = ~torch.isfinite(chunk[:, watched]).all(dim=1)
            read_up_to = done
            if bad.any():
                diverged_at = int(torch.nonzero(bad)[0, 0]) + read_up_to - chunk.shape[0]
                status = "diverged"
                break
            if on_progress is not None:
                on_progress(read_up_to)
        for every, callback in callbacks:
            if every and done % every == 0 and not last:
                began = time.perf_counter()
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    callback(done)
                callback_seconds += time.perf_counter() - began
    train_seconds = time.perf_counter() - start - callback_seconds

    history = pd.DataFrame(torch.cat(rows).double().numpy(), columns=list(columns))
    if diverged_at is not None:
        history = history.iloc[: diverged_at + 1]
    history.insert(0, "step", range(len(history)))
    empty = [c for c in columns if c not in watch and history[c].isna().all()]
    return LoopOutcome(history.drop(columns=empty), status, diverged_at, train_seconds)


def train(config: RunConfig, catalog: Catalog, *, data_root: Path | None = None,
          on_progress: Callable[[int], None] | None = None,
          on_samples: Callable[[int, nn.Module], None] | None = None,
          on_evaluate: Callable[[int, nn.Module, Dataset, DataSource], None] | None = None,
          ) -> TrainingOutcome:
    """Train one run of ``config`` and measure it.

    :param on_progress: called with the number of finished generator steps after each
        loss read-back.
    :param on_samples: called with (step, generator) every ``config.sample_every`` steps.
    :param on_evaluate: called with (step, generator, dataset, source) every
        ``config.eval_every`` steps.

    Callbacks run with the random state saved and restored, and their time is not counted
    as training time, so they change neither the results nor the timings.
    """
    device, dataset, variant, memory = start_run(config, catalog)
    source = dataset.load(device=device, seed=config.seed, data_root=data_root)
    models = build_models(config, catalog, variant, dataset, device)
    compiled = should_compile(config.compute_mode, device, has_penalty=variant.has_penalty(),
                              unrolled_steps=config.training_options.unrolled_steps)
    prepare_models((models.generator, models.critic), config.compute_mode, device, compile_networks=compiled)
    timer = PhaseTimer(device)

    nan = torch.tensor(math.nan, device=device)
    unrolled_steps = config.training_options.unrolled_steps

    def one_step(step: int) -> Tensor:
        settings = StepSettings.at(config, step)
        with timer.phase("critic"):
            for _ in range(variant.n_critic):
                d_loss, penalty, real_scores, fake_scores = critic_step(
                    variant, models, source, settings, timer)
        with timer.phase("generator"):
            g_loss = generator_step(variant, models, source, settings, device, unrolled_steps)
        return torch.stack([g_loss, d_loss, nan if penalty is None else penalty,
                            *critic_diagnostics(variant, real_scores, fake_scores, nan)])

    callbacks: list[tuple[int, Callable[[int], None]]] = []
    if on_samples is not None:
        callbacks.append((config.sample_every, lambda step: on_samples(step, models.generator)))
    if on_evaluate is not None:
        callbacks.append((config.eval_every, lambda step: on_evaluate(step, models.generator, dataset, source)))
    loop = run_loop(config.steps, device, HISTORY_COLUMNS, one_step, on_progress=on_progress, callbacks=callbacks)
    timer.resolve()
    for module in (models.generator, models.critic) if compiled else ():
        uncompile(module)  # evaluation runs the networks eagerly
    history, status, diverged_at, train_seconds = loop.history, loop.status, loop.diverged_at, loop.train_seconds

    steps_done = len(history)
    critic_s, penalty_s = timer.seconds("critic"), timer.seconds("penalty")
    timings = {
        "train_time_s": train_seconds,
        "critic_time_s": critic_s,
        "generator_time_s": timer.seconds("generator"),
        "penalty_time_s": penalty_s if variant.has_penalty() else math.nan,  # n/a without a penalty
        "steps_per_s": steps_done / train_seconds if train_seconds > 0 else math.nan,
        "gp_share": penalty_s / critic_s if variant.has_penalty() and critic_s > 0 else math.nan,
        "gp_step_ratio": math.nan,
        **memory.figures(),
    }
    if variant.has_penalty() and status == "finished":
        timings["gp_step_ratio"] = measure_penalty_ratio(variant, models, source, config, device)
    return TrainingOutcome(status, diverged_at, history, models.generator, models.critic,
                           variant, dataset, source, timings)
