"""``ganbench search``: spaces on Params fields, Optuna trials as runs, the record, the report section."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ganbench
from ganbench.cli import app
from ganbench.errors import UsageError
from ganbench.plugins import get_plugin_manager
from ganbench.report import build_report
from ganbench.report.search import best_so_far_curve
from ganbench.spaces import Choice, IntRange, LogUniform, Uniform, declared_spaces, parse_space, searched
from ganbench.variants.wgan_gp import WGANGPParams

# gaussian-1d runs take a fraction of a second at these sizes (one torch thread: the test machine is
# shared); w1 is their objective (lower is better)
TINY = ("--datasets", "gaussian-1d", "--steps", "10", "--eval-samples", "200", "--batch-size", "64",
        "--cpus-per-run", "1", "--quiet")
ONE_CRITIC_STEP = ("--set", "vanilla.n_critic=1", "--set", "hinge.n_critic=1")  # fixed: out of the space


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def read_record(folder):
    return json.loads((folder / "search.json").read_text())


@dataclass
class SearchedParams(ganbench.VariantParams):
    lr_g: float = searched(2e-4, LogUniform(1e-4, 1e-3))
    n_critic: int = searched(1, Choice(1, 2))
    margin: float = searched(0.5, Uniform(0.1, 0.9))


class SearchedVariant(ganbench.Variant):
    """A plugin's variant that declares its own search space."""

    name = "test-searched"
    description = "Least-squares losses with a declared search space (test)."
    Params = SearchedParams

    def discriminator_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores**2).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - 1) ** 2).mean()


class SearchPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        register(SearchedVariant)


@pytest.fixture
def search_plugin():
    pm = get_plugin_manager()
    pm.register(SearchPlugin, name="search-test-plugin")
    try:
        yield
    finally:
        pm.unregister(name="search-test-plugin")


