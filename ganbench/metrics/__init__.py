"""Evaluation metrics.

Subclass :class:`Metric`, set ``name``, ``description``, ``requires`` and ``higher_is_better``
(one entry per value the metric reports; ``labels``, ``section``, ``headline``,
``headline_priority`` and ``notes`` declare how tables and reports show them), implement :meth:`Metric.compute` and, if the metric
only makes sense for some data, :meth:`Metric.applies_to`; register the class from a
``register_metrics`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ganbench.architectures import generator_classes
from ganbench.datasets import DataSource, Dataset
from ganbench.lazy import lazy_import
from ganbench.values import Section, ValueInfo

pd = lazy_import("pandas")
torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor, nn

Requirement = Literal["samples", "real", "history"]


class MetricSkipped(Exception):
    """Raised by :meth:`Metric.compute` when the metric cannot be computed in this setting
    (e.g. the Inception weights are not available). The run still succeeds; the reason is
    recorded and shown under the table."""


@dataclass(frozen=True)
class EvaluationOptions:
    """Evaluation settings chosen by the user (``--fid-pipeline``, ``--inception-weights``, ...)."""

    fid_pipeline: str = "tf"
    inception_weights: str | None = None
    data_root: Path | None = None


@dataclass
class EvaluationContext:
    """What a metric may use: the trained generator, the real data and the loss history.

    ``dataset`` (the data set instance) and ``source`` (its training :class:`DataSource`);
    ``generator`` and its ``latent_dim``; ``history``, the per-step losses (``None`` during
    evaluations over training); ``eval_samples``, the sample count the user asked for;
    ``device``; the run's ``seed``; ``options`` (:class:`EvaluationOptions`); ``memo``, a
    dict the metrics of one evaluation share (features computed once); ``details``, what
    :meth:`describe` recorded.
    ``ganbench evaluate`` fills it for samples made elsewhere: ``samples`` holds the images
    to score (then ``generator`` is None and :meth:`generated` returns them), ``history`` is
    None, and ``reference_statistics`` (a
    :class:`ganbench.metrics.features.ReferenceStatistics`) replaces the real images when the
    reference is a statistics file.
    """

    dataset: Dataset
    source: DataSource | None
    generator: nn.Module | None
    latent_dim: int
    history: pd.DataFrame | None
    eval_samples: int
    device: torch.device
    seed: int
    options: EvaluationOptions = field(default_factory=EvaluationOptions)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: Tensor | None = None
    reference_statistics: Any = None

    def describe(self, metric: str, **facts: Any) -> None:
        """Record how a metric's figures were obtained (features, sample counts, ...)."""
        self.details.setdefault(metric, {}).update(facts)

    def requested_labels(self, n: int | None = None) -> Tensor | None:
        """The classes :meth:`generated` asks a conditional generator for (0, 1, ..., C-1, 0, ...;
        on the CPU), or ``None`` for an unconditional generator."""
        from ganbench.architectures.layers import cyclic_labels

        if self.generator is None:
            return None
        num_classes = generator_classes(self.generator)
        return None if num_classes is None else cyclic_labels(n or self.eval_samples, num_classes)

    def generated(self, n: int | None = None, batch_size: int = 1000) -> Tensor:
        """``n`` (default ``eval_samples``) generated samples from seeded noise, on the device;
        for a conditional generator, of the classes :meth:`requested_labels` gives; the
        first ``n`` of ``samples`` when the context was given samples."""
        n = n or self.eval_samples
        if ("generated", n) in self.memo:
            return self.memo[("generated", n)]
        if self.samples is not None:  # given samples: the first n, in their order
            if n > self.samples.shape[0]:
                raise ValueError(f"{n} samples asked for, {self.samples.shape[0]} given.")
            self.memo[("generated", n)] = self.samples[:n].to(self.device)
            return self.memo[("generated", n)]
        noise_rng = torch.Generator(device="cpu").manual_seed(10_000 + self.seed)
        was_training = self.generator.training
        self.generator.eval()
        labels = self.requested_labels(n)
        chunks = []
        with torch.inference_mode():  # the chunks are inference tensors; their concatenation below is not
            for start in range(0, n, batch_size):
                z = torch.randn(min(batch_size, n - start), self.latent_dim, generator=noise_rng).to(self.device)
                if labels is None:
                    chunks.append(self.generator(z))
                else:
                    chunks.append(self.generator(z, labels[start:start + z.shape[0]].to(self.device)))
        self.generator.train(was_training)
        samples = self.memo[("generated", n)] = torch.cat(chunks)
        return samples

    def real(self, n: int | None = None, batch_size: int = 1000) -> Tensor:
        """``n`` (default ``eval_samples``) real samples drawn from the data source."""
        if self.source is None:
            raise MetricSkipped("the reference is a statistics file, without real samples")
        n = n or self.eval_samples
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(20_000 + self.seed)
            return torch.cat([self.source.sample(min(batch_size, n - s)) for s in range(0, n, batch_size)])


class Metric:
    """A metric plugin.

    It sets ``name``, a one-line ``description`` and what it ``requires``: a frozenset of
    ``"samples"`` (skipped for a diverged run), ``"real"`` and ``"history"``.

    What it declares about each value it reports (the tables and the report take everything
    from these, a plugin's metric exactly like a built-in one):

    - ``higher_is_better``: maps each reported value's name to True/False, or None for values
      that do not rank (such as a standard deviation). The best value of a column is marked
      from it; a variant without a value gets n/a, never "best".
    - ``labels``: readable names (default: the value's key).
    - ``section``: ``"stability"`` or ``"quality"``: the part of the tables its values go in.
    - ``headline``: the values "What this sweep says" names the best variant by (default none).
    - ``headline_priority``: how well its headline values stand for the samples' quality as a
      whole, an integer (default 0). Where the report shows one value only (the curve over
      training, ``--eval-every``), it picks the evaluated headline value of the highest
      priority (ties: the first evaluated). Built in: ``fid`` 20, ``domain-fid`` 10.
    - ``notes``: a caveat per value, printed once with the conclusions when it is a headline.

    :meth:`value_info` gathers these into one :class:`~ganbench.values.ValueInfo` per value.
    ``over_training = True`` lets ``--eval-every N`` compute it during training as well.
    ``compute`` may raise :class:`MetricSkipped` with a one-line reason.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    requires: ClassVar[frozenset[Requirement]] = frozenset()
    higher_is_better: ClassVar[dict[str, bool | None]] = {}
    labels: ClassVar[dict[str, str]] = {}
    over_training: ClassVar[bool] = False
    section: ClassVar[Section] = "quality"
    headline: ClassVar[frozenset[str]] = frozenset()
    headline_priority: ClassVar[int] = 0
    notes: ClassVar[dict[str, str]] = {}

    @classmethod
    def value_info(cls) -> dict[str, ValueInfo]:
        """``{value key: ValueInfo}`` for every value the metric reports."""
        return {key: ValueInfo(cls.labels.get(key, key), higher, cls.section, key in cls.headline,
                               cls.notes.get(key), cls.headline_priority if key in cls.headline else 0)
                for key, higher in cls.higher_is_better.items()}

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        """Whether the metric makes sense for this data set (by default: always)."""
        return True

    @classmethod
    def default_for(cls, dataset: type[Dataset]) -> bool:
        """Whether to compute it when the user names no ``--metrics`` (default: if it applies)."""
        return cls.applies_to(dataset)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        """The metric's values, keyed as in :attr:`higher_is_better`."""
        raise NotImplementedError


__all__ = ["EvaluationContext", "EvaluationOptions", "Metric", "MetricSkipped", "Requirement"]
