"""Sweeps: files on disk, resume after interruption, --force, failure isolation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from ganbench import config as cfg
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import run_sweep
from ganbench.storage import is_done


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def plan(catalog, variants=("vanilla", "wgan", "wgan-gp"), steps=12):
    sweep = cfg.SweepConfig(variants=list(variants), datasets=["ring-8"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = steps, 32, 500
    return cfg.resolve_runs(sweep, catalog)


def test_run_folder_contents(tmp_path, catalog):
    [record] = run_sweep(plan(catalog, ["wgan-gp"]), catalog, tmp_path, quiet=True)
    files = {p.name for p in record.run_dir.iterdir()}
    assert files == {"config.json", "history.csv", "metrics.json", "samples.png", "generator.pt", "critic.pt"}
    config = json.loads((record.run_dir / "config.json").read_text())
    assert config["digest"] == record.config.digest()
    assert config["config"]["variant_params"]["lambda_gp"] == 10.0
    assert config["environment"]["torch"]
    metrics = json.loads((record.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished"
    assert {"steps_per_s", "gp_share", "gp_step_ratio", "wall_clock_s", "eval_time_s"} <= set(metrics["timings"])
    assert {"g_std", "d_roughness", "modes_covered"} <= set(metrics["metrics"])
    history = pd.read_csv(record.run_dir / "history.csv")
    assert len(history) == 12
    assert (record.run_dir / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in record.run_dir.iterdir() if p.name.endswith(".tmp")]


class Interrupt(BaseException):
    pass


def test_resume_after_an_interrupted_sweep(tmp_path, catalog, monkeypatch):
    import ganbench.runner as runner

    runs = plan(catalog)
    reference = {r.config.run_id: pd.read_csv(r.run_dir / "history.csv")
                 for r in run_sweep(runs, catalog, tmp_path / "reference", quiet=True)}

    real_train = runner.train
    calls = []

    def train_then_die(config, *args, **kwargs):
        calls.append(config.variant)
        if config.variant == "wgan":
            raise Interrupt  # like Ctrl-C or a kill in the middle of the second run
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(runner, "train", train_then_die)
    with pytest.raises(Interrupt):
        run_sweep(runs, catalog, tmp_path / "sweep", quiet=True)
    assert is_done(tmp_path / "sweep" / runs[0].run_id)
    assert (tmp_path / "sweep" / runs[1].run_id / "config.json").exists()
    assert not is_done(tmp_path / "sweep" / runs[1].run_id)

    monkeypatch.setattr(runner, "train", real_train)
    records = run_sweep(runs, catalog, tmp_path / "sweep", quiet=True)
    assert [r.status for r in records] == ["skipped", "finished", "finished"]
    for record in records:
        assert pd.read_csv(record.run_dir / "history.csv").equals(reference[record.config.run_id])
    again = run_sweep(runs, catalog, tmp_path / "sweep", quiet=True)
    assert [r.status for r in again] == ["skipped"] * 3
    forced = run_sweep(runs[:1], catalog, tmp_path / "sweep", quiet=True, force=True)
    assert [r.status for r in forced] == ["finished"]


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, catalog, monkeypatch):
    import ganbench.runner as runner

    real_train = runner.train

    def broken_for_wgan(config, *args, **kwargs):
        if config.variant == "wgan":
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(runner, "train", broken_for_wgan)
    records = run_sweep(plan(catalog), catalog, tmp_path, quiet=True)
    assert [r.status for r in records] == ["finished", "failed", "finished"]
    failed = json.loads((records[1].run_dir / "metrics.json").read_text())
    assert failed["status"] == "failed" and "CUDA out of memory (simulated)" in failed["error"]
    assert "Traceback" in failed["error"]
    monkeypatch.setattr(runner, "train", real_train)
    retried = run_sweep(plan(catalog), catalog, tmp_path, quiet=True)
    assert [r.status for r in retried] == ["skipped", "finished", "skipped"]



def test_a_failure_message_with_brackets_is_printed_as_it_is(tmp_path, catalog, monkeypatch, capsys):
    """An error text is not read as rich markup: `[/x]` once crashed the sweep after the run failed."""
    import ganbench.runner as runner

    def broken(config, *args, **kwargs):
        raise ValueError("expected shape [/x] :x:")

    monkeypatch.setattr(runner, "train", broken)
    [record] = run_sweep(plan(catalog, ["vanilla"], steps=2), catalog, tmp_path / "out [/y]", quiet=True)
    assert record.status == "failed"
    assert "failed: ValueError: expected shape [/x] :x:" in " ".join(capsys.readouterr().err.split())

def test_a_run_killed_half_way_is_redone(tmp_path):
    """SIGKILL a real `ganbench run` in the middle of a run; nothing half-written reads as done."""
    out = tmp_path / "results"
    command = [sys.executable, "-m", "ganbench", "run", "--variants", "vanilla,wgan-gp",
               "--datasets", "ring-8", "--steps", "400", "--batch-size", "64", "--eval-samples", "500",
               "--out", str(out), "--quiet"]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": ""}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    sweep = out / "default"
    while time.monotonic() < deadline:
        started = list(sweep.glob("wgan-gp_*/config.json")) if sweep.exists() else []
        if started:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert started, "the second run never started"
    [killed_dir] = [p.parent for p in started]
    assert not is_done(killed_dir)
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert is_done(killed_dir)
    assert all(is_done(p) for p in sweep.iterdir() if p.is_dir())


def test_eval_every_records_metrics_over_training_without_changing_the_run(tmp_path, catalog):
    [plain] = run_sweep(plan(catalog, ["vanilla"], steps=30), catalog, tmp_path / "plain", quiet=True)
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 30, 32, 500
    sweep.train.eval_every = 10
    [tracked] = run_sweep(cfg.resolve_runs(sweep, catalog), catalog, tmp_path / "tracked", quiet=True)
    assert tracked.config.digest() == plain.config.digest()  # evaluation settings are not identity
    evaluations = pd.read_csv(tracked.run_dir / "evaluations.csv")
    assert evaluations["step"].tolist() == [10, 20, 30]
    assert {"modes_covered", "high_quality"} <= set(evaluations.columns)
    final = json.loads((tracked.run_dir / "metrics.json").read_text())["metrics"]
    assert evaluations["modes_covered"].iloc[-1] == final["modes_covered"]
    # the evaluations neither change the training (same losses) nor count as training time
    pd.testing.assert_frame_equal(pd.read_csv(tracked.run_dir / "history.csv"),
                                  pd.read_csv(plain.run_dir / "history.csv"))
