"""CycleGAN: the two-domain data set, task refusals, the translation loop, its metrics, end to end."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.config import RunConfig, SweepConfig, resolve_runs
from ganbench.datasets.images import FashionMNIST
from ganbench.datasets.two_domain import FashionTopsToShoes
from ganbench.errors import UsageError
from ganbench.features import FeatureExtractor
from ganbench.metrics import EvaluationContext, EvaluationOptions
from ganbench.metrics import features as metric_features
from ganbench.metrics.translation import CycleError, TranslationAccuracy
from ganbench.plugins import build_catalog
from ganbench.translation import Translators, train_translation

from conftest import write_idx

TOPS, SHOES = (0, 2, 4, 6), (5, 7, 9)


@contextmanager
def one_thread():
    """OpenMP with 2 threads on a busy 2-core machine is many times slower than 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_domains_are_the_two_class_groups(idx_dir):
    base = FashionMNIST().load(device=torch.device("cpu"), seed=0, data_root=idx_dir)
    source = FashionTopsToShoes().load(device=torch.device("cpu"), seed=0, data_root=idx_dir)
    assert set(source.x.labels.tolist()) <= set(TOPS) and set(source.y.labels.tolist()) <= set(SHOES)
    assert source.x.num_items == int(torch.isin(base.labels, torch.tensor(TOPS)).sum())
    assert source.y.num_items == int(torch.isin(base.labels, torch.tensor(SHOES)).sum())
    x, y = source.sample_pair(5)
    assert x.shape == y.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert source.describe()["classes_y"] == list(SHOES)
    with pytest.raises(TypeError, match="sample_pair"):
        source.sample(2)


def _resolve(variants: list[str], datasets: list[str], arch: str = "auto") -> list[RunConfig]:
    sweep = SweepConfig(variants=variants, datasets=datasets)
    sweep.train.arch = arch
    return resolve_runs(sweep, build_catalog())


def test_cyclegan_resolves_to_its_architecture_and_metrics():
    (run,) = _resolve(["cyclegan"], ["fashion-mnist-tops2shoes"])
    assert run.arch == "resnet-patchgan" and run.batch_size == 32
    assert {"translation-accuracy", "cycle-error", "volatility"} <= set(run.metrics)
    assert not {"fid", "domain-fid"} & set(run.metrics)
    assert run.variant_params["lambda_cyc"] == 10 and run.variant_params["lambda_identity"] == 0


