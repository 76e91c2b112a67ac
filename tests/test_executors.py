"""Executors without Ray: registration, the local executor's threads and retries, clear errors."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from ganbench import config as cfg
from ganbench.cli import app
from ganbench.errors import UsageError
from ganbench.executors import DEFAULT_EXECUTOR, Executor, ExecutorOptions
from ganbench.executors.local import LocalExecutor
from ganbench.executors.ray import RayExecutor
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.registry import Entry
from ganbench.runner import run_sweep


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def plan(catalog, variants=("vanilla", "wgan")):
    sweep = cfg.SweepConfig(variants=list(variants), datasets=["ring-8"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 10, 32, 300
    sweep.train.device = "cpu"
    return cfg.resolve_runs(sweep, catalog)


def test_builtin_executors_register_through_the_hook(catalog):
    assert catalog.executors.names() == ["local", "ray"]
    assert catalog.executors.plugin_of("ray") == "ganbench.executors.ray"
    assert all(issubclass(entry.obj, Executor) for entry in catalog.executors)


def test_without_an_executor_a_sweep_uses_the_catalogs_default_executor(tmp_path):
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    used = []

    class Recording(LocalExecutor):
        def run(self, tasks, catalog, progress=None):
            used.append([task.config.variant for task in tasks])
            yield from super().run(tasks, catalog, progress)

    catalog.executors.entries[DEFAULT_EXECUTOR] = Entry(DEFAULT_EXECUTOR, Recording, "test")
    [record] = run_sweep(plan(catalog, ["vanilla"])[:1], catalog, tmp_path, quiet=True)
    assert DEFAULT_EXECUTOR == "local" and used == [["vanilla"]] and record.status == "finished"


def test_local_executor_uses_the_requested_threads_and_restores_them(tmp_path, catalog):
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    [record] = run_sweep(plan(catalog, ["vanilla"]), catalog, tmp_path, quiet=True,
                         executor=LocalExecutor(ExecutorOptions(cpus_per_run=wanted)))
    environment = json.loads((record.run_dir / "config.json").read_text())["environment"]
    assert environment["torch_threads"] == wanted
    assert torch.get_num_threads() == before


def test_retries_redo_a_failed_run_in_the_same_sweep(tmp_path, catalog, monkeypatch):
    import ganbench.runner as runner

    real_train = runner.train
    attempts = []

    def fails_first_time(config, *args, **kwargs):
        attempts.append(config.variant)
        if attempts.count(config.variant) == 1 and config.variant == "wgan":
            raise RuntimeError("transient failure (simulated)")
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(runner, "train", fails_first_time)
    records = run_sweep(plan(catalog), catalog, tmp_path, quiet=True, retries=1)
    assert [r.status for r in records] == ["finished", "finished"]
    assert attempts == ["vanilla", "wgan", "wgan"]


def test_a_run_failing_every_attempt_records_the_last_attempt(tmp_path, catalog, monkeypatch):
    import ganbench.runner as runner

    def always_fails(config, *args, **kwargs):
        raise RuntimeError(f"broken {config.variant}")

    monkeypatch.setattr(runner, "train", always_fails)
    [record] = run_sweep(plan(catalog, ["vanilla"]), catalog, tmp_path, quiet=True, retries=2)
    failed = json.loads((record.run_dir / "metrics.json").read_text())
    assert record.status == "failed" and failed["attempt"] == 3 and "broken vanilla" in failed["error"]


def test_ray_executor_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(UsageError, match=r"pip install 'ganbench\[ray\]'"):
        with RayExecutor():
            pass


def test_cli_names_a_failed_run_and_rejects_bad_executor_options(tmp_path, monkeypatch):
    import ganbench.runner as runner

    def broken(config, *args, **kwargs):
        raise RuntimeError("simulated")

    monkeypatch.setattr(runner, "train", broken)
    common = ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "5", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(app, common + ["--retries", "1"])
    assert result.exit_code == 1 and "1 run(s) failed" in result.output and "vanilla_ring-8_seed0_" in result.output
    unknown = CliRunner().invoke(app, common + ["--executor", "dask"])
    assert unknown.exit_code == 2 and "unknown executor 'dask'" in unknown.output
    address = CliRunner().invoke(app, common + ["--ray-address", "auto"])
    assert address.exit_code == 2 and "--ray-address needs --executor ray" in address.output
    threads = CliRunner().invoke(app, common + ["--cpus-per-run", "0"])
    assert threads.exit_code == 2 and "--cpus-per-run must be a positive integer" in threads.output


def test_a_search_opens_its_executor_once_for_all_its_waves(tmp_path, catalog):
    """TPE draws one trial a wave, each wave a sweep: the executor (a Ray instance) must not be
    started and stopped per wave (with Ray that cost ~15 s a wave on 2 cores), nor its set-up
    line printed per wave."""
    import io

    from rich.console import Console

    from ganbench.search import SearchSettings, check_search, run_search

    calls = []

    class Counting(LocalExecutor):
        def open(self):
            calls.append("open")

        def close(self):
            calls.append("close")

    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["gaussian-1d"])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 5, 64, 200
    sweep.train.device = "cpu"
    settings = SearchSettings(budget=3, objective="w1", sampler="tpe", final_seeds=1)
    shown = io.StringIO()
    result = run_search(check_search(sweep, catalog, settings), catalog, tmp_path, executor=Counting(ExecutorOptions(cpus_per_run=1)),
                        quiet=True, console=Console(file=shown, width=200))
    assert len(result.record["studies"][0]["trials"]) == 3 and len(result.final_runs) == 1
    assert calls == ["open", "close"]
    assert shown.getvalue().count("torch threads per run: 1 (--cpus-per-run)") == 1
