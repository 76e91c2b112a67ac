"""Checkpoints and exact resume: an interrupted run goes on from its latest checkpoint and ends
bit-identical to an uninterrupted one; damaged or foreign checkpoints are never loaded."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import ganbench
from ganbench import config as cfg
from ganbench.checkpoints import CheckpointInterval, Checkpointer, capture_rng, checkpoint_files, restore_rng
from ganbench.errors import UsageError
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import run_sweep
from ganbench.seeding import torch_threads
from ganbench.storage import is_done, read_run

COMPARED_FILES = ("history.csv", "generator.pt", "critic.pt", "evaluations.csv")


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def plan(catalog, *, seed=0, checkpoint_every="20", keep=0):
    """A tiny wgan-gp run (one critic step per step, for speed) of 70 steps: read back at 50 and
    70, evaluated at 30 and 60; checkpoints every 20 steps fall between read-backs."""
    sweep = cfg.SweepConfig(variants=["wgan-gp"], datasets=["ring-8"], seeds=[seed], metrics=["mode-coverage"],
                            variant_params={"wgan-gp": {"n_critic": 1}})
    train = sweep.train
    train.steps, train.batch_size, train.eval_samples, train.eval_every = 70, 32, 200, 30
    train.checkpoint_every, train.keep_checkpoints = checkpoint_every, keep
    return cfg.resolve_runs(sweep, catalog)


class Crash(Exception):
    """A run dying half-way (the process is killed, the machine preempted)."""


def crash_at(monkeypatch, step: int, times: int = 1) -> list[int]:
    """Make the next ``times`` runs raise :class:`Crash` when their progress reaches ``step``."""
    import ganbench.runner as runner

    real_train, crashes = runner.train, []

    def train(config, *args, on_progress=None, **kwargs):
        def progress(done: int, rows) -> None:
            if done == step and len(crashes) < times:
                crashes.append(done)
                raise Crash(f"killed at step {done}")
            if on_progress is not None:
                on_progress(done, rows)
        return real_train(config, *args, on_progress=progress, **kwargs)

    monkeypatch.setattr(runner, "train", train)
    return crashes


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread for every run compared (CPU results can depend on the thread count);
    on a busy 2-core machine it is also many times faster than two."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def reference(catalog, tmp_path_factory):
    """An uninterrupted run that never saves a checkpoint (the interval is not part of the digest)."""
    with torch_threads(1):
        [record] = run_sweep(plan(catalog, checkpoint_every="off"), catalog, tmp_path_factory.mktemp("reference"),
                             quiet=True)
    return record.run_dir


def assert_same_run(run_dir: Path, reference: Path) -> None:
    for name in COMPARED_FILES:
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    summary, expected = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, reference))
    assert summary["metrics"] == expected["metrics"]
    assert summary["status"] == expected["status"] == "finished"


def test_the_checkpoint_interval_is_not_part_of_the_digest(catalog):
    [every_20] = plan(catalog, checkpoint_every="20", keep=2)
    [off] = plan(catalog, checkpoint_every="off")
    assert every_20.digest() == off.digest()
    assert every_20.checkpoint_every == "20" and every_20.keep_checkpoints == 2


def test_an_interrupted_run_resumes_bit_identical(catalog, reference, tmp_path, monkeypatch):
    """Killed at step 50, after the checkpoint of step 40 (between read-backs, before the
    evaluation of step 60): the re-run goes on from 40 and ends as the uninterrupted run."""
    runs = plan(catalog)
    crashes = crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert failed.status == "failed" and crashes == [50]
    assert [p.name for p in checkpoint_files(failed.run_dir)] == ["step-000000040.pt"]  # 20 was deleted
    assert not is_done(failed.run_dir)

    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert record.status == "finished"
    assert_same_run(record.run_dir, reference)
    summary = json.loads((record.run_dir / "metrics.json").read_text())
    assert summary["resumed_from"] == [40]
    assert json.loads((reference / "metrics.json").read_text())["resumed_from"] == []
    assert pd.read_csv(record.run_dir / "evaluations.csv")["step"].tolist() == [30, 60, 70]
    assert summary["timings"]["train_time_s"] > 0 and summary["timings"]["checkpoint_time_s"] > 0
    assert not (record.run_dir / "checkpoints").exists()  # a finished run deletes its checkpoints
    assert read_run(record.run_dir).done


def test_a_failed_run_is_retried_from_its_checkpoint(catalog, reference, tmp_path, monkeypatch):
    crashes = crash_at(monkeypatch, 50)
    [record] = run_sweep(plan(catalog), catalog, tmp_path, quiet=True, retries=1)
    assert crashes == [50] and record.status == "finished"
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == [40]
    assert_same_run(record.run_dir, reference)


def test_a_run_resumed_twice_records_both_steps(catalog, reference, tmp_path, monkeypatch):
    runs = plan(catalog)
    crash_at(monkeypatch, 50, times=1)
    run_sweep(runs, catalog, tmp_path, quiet=True)
    crash_at(monkeypatch, 70, times=1)  # the last read-back, after the checkpoint of step 60
    run_sweep(runs, catalog, tmp_path, quiet=True)
    monkeypatch.undo()
    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == [40, 60]
    assert_same_run(record.run_dir, reference)


def test_a_resumed_run_deletes_the_temporary_files_of_writes_that_were_killed(catalog, reference, tmp_path,
                                                                             monkeypatch):
    """A kill -9 during a save leaves ``.step-….pt.PID.HEX.tmp``: the next segment deletes it
    (and any such file of the run folder) when it starts, and leaves files of other names."""
    runs = plan(catalog)
    crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    folder = failed.run_dir / "checkpoints"
    stale = [folder / ".step-000000060.pt.4242.0123abcd.tmp", failed.run_dir / ".history.csv.4242.89abcdef.tmp"]
    kept = [folder / "notes.tmp", folder / ".step-000000060.pt.tmp", failed.run_dir / "mine.4242.0123abcd.tmp"]
    for path in stale + kept:
        path.write_bytes(b"half a file")
    monkeypatch.undo()
    crash_at(monkeypatch, 70)  # the run stops unfinished, its checkpoints folder still there
    [again] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert again.status == "failed"
    assert [path for path in stale if path.exists()] == []
    assert [path for path in kept if not path.exists()] == []
    assert [p.name for p in checkpoint_files(again.run_dir)] == ["step-000000060.pt"]


def test_setup_time_is_summed_over_the_segments_as_the_other_times(catalog, tmp_path, monkeypatch):
    """Each segment does one-off work (here 0.3 s of it at its start); a run resumed once has
    done it twice, and ``setup_time_s`` says so, as ``wall_clock_s`` sums both segments."""
    import ganbench.runner as runner
    from ganbench.timing import one_off_work

    runs = plan(catalog)
    crash_at(monkeypatch, 50)
    segment_train = runner.train

    def train_after_setup(*args, **kwargs):
        with one_off_work():
            time.sleep(0.3)
        return segment_train(*args, **kwargs)

    monkeypatch.setattr(runner, "train", train_after_setup)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert failed.status == "failed"
    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)  # crashes once only; sets up again
    summary = json.loads((record.run_dir / "metrics.json").read_text())
    timings = summary["timings"]
    assert summary["resumed_from"] == [40]
    assert 0.6 <= timings["setup_time_s"] < 0.6 + timings["wall_clock_s"]


def test_a_damaged_checkpoint_is_skipped_for_the_one_before(catalog, reference, tmp_path, monkeypatch, caplog):
    runs = plan(catalog, keep=1)  # keep every checkpoint
    crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    files = checkpoint_files(failed.run_dir)
    assert [p.name for p in files] == ["step-000000040.pt", "step-000000020.pt"]
    files[0].write_bytes(files[0].read_bytes()[:1000])  # truncated, as by a full disk
    monkeypatch.undo()
    caplog.set_level(logging.WARNING, logger="ganbench")
    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
    warnings = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert len(warnings) == 1 and "step-000000040.pt" in warnings[0] and "truncated or damaged" in warnings[0]
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == [20]
    assert_same_run(record.run_dir, reference)


def test_a_run_whose_only_checkpoint_is_garbage_starts_from_step_0(catalog, reference, tmp_path, monkeypatch,
                                                                    caplog):
    runs = plan(catalog)
    crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    [only] = checkpoint_files(failed.run_dir)
    only.write_bytes(b"not a checkpoint at all")
    monkeypatch.undo()
    caplog.set_level(logging.WARNING, logger="ganbench")
    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
    [warning] = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert warning.startswith(f"ignoring checkpoint {only}: it is truncated or damaged")
    assert not only.exists()
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == []
    assert_same_run(record.run_dir, reference)


def test_a_checkpoint_of_another_digest_is_never_loaded(catalog, reference, tmp_path, monkeypatch, caplog):
    [other] = plan(catalog, seed=1)
    crash_at(monkeypatch, 50)
    [failed] = run_sweep([other], catalog, tmp_path / "other", quiet=True)
    [foreign] = checkpoint_files(failed.run_dir)
    [run] = plan(catalog)
    (tmp_path / "sweep" / run.run_id / "checkpoints").mkdir(parents=True)
    os.replace(foreign, tmp_path / "sweep" / run.run_id / "checkpoints" / foreign.name)
    monkeypatch.undo()
    caplog.set_level(logging.WARNING, logger="ganbench")
    [record] = run_sweep([run], catalog, tmp_path / "sweep", quiet=True)
    [warning] = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert "belongs to config digest" in warning and other.digest()[:12] in warning
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == []
    assert_same_run(record.run_dir, reference)


def test_keep_checkpoints_keeps_every_kth_and_the_latest(tmp_path):
    checkpointer = Checkpointer(tmp_path, "digest", CheckpointInterval(steps=10), keep_every=2)
    for step in range(10, 60, 10):
        checkpointer.save(step, {"step": step})
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        "step-000000050.pt", "step-000000040.pt", "step-000000020.pt"]  # the 5th, 4th and 2nd
    loaded = Checkpointer(tmp_path, "digest").load_latest()
    assert loaded["step"] == 50 and loaded["index"] == 5 and loaded["training"] == {"step": 50}


def test_random_states_survive_a_weights_only_round_trip(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    torch.save(capture_rng(torch.device("cpu")), tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True), torch.device("cpu"))
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(expected[0], again[0]) and (expected[1] == again[1]).all()
    assert expected[2:] == again[2:]


@pytest.mark.parametrize("text, message", [
    ("0", "must be positive, got '0'"), ("-5", "must be positive, got '-5'"),
    ("0m", "must be positive"), ("ten", "'ten' is not an interval"), ("2.5", "must be whole"),
])
def test_a_bad_interval_is_refused(text, message):
    with pytest.raises(UsageError, match=message):
        CheckpointInterval.parse(text)


@pytest.mark.parametrize("text, interval", [
    ("500", CheckpointInterval(steps=500)), ("90s", CheckpointInterval(seconds=90.0)),
    ("10m", CheckpointInterval(seconds=600.0)), ("1.5h", CheckpointInterval(seconds=5400.0)),
    ("off", CheckpointInterval()),
])
def test_intervals(text, interval):
    assert CheckpointInterval.parse(text) == interval


@pytest.mark.parametrize("args, message", [
    (["--checkpoint-every", "0"], "must be positive"),
    (["--checkpoint-every", "-3"], "must be positive"),
    (["--keep-checkpoints", "-1"], "keep-checkpoints"),
])
def test_cli_refuses_bad_checkpoint_settings_with_exit_2(args, message, tmp_path):
    from typer.testing import CliRunner

    from ganbench.cli import app

    result = CliRunner().invoke(app, ["run", "--datasets", "ring-8", "--steps", "5", "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "default").exists()


def test_a_killed_ganbench_run_resumes_bit_identical(tmp_path):
    """SIGKILL a real `ganbench run` once its first checkpoint is on disk; the same command
    then finishes the run exactly as an uninterrupted one does."""
    def command(out: Path, every: str) -> list[str]:
        return [sys.executable, "-m", "ganbench", "run", "--variants", "vanilla", "--datasets", "ring-8",
                "--steps", "100", "--batch-size", "32", "--eval-samples", "200", "--metrics", "mode-coverage",
                "--checkpoint-every", every, "--out", str(out), "--quiet"]

    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command(tmp_path / "killed", "30"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, found = time.monotonic() + 120, []
    while time.monotonic() < deadline and not found and process.poll() is None:
        found = list((tmp_path / "killed").glob("default/*/checkpoints/step-*.pt"))
        time.sleep(0.02)
    process.kill()
    process.wait()
    assert found, "no checkpoint appeared before the run ended"
    run_dir = found[0].parent.parent
    assert not is_done(run_dir)
    again = subprocess.run(command(tmp_path / "killed", "30"), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    plain = subprocess.run(command(tmp_path / "plain", "off"), env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0, plain.stderr
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["resumed_from"] and summary["resumed_from"][0] % 30 == 0
    for name in ("history.csv", "generator.pt", "critic.pt"):
        assert (run_dir / name).read_bytes() == (tmp_path / "plain" / "default" / run_dir.name / name).read_bytes()
    assert summary["metrics"] == json.loads((tmp_path / "plain" / "default" / run_dir.name / "metrics.json")
                                            .read_text())["metrics"]


def test_resumable_indices_draw_what_random_sampler_draws():
    from ganbench.datasets import ResumableIndices

    reference = iter(torch.utils.data.RandomSampler(range(1000), replacement=True, num_samples=2**62,
                                                    generator=torch.Generator().manual_seed(5)))
    indices = ResumableIndices(1000, torch.Generator().manual_seed(5))
    first = iter(indices)
    assert [next(first) for _ in range(70)] == [next(reference) for _ in range(70)]
    # a new stream (another batch size) starts a new chunk, as a new RandomSampler pass does
    reference = iter(torch.utils.data.RandomSampler(range(1000), replacement=True, num_samples=2**62,
                                                    generator=reference_generator_after(5, chunks=3)))
    second = iter(indices)
    assert [next(second) for _ in range(40)] == [next(reference) for _ in range(40)]


def reference_generator_after(seed: int, chunks: int) -> torch.Generator:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(chunks):
        torch.randint(high=1000, size=(32,), dtype=torch.int64, generator=generator)
    return generator


def test_a_streaming_source_goes_on_from_its_saved_position(tmp_path, monkeypatch):
    from conftest import write_idx
    from ganbench.datasets import StreamingSource, images

    monkeypatch.setenv("GANBENCH_MAX_IN_MEMORY_MB", "0")
    folder = write_idx(tmp_path / "idx", count=50)
    load = lambda: images.FashionMNIST().load(device=torch.device("cpu"), seed=3, data_root=folder)  # noqa: E731
    source = load()
    assert isinstance(source, StreamingSource)
    for _ in range(3):
        source.sample(12)  # 36 items: the saved position is inside the second chunk of 32
    torch.save(source.state_dict(), tmp_path / "source.pt")
    global_state = torch.get_rng_state()
    expected = [source.sample_with_labels(12) for _ in range(4)]

    resumed = load()
    resumed.load_state_dict(torch.load(tmp_path / "source.pt", weights_only=True))
    torch.set_rng_state(global_state)
    again = [resumed.sample_with_labels(12) for _ in range(4)]
    for (images_a, labels_a), (images_b, labels_b) in zip(expected, again):
        assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)
    assert torch.equal(torch.get_rng_state(), global_state)  # resuming draws nothing from torch's generator


class BalancedLeastSquares(ganbench.Variant):
    """A test variant that keeps state between steps: a BEGAN-style balance term ``k``."""

    name = "test-balanced"
    description = "Least squares with a balance term updated every generator step (test variant)."

    def __init__(self, params=None):
        super().__init__(params)
        self.k = 0.0

    def discriminator_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (1 + self.k) * (fake_scores**2).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        loss = ((fake_scores - 1) ** 2).mean()
        self.k = 0.9 * self.k + float(loss.detach())
        return loss

    def state_dict(self):
        return {"k": self.k}

    def load_state_dict(self, state):
        self.k = state["k"]


class BalancedPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        register(BalancedLeastSquares)


def train_and_resume(train, config, catalog, tmp_path, every: int, **kwargs):
    """``train`` uninterrupted with a checkpoint every ``every`` steps, then again from its
    latest checkpoint: both outcomes and the step resumed from."""
    digest = config.digest()
    whole = train(config, catalog, checkpointer=Checkpointer(tmp_path, digest, CheckpointInterval(steps=every)),
                  **kwargs)
    latest = Checkpointer(tmp_path, digest).load_latest()
    return whole, train(config, catalog, resume=latest, **kwargs), latest["step"]


def assert_same_outcome(whole, resumed):
    pd.testing.assert_frame_equal(whole.history, resumed.history, check_exact=True)
    for mine, theirs in ((whole.generator, resumed.generator), (whole.critic, resumed.critic)):
        for (name, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            assert torch.equal(a, b), name


def test_a_variants_own_state_is_saved_and_set_again(tmp_path):
    from ganbench.training import train

    manager = create_plugin_manager(load_entry_points=False)
    manager.register(BalancedPlugin(), name="balanced")
    catalog = build_catalog(manager)
    sweep = cfg.SweepConfig(variants=["test-balanced"], datasets=["ring-8"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size = 8, 16
    [config] = cfg.resolve_runs(sweep, catalog)
    with torch_threads(1):
        whole, resumed, step = train_and_resume(train, config, catalog, tmp_path, every=3)
    assert step == 6 and resumed.variant.k == whole.variant.k != 0.0
    assert_same_outcome(whole, resumed)


def test_the_translation_loop_resumes_exactly(tmp_path, idx_dir):
    from ganbench.translation import train_translation

    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    sweep = cfg.SweepConfig(variants=["cyclegan"], datasets=["fashion-mnist-tops2shoes"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size, sweep.train.device = 5, 2, "cpu"
    [config] = cfg.resolve_runs(sweep, catalog)
    with torch_threads(1):
        whole, resumed, step = train_and_resume(train_translation, config, catalog, tmp_path / "run", every=3,
                                                data_root=idx_dir)
    assert step == 3 and len(resumed.history) == 5
    assert_same_outcome(whole, resumed)


def test_a_checkpoint_that_does_not_fit_the_networks_is_dropped(catalog, reference, tmp_path, monkeypatch,
                                                                 caplog):
    """A readable checkpoint of the same digest whose networks differ (an architecture changed
    between versions) is dropped with one warning; the run starts from step 0."""
    runs = plan(catalog)
    crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    [path] = checkpoint_files(failed.run_dir)
    saved = torch.load(path, weights_only=True)
    generator = saved["training"]["modules"]["generator"]
    generator.pop(next(iter(generator)))  # a layer the network has is missing
    torch.save(saved, path)
    monkeypatch.undo()
    caplog.set_level(logging.WARNING, logger="ganbench")
    [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
    [warning] = [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()]
    assert "ignoring checkpoint of step 40" in warning and "does not fit this run" in warning
    assert "Missing key" in warning and "step 0" in warning
    assert json.loads((record.run_dir / "metrics.json").read_text())["resumed_from"] == []
    assert_same_run(record.run_dir, reference)


def test_a_config_file_sets_the_checkpoint_interval(catalog, tmp_path):
    file = tmp_path / "sweep.toml"
    file.write_text('datasets = ["ring-8"]\n[train]\ncheckpoint_every = 500\nkeep_checkpoints = 2\n')
    sweep = cfg.SweepConfig(variants=["vanilla"])
    cfg.load_config_file(file, sweep, catalog)
    [run] = cfg.resolve_runs(sweep, catalog)
    assert (run.checkpoint_every, run.keep_checkpoints) == ("500", 2)
    file.write_text('datasets = ["ring-8"]\n[train]\ncheckpoint_every = 0\n')
    cfg.load_config_file(file, sweep := cfg.SweepConfig(variants=["vanilla"]), catalog)
    with pytest.raises(UsageError, match="must be positive"):
        cfg.resolve_runs(sweep, catalog)


def test_a_time_interval_counts_from_the_first_step_and_the_last_save(tmp_path, monkeypatch):
    import ganbench.checkpoints as checkpoints

    clock = [100.0]
    monkeypatch.setattr(checkpoints.time, "perf_counter", lambda: clock[0])
    checkpointer = Checkpointer(tmp_path, "digest", CheckpointInterval.parse("10m"))
    clock[0] += 3600  # setup (data loading, building the networks) does not count
    assert not checkpointer.due(1)
    clock[0] += 599
    assert not checkpointer.due(50)
    clock[0] += 1
    assert checkpointer.due(51)
    checkpointer.save(51, {})
    clock[0] += 599
    assert not checkpointer.due(52)


def test_a_resumed_run_goes_on_with_the_thread_count_it_started_with(catalog, reference, tmp_path, monkeypatch,
                                                                       caplog):
    """CPU results depend on the thread count: a run started with 1 thread and resumed where 2
    would be used goes on with 1 (said once), and ends as the uninterrupted 1-thread run."""
    runs = plan(catalog)
    crash_at(monkeypatch, 50)
    [failed] = run_sweep(runs, catalog, tmp_path, quiet=True)
    assert failed.status == "failed"
    with torch_threads(2), caplog.at_level(logging.WARNING, logger="ganbench"):
        [record] = run_sweep(runs, catalog, tmp_path, quiet=True)
        assert torch.get_num_threads() == 2  # set back after the run
    assert_same_run(record.run_dir, reference)
    assert json.loads((record.run_dir / "config.json").read_text())["environment"]["torch_threads"] == 1
    assert [r.getMessage() for r in caplog.records if "torch threads" in r.getMessage()] == [
        f"run {record.run_dir.name} goes on with 1 torch threads, as it started (here: 2), so that it ends as an "
        "uninterrupted run would"]
