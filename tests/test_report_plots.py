"""Report figures: which plots appear, deterministic PNG bytes, odd variant names, samples."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import ganbench
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.report.plots import Plot, dataset_plots, sample_images, smoothing_window, variant_colours
from ganbench.report.runs import RunData

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ODD = "odd$<b>_name"
VARIANTS = ("wgan-gp", "gan", ODD)  # ODD has no penalty
STEPS = 200


def tiny_png(path: Path, seed: int) -> None:
    fig = Figure(figsize=(1, 1), dpi=20)
    FigureCanvasAgg(fig)
    fig.subplots().scatter([0, seed], [1, 0])
    fig.savefig(path, format="png", metadata={"Software": None})


def make_run(root: Path, variant: str, seed: int, *, dataset: str = "toy", status: str = "finished",
             evaluations: bool = True, samples: bool = True) -> RunData:
    run_dir = root / f"{len(dataset)}-{VARIANTS.index(variant)}-{seed}"
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed + 10 * VARIANTS.index(variant))
    penalty = variant == "wgan-gp"
    history = pd.DataFrame({
        "step": range(STEPS),
        "g_loss": np.cumsum(rng.normal(size=STEPS)) * 0.1 + 1,
        "d_loss": rng.normal(size=STEPS) * (5 if penalty else 0.3),
    })
    if penalty:
        history["penalty"] = rng.random(STEPS)
    if status == "diverged":
        history.loc[STEPS - 1, ["g_loss", "d_loss"]] = [math.inf, math.nan]
    evals = None
    if evaluations:
        evals = pd.DataFrame({"step": [0, 100, STEPS], "fid": [300.0, 120.0 - seed, 60.0 + seed]})
    if samples:
        tiny_png(run_dir / "samples.png", seed)
    summary = {
        "run_id": run_dir.name, "variant": variant, "dataset": dataset, "seed": seed, "status": status,
        "timings": {
            "steps_per_s": 50.0 + seed, "train_time_s": 4.0 + seed, "critic_time_s": 2.0,
            "generator_time_s": 1.0, "penalty_time_s": 0.5 if penalty else 0.0, "eval_time_s": 1.0,
            "wall_clock_s": 6.0 + seed,
            "gp_share": 0.25 + 0.01 * seed if penalty else None,
            "gp_step_ratio": 1.3 if penalty else math.nan,
        },
        "metrics": {"g_std": 0.5 + seed, "d_std": 2.0, "g_std_late": 0.4, "d_std_late": 1.0,
                    "g_roughness": 0.9, "d_roughness": None if seed else 1.1, "fid": 60.0},
    }
    return RunData(run_dir, {}, summary, history, evals)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[RunData]:
    root = tmp_path_factory.mktemp("runs")
    return [make_run(root, v, s) for v in VARIANTS for s in (1, 0)]


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


@pytest.fixture(scope="module")
def plots(runs, catalog) -> list[Plot]:
    return dataset_plots(runs, "toy", catalog)


def names(plots: list[Plot]) -> list[str]:
    return [p.name for p in plots]


def test_all_plots_with_png_bytes(plots):
    assert names(plots) == ["losses-toy", "volatility-toy", "cost-toy", "over-training-toy"]
    for plot in plots:
        assert plot.png.startswith(PNG_SIGNATURE) and len(plot.png) > 1000
        assert plot.title and plot.caption
    assert "FID" in plots[-1].title


def test_same_input_gives_identical_bytes(runs, plots, catalog):
    assert [p.png for p in dataset_plots(runs, "toy", catalog)] == [p.png for p in plots]


def test_without_evaluations_no_over_training_plot(tmp_path):
    runs = [make_run(tmp_path, v, 0, evaluations=False) for v in VARIANTS]
    assert names(dataset_plots(runs, "toy")) == ["losses-toy", "volatility-toy", "cost-toy"]


def test_failed_run_is_ignored(tmp_path, runs, plots, catalog):
    failed = make_run(tmp_path / "failed", "gan", 7, status="failed")
    failed.summary["timings"] = {"wall_clock_s": 1e6}
    failed.history.loc[:, "g_loss"] = 1e9
    assert [p.png for p in dataset_plots(runs + [failed], "toy", catalog)] == [p.png for p in plots]
    assert dataset_plots([failed], "toy") == []


def test_diverged_run_and_missing_values_do_not_raise(tmp_path):
    runs = [make_run(tmp_path, "wgan-gp", 0, status="diverged"), make_run(tmp_path, ODD, 0)]
    runs[1].summary["metrics"] = {"g_std": None, "d_std": math.nan}
    runs[1].history = None
    plots = dataset_plots(runs, "toy")
    assert "losses-toy" in names(plots) and "cost-toy" in names(plots)


@pytest.mark.parametrize("variant", [r"$\frac{$", "_hidden", "a$b$c"])
def test_names_that_would_be_mathtext_or_hidden(tmp_path, variant):
    run = make_run(tmp_path, "gan", 0)
    run.summary["variant"] = variant
    assert len(dataset_plots([run], "toy")) == 4


def test_other_dataset_and_fallback_metric(tmp_path, runs, catalog):
    other = make_run(tmp_path / "other", "gan", 0, dataset="Ring 8/2D")
    other.evaluations = pd.DataFrame({"step": [10, 20], "high_quality": [0.1, 0.5], "modes_covered": [3, 8]})
    plots = dataset_plots(runs + [other], "Ring 8/2D", catalog)
    assert names(plots)[-1] == "over-training-ring-8-2d"
    assert "modes covered" in plots[-1].title  # the headline value, not the first column
    assert "high_quality" in dataset_plots([other], "Ring 8/2D")[-1].title  # nothing declared: the first
    assert dataset_plots(runs, "absent") == []


class Sharpness(ganbench.Metric):
    """A third-party metric that declares itself the headline measure of quality."""

    name = "test-sharpness"
    higher_is_better = {"sharpness": True}
    labels = {"sharpness": "sharpness"}
    headline = frozenset({"sharpness"})
    headline_priority = 100
    over_training = True


class SharpnessPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(Sharpness)


@pytest.mark.parametrize("priority, followed", [(100, "sharpness"), (0, "FID")])
def test_the_curve_over_training_follows_the_highest_declared_headline_priority(tmp_path, monkeypatch, priority,
                                                                                 followed):
    monkeypatch.setattr(Sharpness, "headline_priority", priority)
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(SharpnessPlugin, name="sharpness-plugin")
    catalog = build_catalog(pm)
    run = make_run(tmp_path, "gan", 0)
    run.evaluations = pd.DataFrame({"step": [10, 20], "sharpness": [0.2, 0.4], "fid": [90.0, 80.0]})
    [training] = [plot for plot in dataset_plots([run], "toy", catalog) if plot.name.startswith("over-training")]
    assert training.title == f"{followed} over training on toy"


def test_sample_images_lowest_seed_by_variant(tmp_path, runs):
    no_samples = make_run(tmp_path / "extra", "gan", -1, samples=False)
    images = sample_images(runs + [no_samples], "toy")
    assert [v for v, _ in images] == sorted(VARIANTS)
    by_variant = {r.variant: r for r in runs if r.seed == 0}
    for variant, png in images:
        assert png == (by_variant[variant].run_dir / "samples.png").read_bytes()
    assert sample_images(runs, "absent") == []


def test_colours_and_window():
    runs = [RunData(Path("."), {}, {"variant": v, "dataset": "d", "seed": 0, "status": "finished"}, None, None)
            for v in ("b", "a", "c")]
    assert list(variant_colours(runs)) == ["a", "b", "c"]
    assert variant_colours(runs)["a"] == variant_colours(runs[:2])["a"]
    assert smoothing_window(10) == 1 and smoothing_window(1000) == 20
