"""``ganbench evaluate`` and ``ganbench stats``: samples made elsewhere, scored by the same
metrics and caches as trained runs, shown beside them; statistics files in pytorch-fid's format."""

from __future__ import annotations

import hashlib
import json
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.config import RunConfig
from ganbench.evaluation import EvaluationSettings, evaluate_samples
from ganbench.features import FeatureExtractor, classifier, quantize
from ganbench.plugins import build_catalog
from ganbench.runner import run_one
from ganbench.storage import METRICS_FILE, read_json
from ganbench.tables import comparison_tables, load_results, markdown

from conftest import write_idx

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def fashion_root(tmp_path, monkeypatch):
    """A 120-image Fashion-MNIST look-alike and a quick domain classifier (1 epoch)."""
    monkeypatch.setattr(classifier, "DEFAULT_PARAMS", classifier.TrainingParams(epochs=1, batch_size=32))
    return write_idx(tmp_path / "idx", count=120, seed=2)


def tiny_run(tmp_path, dataset: str, metrics: tuple[str, ...], data_root=None, eval_samples=60):
    config = RunConfig(variant="vanilla", dataset=dataset, seed=3, arch="mlp", steps=4, batch_size=16,
                       latent_dim=8, device="cpu", variant_params={}, metrics=metrics, eval_samples=eval_samples)
    run_dir = tmp_path / "results" / "trained" / config.run_id
    run_one(config, build_catalog(), run_dir, data_root=data_root)
    return run_dir, read_json(run_dir / METRICS_FILE)


@pytest.mark.parametrize("dataset,metrics", [
    ("gaussian-1d", ("volatility", "w1", "mode-coverage")),
    ("fashion-mnist", ("volatility", "domain-fid", "domain-is", "class-coverage", "domain-prdc")),
])
def test_evaluating_a_runs_generator_gives_exactly_its_metrics(tmp_path, fashion_root, dataset, metrics):
    root = fashion_root if dataset == "fashion-mnist" else None
    run_dir, summary = tiny_run(tmp_path, dataset, metrics, data_root=root)
    result = evaluate_samples(str(run_dir), None, build_catalog(), tmp_path / "results" / "evaluations",
                              EvaluationSettings(device="cpu"))  # the run's data set, seed, count, data root
    trained = {k: v for k, v in summary["metrics"].items() if not k.startswith(("g_", "d_"))}  # not volatility
    assert len(trained) >= 2 and result.summary["metrics"] == trained  # bit for bit
    assert result.summary["dataset"] == dataset and result.summary["seed"] == 3
    config = read_json(result.folder / "config.json")
    assert config["kind"] == "evaluation" and "volatility" not in config["config"]["metrics"]
    assert sorted(p.name for p in result.folder.iterdir()) == ["config.json", "metrics.json"]  # no history


GENERATORS = textwrap.dedent("""
    import torch
    from torch import nn

    class Squares(nn.Module):
        '''Bright squares whose size follows the noise, like the test data set's images.'''
        def forward(self, z):
            size = (3 + (z[:, 0].abs() * 3).long().clamp(max=9)).view(-1, 1, 1, 1)
            grid = torch.arange(28).view(1, 1, 28, 1)
            inside = ((grid - 14).abs() < size) & ((grid.transpose(2, 3) - 14).abs() < size)
            return inside.float() * 1.6 - 1.0

    def squares():
        return Squares()

    def raises():
        class Broken(nn.Module):
            def forward(self, z):
                raise RuntimeError("CUDA out of memory (simulated)")
        return Broken()

    def wrong_shape():
        return nn.Linear(8, 10)

    def x():
        return nn.Linear(8, 2)

    def sigmoid():
        class Sigmoid(nn.Module):
            def forward(self, z):
                return torch.sigmoid(z[:, :1, None, None].expand(-1, 1, 28, 28))
        return Sigmoid()

    def zero_to_255():
        class Bytes(nn.Module):
            def forward(self, z):
                return torch.full((z.shape[0], 1, 28, 28), 200.0)
        return Bytes()
""")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_gans.py").write_text(GENERATORS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_gans"