@pytest.mark.parametrize("variants,datasets,arch,message", [
    (["cyclegan"], ["fashion-mnist"], "auto", "'cyclegan' is for translation but data set 'fashion-mnist'"),
    (["vanilla"], ["fashion-mnist-tops2shoes"], "auto", "or a translation variant (cyclegan)"),
    (["cyclegan"], ["fashion-mnist-tops2shoes"], "stylegan", "cannot model data set"),
    (["vanilla"], ["fashion-mnist"], "resnet-patchgan", "cannot model data set"),
])
def test_mismatched_tasks_are_refused_at_resolve_time(variants, datasets, arch, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _resolve(variants, datasets, arch)


def test_the_cli_refuses_with_exit_2():
    result = CliRunner().invoke(app, ["run", "--variants", "vanilla", "--datasets", "fashion-mnist-tops2shoes"])
    assert result.exit_code == 2 and "fashion-mnist-tops2shoes" in result.output


def _config(steps: int, **params) -> RunConfig:
    (run,) = _resolve(["cyclegan"], ["fashion-mnist-tops2shoes"])
    return RunConfig(**{**run.to_dict(), "steps": steps, "batch_size": 4, "device": "cpu",
                        "variant_params": {**run.variant_params, **params}, "metrics": ()})


def test_loop_records_finite_losses_and_the_cycle_loss_falls(idx_dir):
    with one_thread():
        outcome = train_translation(_config(30), build_catalog(), data_root=idx_dir)
    history = outcome.history
    assert outcome.status == "finished" and len(history) == 30
    assert list(history.columns) == ["step", "g_loss", "g_adversarial", "cycle_loss", "d_loss"]
    assert history.notna().all().all() and (history[["g_loss", "cycle_loss", "d_loss"]] > 0).all().all()
    assert ((history["g_adversarial"] + history["cycle_loss"]) - history["g_loss"]).abs().max() < 1e-4
    assert history["cycle_loss"].iloc[-5:].mean() < 0.5 * history["cycle_loss"].iloc[:5].mean()
    assert outcome.timings["steps_per_s"] > 0 and isinstance(outcome.generator, Translators)


def test_identity_loss_is_recorded_when_weighted(idx_dir):
    with one_thread():
        outcome = train_translation(_config(2, lambda_identity=5.0), build_catalog(), data_root=idx_dir)
    assert "identity_loss" in outcome.history and (outcome.history["identity_loss"] > 0).all()


class SquareSizeClassifier(FeatureExtractor):
    """Reads the label off ``write_idx`` images: the bright square's side is 2·(3 + label)."""

    name = "square-size"
    info: dict = {}

    def cache_key(self):
        return {"name": self.name}

    def extract(self, images):
        bright = (images > 0).flatten(1).sum(dim=1).double()
        labels = (bright.sqrt() / 2 - 3).round().clamp(0, 9).long()
        logits = nn.functional.one_hot(labels, 10).double()
        return {"features": torch.cat([bright[:, None], torch.randn(len(images), 2).double()], 1),
                "logits": logits}


class ToFixed(nn.Module):
    def __init__(self, image: torch.Tensor):
        super().__init__()
        self.image = image

    def forward(self, x):
        return self.image.expand(x.shape[0], -1, -1, -1)


def _context(idx_dir, generator) -> EvaluationContext:
    dataset = FashionTopsToShoes()
    source = dataset.load(device=torch.device("cpu"), seed=0, data_root=idx_dir)
    return EvaluationContext(dataset=dataset, source=source, generator=generator, latent_dim=1, history=None,
                             eval_samples=50, device=torch.device("cpu"), seed=0,
                             options=EvaluationOptions(data_root=idx_dir))


def test_translation_metrics_tell_identity_from_a_domain_changing_translator(tmp_path, monkeypatch):
    root = write_idx(tmp_path / "idx", count=120, seed=3)
    monkeypatch.setattr(metric_features, "_domain", lambda *args: SquareSizeClassifier())
    identity = Translators(nn.Identity(), nn.Identity())
    values = {**TranslationAccuracy().compute(_context(root, identity)),
              **CycleError().compute(_context(root, identity))}
    assert values["translation_acc_xy"] == values["translation_acc_yx"] == 0  # nothing changed domain
    assert values["cycle_l1"] == 0  # but it reconstructs perfectly

    test = FashionTopsToShoes().load(device=torch.device("cpu"), seed=0, data_root=root, train=False)
    shoe, top = test.y.items(torch.tensor([0]))[0], test.x.items(torch.tensor([0]))[0]
    swap = Translators(ToFixed(shoe), ToFixed(top))
    values = {**TranslationAccuracy().compute(_context(root, swap)), **CycleError().compute(_context(root, swap))}
    assert values["translation_acc"] == 1.0  # every translation lands in the other domain
    assert values["cycle_l1"] > 0.05  # and the cycle forgets the input
    assert values["translation_fd_xy"] >= 0


def test_end_to_end_run_folder_and_table(tmp_path, idx_dir, monkeypatch):
    monkeypatch.setattr(metric_features, "_domain", lambda *args: SquareSizeClassifier())
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "results"
    with one_thread():
        result = CliRunner().invoke(app, [
            "run", "--variants", "cyclegan", "--datasets", "fashion-mnist-tops2shoes", "--steps", "5",
            "--batch-size", "4", "--eval-samples", "20", "--data-root", str(idx_dir), "--out", str(out),
            "--sweep", "tiny", "--quiet",
        ])
    assert result.exit_code == 0, result.output
    assert "## fashion-mnist-tops2shoes" in result.stdout and "| cyclegan " in result.stdout
    (run_dir,) = [p for p in (out / "tiny").iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["status"] == "finished" and summary["timings"]["steps_per_s"] > 0
    assert {"translation_acc", "cycle_l1", "g_std"} <= set(summary["metrics"])
    assert summary["metric_errors"] == {}
    assert len(pd.read_csv(run_dir / "history.csv")) == 5
    with Image.open(run_dir / "samples.png") as picture:  # 6 rows: x, G(x), F(G(x)), y, F(y), G(F(y))
        assert picture.height > 5 * 28 and picture.height < 7 * 32
    table = pd.read_csv(out / "tiny" / "table-fashion-mnist-tops2shoes.csv", index_col="variant")
    assert list(table.index) == ["cyclegan"] and "cycle_l1:mean" in table.columns
    again = CliRunner().invoke(app, ["table", str(out / "tiny")])
    assert again.exit_code == 0 and "translation accuracy" in again.stdout
