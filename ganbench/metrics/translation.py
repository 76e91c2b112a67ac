"""Metrics for translation runs on two-domain data sets, computed on the held-out (test) split.

``translation-accuracy``: the classifier trained on the base data set's classes (the one
behind the domain metrics, :mod:`ganbench.features.classifier`) labels each translated
image; ``translation_acc_xy`` is the share of G(x) it puts in one of domain Y's classes,
``translation_acc_yx`` the share of F(y) in X's, ``translation_acc`` their mean. It also
reports ``translation_fd_xy``/``_yx``: the Fréchet distance between the classifier features
of G(X) and of real Y (F(Y) and real X).

``cycle-error``: the mean absolute pixel error (images in [-1, 1]) of F(G(x)) − x and
G(F(y)) − y, and their mean.

Both use the first ``eval_samples`` test images of each domain (fewer if a domain has fewer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.datasets import Dataset
from ganbench.datasets.two_domain import ClassGroupDomains, TwoDomainSource
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.metrics import EvaluationContext, Metric
from ganbench.metrics import features as metric_features
from ganbench.metrics.statistics import GaussianStatistics, frechet_distance

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor

BATCH_SIZE = 500


def held_out(context: EvaluationContext) -> tuple[Tensor, Tensor]:
    """The first ``eval_samples`` test images of domain X and of domain Y (memoised)."""
    key = ("held-out", context.eval_samples)
    if key not in context.memo:
        source = context.dataset.load(device=context.device, seed=context.seed,
                                      data_root=context.options.data_root, train=False)
        assert isinstance(source, TwoDomainSource)
        context.memo[key] = source.first(context.eval_samples)
    return context.memo[key]


def translate(network: torch.nn.Module, images: Tensor) -> Tensor:
    """``network`` applied in eval mode, in batches."""
    was_training = network.training
    network.eval()
    with torch.no_grad():
        out = torch.cat([network(images[i:i + BATCH_SIZE]) for i in range(0, images.shape[0], BATCH_SIZE)])
    network.train(was_training)
    return out


def translations(context: EvaluationContext) -> dict[str, Tensor]:
    """Held-out x, y, G(x), F(y), F(G(x)), G(F(y)) (memoised)."""
    if "translations" not in context.memo:
        x, y = held_out(context)
        g, f = context.generator.g, context.generator.f
        fake_y, fake_x = translate(g, x), translate(f, y)
        context.memo["translations"] = {"x": x, "y": y, "fake_y": fake_y, "fake_x": fake_x,
                                        "cycled_x": translate(f, fake_y), "cycled_y": translate(g, fake_x)}
    return context.memo["translations"]


class TranslationMetric(Metric):
    requires = frozenset({"samples", "real"})

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        return dataset.kind == "two-domain"


def share_in_classes(logits: Tensor, classes: tuple[int, ...]) -> float:
    """The share of samples whose most likely class is one of ``classes``."""
    predicted = logits.argmax(dim=1).cpu()
    return float(torch.isin(predicted, torch.tensor(classes)).double().mean())


class TranslationAccuracy(TranslationMetric):
    name = "translation-accuracy"
    description = "Share of G(x) classified into Y's classes and of F(y) into X's; Fréchet distances."
    higher_is_better = {"translation_acc": True, "translation_acc_xy": True, "translation_acc_yx": True,
                        "translation_fd_xy": False, "translation_fd_yx": False}
    labels = {"translation_acc": "translation accuracy", "translation_acc_xy": "accuracy X→Y",
              "translation_acc_yx": "accuracy Y→X", "translation_fd_xy": "domain FD G(X) vs Y",
              "translation_fd_yx": "domain FD F(Y) vs X"}
    headline = frozenset({"translation_acc"})

    @classmethod
    def applies_to(cls, dataset: type[Dataset]) -> bool:
        return issubclass(dataset, ClassGroupDomains)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        dataset = context.dataset
        base = dataset.base
        extractor = metric_features._domain(base.name, base(), str(context.device), context.options.data_root)
        t = translations(context)
        features = {name: extractor.extract(t[name]) for name in ("x", "y", "fake_y", "fake_x")}
        acc_xy = share_in_classes(features["fake_y"]["logits"], dataset.classes_y)
        acc_yx = share_in_classes(features["fake_x"]["logits"], dataset.classes_x)
        stats = {name: GaussianStatistics.of(value["features"]) for name, value in features.items()}
        context.describe(self.name, classifier=extractor.name, held_out_x=len(t["x"]), held_out_y=len(t["y"]),
                         classifier_test_accuracy=getattr(extractor, "info", {}).get("test_accuracy"))
        return {"translation_acc": (acc_xy + acc_yx) / 2, "translation_acc_xy": acc_xy,
                "translation_acc_yx": acc_yx,
                "translation_fd_xy": frechet_distance(stats["y"], stats["fake_y"]),
                "translation_fd_yx": frechet_distance(stats["x"], stats["fake_x"])}


class CycleError(TranslationMetric):
    name = "cycle-error"
    description = "Mean L1 pixel error of F(G(x)) - x and G(F(y)) - y on held-out images."
    higher_is_better = {"cycle_l1": False, "cycle_l1_x": False, "cycle_l1_y": False}
    labels = {"cycle_l1": "cycle L1", "cycle_l1_x": "cycle L1 X→Y→X", "cycle_l1_y": "cycle L1 Y→X→Y"}
    headline = frozenset({"cycle_l1"})

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        t = translations(context)
        error_x = float((t["cycled_x"] - t["x"]).abs().mean())
        error_y = float((t["cycled_y"] - t["y"]).abs().mean())
        context.describe(self.name, held_out_x=len(t["x"]), held_out_y=len(t["y"]))
        return {"cycle_l1": (error_x + error_y) / 2, "cycle_l1_x": error_x, "cycle_l1_y": error_y}


@hookimpl
def register_metrics(register):
    register(TranslationAccuracy)
    register(CycleError)
