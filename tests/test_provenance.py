"""Each run records the plugin behind each name it uses; reproduce, sweeps, table and report
say when that plugin is missing or has changed."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.plugins import (
    build_catalog, create_plugin_manager, get_plugin_manager, plugin_changes, plugin_record,
)
from ganbench.report import build_report
from ganbench.tables import load_results, undeclared_value_warnings

PLUGIN = '''
import ganbench

class HingeM(ganbench.Variant):
    name = "hinge-m"
    description = "Least-squares losses (test plugin)."
    def discriminator_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores ** 2).mean()
    def generator_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - 1) ** 2).mean()

class NNDist(ganbench.Metric):
    name = "nn-dist"
    description = "Mean absolute sample (test plugin)."
    requires = frozenset({"samples"})
    higher_is_better = {"nn_dist": False}
    def compute(self, context):
        return {"nn_dist": float(context.generated(50).abs().mean())}

@ganbench.hookimpl
def register_variants(register):
    register(HingeM)

@ganbench.hookimpl
def register_metrics(register):
    register(NNDist)
'''
RUN = ["run", "--variants", "hinge-m", "--datasets", "ring-8", "--steps", "3", "--metrics", "nn-dist,mode-coverage",
       "--eval-samples", "64", "--quiet"]


@pytest.fixture
def plugin_file(tmp_path, monkeypatch) -> Path:
    """The test plugin written to a file; :func:`load` (un)sets GANBENCH_PLUGINS to it."""
    path = tmp_path / "spiral_plugin.py"
    path.write_text(PLUGIN)
    yield path
    get_plugin_manager.cache_clear()  # the next test gets a manager without it


def invoke(monkeypatch, plugin: Path | None, *args: str):
    """Run the CLI in this process, with ``plugin`` loaded through GANBENCH_PLUGINS (or none)."""
    if plugin is None:
        monkeypatch.delenv("GANBENCH_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("GANBENCH_PLUGINS", str(plugin))
    get_plugin_manager.cache_clear()
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def run_dir(plugin_file, tmp_path, monkeypatch) -> Path:
    """One tiny hinge-m run on ring-8 scored by the plugin's nn-dist (and the built-in mode-coverage)."""
    result = invoke(monkeypatch, plugin_file, *RUN, "--out", str(tmp_path / "res"))
    assert result.exit_code == 0, result.output
    [folder] = [p for p in (tmp_path / "res" / "default").iterdir() if p.is_dir()]
    return folder


def test_config_json_records_the_plugin_behind_each_name(run_dir, plugin_file):
    record = json.loads((run_dir / "config.json").read_text())
    sha = hashlib.sha256(plugin_file.read_bytes()).hexdigest()
    local = {"plugin": str(plugin_file), "path": str(plugin_file.resolve()), "sha256": sha}
    assert record["plugins"]["variant"] == {"hinge-m": local}
    assert record["plugins"]["metric"]["nn-dist"] == {**local, "values": ["nn_dist"]}
    from ganbench import __version__

    builtin = {"package": "ganbench", "version": __version__}
    assert record["plugins"]["metric"]["mode-coverage"] == {
        "plugin": "ganbench.metrics.toy", **builtin, "values": ["high_quality", "label_accuracy", "modes_covered"]}
    assert record["plugins"]["dataset"] == {"ring-8": {"plugin": "ganbench.datasets.toy", **builtin}}
    assert record["plugins"]["architecture"] == {"mlp": {"plugin": "ganbench.architectures.mlp", **builtin}}
    assert "plugins" not in record["config"]  # the config digest does not depend on it


def test_a_sweep_warns_when_a_kept_run_used_a_changed_plugin(run_dir, plugin_file, tmp_path, monkeypatch):
    summary = (run_dir / "metrics.json").read_bytes()
    again = invoke(monkeypatch, plugin_file, *RUN, "--out", str(tmp_path / "res"))
    assert "warning" not in again.stderr
    plugin_file.write_text(PLUGIN + "\n# edited\n")
    edited = invoke(monkeypatch, plugin_file, *RUN, "--out", str(tmp_path / "res"))
    assert edited.exit_code == 0, edited.output
    [line] = [line for line in edited.stderr.splitlines() if "warning" in line]
    assert line.startswith(f"warning: run {run_dir.name} is kept, but plugin {plugin_file.resolve()} changed since "
                           "the run was recorded (sha256 ")
    assert line.endswith("; --force redoes it")
    assert (run_dir / "metrics.json").read_bytes() == summary  # still skipped: the digest decides


