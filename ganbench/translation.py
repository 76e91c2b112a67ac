"""The one training loop for translation variants (two domains, two generators, two critics).

A :class:`~ganbench.variants.TranslationVariant` supplies the objective; this module runs it
and measures it, like :mod:`ganbench.training` does for noise-to-sample variants. Each step:
``n_critic`` updates of both critics on fresh unpaired batches (fakes made without
gradients), then one update of both translators on adversarial + cycle (+ identity) terms.

History columns, one row per translator step: ``g_loss`` (the translators' whole objective),
``g_adversarial`` (its adversarial part, both directions), ``cycle_loss`` (the weighted cycle
terms, both directions), ``identity_loss`` (weighted, when used), ``d_loss`` (both critics,
last critic step). Results go through :func:`ganbench.runner.run_one` like any run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch
from torch import Tensor, nn
from torchvision.utils import save_image

from ganbench.architectures import ArchSpec
from ganbench.catalog import Catalog
from ganbench.checkpoints import Checkpointer
from ganbench.config import RunConfig
from ganbench.datasets.two_domain import TwoDomainSource
from ganbench.errors import UsageError
from ganbench.storage import atomic_path
from ganbench.timing import PhaseTimer
from ganbench.training import TrainingOutcome, TrainingState, run_loop, start_run
from ganbench.variants import TranslationVariant

HISTORY_COLUMNS = ("g_loss", "g_adversarial", "cycle_loss", "identity_loss", "d_loss")
SAMPLE_COLUMNS = 8


class Translators(nn.Module):
    """The two generators: ``g`` maps domain X to Y, ``f`` maps Y to X. Calling it applies ``g``."""

    def __init__(self, g: nn.Module, f: nn.Module):
        super().__init__()
        self.g, self.f = g, f

    def forward(self, x: Tensor) -> Tensor:
        return self.g(x)


class DomainCritics(nn.Module):
    """The two critics: ``d_x`` scores domain X images, ``d_y`` domain Y images."""

    def __init__(self, d_x: nn.Module, d_y: nn.Module):
        super().__init__()
        self.d_x, self.d_y = d_x, d_y


def build_translation_models(config: RunConfig, catalog: Catalog, variant: TranslationVariant,
                             shape: tuple[int, ...], kind: str, device: torch.device
                             ) -> tuple[Translators, DomainCritics]:
    architecture = catalog.architectures.get(config.arch)()
    spec = ArchSpec(shape, kind, config.latent_dim, variant.critic_norm)
    g, d_y = architecture.build(spec)
    f, d_x = architecture.build(spec)
    return Translators(g, f).to(device), DomainCritics(d_x, d_y).to(device)


def critic_step(variant: TranslationVariant, translators: Translators, critics: DomainCritics,
                opt_d: torch.optim.Optimizer, source: TwoDomainSource, batch_size: int) -> Tensor:
    """One update of both critics; returns the sum of their losses."""
    x, y = source.sample_pair(batch_size)
    with torch.no_grad():
        fake_y, fake_x = translators.g(x), translators.f(y)
    loss = (variant.discriminator_loss(critics.d_y(y), critics.d_y(fake_y))
            + variant.discriminator_loss(critics.d_x(x), critics.d_x(fake_x)))
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    variant.after_critic_step(critics)
    return loss.detach()


def translator_step(variant: TranslationVariant, translators: Translators, critics: DomainCritics,
                    opt_g: torch.optim.Optimizer, source: TwoDomainSource, batch_size: int
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """One update of both translators: ``(total, adversarial, cycle, identity or None)``."""
    critics.requires_grad_(False)
    x, y = source.sample_pair(batch_size)
    fake_y, fake_x = translators.g(x), translators.f(y)
    adversarial = variant.generator_loss(critics.d_y(fake_y)) + variant.generator_loss(critics.d_x(fake_x))
    cycle = variant.cycle_loss(x, translators.f(fake_y)) + variant.cycle_loss(y, translators.g(fake_x))
    total = adversarial + cycle
    identity = None
    if variant.uses_identity():
        identity = variant.identity_loss(y, translators.g(y)) + variant.identity_loss(x, translators.f(x))
        total = total + identity
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    critics.requires_grad_(True)
    return total.detach(), adversarial.detach(), cycle.detach(), None if identity is None else identity.detach()


def train_translation(config: RunConfig, catalog: Catalog, *, data_root: Path | None = None,
                      on_progress: Callable[[int, pd.DataFrame], None] | None = None,
                      on_samples: Callable[[int, nn.Module, TwoDomainSource], None] | None = None,
                      on_evaluate: Callable[[int, nn.Module, object, TwoDomainSource], None] | None = None,
                      checkpointer: Checkpointer | None = None, resume: dict[str, Any] | None = None,
                      ) -> TrainingOutcome:
    """Train one translation run of ``config`` and measure it (as :func:`ganbench.training.train`).

    The outcome's ``generator`` is a :class:`Translators` and its ``critic`` a
    :class:`DomainCritics`. Callbacks run with the random state saved and restored and are
    not counted as training time. ``checkpointer`` and ``resume`` save checkpoints and go on
    from one, as in :func:`~ganbench.training.train`.
    """
    device, dataset, variant, memory = start_run(config, catalog)
    if not isinstance(variant, TranslationVariant):
        raise UsageError(f"variant {config.variant!r} is not a translation variant; "
                         f"it cannot train on the two-domain data set {config.dataset!r}.")
    source = dataset.load(device=device, seed=config.seed, data_root=data_root)
    translators, critics = build_translation_models(config, catalog, variant, dataset.shape, dataset.kind, device)
    opt_g, opt_d = variant.make_optimizers(translators, critics)
    timer = PhaseTimer(device)
    state = TrainingState({"translators": translators, "critics": critics}, {"opt_g": opt_g, "opt_d": opt_d},
                          variant, source, timer, memory, device, checkpointer)
    start = state.restore(resume["training"]) if resume is not None else None

    nan = torch.tensor(math.nan, device=device)

    def one_step(step: int) -> Tensor:
        with timer.phase("critic"):
            for _ in range(variant.n_critic):
                d_loss = critic_step(variant, translators, critics, opt_d, source, config.batch_size)
        with timer.phase("generator"):
            g_loss, adversarial, cycle, identity = translator_step(
                variant, translators, critics, opt_g, source, config.batch_size)
        return torch.stack([g_loss, adversarial, cycle, nan if identity is None else identity, d_loss])

    callbacks: list[tuple[int, Callable[[int], None]]] = []
    if on_samples is not None:
        callbacks.append((config.sample_every, lambda step: on_samples(step, translators, source)))
    if on_evaluate is not None:
        callbacks.append((config.eval_every, lambda step: on_evaluate(step, translators, dataset, source)))
    loop = run_loop(config.steps, device, HISTORY_COLUMNS, one_step, on_progress=on_progress, callbacks=callbacks,
                    start=start, checkpoint=state)
    timer.resolve()
    history, train_seconds = loop.history, loop.train_seconds
    timings = {
        "train_time_s": train_seconds,
        "critic_time_s": timer.seconds("critic"),
        "generator_time_s": timer.seconds("generator"),
        "steps_per_s": len(history) / train_seconds if train_seconds > 0 else math.nan,
        **state.peak_memory(),
    }
    return TrainingOutcome(loop.status, loop.diverged_at, history, translators, critics, variant, dataset, source, timings)


@torch.no_grad()
def save_translation_samples(translators: Translators, source: TwoDomainSource, path: Path) -> None:
    """A PNG grid of six rows: x, G(x), F(G(x)), then y, F(y), G(F(y)) (fixed images)."""
    was_training = translators.training
    translators.eval()
    x, y = source.first(SAMPLE_COLUMNS)
    x, y = x[: len(y)], y[: len(x)]  # equal row lengths
    fake_y, fake_x = translators.g(x), translators.f(y)
    rows = [x, fake_y, translators.f(fake_y), y, fake_x, translators.g(fake_x)]
    translators.train(was_training)
    with atomic_path(path) as tmp:
        save_image(torch.cat(rows).float().cpu(), tmp, nrow=len(x), normalize=True, value_range=(-1, 1),
                   format="png")
