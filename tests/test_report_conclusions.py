"""What tables and reports conclude: only what the measurements and the metrics' declarations support.

The results folders here are written by hand (config.json and metrics.json of made-up runs),
so each test controls every figure and takes no training time.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

import ganbench
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.report import build_report
from ganbench.storage import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, REQUIRED_FILES, record_files, write_json
from ganbench.tables import comparison_tables, load_results, markdown

ENVIRONMENT = {"ganbench": "0.1.0", "device_name": "x86_64", "torch_threads": 2, "torch": "2.11"}


class Sharpness(ganbench.Metric):
    """A plugin metric: one headline value, one ranked value that is not a headline."""

    name = "test-sharpness"
    higher_is_better = {"sharpness": True, "blur": False}
    labels = {"sharpness": "sharpness score", "blur": "blur score"}
    headline = frozenset({"sharpness"})

    def compute(self, context):
        raise NotImplementedError  # never run: the results are written by the tests


class SharpnessPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(Sharpness)


@pytest.fixture(scope="module")
def catalog():
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(SharpnessPlugin, name="sharpness-plugin")
    return build_catalog(pm)


def write_run(root: Path, variant: str, seed: int, *, timings: dict | None = None, metrics: dict | None = None,
              environment: dict | None = None, sweep: str = "sweep", command: list[str] | None = None) -> None:
    run_id = f"{variant}_ring-8_seed{seed}_{sweep}"
    run_dir = root / sweep / run_id
    config = {"variant": variant, "dataset": "ring-8", "seed": seed, "arch": "mlp", "steps": 10,
              "batch_size": 32, "latent_dim": 4, "device": "cpu", "variant_params": {}}
    write_json(run_dir / CONFIG_FILE, {"run_id": run_id, "digest": f"{seed:016d}", "config": config,
                                       "environment": {**ENVIRONMENT, **(environment or {})},
                                       "command": command or ["ganbench", "run"]})
    base_timings = {"steps_per_s": 10.0 + seed, "wall_clock_s": 5.0, "cpu_time_s": 9.0,
                    "setup_time_s": 0.0, "penalty_time_s": None, "gp_share": None}
    for name in REQUIRED_FILES:  # a finished run has its history and weights (placeholders here)
        (run_dir / name).write_text("step,g_loss,d_loss\n0,1.0,1.0\n1,0.9,1.1\n" if name == HISTORY_FILE else "weights\n")
    write_json(run_dir / METRICS_FILE, {
        "run_id": run_id, "status": "finished", "variant": variant, "dataset": "ring-8", "seed": seed,
        "timings": {**base_timings, **(timings or {})}, "metrics": metrics or {}, "metric_errors": {},
        "files": record_files(run_dir),
    })


def report_markdown(results: Path, out: Path, catalog) -> str:
    files = build_report(results, out, catalog, generated_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return files.markdown.read_text()


def section(markdown_text: str, heading: str) -> str:
    """The text of ``### heading`` up to the next heading."""
    start = markdown_text.index(f"### {heading}\n")
    end = markdown_text.find("\n### ", start + 1)
    return markdown_text[start:end if end >= 0 else None]


def test_a_plugin_headline_metric_is_concluded_on_like_a_built_in(tmp_path, catalog):
    for seed in (0, 1, 2):
        write_run(tmp_path, "vanilla", seed, metrics={"sharpness": 1.0 + 0.1 * seed, "blur": 5.0 + seed})
        write_run(tmp_path, "wgan", seed, metrics={"sharpness": 3.0 + 0.1 * seed, "blur": 2.0 + seed})
    text = report_markdown(tmp_path, tmp_path / "report", catalog)
    claims = section(text, "What this sweep says")
    assert ("Best sharpness score (higher is better): wgan (3.1; others: vanilla 1.1) "
            "(significantly better than every other variant, Welch p &lt; 0.05).") in claims  # Markdown-escaped
    assert "blur score" not in claims  # ranked, but not declared a headline
    rows = {line.split("|")[1].strip(): line for line in section(text, "quality").splitlines()
            if line.startswith("| vanilla") or line.startswith("| wgan")}
    # the best marks follow the declared directions: higher sharpness, lower blur
    assert "| **3.1 \\[" in rows["wgan"] and "| **3 \\[" in rows["wgan"] and "**" not in rows["vanilla"]
    assert "sharpness score" in section(text, "Pairwise tests")


