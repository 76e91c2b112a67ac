"""The thread policy (torch threads from the usable CPUs and their load), and OpenMP's wait policy."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import torch
from rich.console import Console

from ganbench import config as cfg
from ganbench import threads
from ganbench.executors import ExecutorOptions
from ganbench.executors.local import LocalExecutor
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import run_sweep
from ganbench.threads import busy_cpus_elsewhere as sample_busy_cpus  # conftest pins the policy's

STAT_BEFORE = """cpu  300 0 100 900 0 0 0 0 0 0
cpu0 100 0 50 400 0 0 0 0 0 0
cpu1 100 0 50 400 0 0 0 0 0 0
cpu2 100 0 0 100 0 0 0 0 0 0
intr 1 2 3
ctxt 99
"""
# Over 1 s: cpu0 100 jiffies busy of 100, cpu1 20 of 100 (10 of them waiting for I/O: idle),
# cpu2 (outside the affinity mask) 100 of 100.
STAT_AFTER = """cpu  600 0 100 1080 10 0 0 0 0 0
cpu0 180 0 70 400 0 0 0 0 0 0
cpu1 110 0 60 470 10 0 0 0 0 0
cpu2 200 0 0 100 0 0 0 0 0 0
intr 4 5 6
ctxt 120
"""


@pytest.mark.parametrize(("ceiling", "usable", "busy", "expected"), [
    (2, 2, 0.0, 2),    # idle: torch's own count
    (2, 2, 0.4, 2),    # less than half a CPU busy elsewhere: still both
    (2, 2, 0.6, 1),    # more than half: one thread rather than one sharing a busy core
    (2, 2, 1.0, 1),    # one spinning neighbour on two cores
    (2, 2, 7.5, 1),    # overloaded: never below one
    (16, 4, 0.0, 4),   # taskset/cpuset: no more threads than usable CPUs
    (4, 16, 10.0, 4),  # torch's own count (OMP_NUM_THREADS, physical cores) is the ceiling
    (16, 16, 10.2, 6),
])
def test_the_policy_takes_the_busy_cpus_from_the_usable_ones(ceiling, usable, busy, expected):
    assert threads.choose_thread_count(ceiling, usable, busy) == expected


def test_busy_cpus_are_measured_on_the_usable_cpus_less_this_process():
    # 120 busy jiffies of 200 on cpus 0 and 1 = 1.2 CPUs busy, of which this process used 0.2
    busy = threads.busy_between(STAT_BEFORE, STAT_AFTER, {0, 1}, own_cpu_s=0.1, wall_s=0.5)
    assert busy == pytest.approx(1.0)
    assert threads.busy_between(STAT_BEFORE, STAT_AFTER, {2}, own_cpu_s=0.0, wall_s=1.0) == pytest.approx(1.0)
    # this process's own use is never counted as another's, even when it was all of it
    assert threads.busy_between(STAT_BEFORE, STAT_AFTER, {0, 1}, own_cpu_s=2.0, wall_s=1.0) == 0.0
    assert threads.busy_between(STAT_BEFORE, STAT_BEFORE, {0, 1}, own_cpu_s=0.0, wall_s=1.0) == 0.0


def test_busy_cpus_are_sampled_from_this_machine():
    busy = sample_busy_cpus(interval_s=0.05)
    assert 0.0 <= busy <= threads.usable_cpus() + 0.5  # jiffies are coarse over 50 ms
    assert threads.usable_cpus() == len(os.sched_getaffinity(0))


def test_cpus_per_run_wins_over_the_policy(monkeypatch):
    monkeypatch.setattr(threads, "busy_cpus_elsewhere", lambda: pytest.fail("no load sampling when told"))
    choice = threads.choose_threads(2, ceiling=1)
    assert (choice.count, choice.requested) == (2, True)
    assert choice.describe().startswith("torch threads per run: 2 (--cpus-per-run)")
    chosen = threads.choose_threads(None, ceiling=2, usable=2, busy_elsewhere=1.0)
    assert (chosen.count, chosen.requested) == (1, False)
    assert chosen.describe().startswith(
        "torch threads per run: 1 (2 usable CPUs, 1.0 busy with other processes; --cpus-per-run N to choose)")


def sweep_plan(catalog, variants):
    sweep = cfg.SweepConfig(variants=list(variants), datasets=["ring-8"], seeds=[0])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 5, 32, 300
    sweep.train.device = "cpu"
    return cfg.resolve_runs(sweep, catalog)


@pytest.mark.parametrize(("cpus_per_run", "expected"), [(None, 3), (2, 2)])
def test_the_local_executor_uses_the_policy_once_per_sweep_and_records_the_count(
        tmp_path, monkeypatch, cpus_per_run, expected):
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    samples = []
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.setattr(threads, "busy_cpus_elsewhere", lambda: samples.append(1) or 1.0)
    before = torch.get_num_threads()
    torch.set_num_threads(4)  # torch's own count, the ceiling
    try:
        out = io.StringIO()
        records = run_sweep(sweep_plan(catalog, ["vanilla", "wgan"]), catalog, tmp_path, quiet=True,
                            console=Console(file=out, width=300),
                            executor=LocalExecutor(ExecutorOptions(cpus_per_run=cpus_per_run)))
        assert torch.get_num_threads() == 4  # restored after the runs
    finally:
        torch.set_num_threads(before)
    assert [r.status for r in records] == ["finished", "finished"]
    for record in records:
        environment = json.loads((record.run_dir / "config.json").read_text())["environment"]
        assert environment["torch_threads"] == expected
    assert len(samples) == (1 if cpus_per_run is None else 0)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("torch threads per run:")]
    assert len(lines) == 1 and lines[0].startswith(f"torch threads per run: {expected} (")
    if cpus_per_run is None:
        assert "(4 usable CPUs, 1.0 busy with other processes" in lines[0]
    # a sweep with nothing left to do neither samples the load nor prints the choice
    again = io.StringIO()
    run_sweep(sweep_plan(catalog, ["vanilla"]), catalog, tmp_path, quiet=True, console=Console(file=again),
              executor=LocalExecutor(ExecutorOptions(cpus_per_run=cpus_per_run)))
    assert "torch threads" not in again.getvalue() and len(samples) == (1 if cpus_per_run is None else 0)


def test_importing_ganbench_first_makes_openmp_threads_sleep_while_waiting():
    report = ("import os, ganbench.threads as t; "
              "print(os.environ['OMP_WAIT_POLICY'], t.passive_waits(), t.spinning_note())")
    environment = {k: v for k, v in os.environ.items() if k != threads.WAIT_POLICY_ENV}
    for code, expected in ((report, "PASSIVE True None"),
                           ("import torch; " + report,
                            "PASSIVE False OpenMP threads spin while waiting: torch was loaded before ganbench")):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(expected)


@pytest.mark.parametrize(("policy", "passive", "note"), [
    ("ACTIVE", False, "OpenMP threads spin while waiting (OMP_WAIT_POLICY=ACTIVE)"),
    ("passive", True, None),  # the user's own, taken as set before torch loaded
])
def test_a_wait_policy_the_user_set_is_kept(monkeypatch, policy, passive, note):
    monkeypatch.setattr(threads, "_passive_before_torch", None)
    monkeypatch.setenv(threads.WAIT_POLICY_ENV, policy)
    threads.request_passive_waits()
    assert os.environ[threads.WAIT_POLICY_ENV] == policy
    assert threads.passive_waits() is passive and threads.spinning_note() == note
    described = threads.ThreadChoice(1, requested=True).describe()
    assert described == "torch threads per run: 1 (--cpus-per-run)" + ("" if note is None else f"; {note}")