def test_a_module_generator_is_evaluated_and_shown_beside_trained_runs(tmp_path, fashion_root, user_module):
    run_dir, _ = tiny_run(tmp_path, "fashion-mnist", ("volatility", "domain-fid", "class-coverage"),
                          data_root=fashion_root)
    out = tmp_path / "results" / "evaluations"
    result = invoke("evaluate", f"{user_module}:squares", "--latent-dim", 8, "--reference", "fashion-mnist",
                    "--data-root", fashion_root, "--metrics", "domain-fid,class-coverage", "--eval-samples", 60,
                    "--name", "my-squares", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["variant"] == "my-squares (evaluated)" and payload["dataset"] == "fashion-mnist"
    assert payload["metrics"]["domain_fid"] > 0 and 1 <= payload["metrics"]["classes_covered"] <= 10

    long = load_results(tmp_path / "results")
    assert set(long["variant"]) == {"vanilla", "my-squares (evaluated)"}
    evaluated = long[long["variant"] == "my-squares (evaluated)"]
    assert "diverged" not in set(evaluated["metric"])  # never trained: no divergence figure
    table = comparison_tables(long, build_catalog())["fashion-mnist"]
    assert pd.isna(table.loc["my-squares (evaluated)", ("steps_per_s", "mean")])
    assert table.loc["vanilla", ("steps_per_s", "mean")] > 0
    assert table.loc["my-squares (evaluated)", ("domain_fid", "mean")] == payload["metrics"]["domain_fid"]
    text = markdown("fashion-mnist", table, build_catalog())
    row = next(line for line in text.splitlines() if line.startswith("| my-squares (evaluated)"))
    assert "n/a" in row  # the cost section: no steps/s or wall-clock for an evaluation
    assert not set(evaluated["metric"]) & {"steps_per_s", "wall_clock_s", "eval_time_s", "train_time_s"}

    shown = invoke("table", tmp_path / "results")
    assert shown.exit_code == 0 and "my-squares (evaluated)" in shown.stdout
    report = invoke("report", tmp_path / "results", "-o", tmp_path / "report")
    assert report.exit_code == 0, report.output
    assert "my-squares (evaluated)" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize("factory,code,message", [
    ("raises", 1, "my_gans:raises failed while making 60 samples: RuntimeError: CUDA out of memory (simulated)"),
    ("wrong_shape", 2, "returned shape (60, 10) for 60 noise vectors; expected 60×C×H×W images"),
    ("zero_to_255", 2, "gives pixel values in [200, 200]; expected images in [-1, 1]"),
    ("missing", 2, "module 'my_gans' has no 'missing'"),
])
def test_a_broken_generator_stops_with_one_line_and_records_nothing(tmp_path, fashion_root, user_module,
                                                                   factory, code, message):
    out = tmp_path / "evaluations"
    result = invoke("evaluate", f"{user_module}:{factory}", "--latent-dim", 8, "--reference", "fashion-mnist",
                    "--data-root", fashion_root, "--metrics", "domain-fid", "--eval-samples", 60, "--out", out)
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["my_gans:squares", "--reference", "fashion-mnist"], "needs --latent-dim"),
    (["my_gans:squares", "--latent-dim", "8"], "--reference is needed"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "fashion_mnist"], "did you mean 'fashion-mnist'?"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "fashion-mnist", "--metrics", "volatility"],
     "metric 'volatility' needs a training history"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "ring-8", "--metrics", "fid"],
     "metric 'fid' does not apply to the reference ring-8"),
    (["my_gans:squares", "--latent-dim", "0", "--reference", "fashion-mnist"], "--latent-dim must be at least 1"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "ring-8", "--name", " "],
     "--name ' ' must be one line of visible text"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "ring-8", "--name", "a\nb"],
     "--name 'a\\nb' must be one line of visible text"),
    (["gen.pt", "--reference", "ring-8"],
     "gen.pt is a weights or pickle file; ganbench evaluate takes your network only"),
    (["my_gans:squares", "--latent-dim", "8", "--reference", "fashion-mnist", "--eval-samples", "0"],
     "--eval-samples must be at least 2, got 0"),
])
def test_usage_errors_exit_2(tmp_path, user_module, args, message):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "gen.pt")  # user_module runs in tmp_path
    result = invoke("evaluate", *args, "--out", tmp_path / "evaluations")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output



