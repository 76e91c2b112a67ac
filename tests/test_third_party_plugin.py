"""The example plugin package, installed like any third-party plugin, runs through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

EXAMPLE_ENTRY_POINT = "example"
installed = any(ep.name == EXAMPLE_ENTRY_POINT and ep.value.startswith("ganbench_example")
                for ep in entry_points(group="ganbench"))
pytestmark = pytest.mark.skipif(
    not installed, reason="the example plugin is not installed: pip install -e plugins/ganbench-example"
)


def ganbench(*args: str) -> subprocess.CompletedProcess:
    """``ganbench ARGS`` in a fresh process that loads the example plugin (and no other)."""
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": EXAMPLE_ENTRY_POINT}
    return subprocess.run([sys.executable, "-m", "ganbench", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_ganbench_plugins_lists_the_example_package():
    result = ganbench("plugins", "--json")
    assert result.returncode == 0, result.stderr
    row = next(row for row in json.loads(result.stdout) if row["name"] == EXAMPLE_ENTRY_POINT)
    assert row["package"] == "ganbench-example"
    assert row["hooks"] == ["register_metrics", "register_variants"]
    assert row["contributions"] == {"variants": ["wgan-lp"], "metrics": ["sliced-wasserstein"]}


def test_ganbench_plugins_and_list_show_what_the_example_package_provides():
    from importlib.metadata import version

    table = ganbench("plugins")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(f"│ {EXAMPLE_ENTRY_POINT} "))
    assert [cell.strip() for cell in row.strip("│").split("│")] == [
        EXAMPLE_ENTRY_POINT, "ganbench-example", version("ganbench-example"),
        "variant wgan-lp; metric sliced-wasserstein"]
    listing = ganbench("list", "metrics")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("│ sliced-wasserstein "))
    assert [cell.strip() for cell in row.strip("│").split("│")][1:4] == [
        EXAMPLE_ENTRY_POINT, "sliced_w1 ↓", "real, samples"]


def test_run_trains_the_plugin_variant_and_computes_its_metric(tmp_path):
    result = ganbench("run", "--variants", "wgan-lp", "--datasets", "ring-8", "--steps", "30",
                      "--eval-samples", "500", "--metrics", "volatility,sliced-wasserstein",
                      "--out", str(tmp_path), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "| wgan-lp " in result.stdout and "sliced W1 ↓" in result.stdout
    quality = result.stdout.split("### quality")[1]
    row = next(line for line in quality.splitlines() if line.startswith("| wgan-lp "))
    assert float(row.split("|")[3]) > 0  # | variant | seeds | sliced W1 |
    metrics = json.loads(next(tmp_path.glob("default/wgan-lp_ring-8_seed0_*/metrics.json")).read_text())
    assert metrics["status"] == "finished"
    assert metrics["metrics"]["sliced_w1"] > 0
