"""Quality metrics through the evaluation context: cached real features, skips, domain metrics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.datasets.images import FashionMNIST
from ganbench.features import FeatureExtractor, classifier, quantize
from ganbench.metrics import EvaluationContext, EvaluationOptions, MetricSkipped
from ganbench.metrics import features as metric_features
from ganbench.metrics.domain import ClassCoverage, DomainFID, DomainIS, DomainPrecisionRecall
from ganbench.metrics.fid import FID, KID, InceptionScore, PrecisionRecall
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import evaluate

from conftest import write_idx


class PixelFeatures(FeatureExtractor):
    """A cheap extractor for tests: 16 fixed random projections of the pixels."""

    def __init__(self, version: int = 1):
        self.name = "pixels"
        self.version = version
        self.calls = 0
        self.projection = torch.randn(784, 16, generator=torch.Generator().manual_seed(0)).double()

    def cache_key(self):
        return {"name": self.name, "version": self.version}

    def extract(self, images):
        self.calls += 1
        flat = quantize(images).flatten(1).double() / 255
        return {"features": flat @ self.projection, "logits": flat[:, :10]}


class Replay(nn.Module):
    """A 'generator' that returns real images (optionally of one class only), ignoring the noise."""

    def __init__(self, images: torch.Tensor):
        super().__init__()
        self.images = images
        self.position = 0

    def forward(self, z):
        index = (torch.arange(z.shape[0]) + self.position) % self.images.shape[0]
        self.position += z.shape[0]
        return self.images[index]


@pytest.fixture
def fashion(tmp_path, monkeypatch):
    """A 400-image look-alike, and a domain classifier trained long enough to learn it."""
    monkeypatch.setattr(classifier, "DEFAULT_PARAMS", classifier.TrainingParams(epochs=5, batch_size=32))
    root = write_idx(tmp_path / "idx", count=400, seed=1)
    dataset = FashionMNIST()
    source = dataset.load(device=torch.device("cpu"), seed=0, data_root=root)
    return dataset, source, root


def context_for(dataset, source, generator, eval_samples=200, root=None):
    return EvaluationContext(dataset=dataset, source=source, generator=generator, latent_dim=8,
                             history=None, eval_samples=eval_samples, device=torch.device("cpu"),
                             seed=0, options=EvaluationOptions(data_root=root))


def test_real_features_are_cached_by_split_count_and_extractor(fashion):
    dataset, source, _ = fashion
    generator = Replay(source.items(torch.arange(50))[0])
    extractor = PixelFeatures()
    first = metric_features.real_features(context_for(dataset, source, generator), extractor)
    assert extractor.calls == 1 and first["count"] == 200
    again = metric_features.real_features(context_for(dataset, source, generator), extractor)
    assert extractor.calls == 1 and again["path"] == first["path"]  # from disk
    torch.testing.assert_close(again["features"], first["features"])
    metric_features.real_features(context_for(dataset, source, generator, eval_samples=100), extractor)
    assert extractor.calls == 2  # another sample count
    changed = PixelFeatures(version=2)
    other = metric_features.real_features(context_for(dataset, source, generator), changed)
    assert changed.calls == 1 and other["path"] != first["path"]  # another extractor key
    assert metric_features.real_selection(400, 200).tolist() == metric_features.real_selection(400, 200).tolist()


def test_inception_metrics_are_skipped_without_weights(fashion):
    dataset, source, _ = fashion
    context = context_for(dataset, source, Replay(source.items(torch.arange(50))[0]))
    for metric in (FID, InceptionScore, KID, PrecisionRecall):
        with pytest.raises(MetricSkipped, match="Inception weights are not available"):
            metric().compute(context)


def test_skipped_metrics_are_reported_with_the_reason_and_the_run_succeeds(fashion):
    dataset, source, root = fashion
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    config = RunConfig(variant="vanilla", dataset="fashion-mnist", seed=0, arch="mlp", steps=1,
                       batch_size=8, latent_dim=8, device="cpu", variant_params={},
                       metrics=("fid", "class-coverage"), eval_samples=100)
    values, errors, details = evaluate(config, catalog, dataset=dataset, source=source,
                                       generator=Replay(source.items(torch.arange(100))[0]),
                                       history=None, data_root=root)
    assert errors["fid"].startswith("skipped: the FID Inception weights are not available")
    assert values["classes_covered"] >= 9
    assert details["class-coverage"]["features"] == "classifier-fashion-mnist"
    assert details["class-coverage"]["real_samples"] == 100


def test_domain_metrics_tell_a_faithful_generator_from_a_collapsed_one(fashion):
    dataset, source, root = fashion
    images, labels = source.items(torch.arange(source.num_items))
    faithful = context_for(dataset, source, Replay(images.flip(0)), eval_samples=300, root=root)
    collapsed = context_for(dataset, source, Replay(images[labels == 3]), eval_samples=300, root=root)

    good = {**ClassCoverage().compute(faithful), **DomainFID().compute(faithful),
            **DomainIS().compute(faithful), **DomainPrecisionRecall().compute(faithful)}
    bad = {**ClassCoverage().compute(collapsed), **DomainFID().compute(collapsed),
           **DomainIS().compute(collapsed), **DomainPrecisionRecall().compute(collapsed)}
    assert good["classes_covered"] >= 9 and good["class_kl"] < 0.1
    assert bad["classes_covered"] <= 2 and bad["class_kl"] > 1.5
    assert bad["domain_fid"] > 5 * good["domain_fid"]
    assert good["domain_is"] > 2 * bad["domain_is"]
    assert good["domain_recall"] > 0.5 > bad["domain_recall"]
    assert good["domain_coverage"] > bad["domain_coverage"]


def test_inception_metrics_with_random_weights(fashion, monkeypatch):
    from test_inception import random_state_dict

    from ganbench.features.inception import InceptionFeatures

    extractor = InceptionFeatures.from_state_dict(random_state_dict(), pipeline="tf", batch_size=50)
    monkeypatch.setattr(metric_features, "_inception", lambda *args: extractor)
    dataset, source, root = fashion
    images, _ = source.items(torch.arange(source.num_items))
    context = context_for(dataset, source, Replay(images.flip(0)), eval_samples=20, root=root)
    values = {**FID().compute(context), **InceptionScore().compute(context),
              **KID().compute(context), **PrecisionRecall().compute(context)}
    assert values["fid"] > 0 and values["is"] >= 1.0 and values["is_std"] >= 0
    assert set(values) >= {"kid", "kid_std", "precision", "recall", "density", "coverage"}
    assert context.details["fid"]["features"] == "inception-tf"
    assert context.details["fid"]["extractor"]["pipeline"] == "tf"
    assert context.details["fid"]["generated_samples"] == 20
    # the generated features were extracted once and shared by the four metrics
    assert ("features", "inception-tf") in context.memo


def test_a_wrong_weights_file_stops_the_command(tmp_path, idx_dir):
    from typer.testing import CliRunner

    from ganbench.cli import app

    bad = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    bad.write_bytes(b"not the weights")
    result = CliRunner().invoke(app, ["run", "--steps", "1", "--data-root", str(idx_dir),
                                      "--inception-weights", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "SHA-256" in result.output and str(bad) in result.output.replace("\n", "")
    assert not (tmp_path / "r").exists()  # stopped before training
