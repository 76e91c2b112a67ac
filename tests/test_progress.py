"""Watching a sweep: steps/s, time left and the latest losses per run, plain lines when stderr
is not a terminal, the skip message, and read-backs that reach the progress callback without
counting as training time."""

from __future__ import annotations

import io
import math
import re
import time

import pytest
import torch
from rich.console import Console

from ganbench import config as cfg
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import RunWatch, _PlainSweepProgress, _RichSweepProgress, format_duration, run_sweep
from ganbench.training import run_loop


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def tiny_runs(catalog, steps=60):
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0])
    sweep.train = cfg.TrainSettings(steps=steps, batch_size=32, eval_samples=200, device="cpu")
    return cfg.resolve_runs(sweep, catalog)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_run_watch_measures_speed_from_its_reports_and_says_the_time_left():
    watch = RunWatch(total=1000, started=0.0)
    assert watch.describe() == ("", "", "")
    watch.update(50, {"g_loss": 0.693147, "d_loss": 1.386294, "d_real": 0.5}, now=5.0)
    assert watch.steps_per_s() == 10.0  # one report: since the start
    watch.update(250, {"g_loss": 0.7, "d_loss": 1.25}, now=7.0)
    assert watch.steps_per_s() == 100.0  # (250 - 50) / (7 - 5): model building left out
    assert watch.seconds_left() == 7.5
    assert watch.describe() == ("100.0 steps/s", "8 s left", "G 0.7  D 1.25")
    assert [format_duration(s) for s in (0.2, 42, 185, 7440)] == ["0 s", "42 s", "3 min 05 s", "2 h 04 min"]


def test_the_terminal_display_shows_speed_time_left_and_losses():
    [config] = tiny_runs(build_catalog(create_plugin_manager(load_entry_points=False)))
    out = io.StringIO()
    clock = Clock()
    with _RichSweepProgress(Console(file=out, force_terminal=True, width=200), total=1, done=0, clock=clock) as display:
        display.started(config)
        clock.now += 1
        display.step(config, 20, {"g_loss": 0.5, "d_loss": 1.5})
        clock.now += 2
        display.step(config, 30, {"g_loss": 0.25, "d_loss": 1.75})
        display.progress.refresh()
        shown = out.getvalue()
    assert "5.0 steps/s" in shown and "6 s left" in shown and "G 0.25  D 1.75" in shown


def test_a_plain_line_per_interval_when_stderr_is_not_a_terminal(catalog):
    [config] = tiny_runs(catalog, steps=1000)
    out = io.StringIO()
    clock = Clock()
    display = _PlainSweepProgress(Console(file=out, width=300), total=3, done=1, every_s=30, clock=clock)
    display.started(config)
    clock.now += 10
    display.step(config, 50, {"g_loss": 0.5, "d_loss": 1.5})
    assert out.getvalue() == ""  # not yet 30 s since the run started
    clock.now += 25
    display.step(config, 100, {"g_loss": 0.25, "d_loss": 1.75})
    clock.now += 5
    display.step(config, 150, {"g_loss": 0.125, "d_loss": 1.875})  # 5 s after the last line: nothing
    assert out.getvalue() == f"run {config.run_id}: step 100/1000, 2.0 steps/s, 7 min 30 s left, G 0.25, D 1.75\n"
    display.stopped(config)
    display.finished(type("Record", (), {"config": config, "status": "finished"})())
    assert out.getvalue().endswith(f"run {config.run_id} finished (2/3 runs done)\n")


def test_a_sweep_off_a_terminal_prints_progress_lines_and_a_rerun_says_what_it_skips(catalog, tmp_path):
    runs = tiny_runs(catalog)
    out = io.StringIO()
    [record] = run_sweep(runs, catalog, tmp_path, console=Console(file=out, width=300), progress_every_s=0)
    lines = out.getvalue().splitlines()
    step = re.compile(rf"run {runs[0].run_id}: step (\d+)/60, [\d.]+ steps/s, \d+ s left, G -?[\d.e+-]+, D -?[\d.e+-]+$")
    assert [int(m[1]) for m in map(step.match, lines) if m] == [50, 60]  # one line per read-back at interval 0
    assert lines[-1] == f"run {runs[0].run_id} finished (1/1 runs done)"

    out = io.StringIO()
    [again] = run_sweep(runs, catalog, tmp_path, console=Console(file=out, width=300), progress_every_s=0)
    assert again.status == "skipped"
    assert out.getvalue().splitlines()[0] == f"skipping 1 finished run(s) in {tmp_path}; --force redoes them"

    out = io.StringIO()
    run_sweep(runs, catalog, tmp_path, console=Console(file=out, width=300), progress_every_s=0, force=True, quiet=True)
    assert "step" not in out.getvalue()  # --quiet: no progress at all


def test_read_backs_reach_on_progress_with_their_rows_and_its_time_is_not_training_time():
    seen = []

    def on_progress(done, rows):
        seen.append((done, rows["step"].tolist(), rows["g_loss"].tolist()))
        time.sleep(0.3)

    counter = iter(range(1000))

    def one_step(step):
        value = float(next(counter))
        return torch.tensor([value, -value])

    outcome = run_loop(70, torch.device("cpu"), ("g_loss", "d_loss"), one_step, on_progress=on_progress)
    assert [(done, steps[0], steps[-1]) for done, steps, _ in seen] == [(50, 0, 49), (70, 50, 69)]
    assert seen[1][2] == [float(v) for v in range(50, 70)]
    assert outcome.train_seconds < 0.3  # two 0.3 s callbacks, not counted


def test_the_diverged_chunk_reaches_on_progress_up_to_the_diverged_step():
    seen = []

    def one_step(step):
        return torch.tensor([math.inf if step == 57 else 1.0, 0.0])

    outcome = run_loop(100, torch.device("cpu"), ("g_loss", "d_loss"), one_step,
                       on_progress=lambda done, rows: seen.append((done, rows["step"].tolist())))
    assert outcome.status == "diverged" and outcome.diverged_at == 57
    assert [done for done, _ in seen] == [50, 58] and seen[1][1] == list(range(50, 58))