def test_reproduce_names_a_plugin_that_is_not_loaded(run_dir, plugin_file, monkeypatch):
    result = invoke(monkeypatch, None, "reproduce", str(run_dir))
    assert result.exit_code == 2
    path = plugin_file.resolve()
    assert (f"Error: this run used variant 'hinge-m' and metric 'nn-dist' from plugin {path}, which is not "
            f"loaded: set GANBENCH_PLUGINS={path} (or install its package) and run again.") in " ".join(
                result.stderr.split())


def test_reproduce_notes_a_changed_plugin(run_dir, plugin_file, monkeypatch):
    old = hashlib.sha256(plugin_file.read_bytes()).hexdigest()
    plugin_file.write_text(PLUGIN + "\n# edited\n")
    new = hashlib.sha256(plugin_file.read_bytes()).hexdigest()
    result = invoke(monkeypatch, plugin_file, "reproduce", str(run_dir))
    assert result.exit_code == 0, result.output
    assert (f"note: plugin {plugin_file.resolve()} changed since the run was recorded "
            f"(sha256 {old[:8]}… → {new[:8]}…)") in result.stdout.splitlines()


def test_reproduce_of_a_run_recorded_without_plugins_still_works(run_dir, plugin_file, monkeypatch):
    record = json.loads((run_dir / "config.json").read_text())
    del record["plugins"]
    (run_dir / "config.json").write_text(json.dumps(record))
    result = invoke(monkeypatch, plugin_file, "reproduce", str(run_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("reproduced:") and "plugin" not in result.stdout


def test_table_without_the_plugin_shows_its_values_and_names_it(run_dir, plugin_file, monkeypatch):
    result = invoke(monkeypatch, None, "table", str(run_dir.parent))
    assert result.exit_code == 0
    quality = result.stdout.split("### quality")[1]
    assert "nn_dist |" in quality and "modes covered ↑" in quality  # shown under its key, unranked
    assert " ".join(result.stderr.split()) == (
        f"warning: values nn_dist come from metric nn-dist of plugin {plugin_file}, which is not loaded: "
        "shown unranked; load it to rank them")
    loaded = invoke(monkeypatch, plugin_file, "table", str(run_dir.parent))
    assert loaded.stderr == "" and "nn_dist ↓" in loaded.stdout


def test_report_without_the_plugin_warns(run_dir, plugin_file, tmp_path, caplog):
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    with caplog.at_level(logging.WARNING, logger="ganbench"):
        build_report(run_dir.parent, tmp_path / "report", catalog)
    assert [r.getMessage() for r in caplog.records] == [
        f"values nn_dist come from metric nn-dist of plugin {plugin_file}, which is not loaded: "
        "shown unranked; load it to rank them"]


def test_values_no_metric_declares_and_no_run_records_are_still_named(run_dir):
    record = json.loads((run_dir / "config.json").read_text())
    del record["plugins"]  # a run recorded before plugins were
    (run_dir / "config.json").write_text(json.dumps(record))
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    assert undeclared_value_warnings(load_results(run_dir.parent), catalog) == [
        "values nn_dist are declared by no loaded metric: shown unranked; load the plugin that computed "
        "them to rank them"]


def test_a_module_plugin_is_recorded_with_its_source_file(tmp_path, monkeypatch):
    (tmp_path / "spiral_module.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GANBENCH_PLUGINS", "spiral_module")
    pm = create_plugin_manager()
    sys.modules.pop("spiral_module")  # imported by the manager; not left to other tests
    sha = hashlib.sha256(PLUGIN.encode()).hexdigest()
    assert plugin_record("spiral_module", pm) == {
        "plugin": "spiral_module", "path": str((tmp_path / "spiral_module.py").resolve()), "sha256": sha}


def test_plugin_changes_name_versions_and_leave_built_ins_to_the_environment():
    installed = {"plugin": "example", "package": "ganbench-example", "version": "0.2.0"}
    builtin = {"plugin": "ganbench.variants.wgan", "package": "ganbench", "version": "0.2.0"}
    recorded = {"metric": {"sliced-wasserstein": {**installed, "version": "0.1.0"}},
                "variant": {"wgan": {**builtin, "version": "0.1.0"}}}
    current = {"metric": {"sliced-wasserstein": installed}, "variant": {"wgan": builtin}}
    assert plugin_changes(recorded, current) == [
        "plugin example (package ganbench-example 0.2.0) changed since the run was recorded (version 0.1.0 → 0.2.0)"]
