"""Evaluation metrics.

Subclass :class:`Metric`, set ``name``, ``description``, ``requires`` and ``higher_is_better``
(one entry per value the metric reports), implement :meth:`Metric.compute` and, if the metric
only makes sense for some data, :meth:`Metric.applies_to`; register the class from a
``register_metrics`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pandas as pd
import torch
from torch import Tensor, nn

from ganbench.datasets import DataSource, Dataset

Requirement = Literal["samples", "real", "history"]


@dataclass
class EvaluationContext:
    """What a metric may use: the trained generator, the real data and the loss history."""

    dataset: Dataset
    source: DataSource
    generator: nn.Module
    latent_dim: int
    history: pd.DataFrame
    eval_samples: int
    device: torch.device
    seed: int

    def generated(self, n: int | None = None, batch_size: int = 1000) -> Tensor:
        """``n`` (default ``eval_samples``) generated samples from seeded noise, on the device."""
        n = n or self.eval_samples
        noise_rng = torch.Generator(device="cpu").manual_seed(10_000 + self.seed)
        was_training = self.generator.training
        self.generator.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                z = torch.randn(min(batch_size, n - start), self.latent_dim, generator=noise_rng)
                chunks.append(self.generator(z.to(self.device)))
        self.generator.train(was_training)
        return torch.cat(chunks)

    def real(self, n: int | None = None, batch_size: int = 1000) -> Tensor:
        """``n`` (default ``eval_samples``) real samples drawn from the data source."""
        n = n or self.eval_samples
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(20_000 + self.seed)
            return torch.cat([self.source.sample(min(batch_size, n - s)) for s in range(0, n, batch_size)])


class Metric:
    """A metric plugin. ``higher_is_better`` maps each reported value's name to True/False."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    requires: ClassVar[frozenset[Requirement]] = frozenset()
    higher_is_better: ClassVar[dict[str, bool]] = {}
    labels: ClassVar[dict[str, str]] = {}

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        """Whether the metric makes sense for this data set (by default: always)."""
        return True

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        """The metric's values, keyed as in :attr:`higher_is_better`."""
        raise NotImplementedError


def describe_value(catalog_metrics: Any, key: str) -> dict[str, Any]:
    """``{label, higher_is_better}`` for a reported value, from the metric that declares it."""
    for entry in catalog_metrics:
        if key in entry.obj.higher_is_better:
            return {"label": entry.obj.labels.get(key, key),
                    "higher_is_better": entry.obj.higher_is_better[key]}
    return {"label": key, "higher_is_better": None}


__all__ = ["EvaluationContext", "Metric", "Requirement", "describe_value"]
