"""Results folders you can trust: safe names, damaged folders skipped, file hashes,
permissions, finite metric values, and one process per run."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import ganbench
from ganbench import config as cfg
from ganbench.cli import app
from ganbench.metrics.volatility import Volatility
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.report import build_report
from ganbench.report.runs import load_runs
from ganbench.runner import run_sweep
from ganbench.storage import atomic_path, is_done, run_lock, slug
from ganbench.tables import load_results
from ganbench.training import run_loop

cli = CliRunner()
ENV = {**os.environ, "GANBENCH_LOAD_PLUGINS": ""}


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def plan(catalog, variants=("vanilla",), steps=8, seeds=(0,)):
    sweep = cfg.SweepConfig(variants=list(variants), datasets=["ring-8"], seeds=list(seeds), metrics=["volatility"])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples, sweep.train.device = steps, 32, 200, "cpu"
    return cfg.resolve_runs(sweep, catalog)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, catalog) -> Path:
    """A sweep of two tiny finished runs (seeds 0 and 1)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        sweep = tmp_path_factory.mktemp("results") / "sweep"
        records = run_sweep(plan(catalog, seeds=(0, 1)), catalog, sweep, quiet=True)
    assert [r.status for r in records] == ["finished", "finished"]
    return sweep


@pytest.fixture
def sweep(recorded, tmp_path) -> Path:
    """A private copy of the recorded sweep that a test may damage."""
    return Path(shutil.copytree(recorded, tmp_path / "results" / "sweep"))


def run_dirs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir())


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_slug_never_leaves_the_folder():
    assert slug("/../../../victim/README") == "victim-readme"
    assert slug("..") == slug(".") == slug("") == slug("///") == "unnamed"
    assert slug(".hidden") == "hidden" and slug("ring-8") == "ring-8"
    assert slug("a\x00b\\c/d e") == "a-b-c-d-e"


def test_a_planted_data_set_name_cannot_make_run_write_outside_out(tmp_path):
    """A run folder whose config and metrics say ``"dataset": "/../../../victim/README"``
    used to make ``ganbench run`` write its table over ``victim/README.md`` outside ``--out``."""
    victim = tmp_path / "victim" / "README.md"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    out = tmp_path / "out"
    args = ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "5", "--batch-size", "32",
            "--eval-samples", "100", "--metrics", "volatility", "--device", "cpu", "--out", str(out), "--quiet"]
    assert cli.invoke(app, args).exit_code == 0
    [run_dir] = run_dirs(out / "default")
    for name in ("config.json", "metrics.json"):
        edit_json(run_dir / name, lambda d: (d.get("config", d)).update(dataset="/../../../victim/README"))

    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious\n"
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(path.startswith("out/") for path in written - {"victim/README.md"}), written
    assert (out / "default" / "table-victim-readme.md").is_file()

    build_report(out, tmp_path / "report", build_catalog(create_plugin_manager(load_entry_points=False)))
    assert victim.read_text() == "precious\n"
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(path.startswith(("out/", "report/")) for path in written - {"victim/README.md"}), written


