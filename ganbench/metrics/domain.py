"""Offline quality metrics from a classifier trained on the data set itself.

For labelled image data sets ganbench trains a small convolutional classifier on the training
split (once; cached, see :mod:`ganbench.features.classifier`) and measures in its feature
space: a Fréchet distance, an Inception-Score analogue with its class probabilities, the
classes the generator covers and the KL divergence between the generated and the real class
histograms, and precision/recall/density/coverage. No download is needed, and on MNIST-like
data these features see what matters there better than ImageNet's Inception does.
"""

from __future__ import annotations

from ganbench.datasets import Dataset
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.metrics import EvaluationContext, Metric
from ganbench.metrics.features import (
    describe_features, domain_extractor, generated_features, real_features, statistics_pair,
)
from ganbench.metrics.fid import IS_SPLITS, prdc_values
from ganbench.metrics.statistics import class_statistics, frechet_distance, inception_score

torch = lazy_import("torch")


class DomainMetric(Metric):
    """A metric in the feature space of the data set's own classifier."""

    requires = frozenset({"samples", "real"})

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        return dataset.kind == "image" and bool(dataset.num_classes)

    @staticmethod
    def _describe(context: EvaluationContext, name: str, extractor) -> None:
        describe_features(context, name, extractor)
        context.describe(name, classifier_test_accuracy=extractor.info.get("test_accuracy"))


class DomainFID(DomainMetric):
    name = "domain-fid"
    description = "Fréchet distance in the features of a classifier trained on the data set."
    higher_is_better = {"domain_fid": False}
    labels = {"domain_fid": "domain FD"}
    headline = frozenset({"domain_fid"})
    headline_priority = 10  # below FID (a reference measure), above the coverage counts
    over_training = True

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = domain_extractor(context)
        real, fake = statistics_pair(context, extractor)
        self._describe(context, self.name, extractor)
        return {"domain_fid": frechet_distance(real, fake)}


class DomainIS(DomainMetric):
    name = "domain-is"
    description = "Inception-Score analogue with the data set classifier's class probabilities."
    requires = frozenset({"samples"})
    higher_is_better = {"domain_is": True, "domain_is_std": None}
    labels = {"domain_is": "domain IS", "domain_is_std": "domain IS std"}

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = domain_extractor(context)
        mean, std = inception_score(generated_features(context, extractor)["logits"], splits=IS_SPLITS)
        self._describe(context, self.name, extractor)
        return {"domain_is": mean, "domain_is_std": std}


class ClassCoverage(DomainMetric):
    """For a conditional generator also ``label_accuracy``: the share of samples the
    classifier assigns to the class they were generated for."""

    name = "class-coverage"
    description = "Classes covered by generated samples and KL(generated || real) of class histograms."
    higher_is_better = {"classes_covered": True, "class_kl": False, "label_accuracy": True}
    labels = {"classes_covered": "classes covered", "class_kl": "class KL", "label_accuracy": "label accuracy"}
    headline = frozenset({"classes_covered"})
    over_training = True

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = domain_extractor(context)
        real = real_features(context, extractor)
        fake_logits = generated_features(context, extractor)["logits"]
        self._describe(context, self.name, extractor)
        values = class_statistics(fake_logits, real["labels"], context.dataset.num_classes)
        requested = context.requested_labels()
        if requested is not None:
            predicted = torch.as_tensor(fake_logits).argmax(dim=1).cpu()
            values["label_accuracy"] = float((predicted == requested).double().mean())
        return values


class DomainPrecisionRecall(DomainMetric):
    name = "domain-prdc"
    description = "Precision/recall (k=3) and density/coverage in the data set classifier's features."
    higher_is_better = {"domain_precision": True, "domain_recall": True,
                        "domain_density": True, "domain_coverage": True}
    labels = {"domain_precision": "domain precision", "domain_recall": "domain recall",
              "domain_density": "domain density", "domain_coverage": "domain coverage"}

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        extractor = domain_extractor(context)
        self._describe(context, self.name, extractor)
        return prdc_values(context, extractor, prefix="domain_")


@hookimpl
def register_metrics(register):
    register(DomainFID)
    register(DomainIS)
    register(ClassCoverage)
    register(DomainPrecisionRecall)