def test_paths_and_names_print_as_given_not_as_rich_markup_or_emoji(tmp_path, user_module):
    out = tmp_path / "o [/x] [bold]b"
    result = invoke("evaluate", f"{user_module}:x", "--latent-dim", 8, "--reference", "ring-8",
                    "--metrics", "mode-coverage", "--eval-samples", 50, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"Evaluation in {out}/" in " ".join(result.stderr.split())
    missing = invoke("evaluate", "no_such_module:x", "--latent-dim", 8, "--reference", "ring-8", "--out", out)
    assert missing.exit_code == 2
    assert "for the generator no_such_module:x: No module" in " ".join(missing.stderr.split())


# --- statistics files ---------------------------------------------------------------------------

@pytest.fixture
def random_inception(monkeypatch):
    """The FID Inception network with random weights, as the Inception tests use it."""
    from test_inception import random_state_dict

    from ganbench.features.inception import InceptionFeatures
    from ganbench.metrics import features as metric_features

    extractor = InceptionFeatures.from_state_dict(random_state_dict(), pipeline="tf")
    monkeypatch.setattr(metric_features, "_inception", lambda *args: extractor)
    return extractor


def test_stats_writes_inception_statistics_that_pytorch_fid_reads(tmp_path, fashion_root, random_inception):
    from pytorch_fid.fid_score import compute_statistics_of_path

    from ganbench.datasets import cache_dir

    stats_file = tmp_path / "fashion.npz"
    made = invoke("stats", "fashion-mnist", "-o", stats_file, "--eval-samples", 8, "--data-root", fashion_root)
    assert made.exit_code == 0, made.output
    mu, sigma = compute_statistics_of_path(str(stats_file), None, 1, 2048, "cpu")  # pytorch-fid's reader
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048) and mu.dtype == np.float64
    [cached] = (cache_dir() / "statistics").glob("*inception-tf*.pt")  # what fid itself compares with
    cached = torch.load(cached, weights_only=True)
    assert np.array_equal(cached["mu"].numpy(), mu) and np.array_equal(cached["sigma"].numpy(), sigma)
    with np.load(stats_file) as data:
        recorded = json.loads(str(data["features"]))
        assert str(data["dataset"]) == "fashion-mnist" and int(data["count"]) == 8
    assert recorded == {"name": "inception-tf", **random_inception.cache_key()}


class Projection(FeatureExtractor):
    """A cheap stand-in for the Inception network (16 random projections of the pixels) that,
    like it, takes pytorch-fid's statistics files: the Fréchet distance at 2048 dimensions
    costs tens of seconds on a busy CPU."""

    name = "projection"
    accepts_pytorch_fid_statistics = True

    def __init__(self):
        self.matrix = torch.randn(784, 16, generator=torch.Generator().manual_seed(0)).double()

    def cache_key(self):
        return {"network": "random-projection", "version": 1}

    def extract(self, images):
        flat = quantize(images).flatten(1).double() / 255
        return {"features": flat @ self.matrix, "logits": flat[:, :10], "logits_unbiased": flat[:, :10]}


