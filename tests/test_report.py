"""`ganbench report`: sections, statistics, determinism, escaping, and rendering in Chromium."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ganbench
from ganbench import config as cfg
from ganbench.cli import app
from ganbench.plugins import build_catalog, get_plugin_manager
from ganbench.report import build_report
from ganbench.report.statistics import confidence_interval, pairwise_tests, seed_warning, summarise
from ganbench.runner import run_sweep


class HostileLabel(ganbench.Metric):
    """A plugin metric whose label and error message contain HTML."""

    name = "test-hostile"
    description = "<script>alert('description')</script>"
    requires = frozenset({"samples"})
    higher_is_better = {"hostile": True}
    labels = {"hostile": "<script>alert('label')</script>"}

    def compute(self, context):
        if context.seed == 1:
            raise RuntimeError("<b>broken</b> on purpose")
        return {"hostile": float(context.seed)}


class HostilePlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(HostileLabel)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A tiny ring-8 sweep: three variants, two seeds, with metrics over training."""
    pm = get_plugin_manager()
    pm.register(HostilePlugin, name="hostile-plugin")
    try:
        catalog = build_catalog(pm)
        sweep = cfg.SweepConfig(variants=["vanilla", "wgan", "wgan-gp"], datasets=["ring-8"], seeds=[0, 1])
        sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 40, 32, 400
        sweep.train.eval_every = 20
        folder = tmp_path_factory.mktemp("results") / "tiny"
        with pytest.warns(UserWarning, match="broken"):
            run_sweep(cfg.resolve_runs(sweep, catalog), catalog, folder, quiet=True)
        yield folder, catalog
    finally:
        pm.unregister(name="hostile-plugin")


@pytest.fixture(scope="module")
def report(sweep_dir, tmp_path_factory):
    folder, catalog = sweep_dir
    out = tmp_path_factory.mktemp("report")
    files = build_report(folder, out, catalog, generated_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return files, catalog


def test_report_has_every_section(report):
    files, _ = report
    markdown = files.markdown.read_text()
    html = files.html.read_text()
    for heading in ("## Setup", "### Runs and their resolved configurations", "## ring-8", "### cost",
                    "### stability", "### quality", "### What this sweep says", "### Pairwise tests",
                    "### Plots", "### Samples"):
        assert heading in markdown, heading
    for fact in ("torch", "python", "device_name", "git_commit", "seeds"):
        assert f"| {fact} |" in markdown
    assert "wgan-gp_ring-8_seed1_" in markdown  # every run with its config hash
    assert "--seeds 0-4" in markdown  # two seeds: the warning says what to do
    assert "Best steps/s (higher is better):" in markdown and "Gradient-penalty cost for wgan-gp" in markdown
    assert "Best G roughness (scale-free) (lower is better):" in markdown
    assert "[" in markdown and "#1" in markdown  # confidence intervals and ranks
    assert html.count("data:image/png;base64,") == len(files.images) > 3  # images embedded
    assert all(path.is_file() and path.read_bytes()[:4] == b"\x89PNG" for path in files.images)
    assert "Welch" in html and '<td class="best">' in html


def test_plugin_text_is_escaped_in_html(report):
    files, _ = report
    html = files.html.read_text()
    assert "<script>" not in html and "<b>broken" not in html
    assert "&lt;script&gt;alert(" in html and "&lt;b&gt;broken&lt;/b&gt;" in html


def test_report_is_deterministic(sweep_dir, tmp_path):
    folder, catalog = sweep_dir
    first = build_report(folder, tmp_path / "a", catalog)
    second = build_report(folder, tmp_path / "b", catalog,
                          generated_at=dt.datetime(2030, 5, 5, tzinfo=dt.timezone.utc))

    def without_timestamp(path):
        return [line for line in path.read_text().splitlines() if "Generated " not in line]

    for name in ("html", "markdown"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.read_text() != b.read_text()  # the timestamp line differs ...
        assert without_timestamp(a) == without_timestamp(b)  # ... and nothing else
    assert [p.read_bytes() for p in first.images] == [p.read_bytes() for p in second.images]


def test_report_command(sweep_dir, tmp_path):
    folder, _ = sweep_dir
    result = CliRunner().invoke(app, ["report", str(folder), "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "report.md").is_file()
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nothing"), "-o", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "nothing" in missing.output


def test_confidence_interval_and_ranks():
    low, high = confidence_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2) · s / √n
    assert (low, high) == pytest.approx((2 - half, 2 + half))
    assert all(np.isnan(confidence_interval(np.array([1.0]))))
    long = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "metric": ["fid"] * 6,
                         "value": [1.0, 1.1, 0.9, 5.0, 5.2, 4.9]})
    summary = summarise(long, {"fid": False}).set_index("variant")
    assert summary.loc["a", "rank"] == 1 and summary.loc["a", "best"] and not summary.loc["b", "best"]
    tests = pairwise_tests(long, {"fid": False})
    assert tests.iloc[0]["verdict"] == "a better" and tests.iloc[0]["welch_p"] < 0.01
    constant = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "metric": ["covered"] * 9,
                             "value": [10.0] * 3 + [9.0] * 3 + [np.nan] * 3})
    [row] = pairwise_tests(constant, {"covered": True}).to_dict("records")  # c has no values: no pair
    assert (row["a"], row["b"]) == ("a", "b") and np.isnan(row["welch_p"])
    assert row["verdict"] == "a better in every seed (no spread: t-test undefined)" and row["mann_whitney_p"] < 0.1
    assert seed_warning({"a": 3, "b": 3}) is None and "1 seed" in seed_warning({"a": 1, "b": 3})


def test_html_renders_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    files, _ = report
    screenshot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={screenshot}", "--window-size=1280,2400", files.html.as_uri()],
                   check=True, capture_output=True, timeout=120)
    png = screenshot.read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 20_000  # a page with tables and plots, not blank
