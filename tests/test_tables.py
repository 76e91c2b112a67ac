"""Comparison labels: runs of one variant with different recipes are never averaged as seeds."""

from __future__ import annotations

from ganbench import config as cfg
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.report.runs import load_runs
from ganbench.runner import run_sweep
from ganbench.tables import comparison_labels, comparison_tables, load_results


def test_labels_name_only_the_settings_that_differ(tmp_path):
    base = {"variant": "wgan-gp", "dataset": "ring-8", "arch": "mlp", "steps": 100, "seed": 0,
            "metrics": ["volatility"], "variant_params": {"lambda_gp": 10.0, "n_critic": 5}}
    configs = {
        tmp_path / "a": base,
        tmp_path / "b": {**base, "seed": 1, "metrics": ["volatility", "w1"]},  # same recipe
        tmp_path / "c": {**base, "variant_params": {"lambda_gp": 5.0, "n_critic": 5}},
        tmp_path / "d": {**base, "variant": "vanilla", "variant_params": {}},
        tmp_path / "e": {**base, "dataset": "grid-25", "steps": 300},  # alone on its data set
    }
    labels = comparison_labels(configs)
    assert labels[tmp_path / "a"] == labels[tmp_path / "b"] == "wgan-gp [lambda_gp=10.0]"
    assert labels[tmp_path / "c"] == "wgan-gp [lambda_gp=5.0]"
    assert labels[tmp_path / "d"] == "vanilla" and labels[tmp_path / "e"] == "wgan-gp"


def test_two_sweeps_with_different_settings_stay_apart_in_tables_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path / "cache"))
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    for name, steps in (("short", 10), ("long", 20)):
        sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0, 1], metrics=["volatility"])
        sweep.train.steps, sweep.train.eval_samples, sweep.train.device = steps, 200, "cpu"
        run_sweep(cfg.resolve_runs(sweep, catalog), catalog, tmp_path / "results" / name, quiet=True)

    long = load_results(tmp_path / "results")
    assert sorted(long["variant"].unique()) == ["vanilla [steps=10]", "vanilla [steps=20]"]
    table = comparison_tables(long, catalog)["ring-8"]
    assert list(table.index) == ["vanilla [steps=10]", "vanilla [steps=20]"]
    assert list(table[("seeds", "count")]) == [2, 2]  # two seeds each, not four of one "vanilla"
    assert sorted({run.variant for run in load_runs(tmp_path / "results")}) == [
        "vanilla [steps=10]", "vanilla [steps=20]"]


def test_names_from_results_cannot_break_markdown_or_latex_tables(tmp_path, monkeypatch):
    """An evaluation's free-text --name reaches every table: no `|`, HTML or LaTeX specials get through raw."""
    from ganbench.evaluation import EvaluationSettings, evaluate_samples
    from ganbench.tables import render

    (tmp_path / "gens.py").write_text("from torch import nn\ndef ring():\n    return nn.Linear(8, 2)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    evaluate_samples("gens:ring", "ring-8", catalog, tmp_path / "results", EvaluationSettings(
        name="<script>x</script> | my_gan 100%", latent_dim=8, eval_samples=50, metrics=["mode-coverage"],
        device="cpu"))
    tables = comparison_tables(load_results(tmp_path / "results"), catalog)
    markdown = render(tables, "md", catalog)
    row = next(line for line in markdown.splitlines() if "my_gan" in line)
    assert row.startswith("| &lt;script&gt;x&lt;/script&gt; \\| my_gan 100% (evaluated) |")
    header = next(line for line in markdown.splitlines() if line.startswith("| variant") and "modes" in line)
    assert row.count(" | ") == header.count(" | "), "as many cells as the header"
    assert "<script>" not in markdown
    latex = render(tables, "latex", catalog)
    assert r"| my\_gan 100\% (evaluated) &" in latex
