"""Bad inputs and faulty plugins: exit 2 with one clear line (1 for failures at run time, 130
after Ctrl-C), never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import ganbench
from ganbench import config as cfg
from ganbench.cli import add_plugin_commands, app
from ganbench.errors import UsageError
from ganbench.executors import Executor
from ganbench.plugins import PluginHookWarning, build_catalog, get_plugin_manager
from ganbench.markdown import code_fence, code_span, escape_markdown
from ganbench.variants.vanilla import Vanilla

TINY = ["--variants", "vanilla", "--datasets", "ring-8", "--steps", "3", "--eval-samples", "100", "--quiet"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_usage_error(result, message: str) -> None:
    """Exit 2, ``message`` on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A sweep folder with one tiny finished run."""
    out = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_LOAD_PLUGINS", "")
        mp.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        result = CliRunner().invoke(app, ["run", *TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "default"


# --- output folders -------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "report"])
def test_out_that_is_a_file_or_below_one_exits_2(tmp_path, results, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    args = ["run", *TINY] if command == "run" else ["report", str(results)]
    assert_usage_error(invoke(*args, "--out", str(a_file)), f"--out {a_file} is a file, not a folder")
    assert_usage_error(invoke(*args, "--out", str(a_file / "below")), f"--out {a_file / 'below'}")
    assert a_file.read_text() == "not a folder"


def test_reproduce_keep_below_a_file_exits_2(tmp_path, results):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    [run_dir] = [p for p in results.iterdir() if p.is_dir()]
    assert_usage_error(invoke("reproduce", str(run_dir), "--keep", str(a_file / "rerun")),
                       "cannot be written to (Not a directory)")


# --- config files ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("train = 5\n", "train must be a table ([train] followed by FIELD = VALUE lines), got 5."),
    ("params = 5\n", "params must be a table"),
    ("options = [1]\n", "options must be a table"),
    ('seeds = "5-2"\n', "--seeds range '5-2' is empty"),
])
def test_config_values_of_the_wrong_type_exit_2(tmp_path, text, message):
    config = tmp_path / "sweep.toml"
    config.write_text(text)
    assert_usage_error(invoke("run", *TINY, "--config", str(config), "--out", str(tmp_path)), message)


def test_a_config_that_is_not_utf8_or_is_a_folder_exits_2(tmp_path):
    config = tmp_path / "latin1.toml"
    config.write_bytes("steps = 5 # é\n".encode("latin-1"))
    assert_usage_error(invoke("run", *TINY, "--config", str(config)), "is not UTF-8 text")
    assert_usage_error(invoke("run", *TINY, "--config", str(tmp_path)), "is a folder; pass a TOML file")


# --- sweep plans ----------------------------------------------------------------------------

def test_an_empty_seed_range_exits_2():
    assert_usage_error(invoke("run", *TINY, "--seeds", "5-2"),
                       "--seeds range '5-2' is empty: its first seed is larger than its last; write it as 2-5.")


def test_a_huge_seed_range_is_refused_before_it_is_built():
    started = time.perf_counter()
    result = invoke("run", *TINY, "--seeds", "0-99999999999999")
    assert_usage_error(result, "holds 100,000,000,000,000 seeds, more than the 10,000 runs")
    assert time.perf_counter() - started < 10


def test_a_sweep_over_max_runs_is_refused_and_max_runs_allows_it():
    catalog = build_catalog()
    sweep = cfg.SweepConfig(variants=["vanilla", "wgan"], datasets=["ring-8"], seeds=list(range(5001)))
    with pytest.raises(UsageError, match=r"= 10,002 runs, more than the 10,000 allowed; .* --max-runs 10002"):
        cfg.resolve_runs(sweep, catalog)
    sweep.max_runs = 10_002
    assert len(cfg.resolve_runs(sweep, catalog)) == 10_002
    assert_usage_error(invoke("run", *TINY, "--variants", "vanilla,wgan", "--seeds", "0-5000"),
                       "pass --max-runs 10002 to run them all")


@pytest.mark.parametrize("steps", ["0", "-3", "10000001", "99999999999999999999"])
def test_steps_beyond_what_fits_exit_2(steps):
    assert_usage_error(invoke("run", *TINY, "--steps", steps), "steps must be a positive integer of at most 10,000,000")


def test_set_for_a_variant_not_in_the_sweep_exits_2():
    assert_usage_error(invoke("run", *TINY, "--set", "wgan.lr_g=0.001"),
                       "--set wgan.lr_g: variant 'wgan' is not in this sweep (variants: vanilla)")


# --- executors ------------------------------------------------------------------------------

def test_an_unreachable_ray_address_fails_fast(tmp_path):
    with socket.socket() as probe:  # a local port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    result = invoke("run", *TINY, "--out", str(tmp_path), "--executor", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert_usage_error(result, f"could not join the Ray cluster at --ray-address '127.0.0.1:{port}': nothing answers")
    assert time.perf_counter() - started < 30
    assert_usage_error(invoke("run", *TINY, "--executor", "ray", "--ray-address", "nonsense"),
                       "is not an address: expected auto, HOST:PORT or ray://HOST:10001")
    search = ("search", *TINY, "--objective", "modes_covered", "--budget", "1", "--out", str(tmp_path))
    assert_usage_error(invoke(*search, "--executor", "ray", "--ray-address", f"127.0.0.1:{port}"),
                       f"could not join the Ray cluster at --ray-address '127.0.0.1:{port}': nothing answers")
    assert_usage_error(invoke(*search, "--ray-address", "auto"), "--ray-address needs --executor ray")


class ExplodingExecutor(Executor):
    name = "exploding"
    description = "Does one run, then raises (test executor)."

    def run(self, tasks, catalog, progress=None):
        from ganbench import runner

        yield runner.execute(tasks[0], catalog)
        raise RuntimeError("cluster on fire")


class InterruptedExecutor(Executor):
    name = "interrupted"
    description = "Does one run, then is interrupted as by Ctrl-C (test executor)."

    def run(self, tasks, catalog, progress=None):
        from ganbench import runner

        yield runner.execute(tasks[0], catalog)
        raise KeyboardInterrupt


class NoClusterExecutor(Executor):
    name = "no-cluster"
    description = "Its constructor raises, as when a cluster's settings are missing (test executor)."

    def __init__(self, options=None):
        raise KeyError("CLUSTER_TOKEN")


class RefusedExecutor(Executor):
    name = "refused"
    description = "Its open() raises, as when the cluster refuses the connection (test executor)."

    def open(self):
        raise ConnectionRefusedError("scheduler at 10.0.0.1:8786 refused")


class ClosingFailsExecutor(Executor):
    name = "closing-fails"
    description = "Does its runs in this process; its close() raises (test executor)."

    def run(self, tasks, catalog, progress=None):
        from ganbench import runner

        for task in tasks:
            yield runner.execute(task, catalog)

    def close(self):
        raise OSError("connection already closed")


class ExecutorPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_executors(register):
        for executor in (ExplodingExecutor, InterruptedExecutor, NoClusterExecutor, RefusedExecutor,
                         ClosingFailsExecutor):
            register(executor)


@pytest.fixture
def executor_plugin():
    pm = get_plugin_manager()
    pm.register(ExecutorPlugin, name="test-executors")
    try:
        yield
    finally:
        pm.unregister(name="test-executors")


def test_an_executor_whose_run_raises_fails_its_remaining_runs_with_the_reason(tmp_path, executor_plugin):
    result = invoke("run", *TINY, "--seeds", "0,1", "--out", str(tmp_path), "--executor", "exploding")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "failed: executor 'exploding' raised RuntimeError: cluster on fire" in " ".join(result.stderr.split())
    statuses = sorted(json.loads(p.read_text())["status"] for p in (tmp_path / "default").glob("*/metrics.json"))
    assert statuses == ["failed", "finished"]
    [failed] = [json.loads(p.read_text()) for p in (tmp_path / "default").glob("*/metrics.json")
                if json.loads(p.read_text())["status"] == "failed"]
    assert failed["error"] == "executor 'exploding' raised RuntimeError: cluster on fire"


@pytest.mark.parametrize(("command", "executor", "fault"), [
    ("run", "no-cluster", "its constructor raised KeyError: 'CLUSTER_TOKEN'"),
    ("run", "refused", "its open() raised ConnectionRefusedError: scheduler at 10.0.0.1:8786 refused"),
    ("search", "refused", "its open() raised ConnectionRefusedError: scheduler at 10.0.0.1:8786 refused"),
])
def test_an_executor_that_cannot_start_gives_one_line_naming_it_and_exit_1(tmp_path, executor_plugin, command,
                                                                             executor, fault):
    extra = ["--objective", "modes_covered", "--budget", "2"] if command == "search" else []
    result = invoke(command, *TINY, *extra, "--out", str(tmp_path), "--executor", executor)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    message = " ".join(result.stderr.split())
    assert f"Error: executor '{executor}' (plugin 'test-executors') could not start: {fault}. Nothing was run" in message
    assert "`ganbench list executors`; --executor local runs in this process" in message
    assert not list(tmp_path.glob("*/*/metrics.json")) and not list(tmp_path.glob("*/*/*/metrics.json"))


def test_an_executor_whose_close_raises_keeps_the_results_with_one_warning(tmp_path, executor_plugin):
    with pytest.warns(UserWarning, match=r"executor 'closing-fails' \(plugin 'test-executors'\): its close\(\) raised "
                      r"OSError: connection already closed; the runs' results are kept"):
        result = invoke("run", *TINY, "--out", str(tmp_path), "--executor", "closing-fails")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    [metrics] = (tmp_path / "default").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["status"] == "finished"


def test_ctrl_c_says_how_many_runs_finished_and_exits_130(tmp_path, executor_plugin):
    result = invoke("run", *TINY, "--seeds", "0,1,2", "--out", str(tmp_path), "--executor", "interrupted")
    assert result.exit_code == 130 and "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert f"Interrupted: 1 of 3 run(s) finished in {tmp_path / 'default'}/." in message
    assert "Run the same command again to resume" in message


def test_sigint_exits_130_without_a_traceback(tmp_path):
    # faulthandler: if the process does not stop, SIGABRT makes it print every thread's stack
    env = {**os.environ, "PYTHONPATH": str(Path(ganbench.__file__).parents[1]), "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ganbench", "run", *TINY, "--steps", "10000000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's Ctrl-C finds it
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("default/*/config.json")) and time.monotonic() < deadline:
            time.sleep(0.2)  # training has started once the run folder holds its config
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            _, stderr = process.communicate(timeout=30)
            pytest.fail(f"ganbench run did not stop within 60 s of SIGINT; its threads then:\n{stderr}")
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "Interrupted: 0 of 1 run(s) finished" in " ".join(stderr.split())


# --- faulty plugins -------------------------------------------------------------------------

class Mine(Vanilla):
    name = "mine"


class FaultyPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        register(Mine)
        raise RuntimeError("boom")

    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        raise SystemExit(3)


@pytest.mark.parametrize("command", ["list", "table", "report"])
def test_every_command_works_beside_a_faulty_plugin(tmp_path, results, command):
    args = {"list": ["list", "variants"], "table": ["table", str(results)],
            "report": ["report", str(results), "--out", str(tmp_path / "report")]}[command]
    pm = get_plugin_manager()
    pm.register(FaultyPlugin, name="faulty-plugin")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = invoke(*args)
    finally:
        pm.unregister(name="faulty-plugin")
    assert result.exit_code == 0, result.output
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginHookWarning)]
    assert any("'faulty-plugin': its register_variants hook raised RuntimeError: boom" in m for m in messages)
    assert any("'faulty-plugin': its register_metrics hook exited (SystemExit 3)" in m for m in messages)
    assert "mine" not in result.stdout


def test_a_register_commands_hook_that_raises_loses_only_its_commands():
    class CommandPlugin:
        @staticmethod
        @ganbench.hookimpl
        def register_commands(cli):
            @cli.command("half-added")
            def half_added() -> None:
                """Added before the hook failed."""

            raise ValueError("no commands today")

    cli = typer.Typer()

    @cli.command()
    def kept() -> None:
        """A command that was there before."""

    pm = get_plugin_manager()
    pm.register(CommandPlugin, name="command-plugin")
    try:
        with pytest.warns(PluginHookWarning, match="'command-plugin': its register_commands hook raised "
                                                   "ValueError: no commands today"):
            add_plugin_commands(cli)
    finally:
        pm.unregister(name="command-plugin")
    assert [c.callback.__name__ for c in cli.registered_commands] == ["kept"]


def test_plugin_warnings_print_as_one_line(tmp_path):
    plugin = tmp_path / "returns_a_list.py"
    plugin.write_text("import ganbench\n"
                      "@ganbench.hookimpl\ndef register_variants(register):\n    return []\n")
    env = {**os.environ, "GANBENCH_PLUGINS": str(plugin), "PYTHONPATH": str(Path(ganbench.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "ganbench", "list", "executors"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Warning: ganbench plugin {str(plugin)!r}: its register_variants hook returned a list instead of "
        "calling register(cls) once per class; what it registered is ignored and ganbench goes on without it."]


# --- report.md escaping ---------------------------------------------------------------------

def test_escape_markdown_neutralises_html_and_markdown():
    assert escape_markdown("<script>alert('x')</script> & co") == "&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"
    assert escape_markdown("*a* _b_ `c` [d](e) | f ~~g~~ \\") == r"\*a\* \_b\_ \`c\` \[d\](e) \| f \~\~g\~\~ \\"
    assert escape_markdown("wgan-gp_ring-8_seed0_1a2b\nnext") == "wgan-gp_ring-8_seed0_1a2b next"
    assert code_span("a`b|c") == "``a`b\\|c``" and code_span("`x") == "`` `x ``"
    assert code_fence("echo ```") == "````"


def test_report_md_escapes_html_from_results(tmp_path, results):
    sweep = tmp_path / "sweep"
    shutil.copytree(results, sweep)
    [run_dir] = [p for p in sweep.iterdir() if p.is_dir()]
    failed = shutil.copytree(run_dir, sweep / "vanilla_ring-8_seed1_00000000")
    summary = json.loads((failed / "metrics.json").read_text())
    summary.update(status="failed", seed=1, error="Traceback ...\nRuntimeError: <img src=x onerror=alert(1)> *bold*")
    (failed / "metrics.json").write_text(json.dumps(summary))
    record = json.loads((failed / "config.json").read_text())
    record["config"]["seed"] = 1  # config.json and metrics.json agree, as in a real failed run
    (failed / "config.json").write_text(json.dumps(record))
    result = invoke("report", str(sweep), "--out", str(tmp_path / "report"))
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "<img" not in markdown
    assert r"RuntimeError: &lt;img src=x onerror=alert(1)&gt; \*bold\*" in markdown
    assert "<img src=x" not in (tmp_path / "report" / "report.html").read_text()


def test_ctrl_c_during_reproduce_exits_130(tmp_path, results, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ganbench.reproduce.reproduce", interrupted)
    [run_dir] = [p for p in results.iterdir() if p.is_dir()]
    result = invoke("reproduce", str(run_dir))
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert "Interrupted: the re-run was stopped and nothing was compared." in result.stderr