def test_evaluate_takes_statistics_files_ours_and_pytorch_fids(tmp_path, fashion_root, user_module, monkeypatch):
    from ganbench.metrics import features as metric_features

    extractor = Projection()
    monkeypatch.setattr(metric_features, "_inception", lambda *args: extractor)
    ours = tmp_path / "fashion.npz"
    assert invoke("stats", "fashion-mnist", "-o", ours, "--eval-samples", 60, "--data-root", fashion_root
                  ).exit_code == 0
    plain = tmp_path / "pytorch-fid.npz"  # as pytorch-fid's --save-stats writes it: mu and sigma only
    with np.load(ours) as data:
        np.savez_compressed(plain, mu=data["mu"], sigma=data["sigma"])

    common = ["evaluate", f"{user_module}:squares", "--latent-dim", 8, "--data-root", fashion_root,
              "--metrics", "fid", "--eval-samples", 60, "--json"]
    by_name = json.loads(invoke(*common, "--reference", "fashion-mnist", "--out", tmp_path / "a").stdout)
    by_file = json.loads(invoke(*common, "--reference", ours, "--out", tmp_path / "b").stdout)
    from_plain = json.loads(invoke(*common, "--reference", plain, "--out", tmp_path / "c").stdout)
    assert by_name["metrics"]["fid"] > 0
    assert by_file["metrics"]["fid"] == by_name["metrics"]["fid"] == from_plain["metrics"]["fid"]
    assert by_file["dataset"] == "fashion-mnist"  # recorded in the file: the same table as the runs
    assert from_plain["dataset"] == "stats:pytorch-fid.npz"
    details = read_json(tmp_path / "c" / from_plain["run_id"] / METRICS_FILE)["metric_details"]["fid"]
    assert details["real_statistics"] == str(plain) and details["features"] == "projection"


def test_domain_statistics_record_their_features_and_a_mismatch_is_refused(tmp_path, fashion_root, user_module,
                                                                            monkeypatch):
    from ganbench.metrics import features as metric_features

    monkeypatch.setattr(metric_features, "_inception", lambda *args, extractor=Projection(): extractor)
    domain_file = tmp_path / "domain.npz"
    made = invoke("stats", "fashion-mnist", "-o", domain_file, "--features", "domain", "--eval-samples", 60,
                  "--data-root", fashion_root)
    assert made.exit_code == 0, made.output
    with np.load(domain_file) as data:
        recorded = json.loads(str(data["features"]))
    assert recorded["name"] == "classifier-fashion-mnist"

    common = ["evaluate", f"{user_module}:squares", "--latent-dim", 8, "--data-root", fashion_root,
              "--eval-samples", 60]
    by_name = json.loads(invoke(*common, "--reference", "fashion-mnist", "--metrics", "domain-fid", "--json",
                                "--out", tmp_path / "a").stdout)
    by_file = json.loads(invoke(*common, "--reference", domain_file, "--metrics", "domain-fid", "--json",
                                "--out", tmp_path / "b").stdout)
    assert by_file["metrics"]["domain_fid"] == pytest.approx(by_name["metrics"]["domain_fid"], rel=1e-12)

    refused = invoke(*common, "--reference", domain_file, "--metrics", "fid", "--out", tmp_path / "c")
    assert refused.exit_code == 2 and not (tmp_path / "c").exists()
    assert "holds statistics of classifier-fashion-mnist features, not of projection" in " ".join(
        refused.stderr.split())
    # without named metrics the domain file gives what it can, and says why fid is missing
    default = json.loads(invoke(*common, "--reference", domain_file, "--json", "--out", tmp_path / "d").stdout)
    assert "domain_fid" in default["metrics"] and "fid" not in default["metrics"]
    assert default["metric_errors"]["fid"].startswith("skipped: domain.npz holds statistics of classifier")
    assert default["metric_errors"]["kid"].startswith("skipped: the reference domain.npz holds only statistics")


def test_a_file_that_is_not_statistics_is_refused(tmp_path, user_module):
    bad = tmp_path / "images.npz"
    np.savez(bad, images=np.zeros((4, 28, 28), dtype=np.uint8))
    result = invoke("evaluate", f"{user_module}:squares", "--latent-dim", 8, "--reference", bad,
                    "--out", tmp_path / "evaluations")
    assert result.exit_code == 2
    assert "has no mu or sigma: a statistics file holds 'mu' and 'sigma'" in " ".join(result.stderr.split())



