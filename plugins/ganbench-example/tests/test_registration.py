"""ganbench finds the plugin through its entry point, and the plugin uses only public API."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ganbench.plugins import build_catalog, create_plugin_manager, plugin_report

pytest.importorskip("ganbench_example", reason="the example plugin is not installed: pip install -e plugins/ganbench-example")

import ganbench_example  # noqa: E402
from ganbench_example import plugin  # noqa: E402

ENTRY_POINT = "example"


def test_the_entry_point_names_the_plugin_module():
    (ep,) = [ep for ep in entry_points(group="ganbench") if ep.name == ENTRY_POINT]
    assert ep.value == "ganbench_example.plugin"
    assert ep.load() is plugin


def test_ganbench_loads_it_from_the_entry_point(monkeypatch):
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", ENTRY_POINT)  # this plugin and no other
    pm = create_plugin_manager()
    assert pm.get_plugin(ENTRY_POINT) is plugin
    catalog = build_catalog(pm)
    assert catalog.variants.plugin_of("wgan-lp") == ENTRY_POINT
    assert catalog.metrics.plugin_of("sliced-wasserstein") == ENTRY_POINT
    row = next(row for row in plugin_report(pm) if row["name"] == ENTRY_POINT)
    assert row["package"] == "ganbench-example"
    assert row["hooks"] == ["register_metrics", "register_variants"]


def test_an_empty_load_list_leaves_it_out(monkeypatch):
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "")
    catalog = build_catalog(create_plugin_manager())
    assert "wgan-lp" not in catalog.variants and "sliced-wasserstein" not in catalog.metrics


def test_registering_the_module_directly_on_an_isolated_manager():
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(plugin, name="example-under-test")
    catalog = build_catalog(pm)
    assert catalog.variants.plugin_of("wgan-lp") == "example-under-test"
    assert {"vanilla", "wgan-gp", "wgan-lp"} <= set(catalog.variants.names())


@pytest.mark.parametrize("path", sorted(Path(ganbench_example.__file__).parent.glob("*.py")), ids=lambda p: p.name)
def test_only_the_public_api_is_imported(path):
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    from_ganbench = {name for name in imported if name == "ganbench" or name.startswith("ganbench.")}
    assert from_ganbench <= {"ganbench"}, f"{path.name} imports ganbench internals: {from_ganbench}"