@pytest.mark.parametrize("sweep_name", ["../escape", "/tmp/escape", "a/b", ".."])
def test_a_sweep_name_that_leaves_out_is_a_usage_error(tmp_path, sweep_name):
    result = cli.invoke(app, ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "2",
                              "--out", str(tmp_path / "out"), "--sweep", sweep_name])
    assert result.exit_code == 2 and "--sweep must be a folder name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_planted_symlink_in_place_of_a_run_folder_is_not_followed(tmp_path, catalog):
    [config] = plan(catalog, steps=2)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious\n")
    sweep = tmp_path / "out" / "default"
    sweep.mkdir(parents=True)
    (sweep / config.run_id).symlink_to(victim)
    result = cli.invoke(app, ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "2", "--batch-size",
                              "32", "--metrics", "volatility", "--device", "cpu", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "is a symbolic link" in result.output
    assert [p.name for p in victim.iterdir()] == ["keep.txt"] and (victim / "keep.txt").read_text() == "precious\n"


def test_an_out_folder_that_is_a_file_is_refused_without_a_traceback(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    result = cli.invoke(app, ["run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "2",
                              "--metrics", "volatility", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert "Traceback" not in result.output


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "no metrics.json": (lambda d: (d / "metrics.json").unlink(), "no metrics.json"),
    "empty metrics.json": (lambda d: (d / "metrics.json").write_text(""), "metrics.json is empty, truncated"),
    "truncated metrics.json": (lambda d: truncate(d / "metrics.json"), "metrics.json is empty, truncated"),
    "metrics.json a list": (lambda d: (d / "metrics.json").write_text("[1, 2]"), "holds a JSON list"),
    "metric value a string": (lambda d: edit_json(d / "metrics.json", lambda m: m["metrics"].update(g_std="0.5")),
                              "metrics.g_std is '0.5'"),
    "metric value Infinity": (lambda d: edit_json(d / "metrics.json", lambda m: m["metrics"].update(g_std=math.inf)),
                              "metrics.g_std is inf"),
    "metrics.json a folder": (lambda d: (d / "metrics.json").unlink() or (d / "metrics.json").mkdir(),
                              "metrics.json is not a file"),
    "deeply nested metrics.json": (lambda d: (d / "metrics.json").write_text("[" * 100_000 + "]" * 100_000),
                                   "metrics.json is empty, truncated or not JSON"),
    "timings null": (lambda d: edit_json(d / "metrics.json", lambda m: m.update(timings=None)),
                     "'timings' is a NoneType"),
    "status unknown": (lambda d: edit_json(d / "metrics.json", lambda m: m.update(status="done")), "status 'done'"),
    "no config.json": (lambda d: (d / "config.json").unlink(), "no config.json"),
    "seed a string": (lambda d: edit_json(d / "config.json", lambda c: c["config"].update(seed="0")),
                      "'seed' is '0', expected an integer"),
    "config without config": (lambda d: edit_json(d / "config.json", lambda c: c.pop("config")),
                              "config.json has no 'config'"),
    "environment a list": (lambda d: edit_json(d / "config.json", lambda c: c.update(environment=[])),
                           "'environment' is a list"),
    "metrics and config disagree": (lambda d: edit_json(d / "metrics.json", lambda m: m.update(seed=7)),
                                    "metrics.json says seed 7 but config.json says"),
    "truncated history.csv": (lambda d: truncate(d / "history.csv"), "history.csv has"),
    "no history.csv": (lambda d: (d / "history.csv").unlink(), "history.csv is missing"),
    "truncated generator.pt": (lambda d: truncate(d / "generator.pt"), "generator.pt has"),
    "no critic.pt": (lambda d: (d / "critic.pt").unlink(), "critic.pt is missing"),
    "changed generator.pt": (lambda d: flip_last_byte(d / "generator.pt"), "generator.pt does not match its recorded SHA-256"),
    "files record dropped": (lambda d: edit_json(d / "metrics.json", lambda m: m.pop("files")) or
                             (d / "critic.pt").write_bytes(b""), "critic.pt is missing or empty"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_run_folder_is_skipped_with_one_warning(sweep, damage, caplog):
    damaged, intact = run_dirs(sweep)
    make, reason = DAMAGE[damage]
    make(damaged)
    caplog.set_level(logging.WARNING, logger="ganbench")

    long = load_results(sweep)
    assert set(long["run_id"]) == {intact.name}
    assert [r.run_dir for r in load_runs(sweep)] == [intact]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and warnings[0] == warnings[1]  # one per call
    assert str(damaged) in warnings[0] and reason in warnings[0], warnings[0]
    assert not is_done(damaged) and is_done(intact)


def test_table_and_report_commands_skip_a_damaged_folder_with_one_line(sweep, tmp_path):
    damaged, intact = run_dirs(sweep)
    truncate(damaged / "generator.pt")
    (sweep / "stray").mkdir()
    (sweep / "stray" / "metrics.json").write_text('{"status": "finished"')  # someone else's debris
    table = subprocess.run([sys.executable, "-m", "ganbench", "table", str(sweep), "--format", "csv"],
                           env=ENV, capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    lines = table.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert any(str(damaged) in line and "generator.pt has" in line for line in lines)
    assert any(str(sweep / "stray") in line and "no config.json" in line for line in lines)
    assert "\nvanilla,1," in table.stdout  # seeds: the intact run only

    files = build_report(sweep, tmp_path / "report", build_catalog(create_plugin_manager(load_entry_points=False)))
    assert damaged.name not in files.markdown.read_text() and intact.name in files.markdown.read_text()


def test_run_retrains_a_damaged_folder_and_records_file_hashes(sweep, catalog):
    damaged, intact = run_dirs(sweep)
    truncate(damaged / "critic.pt")
    records = run_sweep(plan(catalog, seeds=(0, 1)), catalog, sweep, quiet=True)
    statuses = {r.run_dir: r.status for r in records}
    assert statuses == {damaged: "finished", intact: "skipped"}
    files = json.loads((damaged / "metrics.json").read_text())["files"]
    assert set(files) == {"history.csv", "samples.png", "generator.pt", "critic.pt"}
    for name, entry in files.items():
        data = (damaged / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert not (damaged / ".lock").exists()


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_reproduce_exits_1_naming_a_damaged_weight_file(sweep, damage):
    run_dir = run_dirs(sweep)[0]
    if damage == "truncate":
        truncate(run_dir / "generator.pt")
    else:
        (run_dir / "critic.pt").unlink()
    result = cli.invoke(app, ["reproduce", str(run_dir)])
    assert result.exit_code == 1, result.output
    assert "NOT reproduced" in result.output
    name = "generator.pt has" if damage == "truncate" else "critic.pt is missing"
    assert f"{run_dir}/{name}" in result.output


def test_reproduce_exits_2_on_a_mistyped_record(sweep):
    run_dir = run_dirs(sweep)[0]
    edit_json(run_dir / "metrics.json", lambda m: m.update(metrics=["g_std"]))
    result = cli.invoke(app, ["reproduce", str(run_dir)])
    assert result.exit_code == 2 and "'metrics' is a list" in result.output and "Traceback" not in result.output


def test_files_get_the_permissions_the_umask_gives(tmp_path, sweep):
    old = os.umask(0o002)
    try:
        with atomic_path(tmp_path / "shared.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o664
    expected = 0o666 & ~old
    for path in sweep.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == expected, path


class Bad(ganbench.Metric):
    """A plugin metric returning whatever ``VALUE`` holds."""

    name = "test-bad"
    description = "Returns a bad value (test)."
    requires = frozenset({"history"})
    higher_is_better = {"bad": True, "fine": True}
    VALUE: object = math.inf

    def compute(self, context):
        return {"fine": 1.0, "bad": self.VALUE}


class BadPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(Bad)


@pytest.mark.parametrize("value", [math.inf, "0.5", torch.tensor(1.0), True, [1.0]], ids=repr)
def test_a_metric_value_that_is_not_a_finite_number_is_the_metrics_error(tmp_path, value, monkeypatch):
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(BadPlugin, name="bad-plugin")
    catalog = build_catalog(pm)
    monkeypatch.setattr(Bad, "VALUE", value)
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0], metrics=["volatility", "test-bad"])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 5, 32, 100
    with pytest.warns(UserWarning, match="test-bad"):
        [record] = run_sweep(cfg.resolve_runs(sweep, catalog), catalog, tmp_path, quiet=True)
    assert record.status == "finished"
    summary = json.loads((record.run_dir / "metrics.json").read_text())
    assert "bad" not in summary["metrics"] and "fine" not in summary["metrics"]
    assert "test-bad" in summary["metric_errors"]["test-bad"] and "bad-plugin" in summary["metric_errors"]["test-bad"]
    assert "g_std" in summary["metrics"]
    assert is_done(record.run_dir)
    assert set(load_results(tmp_path)["metric"]) >= {"g_std", "error:test-bad"}


def test_nan_is_a_value_and_divergence_at_step_0_keeps_the_loss_columns():
    loop = run_loop(5, torch.device("cpu"), ["g_loss", "d_loss", "penalty"],
                    lambda step: torch.tensor([math.nan, 1.0, math.nan]))
    assert loop.status == "diverged" and loop.diverged_at == 0
    assert list(loop.history.columns) == ["step", "g_loss", "d_loss"]  # penalty: NaN throughout, dropped
    values = Volatility().compute(SimpleNamespace(history=loop.history))
    assert set(values) == {"g_std", "d_std", "g_std_late", "d_std_late", "g_roughness", "d_roughness"}
    assert all(math.isnan(v) for v in values.values())


# --- one process per run ------------------------------------------------------------------------

RUN = [sys.executable, "-m", "ganbench", "run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "30",
       "--batch-size", "32", "--eval-samples", "100", "--metrics", "volatility", "--device", "cpu", "--json"]


def wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_two_processes_on_one_out_train_each_run_once(tmp_path, catalog):
    """Both processes find the run's lock held (by this test) and wait; when it is released,
    one trains the run and the other reports it as skipped."""
    out = tmp_path / "out"
    [config] = plan(catalog, steps=30)
    run_dir = out / "default" / config.run_id
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    with run_lock(run_dir):
        processes = [subprocess.Popen(RUN + ["--out", str(out)], env=ENV, stdout=subprocess.PIPE,
                                      stderr=log.open("w"), text=True) for log in logs]
        wait_for(lambda: all("waiting for it" in log.read_text() for log in logs))
        assert "pid" in logs[0].read_text()
    results = [json.loads(p.communicate(timeout=300)[0]) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [log.read_text() for log in logs]
    statuses = sorted(r["runs"][0]["status"] for r in results)
    assert statuses == ["finished", "skipped"]
    assert is_done(run_dir) and not (run_dir / ".lock").exists()
    assert not list(run_dir.parent.rglob("*.tmp"))


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path, catalog):
    [config] = plan(catalog, steps=5)
    sweep = tmp_path / "sweep"
    run_dir = sweep / config.run_id
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from ganbench.storage import run_lock\n"
        "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(600)"), str(run_dir)],
        env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert (run_dir / ".lock").exists()  # left behind, naming a dead process
    [record] = run_sweep([config], catalog, sweep, quiet=True)
    assert record.status == "finished" and is_done(run_dir)


def test_a_file_system_without_locks_runs_unlocked_with_a_warning(tmp_path, monkeypatch, caplog):
    import errno
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with run_lock(tmp_path / "run"):
        (tmp_path / "run" / "inside").write_text("ran")
    assert (tmp_path / "run" / "inside").read_text() == "ran"
    assert "cannot lock run folder" in caplog.text and "No locks available" in caplog.text


def test_an_unreadable_weight_file_is_a_damaged_run(sweep, monkeypatch, caplog):
    """(Tests run as root, which chmod cannot stop: the read error is simulated.)"""
    import ganbench.storage as storage

    damaged, intact = run_dirs(sweep)
    real = storage.file_record

    def refuse(path):
        if Path(path).parent == damaged and Path(path).name == "critic.pt":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(storage, "file_record", refuse)
    assert set(load_results(sweep)["run_id"]) == {intact.name}
    assert f"{damaged / 'critic.pt'} cannot be read (Permission denied)" in caplog.text