@pytest.mark.parametrize("contents, message", [
    ({"mu": np.array(["a"]), "sigma": np.array(["b"])}, "'mu' and 'sigma' must hold real numbers, got dtypes <U1"),
    ({"mu": np.zeros(2, dtype=complex), "sigma": np.eye(2, dtype=complex)}, "real numbers, got dtypes complex128"),
    ({"mu": np.zeros(2), "sigma": np.eye(2), "features": np.array("{bad json")}, "'features' must be a JSON object"),
    ({"mu": np.zeros(2), "sigma": np.eye(2), "features": np.array("[1, 2]")}, "must be a JSON object, as ganbench"),
    ({"mu": np.zeros(2), "sigma": np.eye(2), "count": np.array("many")}, "'count' an integer"),
])
def test_a_statistics_file_with_values_of_the_wrong_type_exits_2(tmp_path, user_module, contents, message):
    bad = tmp_path / "stats.npz"
    np.savez(bad, **contents)
    result = invoke("evaluate", f"{user_module}:squares", "--latent-dim", 8, "--reference", bad,
                    "--out", tmp_path / "evaluations")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output


# --- folders and arrays of samples ------------------------------------------------------------

def save_pngs(folder, pixels: np.ndarray, labels=None) -> None:
    """One PNG per image (N×28×28 uint8), under a sub-folder per label when labels are given."""
    from PIL import Image

    for index, image in enumerate(pixels):
        target = folder / (f"class{labels[index]}" if labels is not None else "")
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{index:04d}.png")


