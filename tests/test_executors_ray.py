"""The ray executor on a real local Ray instance (2 CPUs, loopback): same results as the local
executor, a run that raises or kills its worker is isolated, retries, and resume after the
driver is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

ray = pytest.importorskip("ray")

import ganbench  # noqa: E402
from ganbench import config as cfg  # noqa: E402
from ganbench.executors import ExecutorOptions  # noqa: E402
from ganbench.executors.local import LocalExecutor  # noqa: E402
from ganbench.executors.ray import RayExecutor  # noqa: E402
from ganbench.plugins import build_catalog, create_plugin_manager  # noqa: E402
from ganbench.runner import run_sweep  # noqa: E402
from ganbench.storage import is_done  # noqa: E402
from ganbench.variants.vanilla import Vanilla, VanillaParams  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Exploding(Vanilla):
    name = "test-explode"
    description = "Raises in its discriminator loss (test)."

    def discriminator_loss(self, real_scores, fake_scores):
        raise RuntimeError("boom from the critic loss")


class Crashing(Vanilla):
    name = "test-crash"
    description = "Kills its process in its discriminator loss, like a segfault (test)."

    def discriminator_loss(self, real_scores, fake_scores):
        os._exit(3)


@dataclass
class FlakyParams(VanillaParams):
    marker: str = ""


class Flaky(Vanilla):
    name = "test-flaky"
    description = "Fails on its first attempt (when its marker file does not exist yet) (test)."
    Params = FlakyParams

    def discriminator_loss(self, real_scores, fake_scores):
        marker = Path(self.params.marker)
        if not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError("first attempt fails")
        return super().discriminator_loss(real_scores, fake_scores)


class BrokenVariants:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        for variant in (Exploding, Crashing, Flaky):
            register(variant)


@pytest.fixture(scope="module")
def ray_instance():
    """One small Ray instance for the module: 2 CPUs, ~80 MB object store, no dashboard."""
    ray.init(num_cpus=2, object_store_memory=80 * 1024**2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    # The test variants live in this module, which workers cannot import: ship them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


@pytest.fixture(scope="module")
def catalog():
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(BrokenVariants, name="broken-variants")
    return build_catalog(pm)


def plan(catalog, variants, seeds=(0,), steps=12, params=None):
    sweep = cfg.SweepConfig(variants=list(variants), datasets=["ring-8"], seeds=list(seeds))
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = steps, 32, 300
    sweep.train.device = "cpu"
    sweep.variant_params = params or {}
    return cfg.resolve_runs(sweep, catalog)


def test_ray_results_equal_the_local_executors_bit_for_bit(tmp_path, ray_instance, catalog):
    runs = plan(catalog, ["vanilla", "wgan-gp"], seeds=(0, 1))
    options = ExecutorOptions(cpus_per_run=1)
    local = run_sweep(runs, catalog, tmp_path / "local", quiet=True, executor=LocalExecutor(options))
    remote = run_sweep(runs, catalog, tmp_path / "ray", quiet=True, executor=RayExecutor(options))
    assert [r.status for r in remote] == ["finished"] * 4
    assert [r.config.run_id for r in remote] == [r.config.run_id for r in local]
    for mine, theirs in zip(local, remote):
        pd.testing.assert_frame_equal(pd.read_csv(mine.run_dir / "history.csv"),
                                      pd.read_csv(theirs.run_dir / "history.csv"), check_exact=True)
        assert mine.summary["metrics"] == theirs.summary["metrics"]
        local_weights = torch.load(mine.run_dir / "generator.pt")
        ray_weights = torch.load(theirs.run_dir / "generator.pt")
        assert all(torch.equal(local_weights[k], ray_weights[k]) for k in local_weights)
        local_env = json.loads((mine.run_dir / "config.json").read_text())["environment"]
        ray_env = json.loads((theirs.run_dir / "config.json").read_text())["environment"]
        assert ray_env["torch_threads"] == local_env["torch_threads"] == 1
        assert ray_env["git_commit"] == local_env["git_commit"]  # workers ran this checkout's code
        assert ray_env["ganbench"] == local_env["ganbench"]


class RecordingProgress:
    def __init__(self):
        self.events = []

    def started(self, config):
        self.events.append(("started", config.variant, None, None))

    def step(self, config, done, latest=None):
        self.events.append(("step", config.variant, done, latest))

    def stopped(self, config):
        self.events.append(("stopped", config.variant, None, None))


def test_workers_report_steps_and_latest_losses_and_their_loggers_write(tmp_path, ray_instance, catalog):
    from ganbench.runner import RunTask

    runs = plan(catalog, ["vanilla", "test-crash"], steps=60)
    tasks = [RunTask(c, tmp_path / c.run_id, loggers=("tensorboard",)) for c in runs]
    progress = RecordingProgress()
    with RayExecutor() as executor:
        records = {r.config.variant: r for r in executor.run(tasks, catalog, progress)}
    assert records["vanilla"].status == "finished" and records["test-crash"].status == "failed"
    vanilla = [(kind, done) for kind, variant, done, _ in progress.events if variant == "vanilla"]
    assert vanilla == [("started", None), ("step", 50), ("step", 60), ("stopped", None)]
    history = pd.read_csv(records["vanilla"].run_dir / "history.csv")
    [last] = [latest for kind, variant, done, latest in progress.events if done == 60]
    assert last["g_loss"] == history["g_loss"].iloc[-1] and last["d_loss"] == history["d_loss"].iloc[-1]
    crashed = [kind for kind, variant, _, _ in progress.events if variant == "test-crash"]
    assert crashed == ["started", "stopped"]  # a dead worker's run is stopped too
    assert list((records["vanilla"].run_dir / "tensorboard").glob("events.out.tfevents.*"))


BROKEN_LOGGER_PLUGIN = """
import logging

