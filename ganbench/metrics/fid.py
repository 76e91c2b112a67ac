"""FID, Inception Score, KID and precision/recall/density/coverage on the standard Inception features.

The features come from the FID Inception network (:mod:`ganbench.features.inception`) through
the pipeline chosen with ``--fid-pipeline`` (``tf``, default, or ``pytorch-fid``); the choice,
the weights' hash and the sample counts are recorded with every figure. Without the weights
the metrics are skipped with the reason, and the run still succeeds.
"""

from __future__ import annotations

from ganbench.datasets import Dataset
from ganbench.hookspecs import hookimpl
from ganbench.metrics import EvaluationContext, Metric
from ganbench.metrics.features import (
    describe_features, generated_features, inception_extractor, real_features, statistics_pair,
)
from ganbench.metrics.statistics import (
    frechet_distance, inception_score, kernel_inception_distance, precision_recall_density_coverage,
)

IS_SPLITS = 10
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PRDC_K = 3
PRDC_MAX_SAMPLES = 10_000  # the distance matrices grow with the square of this


class ImageMetric(Metric):
    """A metric on image samples."""

    requires = frozenset({"samples", "real"})

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        return dataset.kind == "image"


class FID(ImageMetric):
    name = "fid"
    description = "Fréchet Inception Distance to the training images (float64, eigh)."
    higher_is_better = {"fid": False}
    labels = {"fid": "FID"}
    headline = frozenset({"fid"})
    headline_priority = 20  # the reference measure of image quality: the curve over training follows it
    over_training = True

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = inception_extractor(context)
        real, fake = statistics_pair(context, extractor)
        describe_features(context, self.name, extractor)
        return {"fid": frechet_distance(real, fake)}


class InceptionScore(ImageMetric):
    name = "is"
    description = "Inception Score over 10 splits (torch-fidelity's definition)."
    requires = frozenset({"samples"})
    higher_is_better = {"is": True, "is_std": None}
    labels = {"is": "IS", "is_std": "IS std over splits"}

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = inception_extractor(context)
        logits = generated_features(context, extractor)["logits_unbiased"]
        mean, std = inception_score(logits, splits=IS_SPLITS)
        context.describe(self.name, features=extractor.name, extractor=extractor.cache_key(),
                         generated_samples=context.eval_samples, splits=IS_SPLITS)
        return {"is": mean, "is_std": std}


class KID(ImageMetric):
    name = "kid"
    description = "Kernel Inception Distance: unbiased MMD², cubic kernel, 100 subsets of 1000."
    higher_is_better = {"kid": False, "kid_std": None}
    labels = {"kid": "KID", "kid_std": "KID std over subsets"}
    headline = frozenset({"kid"})

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = inception_extractor(context)
        real = real_features(context, extractor)["features"]
        fake = generated_features(context, extractor)["features"]
        mean, std = kernel_inception_distance(real, fake, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
        describe_features(context, self.name, extractor)
        return {"kid": mean, "kid_std": std}


def prdc_values(context: EvaluationContext, extractor, prefix: str = "") -> dict[str, float]:
    """Precision, recall, density and coverage (k = 3) on at most ``PRDC_MAX_SAMPLES`` per set."""
    real = real_features(context, extractor)["features"][:PRDC_MAX_SAMPLES]
    fake = generated_features(context, extractor)["features"][:PRDC_MAX_SAMPLES]
    values = precision_recall_density_coverage(real, fake, k=PRDC_K)
    return {f"{prefix}{key}": value for key, value in values.items()}


class PrecisionRecall(ImageMetric):
    name = "prdc"
    description = "Improved precision/recall (k=3) and density/coverage on Inception features."
    higher_is_better = {"precision": True, "recall": True, "density": True, "coverage": True}

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = inception_extractor(context)
        describe_features(context, self.name, extractor)
        return prdc_values(context, extractor)


@hookimpl
def register_metrics(register):
    register(FID)
    register(InceptionScore)
    register(KID)
    register(PrecisionRecall)