@pytest.fixture
def fashion_pixels(fashion_root):
    """The look-alike's training images and labels, as uint8 arrays."""
    from ganbench.datasets.images import FashionMNIST

    source = FashionMNIST().load(device=torch.device("cpu"), seed=0, data_root=fashion_root)
    images, labels = source.items(torch.arange(source.num_items))
    pixels = ((images + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()
    return pixels, labels.numpy()


def test_a_folder_and_an_array_of_the_real_images_score_as_the_real_data(tmp_path, fashion_root, fashion_pixels):
    pixels, labels = fashion_pixels
    save_pngs(tmp_path / "pngs", pixels)
    (tmp_path / "pngs" / "notes.txt").write_text("not an image")
    np.save(tmp_path / "samples.npy", pixels[::-1].copy())
    common = ["--reference", "fashion-mnist", "--data-root", fashion_root, "--metrics",
              "domain-fid,class-coverage", "--json"]
    from_folder = invoke("evaluate", tmp_path / "pngs", *common, "--out", tmp_path / "out")
    assert from_folder.exit_code == 0, from_folder.output
    assert "1 file(s) in" in from_folder.stderr and "are not images and were skipped" in from_folder.stderr
    folder_values = json.loads(from_folder.stdout)["metrics"]
    assert abs(folder_values["domain_fid"]) < 1e-6  # the same 120 images as the reference
    assert folder_values["class_kl"] >= 0 and folder_values["classes_covered"] >= 1
    from_array = json.loads(invoke("evaluate", tmp_path / "samples.npy", *common, "--out", tmp_path / "out").stdout)
    assert from_array["variant"] == "samples (evaluated)"
    assert from_array["metrics"]["domain_fid"] == pytest.approx(folder_values["domain_fid"], abs=1e-6)
    config = read_json(tmp_path / "out" / from_array["run_id"] / "config.json")["config"]
    assert config["samples"]["kind"] == "files" and config["samples"]["count"] == 120
    assert len(config["samples"]["content_key"]) == 64


def test_a_labelled_folder_is_a_reference(tmp_path, fashion_pixels):
    pixels, labels = fashion_pixels
    save_pngs(tmp_path / "real", pixels, labels)
    np.save(tmp_path / "fake.npy", pixels[:60])
    result = invoke("evaluate", tmp_path / "fake.npy", "--reference", f"folder:{tmp_path / 'real'}",
                    "--metrics", "domain-fid,class-coverage", "--json", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dataset"] == "folder-real" and payload["metrics"]["domain_fid"] >= 0
    assert payload["metrics"]["classes_covered"] >= 1


def test_an_evaluation_without_any_figure_fails_and_records_nothing(tmp_path, fashion_pixels):
    pixels, _ = fashion_pixels
    save_pngs(tmp_path / "real", pixels[:40])  # unlabelled: only the Inception metrics apply
    np.save(tmp_path / "fake.npy", pixels[40:80])
    result = invoke("evaluate", tmp_path / "fake.npy", "--reference", f"folder:{tmp_path / 'real'}",
                    "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    assert ("no metric could be computed for " in result.stderr
            and "fid: skipped: the FID Inception weights are not available" in " ".join(result.stderr.split()))


def truncated_png(folder):
    from PIL import Image

    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(folder / "good.png")
    noise = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "broken.png")
    (folder / "broken.png").write_bytes((folder / "broken.png").read_bytes()[:100])
    return folder


def mixed_sizes(folder):
    from PIL import Image

    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(folder / "b.png")
    return folder


@pytest.mark.parametrize("make,message", [
    (lambda d: d.mkdir() or d, "holds no image files"),
    (truncated_png, "broken.png cannot be read"),
    (mixed_sizes, "different sizes"),
    (lambda d: np.save(d.with_suffix(".npy"), np.zeros((4, 28, 28), np.float32)) or d.with_suffix(".npy"),
     "dtype float32; expected uint8"),
    (lambda d: np.save(d.with_suffix(".npy"), np.zeros((4, 28, 28, 5), np.uint8)) or d.with_suffix(".npy"),
     "expected N×H×W"),
    (lambda d: np.save(d.with_suffix(".npy"), np.zeros((4, 3, 32, 32), np.uint8)) or d.with_suffix(".npy"),
     "holds images of shape (3, 32, 32), but the reference fashion-mnist has (1, 28, 28)"),
    (lambda d: np.save(d.with_suffix(".npy"), np.zeros((4, 3, 28, 28), np.uint8)) or d.with_suffix(".npy"),
     "has (1, 28, 28); convert them to grey (1 channel(s), not 3)."),
    (lambda d: np.save(d.with_suffix(".npy"), np.zeros((4, 1, 32, 32), np.uint8)) or d.with_suffix(".npy"),
     "has (1, 28, 28); pass --resolution 28 to resize them."),
])
def test_bad_sample_files_exit_2_with_one_line_and_record_nothing(tmp_path, fashion_root, make, message):
    samples = make(tmp_path / "samples")
    out = tmp_path / "evaluations"
    result = invoke("evaluate", samples, "--reference", "fashion-mnist", "--data-root", fashion_root,
                    "--metrics", "domain-fid", "--out", out)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_damaged_run_or_an_evaluation_folder_is_not_evaluated(tmp_path):
    run_dir, _summary = tiny_run(tmp_path, "gaussian-1d", ("w1",))
    evaluation = evaluate_samples(str(run_dir), None, build_catalog(), tmp_path / "evaluations",
                                  EvaluationSettings(device="cpu"))
    result = invoke("evaluate", evaluation.folder, "--out", tmp_path / "again")
    assert result.exit_code == 2 and "is an evaluation, not a trained run" in result.output
    weights = run_dir / "generator.pt"
    weights.write_bytes(weights.read_bytes()[:-8])  # truncated: no longer the recorded file
    result = invoke("evaluate", run_dir, "--out", tmp_path / "again")
    assert result.exit_code == 2 and "generator.pt" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


class _Planted:
    """An object whose unpickling would run code: a run folder's weights must never unpickle it."""

    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize("replace, message", [
    (lambda f: f.write_bytes(f.read_bytes()[:300]), "cannot be loaded as the run's generator weights"),
    (lambda f: f.write_bytes(b"not a torch file"), "is not a torch file of plain tensors"),
    (lambda f: torch.save({"x": _Planted()}, f), "is not a torch file of plain tensors"),
    (lambda f: torch.save({"foo": torch.zeros(3)}, f), 'Unexpected key(s) in state_dict: "foo"'),
])
def test_weights_replaced_with_a_matching_record_exit_2_and_are_never_unpickled(tmp_path, capsys, replace, message):
    """Weights swapped together with their recorded hash pass the folder's checks; loading them names the file."""
    run_dir, summary = tiny_run(tmp_path, "gaussian-1d", ("w1",))
    weights = run_dir / "generator.pt"
    replace(weights)
    summary["files"]["generator.pt"] = {"bytes": weights.stat().st_size,
                                        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    (run_dir / METRICS_FILE).write_text(json.dumps(summary))
    result = invoke("evaluate", run_dir, "--out", tmp_path / "again")
    assert result.exit_code == 2, result.output
    assert f"{weights} " in " ".join(result.stderr.split()) and message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and "unpickled!" not in result.output + capsys.readouterr().out
    assert not (tmp_path / "again").exists()


def test_an_output_folder_that_is_a_file_exits_2_before_any_work(tmp_path, user_module):
    (tmp_path / "a-file").write_text("x")
    for out in (tmp_path / "a-file", tmp_path / "a-file" / "sub"):
        result = invoke("evaluate", f"{user_module}:x", "--latent-dim", 8, "--reference", "ring-8",
                        "--metrics", "mode-coverage", "--eval-samples", 50, "--out", out)
        assert result.exit_code == 2, result.output
        assert "a file, not a folder; name a folder for the output." in " ".join(result.stderr.split())
    result = invoke("stats", "ring-8", "-o", tmp_path / "a-file" / "stats.npz")
    assert result.exit_code == 2 and "the folder" in result.stderr and "Traceback" not in result.output


def test_a_sweep_or_results_folder_is_not_read_as_images(tmp_path):
    """Its run folders' samples.png grids are no samples: evaluating them would score pictures of plots."""
    run_dir, _summary = tiny_run(tmp_path, "gaussian-1d", ("w1",))
    for folder in (run_dir.parent, run_dir.parent.parent):  # the sweep, the results folder
        result = invoke("evaluate", folder, "--reference", "ring-8", "--resolution", 28, "--out", tmp_path / "ev")
        assert result.exit_code == 2, result.output
        assert f"holds ganbench run folders (such as {run_dir})" in " ".join(result.stderr.split())


def test_a_generator_of_images_in_0_1_is_warned_about(tmp_path, fashion_root, user_module):
    with pytest.warns(UserWarning, match=r"my_gans:sigmoid gave no negative pixel value in 60 images .*return 2x - 1"):
        result = invoke("evaluate", f"{user_module}:sigmoid", "--latent-dim", 8, "--reference", "fashion-mnist",
                        "--data-root", fashion_root, "--metrics", "domain-fid", "--eval-samples", 60,
                        "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings(record=True) as caught:  # a tanh generator (negative pixels): no such warning
        warnings.simplefilter("always")
        result = invoke("evaluate", f"{user_module}:squares", "--latent-dim", 8, "--reference", "fashion-mnist",
                        "--data-root", fashion_root, "--metrics", "domain-fid", "--eval-samples", 60,
                        "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert not [w for w in caught if "no negative pixel" in str(w.message)]


def test_another_tools_config_json_beside_sample_images_is_no_run_folder(tmp_path):
    save_pngs(tmp_path / "samples" / "batch1", np.zeros((3, 28, 28), dtype=np.uint8))
    (tmp_path / "samples" / "batch1" / "config.json").write_text('{"model": "stylegan2"}')
    result = invoke("evaluate", tmp_path / "samples", "--reference", "ring-8", "--out", tmp_path / "ev")
    assert result.exit_code == 2 and "holds images, but ring-8 holds vector data" in " ".join(result.stderr.split())


def test_sample_images_beside_another_tools_config_json_are_read_as_images(tmp_path):
    save_pngs(tmp_path / "samples", np.zeros((3, 28, 28), dtype=np.uint8))
    (tmp_path / "samples" / "config.json").write_text('{"model": "stylegan2"}')
    result = invoke("evaluate", tmp_path / "samples", "--reference", "ring-8", "--out", tmp_path / "ev")
    assert result.exit_code == 2 and "holds images, but ring-8 holds vector data" in " ".join(result.stderr.split())
