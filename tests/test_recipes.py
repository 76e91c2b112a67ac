"""Recipes: listing, ``run --recipe`` with overrides, the recorded recipe, bad input, and the
report's published-versus-measured section."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torchvision
from typer.testing import CliRunner

from ganbench import config as cfg
from ganbench.cli import app
from ganbench.errors import UsageError
from ganbench.plugins import build_catalog
from ganbench.recipes import available_recipes, find_recipe
from ganbench.report.published import published_comparisons
from ganbench.report.runs import RunData
from ganbench.tables import comparison_labels

SHIPPED = {"mimicry-sngan-cifar10", "mimicry-wgan-gp-cifar10", "studiogan-dcgan-cifar10"}


def test_recipes_lists_the_shipped_recipes_with_figures_and_source():
    result = CliRunner().invoke(app, ["recipes", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) >= SHIPPED
    sngan = rows["mimicry-sngan-cifar10"]
    assert (sngan["variants"], sngan["arch"], sngan["datasets"], sngan["steps"]) == (
        ["hinge"], "resnet-sngan", ["cifar10"], 100_000)
    assert sngan["published"]["figures"]["fid"] == {"value": 16.77, "spread": 0.04}
    assert "Mimicry" in sngan["published"]["source"]
    assert rows["studiogan-dcgan-cifar10"]["published"]["figures"]["fid"] == {"value": 49.03}
    text = CliRunner().invoke(app, ["recipes"]).stdout
    assert "mimicry-wgan-gp-cifar10" in text and "fid 22.29 ± 0.06" in text


def test_every_shipped_recipe_resolves_to_its_published_setup():
    """Each recipe loads like a --config file and names installed plugins; its settings match its
    published protocol (steps, batch, n_critic, sample counts, pipeline)."""
    catalog = build_catalog()
    for recipe in available_recipes():
        sweep = cfg.SweepConfig()
        cfg.load_config_file(recipe.path, sweep, catalog)
        published = sweep.recipe["published"]
        assert sweep.recipe["name"] == recipe.name
        assert (sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples, sweep.train.fid_pipeline) == (
            published["steps"], published["batch_size"], published["generated_samples"], published["feature_pipeline"])
        [variant] = sweep.variants
        assert sweep.variant_params[variant]["n_critic"] == published["n_critic"]
        catalog.architectures.get(sweep.train.arch)
        assert set(published["figures"]) <= {"fid", "is", "kid"}


def test_unknown_recipe_exits_2_suggesting_the_nearest():
    result = CliRunner().invoke(app, ["run", "--recipe", "mimicry-sngan"])
    assert result.exit_code == 2
    assert "unknown recipe 'mimicry-sngan'; did you mean 'mimicry-sngan-cifar10'? Available: " in result.output
    assert "See `ganbench recipes`." in result.output
    assert "Traceback" not in result.output
    with pytest.raises(UsageError, match="Available: "):
        find_recipe("zzz")


@pytest.mark.parametrize(("published", "message"), [
    ('[published]\nsteps = 10\n[published.figures]\nfid = 1.0\n', "needs source"),
    ('[published]\nsource = "x"\n', "at least one figure"),
    ('[published]\nsource = "x"\n[published.figures]\nfid = "low"\n', "must be a number"),
    ('[published]\nsource = "x"\nstep = 5\n[published.figures]\nfid = 1.0\n', "did you mean 'steps'"),
])
def test_a_bad_published_block_is_a_usage_error(tmp_path, published, message):
    path = tmp_path / "mine.toml"
    path.write_text('variants = ["vanilla"]\n' + published, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        cfg.load_config_file(path, cfg.SweepConfig(), build_catalog())


def write_fake_cifar10(root: Path, per_batch: int = 6) -> None:
    """A tiny ``cifar-10-batches-py`` in torchvision's pickle format (random 32×32×3 images)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8),
                 "labels": [int(label) for label in rng.integers(0, 10, per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """``run --recipe mimicry-wgan-gp-cifar10 --data-root DIR`` with a tiny fake CIFAR-10 in DIR
    (torchvision's checksums, which it cannot match, switched off), overridden to a few steps."""
    folder = tmp_path_factory.mktemp("recipe")
    write_fake_cifar10(folder / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
        result = CliRunner().invoke(app, [
            "run", "--recipe", "mimicry-wgan-gp-cifar10", "--data-root", str(folder / "data"), "--arch", "dcgan",
            "--steps", "2", "--batch-size", "4", "--eval-samples", "8", "--metrics", "volatility",
            "--set", "wgan-gp.lambda_gp=5", "--set", "wgan-gp.n_critic=1", "--quiet", "--out", str(folder / "results"),
        ])
    assert result.exit_code == 0, result.output
    [config_file] = (folder / "results" / "default").glob("*/config.json")
    return folder, json.loads(config_file.read_text())


def test_recipe_run_takes_overrides_and_records_the_recipe_outside_the_digest(recipe_run):
    _, record = recipe_run
    config = record["config"]
    assert config["dataset"] == "cifar10" and record["data_root"].endswith("data")
    # command-line options win over the recipe; the rest is the recipe's
    assert (config["arch"], config["steps"], config["batch_size"], config["eval_samples"]) == ("dcgan", 2, 4, 8)
    assert (config["variant_params"]["lambda_gp"], config["variant_params"]["n_critic"]) == (5.0, 1)
    assert {k: config["variant_params"][k] for k in ("lr_g", "lr_d", "beta1", "beta2")} == {
        "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9}
    assert config["latent_dim"] == 128 and config["fid_pipeline"] == "tf"
    assert config["recipe"]["name"] == "mimicry-wgan-gp-cifar10"
    assert config["recipe"]["published"]["figures"]["fid"] == {"value": 22.29, "spread": 0.06}
    run = cfg.RunConfig.from_dict(config)
    assert run.digest() == record["digest"] == dataclasses.replace(run, recipe=None).digest()
    # reproduce's reading of the record keeps the recipe, and checks it
    assert cfg.recorded_run_config(config, build_catalog(), "config.json").recipe == config["recipe"]
    broken = {**config, "recipe": {"name": "x", "published": {"figures": {"fid": 1.0}}}}
    with pytest.raises(UsageError, match="needs source"):
        cfg.recorded_run_config(broken, build_catalog(), "config.json")


def test_report_shows_published_beside_measured_with_protocol_differences(recipe_run):
    folder, _ = recipe_run
    result = CliRunner().invoke(app, ["report", str(folder / "results"), "-o", str(folder / "report")])
    assert result.exit_code == 0, result.output
    markdown = (folder / "report" / "report.md").read_text()
    assert "### Published figures: mimicry-wgan-gp-cifar10 (wgan-gp)" in markdown
    assert "| FID | 22.29 ± 0.06 | not measured | 0 |" in markdown
    assert "- generator steps: here 2, published 100,000" in markdown
    assert "- batch size: here 4, published 64" in markdown
    assert "- generated samples per metric: here 8, published 50,000" in markdown
    assert "- critic steps per generator step: here 1, published 5" in markdown
    assert "Inception input pipeline" not in markdown  # tf, as published: no line
    html = (folder / "report" / "report.html").read_text()
    assert "Published figures: mimicry-wgan-gp-cifar10 (wgan-gp)" in html and "<td>22.29 ± 0.06</td>" in html
    assert '<a href="https://github.com/kwotsin/mimicry/blob/' in html


def _run(tmp_path: Path, seed: int, fid: float, recipe: dict | None) -> RunData:
    config = {"variant": "hinge", "dataset": "cifar10", "seed": seed, "steps": 500, "batch_size": 64,
              "eval_samples": 5000, "fid_pipeline": "pytorch-fid", "variant_params": {"n_critic": 5},
              "recipe": recipe}
    details = {"fid": {"generated_samples": 5000, "real_samples": 5000, "real_split": "train"}}
    summary = {"variant": "hinge", "dataset": "cifar10", "seed": seed, "status": "finished",
               "metrics": {"fid": fid}, "metric_details": details}
    return RunData(tmp_path / f"run{seed}", {"config": config}, summary, None, None)


def test_published_comparison_is_derived_from_recorded_config_and_details(tmp_path):
    published = {"source": "a table", "steps": 100_000, "batch_size": 64, "n_critic": 5,
                 "generated_samples": 50_000, "real_samples": 10_000, "reference_split": "test",
                 "feature_pipeline": "tf", "notes": ["lr decay not reproduced"],
                 "figures": {"fid": {"value": 16.77, "spread": 0.04}, "is": {"value": 7.97}}}
    recipe = {"name": "mine", "published": published}
    runs = [_run(tmp_path, 0, 30.0, recipe), _run(tmp_path, 1, 40.0, recipe), _run(tmp_path, 2, 10.0, None)]
    [comparison] = published_comparisons(runs, {})
    assert (comparison["recipe"], comparison["variant"], comparison["source"]) == ("mine", "hinge", "a table")
    assert not comparison["link"]  # no url: nothing to link
    assert comparison["rows"] == [
        {"figure": "fid", "published": "16.77 ± 0.04", "measured": "35 (seeds: 30 to 40)", "seeds": 2},
        {"figure": "is", "published": "7.97", "measured": "not measured", "seeds": 0},
    ]
    assert comparison["differences"] == [
        "generator steps: here 500, published 100,000",
        "generated samples per metric: here 5,000, published 50,000",
        "real samples per metric: here 5,000, published 10,000",
        "real-data split: here train, published test",
        "Inception input pipeline: here pytorch-fid, published tf",
        "seeds (training runs): here 2; not stated by the source",
        "lr decay not reproduced",
    ]
    hostile = {"name": "mine", "published": {**published, "url": "javascript:alert(1)"}}
    [comparison] = published_comparisons([_run(tmp_path, 0, 30.0, hostile)], {})
    assert comparison["url"] == "javascript:alert(1)" and not comparison["link"]  # shown, never linked
    # a recipe run and a plain run of the same settings are compared as one configuration
    labels = comparison_labels({r.run_dir: r.config["config"] for r in runs})
    assert set(labels.values()) == {"hinge"}