def test_a_search_of_two_variants_runs_resumes_and_reports(tmp_path):
    out = tmp_path / "results"
    args = ("search", "--variants", "vanilla,hinge", "--budget", "8", "--objective", "w1", "--sampler", "random",
            "--seed", "3", "--final-seeds", "2", "--out", str(out), *TINY, *ONE_CRITIC_STEP)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    folder = out / "search"
    record = read_record(folder)
    assert (record["sampler"], record["seed"], record["budget"], record["direction"]) == ("random", 3, 8, "minimize")
    for study in record["studies"]:
        trials = study["trials"]
        assert len(trials) == 8 and len({t["run_id"] for t in trials}) == 8  # eight distinct configurations
        space = {name: parse_space(text) for name, text in study["space"].items()}
        assert set(space) == {"lr_g", "lr_d", "beta1"}  # n_critic is fixed by --set
        assert all(space[k].contains(v) for t in trials for k, v in t["params"].items())
        valued = [t for t in trials if t["value"] is not None]
        assert study["best"] == min(valued, key=lambda t: t["value"])
        assert study["diverged_share"] == sum(t["status"] == "diverged" for t in trials) / 8
        assert all((folder / "trials" / t["run_id"] / "metrics.json").is_file() for t in trials)
        finals = study["final_run_ids"]
        assert [run_id.split("_")[2] for run_id in finals] == ["seed4", "seed5"]  # fresh seeds
        assert all((folder / "final" / run_id / "metrics.json").is_file() for run_id in finals)
        best_params = json.loads((folder / "trials" / study["best"]["run_id"] / "config.json").read_text())
        final_params = json.loads((folder / "final" / finals[0] / "config.json").read_text())
        assert final_params["config"]["variant_params"] == best_params["config"]["variant_params"]
    assert "Comparison of the best configurations re-run with 2 fresh seed(s)" in result.stdout
    assert "| vanilla " in result.stdout and "| hinge " in result.stdout

    # the same command again: every run is skipped, and the same record comes out
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("*/*/metrics.json")}
    assert invoke(*args).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*/*/metrics.json")} == stamps
    assert read_record(folder)["studies"] == record["studies"]

    files = build_report(folder, tmp_path / "report", ganbench.plugins.build_catalog())
    markdown = files.markdown.read_text()
    assert "## Search at equal budgets" in markdown and "Pruning: none" in markdown
    assert (tmp_path / "report" / "images" / "search-gaussian-1d.png").stat().st_size > 1000
    assert "seeds | 4, 5" in markdown  # the comparison ranks the final runs, not the trials


def test_the_same_command_and_seed_draw_the_same_configurations(tmp_path):
    def search(folder, seed):
        result = invoke("search", "--variants", "hinge", "--budget", "4", "--objective", "w1", "--sampler", "tpe",
                        "--seed", str(seed), "--out", str(tmp_path / folder), *TINY, "--set", "hinge.n_critic=1")
        assert result.exit_code == 0, result.output
        return [(t["params"], t["value"]) for t in read_record(tmp_path / folder / "search")["studies"][0]["trials"]]

    first = search("a", 0)
    assert search("b", 0) == first
    assert [params for params, _ in search("c", 1)] != [params for params, _ in first]


def test_a_variant_without_a_space_runs_once_with_its_defaults(tmp_path, test_plugin):
    result = invoke("search", "--variants", "test-lsq", "--budget", "3", "--objective", "w1",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    assert "variant test-lsq has no search space" in result.output
    [study] = read_record(tmp_path / "search")["studies"]
    assert study["no_space"] and study["space"] == {} and len(study["trials"]) == 1
    assert study["trials"][0]["params"] == {}


def test_set_fixes_a_field_and_space_replaces_one(tmp_path):
    config = tmp_path / "search.toml"
    config.write_text('[search.wgan-gp]\nlambda_gp = "uniform(1, 2)"\n')
    result = invoke("search", "--variants", "wgan-gp", "--budget", "2", "--objective", "w1", "--sampler", "random",
                    "--config", str(config), "--set", "wgan-gp.n_critic=1", "--space", "wgan-gp.lr_g=choice(0.001, 0.002)",
                    "--set", "train.steps=3",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    [study] = read_record(tmp_path / "search")["studies"]
    assert study["space"]["lambda_gp"] == "uniform(1, 2)" and study["space"]["lr_g"] == "choice(0.001, 0.002)"
    assert "n_critic" not in study["space"]
    for trial in study["trials"]:
        assert 1 <= trial["params"]["lambda_gp"] <= 2 and trial["params"]["lr_g"] in (0.001, 0.002)
        config_json = json.loads((tmp_path / "search" / "trials" / trial["run_id"] / "config.json").read_text())
        assert config_json["config"]["variant_params"]["n_critic"] == 1


@pytest.mark.parametrize("pruner", ["median", "asha"])
def test_pruning_stops_weak_trials_early_and_is_stated(tmp_path, pruner):
    args = ("search", "--variants", "vanilla", "--budget", "6", "--objective", "w1", "--sampler", "random",
            "--eval-every", "5", "--pruner", pruner, "--out", str(tmp_path), *TINY, "--steps", "30",
            "--set", "vanilla.n_critic=1")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "search"
    record = read_record(folder)
    [study] = record["studies"]
    pruned = [t for t in study["trials"] if t["status"] == "pruned"]
    assert pruned and record["pruner"] == {"name": pruner, "every": 5, "value": "w1", "pruned": len(pruned)}
    for trial in pruned:  # stopped at an evaluation, recorded as done, never the best
        history = pd.read_csv(folder / "trials" / trial["run_id"] / "history.csv")
        assert len(history) == trial["steps"] < 30 and trial["value"] is None
        assert json.loads((folder / "trials" / trial["run_id"] / "metrics.json").read_text())["status"] == "pruned"
    assert study["best"]["status"] == "finished"
    assert invoke(*args).exit_code == 0 and read_record(folder)["studies"] == record["studies"]  # resumable
    markdown = build_report(folder, tmp_path / "report", ganbench.plugins.build_catalog()).markdown.read_text()
    assert f"Pruning: {pruner} pruning on w1 every 5 steps: {len(pruned)} trial(s) stopped early" in markdown


@pytest.mark.parametrize(("extra", "message"), [
    (("--objective", "fid"), "--objective 'fid' is reported by no metric"),
    (("--objective", "w1", "--budget", "0"), "--budget must be at least 1"),
    (("--objective", "w1", "--sampler", "grid"), "unknown sampler 'grid'"),
    (("--objective", "w1", "--space", "wgan-gp.lr_g=loguniform(1e-3, 1e-5)"), "is empty: low must be below high"),
    (("--objective", "w1", "--space", "wgan-gp.lr_g=loguniform(0, 1)"), "needs a positive low end"),
    (("--objective", "w1", "--space", "wgan-gp.n_critic=choice(3)"), "needs at least two values"),
    (("--objective", "w1", "--space", "wgan-gp.n_critic=uniform(1, 5)"), "n_critic is an integer"),
    (("--objective", "w1", "--space", "wgan-gp.lr_g=normal(0, 1)"), "cannot read 'normal(0, 1)' as a search space"),
    (("--objective", "w1", "--space", "wgan-gp.lambda=uniform(1, 2)"), "has no hyperparameter 'lambda'"),
    (("--objective", "w1", "--space", "vanilla.lr_g=uniform(1, 2)"), "variant 'vanilla', which is not searched"),
    (("--objective", "w1", "--pruner", "median"), "--pruner needs --eval-every N"),
    (("--objective", "w1", "--pruner", "hyperband", "--eval-every", "5"), "unknown pruner 'hyperband'"),
    (("--objective", "g_roughness", "--pruner", "asha", "--eval-every", "5"), "metric 'volatility' is computed only at the end"),
])
def test_bad_inputs_exit_2_with_one_clear_line_before_any_run(tmp_path, extra, message):
    args = ["search", "--variants", "wgan-gp", "--out", str(tmp_path), *TINY, *extra]
    if "--budget" not in extra:
        args += ["--budget", "2"]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "search").exists()  # nothing is made: not even the sweep folder


def test_a_search_is_checked_once(tmp_path, monkeypatch):
    """The CLI checks the search before making its folder, and runs what it checked (resolving
    every run and space again would double the start-up of a large search)."""
    import ganbench.search

    checks = []
    real_check = ganbench.search.check_search

    def counted_check(*args, **kwargs):
        checks.append(args)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(ganbench.search, "check_search", counted_check)
    result = invoke("search", "--variants", "vanilla", "--budget", "1", "--objective", "w1", "--out", str(tmp_path),
                    *TINY, "--set", "vanilla.n_critic=1")
    assert result.exit_code == 0, result.output
    assert len(checks) == 1
    assert len(read_record(tmp_path / "search")["studies"][0]["trials"]) == 1


def test_spaces_are_declared_on_fields_inherited_and_listed(search_plugin):
    assert str(declared_spaces(WGANGPParams)["lambda_gp"]) == "loguniform(0.1, 100)"

    @dataclass
    class NewDefault(SearchedParams):
        lr_g: float = 5e-4  # a new default keeps the parent's space
        margin: float = searched(0.5, None)  # taken out of the search

    assert declared_spaces(NewDefault) == {"lr_g": LogUniform(1e-4, 1e-3), "n_critic": Choice(1, 2)}
    result = invoke("list", "variants", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["variants"]}
    assert rows["test-searched"]["search_space"] == {"lr_g": "loguniform(0.0001, 0.001)", "n_critic": "choice(1, 2)",
                                                     "margin": "uniform(0.1, 0.9)"}
    assert rows["ragan"]["search_space"] == {}
    assert "search space" in invoke("list", "variants").stdout


def test_a_plugin_variant_is_searched_in_its_declared_space(tmp_path, search_plugin):
    result = invoke("search", "--variants", "test-searched", "--budget", "3", "--objective", "w1", "--sampler", "qmc",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    [study] = read_record(tmp_path / "search")["studies"]
    assert len(study["trials"]) == 3
    assert {t["params"]["n_critic"] for t in study["trials"]} <= {1, 2}
    assert all(0.1 <= t["params"]["margin"] <= 0.9 for t in study["trials"])


def test_space_text_round_trips_and_bad_text_is_refused():
    for space in (LogUniform(1e-5, 1e-2), Uniform(0.0, 0.99), IntRange(1, 5), IntRange(1, 8, log=True),
                  Choice(1, 2, 5), Choice("adam", "rmsprop")):
        assert parse_space(str(space)) == space
    with pytest.raises(UsageError, match="lists a value twice"):
        parse_space("choice(1, 1)")


def test_best_so_far_curve_is_monotone_and_its_interval_holds_the_mean():
    values = [0.9, 0.4, None, 0.7, 0.1, 0.5, math.nan, 0.3]  # two trials without a value (diverged)
    curve = best_so_far_curve(values, higher_is_better=False)
    assert list(curve["budget"]) == list(range(1, 9))
    assert (np.diff(curve["mean"]) <= 1e-12).all()  # more budget never does worse
    assert ((curve["low"] <= curve["mean"]) & (curve["mean"] <= curve["high"])).all()
    assert curve["mean"].iloc[-1] == pytest.approx(0.1) and curve["reached"].iloc[-1] == 1.0
    assert curve["mean"].iloc[0] == pytest.approx(np.mean([0.9, 0.4, 0.7, 0.1, 0.5, 0.3]), abs=0.03)
    assert curve["reached"].iloc[0] == pytest.approx(6 / 8, abs=0.05)
    higher = best_so_far_curve([1.0, 3.0, 2.0], higher_is_better=True)
    assert (np.diff(higher["mean"]) >= -1e-12).all() and higher["mean"].iloc[-1] == 3.0
    assert best_so_far_curve(values, False).equals(curve)  # deterministic


def test_a_callback_that_returns_true_ends_the_loop_as_pruned():
    import torch

    from ganbench.training import run_loop

    def one_step(step):
        return torch.tensor([float(step), 1.0])

    calls = []
    outcome = run_loop(10, torch.device("cpu"), ["g_loss", "d_loss"], one_step,
                       callbacks=[(3, lambda step: calls.append(step) or step == 6)])
    assert outcome.status == "pruned" and outcome.diverged_at is None and calls == [3, 6]
    assert list(outcome.history["g_loss"]) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert run_loop(10, torch.device("cpu"), ["g_loss", "d_loss"], one_step,
                    callbacks=[(3, lambda step: None)]).status == "finished"
