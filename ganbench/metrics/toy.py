"""Quality of toy mixtures: mode coverage (2-D and 1-D) and Wasserstein-1 distance (1-D).

Mode coverage follows the protocol of Unrolled GAN / VEEGAN / PacGAN: a generated sample is
*high quality* when it lies within 3 sigma of its nearest mode; a mode is *covered* when at
least ``MIN_PER_MODE_SHARE`` (20%) of the high-quality samples a perfect generator would put
there land on it (PacGAN's 20 of 2,500 samples on the 25-mode grid is 20% of 100).
"""

from __future__ import annotations

from ganbench.datasets.toy import GaussianMixture
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.metrics import EvaluationContext, Metric

torch = lazy_import("torch")
stats = lazy_import("scipy.stats")

MIN_PER_MODE_SHARE = 0.2


def mode_statistics(samples: torch.Tensor, centres: torch.Tensor, sigma: float,
                    requested: torch.Tensor | None = None) -> dict[str, float]:
    """``modes_covered`` and ``high_quality`` (share of samples within 3 sigma of a mode); with
    the ``requested`` mode of each sample (conditional generators), ``label_accuracy``: the
    share whose nearest mode is the requested one (like a classifier's arg-max)."""
    distances = torch.cdist(samples.double(), centres.double())
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= 3 * sigma
    counts = torch.bincount(nearest[good], minlength=centres.shape[0])
    needed = MIN_PER_MODE_SHARE * samples.shape[0] / centres.shape[0]
    values = {
        "modes_covered": float((counts >= needed).sum()),
        "high_quality": float(good.double().mean()),
    }
    if requested is not None:
        values["label_accuracy"] = float((nearest == requested).double().mean())
    return values


class ModeCoverage(Metric):
    name = "mode-coverage"
    description = "Modes covered and share of samples within 3 sigma of a mode (toy mixtures)."
    requires = frozenset({"samples"})
    higher_is_better = {"modes_covered": True, "high_quality": True, "label_accuracy": True}
    over_training = True
    labels = {"modes_covered": "modes covered", "high_quality": "high-quality share",
              "label_accuracy": "label accuracy"}
    headline = frozenset({"modes_covered"})

    @classmethod
    def applies_to(cls, dataset) -> bool:
        return issubclass(dataset, GaussianMixture)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        samples = context.generated().flatten(start_dim=1).cpu()
        return mode_statistics(samples, context.dataset.centres(), context.dataset.sigma,
                               context.requested_labels())


class Wasserstein1D(Metric):
    name = "w1"
    description = "Wasserstein-1 distance between generated and real 1-D samples (scipy)."
    requires = frozenset({"samples", "real"})
    higher_is_better = {"w1": False}
    over_training = True
    labels = {"w1": "W1 distance"}
    headline = frozenset({"w1"})

    @classmethod
    def applies_to(cls, dataset) -> bool:
        return dataset.kind == "vector" and dataset.shape == (1,)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        fake = context.generated().flatten().double().cpu().numpy()
        real = context.real().flatten().double().cpu().numpy()
        return {"w1": float(stats.wasserstein_distance(fake, real))}


@hookimpl
def register_metrics(register):
    register(ModeCoverage)
    register(Wasserstein1D)