def test_ties_are_ties_and_a_figure_that_does_not_apply_is_never_best(tmp_path, catalog):
    for variant, sharp in (("vanilla", 2.0), ("wgan", 2.0), ("wgan-gp", 1.0)):
        write_run(tmp_path, variant, 0, metrics={"sharpness": sharp, "blur": 1.0},
                  timings={"penalty_time_s": 0.4 if variant == "wgan-gp" else None,
                           "steps_per_s": 10.0 if variant != "wgan-gp" else 5.0})
    text = report_markdown(tmp_path, tmp_path / "report", catalog)
    claims = section(text, "What this sweep says")
    assert "Tied for best sharpness score (higher is better): vanilla and wgan (2; others: wgan-gp 1)." in claims
    assert "Tied for best steps/s (higher is better): vanilla and wgan (10; others: wgan-gp 5)." in claims
    assert "No difference in" not in claims  # blur is no headline
    quality = section(text, "quality")
    assert "| vanilla | 1 | **2 #1 (tie)** | 1 #1 (tie) |" in quality  # every blur equal: none is best
    cost = section(text, "cost")
    vanilla_row = next(line for line in cost.splitlines() if line.startswith("| vanilla |"))
    header = next(line for line in cost.splitlines() if line.startswith("| variant |"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in vanilla_row.split("|")]))
    assert cells["penalty time (s) ↓"] == "n/a"  # does not apply to vanilla: n/a, not best
    assert cells["CPU time, all threads (s) ↓"].startswith("9")  # cpu_time_s: cost, with its label
    assert "cpu_time_s" not in text


def test_cost_is_not_compared_across_measurement_conditions(tmp_path, catalog):
    write_run(tmp_path, "vanilla", 0, timings={"steps_per_s": 90.0})
    write_run(tmp_path, "wgan", 0, timings={"steps_per_s": 30.0}, environment={"torch_threads": 1})
    text = report_markdown(tmp_path, tmp_path / "report", catalog)
    cost = section(text, "cost")
    assert "**Not comparable:** The cost figures come from runs measured under 2 different conditions" in cost
    assert "vanilla on cpu (x86_64), 2 thread(s), ganbench 0.1.0" in cost
    assert "**" not in cost.split("| variant |")[1] and "#1" not in cost  # no best marks, no ranks
    claims = section(text, "What this sweep says")
    assert "No cost conclusion:" in claims and "Best steps/s" not in claims
    table = markdown("ring-8", comparison_tables(load_results(tmp_path), catalog)["ring-8"], catalog)
    assert "Note: The cost figures come from runs measured under 2 different conditions" in table

    same = tmp_path / "same"
    write_run(same, "vanilla", 0, timings={"steps_per_s": 90.0})
    write_run(same, "wgan", 0, timings={"steps_per_s": 30.0})
    text = report_markdown(same, tmp_path / "report-same", catalog)
    assert "Not comparable" not in text
    assert "Best steps/s (higher is better): vanilla (90; others: wgan 30)" in section(text, "What this sweep says")


def test_pairwise_tests_with_one_seed_are_one_line(tmp_path, catalog):
    for variant in ("vanilla", "wgan", "wgan-gp"):
        write_run(tmp_path, variant, 0, metrics={"sharpness": 1.0, "blur": 2.0})
    pairwise = section(report_markdown(tmp_path, tmp_path / "report", catalog), "Pairwise tests")
    assert "No pair of variants could be tested: a test needs at least 2 seeds per variant" in pairwise
    assert "| value | A | B |" not in pairwise and "too few seeds" not in pairwise
    assert len([line for line in pairwise.splitlines() if line.strip()]) == 2  # the heading and the line


def test_value_declarations_come_from_the_metric():
    info = Sharpness.value_info()
    assert info["sharpness"].headline and info["sharpness"].higher_is_better is True
    assert not info["blur"].headline and info["blur"].label == "blur score"
    assert info["blur"].section == "quality" and len(info) == 2


def test_the_example_plugins_metric_appears_in_the_conclusions(tmp_path):
    # this checkout's file, whichever copy of the example package is installed
    path = Path(__file__).parent.parent / "plugins/ganbench-example/ganbench_example/sliced_wasserstein.py"
    spec = importlib.util.spec_from_file_location("sliced_wasserstein_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class ExamplePlugin:
        @staticmethod
        @ganbench.hookimpl
        def register_metrics(register):
            register(module.SlicedWasserstein)

    pm = create_plugin_manager(load_entry_points=False)
    pm.register(ExamplePlugin, name="example")
    catalog = build_catalog(pm)
    for seed in (0, 1, 2):
        write_run(tmp_path, "wgan-lp", seed, metrics={"sliced_w1": 0.20 + 0.01 * seed})
        write_run(tmp_path, "wgan-gp", seed, metrics={"sliced_w1": 0.50 + 0.01 * seed})
    text = report_markdown(tmp_path, tmp_path / "report", catalog)
    assert ("Best sliced W1 (lower is better): wgan-lp (0.21; others: wgan-gp 0.51) "
            "(significantly better than every other variant, Welch p &lt; 0.05).") in section(text, "What this sweep says")


def test_the_commands_shown_are_shell_quoted_so_they_run_again(tmp_path, catalog):
    command = ["ganbench", "run", "--datasets", "folder:my faces", "--out", "a|b<c"]
    write_run(tmp_path, "vanilla", 0, command=command)
    text = report_markdown(tmp_path, tmp_path / "report", catalog)
    assert "\nganbench run --datasets 'folder:my faces' --out 'a|b<c'\n" in text
    html = (tmp_path / "report" / "report.html").read_text()
    assert "ganbench run --datasets &#39;folder:my faces&#39; --out &#39;a|b&lt;c&#39;" in html
