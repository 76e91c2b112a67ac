"""cgan: labelled data, conditional networks, per-class samples and label accuracy."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.architectures import ArchSpec, ConditionalGenerator, ProjectionCritic
from ganbench.architectures.dcgan import DCGAN
from ganbench.architectures.mlp import MLP
from ganbench.cli import app
from ganbench.config import SweepConfig, resolve_runs
from ganbench.errors import UsageError
from ganbench.metrics import EvaluationContext
from ganbench.metrics.toy import ModeCoverage, mode_statistics
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.samples import fixed_noise, sample_labels


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def test_toy_sources_label_samples_with_their_mode(catalog):
    dataset = catalog.datasets.get("ring-8")()
    source = dataset.load(device=torch.device("cpu"), seed=0)
    samples, labels = source.sample_with_labels(500)
    nearest = torch.cdist(samples, dataset.centres()).argmin(dim=1)
    assert torch.equal(nearest, labels) and dataset.num_classes == 8


@pytest.mark.parametrize("arch, shape, kind", [(MLP, (2,), "vector"), (MLP, (1, 28, 28), "image"),
                                               (DCGAN, (1, 28, 28), "image"), (DCGAN, (3, 32, 32), "image")])
def test_conditional_networks_depend_on_the_label(arch, shape, kind):
    generator, critic = arch().build(ArchSpec(shape, kind, 8, num_classes=10))
    assert isinstance(generator, ConditionalGenerator) and isinstance(critic, ProjectionCritic)
    generator.eval()
    critic.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    labels = torch.tensor([0, 1])
    images = generator(z, labels)
    assert images.shape == (2, *shape)
    assert not torch.allclose(images[0], images[1])
    x = images[:1].repeat(2, *([1] * len(shape))).detach()
    scores = critic(x, labels)
    assert scores.shape == (2,) and scores[0] != scores[1]


def test_cgan_needs_labelled_data_and_a_conditional_architecture(catalog):
    from ganbench.architectures import Architecture
    from ganbench.config import check_conditional

    class Unlabelled(catalog.datasets.get("ring-8")):
        name = "unlabelled-ring"
        num_classes = None

    class Plain(Architecture):
        name = "plain"

    cgan = catalog.variants.get("cgan")
    with pytest.raises(UsageError, match="data set 'unlabelled-ring' has no labels"):
        check_conditional(cgan, Unlabelled, MLP)
    with pytest.raises(UsageError, match="architecture 'plain' cannot build conditional networks"):
        check_conditional(cgan, catalog.datasets.get("ring-8"), Plain)
    check_conditional(catalog.variants.get("vanilla"), Unlabelled, Plain)  # unconditional: no check


def test_label_accuracy_counts_samples_nearest_to_their_requested_mode():
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    samples = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    values = mode_statistics(samples, centres, 0.01, requested=torch.tensor([0, 1, 1, 0]))
    assert values["label_accuracy"] == 0.5  # right, right, wrong mode, nearest to the wrong mode


def test_per_class_grid_has_one_row_per_class():
    labels = sample_labels(80, "image", 10)
    assert labels.reshape(10, 8).tolist() == [[c] * 8 for c in range(10)]
    assert fixed_noise(0, "image", 4, num_classes=10).shape == (80, 4)
    assert fixed_noise(0, "image", 4).shape == (64, 4)


def test_cgan_end_to_end_on_ring_8(tmp_path, catalog):
    result = CliRunner().invoke(app, ["run", "--variants", "cgan", "--datasets", "ring-8", "--steps", "300",
                                      "--eval-samples", "800", "--out", str(tmp_path), "--quiet", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "default").glob("cgan_*")
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert 0 <= metrics["label_accuracy"] <= 1
    # After 300 steps G already puts samples nearer the requested mode than chance (1/8) would
    # (0.256 on CPU, seed 0; deterministic there).
    assert metrics["label_accuracy"] > 0.2
    assert Image.open(run_dir / "samples.png").size[0] > 0


def test_cgan_end_to_end_on_tiny_idx_with_a_row_per_class(tmp_path, idx_dir):
    result = CliRunner().invoke(app, [
        "run", "--variants", "cgan", "--datasets", "fashion-mnist", "--data-root", str(idx_dir),
        "--arch", "mlp", "--steps", "3", "--batch-size", "16", "--eval-samples", "40",
        "--metrics", "volatility", "--out", str(tmp_path), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "default").glob("cgan_*")
    width, height = Image.open(run_dir / "samples.png").size
    assert (width, height) == (8 * 30 + 2, 10 * 30 + 2)  # 8 columns, one row per class, 2-pixel padding


def test_evaluation_asks_a_conditional_generator_for_balanced_classes(catalog):
    generator, _ = MLP().build(ArchSpec((2,), "vector", 4, num_classes=8))
    dataset = catalog.datasets.get("ring-8")()
    context = EvaluationContext(dataset=dataset, source=dataset.load(device=torch.device("cpu"), seed=0),
                                generator=generator, latent_dim=4, history=None, eval_samples=16,
                                device=torch.device("cpu"), seed=0)
    assert context.requested_labels().tolist() == list(range(8)) * 2
    assert context.generated().shape == (16, 2)
    assert "label_accuracy" in ModeCoverage().compute(context)