import ganbench
from ganbench.loggers import Logger


class Unreachable(Logger):
    name = "test-unreachable"
    description = "Its server is down: log_scalars raises (test)."

    def open(self, run_dir, config):
        logging.getLogger("ganbench.test-unreachable").warning("buffering %s on disk", config["run_id"])

    def log_scalars(self, step, values):
        raise ConnectionError("tracking server down")


@ganbench.hookimpl
def register_loggers(register):
    register(Unreachable)
"""


def test_a_worker_runs_a_plugin_files_logger_and_its_warnings_reach_the_driver(tmp_path, ray_instance, monkeypatch,
                                                                                caplog):
    """A GANBENCH_PLUGINS file's logger works in a Ray worker (it travels by value), and what
    it warns and logs in the worker is shown by the driver, as with the local executor (Ray's
    log_to_driver is off)."""
    from ganbench.loggers import LoggerWarning

    plugin = tmp_path / "unreachable_logger.py"
    plugin.write_text(BROKEN_LOGGER_PLUGIN)
    monkeypatch.setenv("GANBENCH_PLUGINS", str(plugin))
    catalog = build_catalog(create_plugin_manager())
    [config] = plan(catalog, ["vanilla"])
    with pytest.warns(LoggerWarning) as warned:
        [record] = run_sweep([config], catalog, tmp_path / "runs", quiet=True, executor=RayExecutor(),
                             loggers=("test-unreachable",))
    assert record.status == "finished", record.error
    assert [str(w.message) for w in warned] == [
        f"logger 'test-unreachable' (plugin '{plugin}') raised ConnectionError in log_scalars(): tracking server "
        f"down; it is dropped for the rest of run {config.run_id}, and training goes on."]
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("ganbench")] == [
        ("ganbench.test-unreachable", "WARNING", f"buffering {config.run_id} on disk")]


def test_a_run_that_raises_or_kills_its_worker_is_isolated(tmp_path, ray_instance, catalog):
    runs = plan(catalog, ["vanilla", "test-explode", "test-crash", "wgan"])
    records = run_sweep(runs, catalog, tmp_path, quiet=True, executor=RayExecutor())
    assert [r.status for r in records] == ["finished", "failed", "failed", "finished"]
    raised = json.loads((records[1].run_dir / "metrics.json").read_text())
    assert raised["status"] == "failed" and "Traceback" in raised["error"]
    assert "RuntimeError: boom from the critic loss" in raised["error"]
    crashed = json.loads((records[2].run_dir / "metrics.json").read_text())
    assert crashed["status"] == "failed" and "WorkerCrashedError" in crashed["error"]
    assert is_done(records[0].run_dir) and is_done(records[3].run_dir)
    assert not is_done(records[1].run_dir) and not is_done(records[2].run_dir)


def test_retries_redo_a_failed_run(tmp_path, ray_instance, catalog):
    marker = tmp_path / "flaky-marker"
    runs = plan(catalog, ["test-flaky"], params={"test-flaky": {"marker": str(marker)}})
    [without] = run_sweep(runs, catalog, tmp_path / "no-retry", quiet=True, executor=RayExecutor())
    assert without.status == "failed" and "first attempt fails" in without.error
    marker.unlink()
    [retried] = run_sweep(runs, catalog, tmp_path / "retry", quiet=True, executor=RayExecutor(), retries=1)
    assert retried.status == "finished" and marker.exists()


def descendants(pid: int) -> set[int]:
    """Process ids of every descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_resume_after_the_driver_is_killed(tmp_path):
    """SIGKILL `ganbench run --executor ray` once a run finished; the re-run skips finished runs."""
    out = tmp_path / "results"
    command = [sys.executable, "-m", "ganbench", "run", "--executor", "ray", "--cpus-per-run", "1",
               "--variants", "vanilla,wgan-gp", "--seeds", "0,1", "--datasets", "ring-8", "--device", "cpu",
               "--batch-size", "32", "--eval-samples", "300", "--out", str(out), "--quiet"]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", "PYTHONPATH": str(ROOT)}
    sweep = out / "default"
    # vanilla runs are short, wgan-gp runs (5 critic steps with a penalty) several times longer
    driver = subprocess.Popen(command + ["--steps", "150"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    finished: list[Path] = []
    while time.monotonic() < deadline and not finished and driver.poll() is None:
        finished = [p for p in sweep.glob("*") if is_done(p)] if sweep.exists() else []
        time.sleep(0.05)
    ray_processes = descendants(driver.pid)  # the Ray instance this driver started
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(1)  # Ray's raylet and workers die with their driver; its node agents linger
    kill_all(ray_processes)
    assert finished, f"no run finished before the deadline: {driver.stderr.read()}"
    done_before = {p.name: (p / "metrics.json").stat().st_mtime_ns for p in sweep.iterdir() if is_done(p)}
    assert 1 <= len(done_before) < 4, "the driver was killed too late to test resuming"

    again = subprocess.run(command + ["--steps", "150", "--json"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    statuses = {run["run_id"]: run["status"] for run in json.loads(again.stdout)["runs"]}
    assert {statuses[name] for name in done_before} == {"skipped"}
    assert sorted(statuses.values()).count("finished") == 4 - len(done_before)
    for name, mtime in done_before.items():
        assert (sweep / name / "metrics.json").stat().st_mtime_ns == mtime
    assert all(is_done(p) for p in sweep.iterdir() if p.is_dir())


@pytest.mark.parametrize("pruner", [None, "median"])
def test_a_search_finds_the_same_trials_and_best_under_ray_as_locally(tmp_path, ray_instance, catalog, pruner):
    """The trials drawn, their values, what was pruned (the prune rule travels to the workers)
    and the best configuration do not depend on the executor."""
    from ganbench.search import SearchSettings, check_search, run_search

    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["gaussian-1d"])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 30, 64, 200
    sweep.train.device, sweep.train.eval_every = "cpu", 5
    sweep.variant_params = {"vanilla": {"n_critic": 1}}
    settings = SearchSettings(budget=4 if pruner else 3, objective="w1", sampler="random" if pruner else "tpe",
                              pruner=pruner)
    options = ExecutorOptions(cpus_per_run=1)
    local = run_search(check_search(sweep, catalog, settings), catalog, tmp_path / "local",
                       executor=LocalExecutor(options), quiet=True)
    remote = run_search(check_search(sweep, catalog, settings), catalog, tmp_path / "ray",
                        executor=RayExecutor(options), quiet=True)
    [study] = remote.record["studies"]
    assert remote.record["studies"] == local.record["studies"]
    assert study["best"]["status"] == "finished" and study["best"]["value"] is not None
    if pruner:  # the rule stopped a trial in its worker, where the run was
        pruned = [t for t in study["trials"] if t["status"] == "pruned"]
        assert pruned and all(t["steps"] < 30 for t in pruned)
