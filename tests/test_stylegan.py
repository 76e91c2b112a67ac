"""The StyleGAN-style generator: shapes, style mixing, determinism, choice and a training smoke."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganbench.architectures import ArchSpec
from ganbench.architectures.stylegan import StyleGAN, StyleGenerator
from ganbench.cli import app
from ganbench.config import SweepConfig, choose_architecture, resolve_runs
from ganbench.datasets.images import CIFAR10, FashionMNIST
from ganbench.plugins import build_catalog


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("norm,expected", [("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)])
def test_shapes_and_the_critics_normalisation(shape, norm, expected):
    torch.manual_seed(0)
    generator, critic = StyleGAN().build(ArchSpec(shape, "image", 16, norm))
    images = generator(torch.randn(3, 16))
    assert images.shape == (3, *shape) and images.abs().max() <= 1
    assert critic(images).shape == (3,)
    assert any(isinstance(m, expected) for m in critic.modules())
    assert len(generator.mapping.net) == 2 * 4  # four linear layers, each with its activation


def _fixed_noise(generator: StyleGenerator, batch: int) -> list[torch.Tensor]:
    return [torch.randn(shape) for shape in generator.noise_shapes(batch)]


def test_eval_mode_is_deterministic_given_the_noise_inputs():
    torch.manual_seed(0)
    generator = StyleGenerator(16, 1, 28).eval()
    z = torch.randn(4, 16)
    noises = _fixed_noise(generator, 4)
    with torch.no_grad():
        nn.init.normal_(generator.layers[0].noise_scale)  # noise has an effect...
        first, second = generator(z, noises), generator(z, noises)
        other_noise = generator(z, _fixed_noise(generator, 4))
    assert torch.equal(first, second)  # ...but fixed noise and no mixing in eval: identical
    assert not torch.allclose(first, other_noise)


def test_style_mixing_uses_w1_before_and_w2_from_the_crossover_layer():
    torch.manual_seed(0)
    generator = StyleGenerator(16, 1, 28).eval()
    w1, w2 = generator.mapping(torch.randn(2, 16)), generator.mapping(torch.randn(2, 16))
    noises = _fixed_noise(generator, 2)
    mixed = generator.mixed_styles(w1, w2, crossover=2)
    assert torch.equal(mixed[:, 0], w1) and torch.equal(mixed[:, 1], w1)
    assert all(torch.equal(mixed[:, i], w2) for i in range(2, generator.num_layers))
    with torch.no_grad():
        out_mixed = generator.synthesis(mixed, noises)
        out_w1 = generator.synthesis(generator.mixed_styles(w1, w1, generator.num_layers), noises)
        out_w2 = generator.synthesis(generator.mixed_styles(w2, w2, generator.num_layers), noises)
    assert not torch.allclose(out_mixed, out_w1, atol=1e-5)  # depends on w2 ...
    assert not torch.allclose(out_mixed, out_w2, atol=1e-5)  # ... and on w1


def test_training_mode_mixes_and_eval_mode_does_not(monkeypatch):
    torch.manual_seed(0)
    generator = StyleGenerator(16, 1, 28, mixing_prob=1.0)
    crossovers = []
    original = generator.mixed_styles

    def spy(w1, w2, crossover):
        crossovers.append((crossover, torch.equal(w1, w2)))
        return original(w1, w2, crossover)

    monkeypatch.setattr(generator, "mixed_styles", spy)
    generator(torch.randn(2, 16))
    generator.eval()
    generator(torch.randn(2, 16))
    (train_cut, train_same), (eval_cut, eval_same) = crossovers
    assert 1 <= train_cut < generator.num_layers and not train_same
    assert eval_cut == generator.num_layers and eval_same


def test_auto_never_picks_stylegan_but_it_can_be_asked_for():
    catalog = build_catalog()
    for dataset in (FashionMNIST, CIFAR10):
        assert choose_architecture(dataset, "auto", catalog) != "stylegan"
    sweep = SweepConfig(variants=["vanilla"], datasets=["fashion-mnist"])
    sweep.train.arch = "stylegan"
    (run,) = resolve_runs(sweep, catalog)
    assert run.arch == "stylegan" and run.latent_dim == 64


@pytest.mark.parametrize("variant", ["vanilla", "wgan-gp"])
def test_training_smoke_through_the_cli(tmp_path, idx_dir, variant):
    out = tmp_path / "results"
    result = CliRunner().invoke(app, [
        "run", "--variants", variant, "--arch", "stylegan", "--steps", "2", "--batch-size", "8",
        "--metrics", "volatility", "--data-root", str(idx_dir), "--out", str(out), "--quiet", "--json",
        "--set", f"{variant}.n_critic=1",
    ])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["status"] == "finished"
    run_dir = out / "default" / run["run_id"]
    assert json.loads((run_dir / "config.json").read_text())["config"]["arch"] == "stylegan"
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "nan" not in history[1].lower()
