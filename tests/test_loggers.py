"""Loggers (``--log``): the built-in tensorboard logger's event files read back with TensorBoard's
own reader, logging that changes nothing, a logger plugin that raises, and bad ``--log`` input."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ganbench
from ganbench import config as cfg
from ganbench.errors import UnknownNameError, UsageError
from ganbench.loggers import Logger, LoggerWarning
from ganbench.loggers.tensorboard import TensorBoardLogger
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import run_one

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


class Raising(Logger):
    """Raises in its first ``log_scalars`` call (test)."""

    name = "test-raising"
    description = "Raises in log_scalars (test)."
    calls: list[str] = []

    def open(self, run_dir, config):
        Raising.calls.append("open")

    def log_scalars(self, step, values):
        Raising.calls.append("log_scalars")
        raise RuntimeError("the logging service is down")

    def close(self):
        Raising.calls.append("close")


class RaisingOnOpen(Logger):
    name = "test-raising-open"
    description = "Raises in open (test)."

    def open(self, run_dir, config):
        raise ConnectionError("no server")


class RaisingPlugin:
    @ganbench.hookimpl
    def register_loggers(self, register):
        register(Raising)
        register(RaisingOnOpen)


@pytest.fixture(scope="module")
def catalog():
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(RaisingPlugin(), name="raising-loggers")
    return build_catalog(pm)


def tiny_run(catalog, **train):
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0])
    sweep.train = cfg.TrainSettings(steps=60, batch_size=32, eval_samples=300, device="cpu", **train)
    [config] = cfg.resolve_runs(sweep, catalog)
    return config


def read_events(run_dir):
    accumulator = event_accumulator.EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    return accumulator.Reload()


def test_tensorboard_event_files_hold_losses_metrics_samples_and_config(catalog, tmp_path):
    config = tiny_run(catalog, sample_every=30, eval_every=30)
    summary = run_one(config, catalog, tmp_path / "run", loggers=["tensorboard"])
    events = read_events(tmp_path / "run")
    history = pd.read_csv(tmp_path / "run" / "history.csv")

    losses = [c for c in history.columns if c != "step"]
    assert sorted(t for t in events.Tags()["scalars"] if t.startswith("loss/")) == sorted(f"loss/{c}" for c in losses)
    for column in losses:  # every step of every read-back chunk (50 + 10), values as recorded
        scalars = events.Scalars(f"loss/{column}")
        assert [s.step for s in scalars] == history["step"].tolist() == list(range(60))
        assert np.array_equal(np.float32([s.value for s in scalars]), history[column].to_numpy(np.float32))

    evaluations = pd.read_csv(tmp_path / "run" / "evaluations.csv")
    assert evaluations["step"].tolist() == [30, 60]
    [covered] = events.Scalars("eval/modes_covered")  # over training, at step 30
    assert (covered.step, covered.value) == (30, evaluations["modes_covered"][0])
    for key, value in summary["metrics"].items():  # the final metrics, at the last step
        if value == value:
            [final] = events.Scalars(f"metrics/{key}")
            assert final.step == 60 and final.value == pytest.approx(value, rel=1e-6)

    images = events.Images("samples")  # the --sample-every grid and the final one, as saved
    assert [image.step for image in images] == [30, 60]
    from PIL import Image
    saved = Image.open(tmp_path / "run" / "samples.png")
    assert (images[-1].width, images[-1].height) == saved.size

    [text] = events.Tensors("config/text_summary")
    logged = json.loads(text.tensor_proto.string_val[0].decode())
    assert logged["run_id"] == config.run_id and logged["digest"] == config.digest()
    assert logged["steps"] == 60 and logged["variant"] == "vanilla"


def test_logging_and_a_raising_logger_change_nothing_computed(catalog, tmp_path):
    config = tiny_run(catalog)
    plain = run_one(config, catalog, tmp_path / "plain")
    Raising.calls.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logged = run_one(config, catalog, tmp_path / "logged",
                         loggers=["test-raising-open", "test-raising", "tensorboard"])
    messages = [str(w.message) for w in caught if issubclass(w.category, LoggerWarning)]
    assert len(messages) == 2, messages  # once per broken logger, though it would be called 60 times
    assert "logger 'test-raising-open' (plugin 'raising-loggers') raised ConnectionError in open(): no server" in messages[0]
    assert "logger 'test-raising' (plugin 'raising-loggers') raised RuntimeError in log_scalars()" in messages[1]
    assert "training goes on" in messages[1]
    assert Raising.calls == ["open", "log_scalars", "close"]  # dropped and closed at its first failure

    assert logged["status"] == plain["status"] == "finished"
    assert logged["metrics"] == plain["metrics"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "logged" / "history.csv"),
                                  pd.read_csv(tmp_path / "plain" / "history.csv"))
    for name in ("generator.pt", "critic.pt"):
        assert logged["files"][name] == plain["files"][name]  # identical weights, byte for byte
    assert len(read_events(tmp_path / "logged").Scalars("loss/g_loss")) == 60  # the working logger went on


def test_loggers_do_not_change_the_digest(catalog):
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], loggers=["tensorboard"])
    plain = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"])
    assert [c.digest() for c in cfg.resolve_runs(sweep, catalog)] == [c.digest() for c in cfg.resolve_runs(plain, catalog)]


def test_unknown_logger_names_the_known_ones_and_the_nearest(catalog):
    with pytest.raises(UnknownNameError, match=r"unknown logger 'tensorbord'; did you mean 'tensorboard'\? "
                                               r"Available: tensorboard, test-raising, test-raising-open\."):
        cfg.check_loggers(["tensorbord"], catalog)
    assert cfg.parse_loggers(["tensorboard,test-raising", "tensorboard"]) == ["tensorboard", "test-raising"]


def test_log_on_the_command_line_and_in_a_config_file(tmp_path):
    from ganbench.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["run", "--datasets", "ring-8", "--log", "tensorbord", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown logger 'tensorbord'; did you mean 'tensorboard'? Available: tensorboard." in result.output
    assert "Traceback" not in result.output
    (tmp_path / "sweep.toml").write_text('variants = ["vanilla"]\ndatasets = ["ring-8"]\nlog = "tensorboard"\n'
                                         '[train]\nsteps = 3\neval_samples = 100\ndevice = "cpu"\n')
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "sweep.toml"), "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    [run_dir] = [p for p in (tmp_path / "default").iterdir() if p.is_dir()]
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_a_missing_tensorboard_package_is_a_usage_error_naming_the_extra(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "tensorboard" else find_spec(name, *args))
    with pytest.raises(UsageError, match=r'pip install "ganbench\[tensorboard\]"'):
        TensorBoardLogger.check_available()
    with pytest.raises(UsageError, match="needs the tensorboard package"):
        cfg.check_loggers(["tensorboard"], build_catalog(create_plugin_manager(load_entry_points=False)))


def test_the_tensorboard_logger_is_listed_like_any_plugins_contribution():
    from ganbench.cli import app

    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    assert catalog.loggers.get("tensorboard") is TensorBoardLogger
    listed = json.loads(CliRunner().invoke(app, ["list", "loggers", "--json"]).stdout)
    assert [(row["name"], row["plugin"]) for row in listed["loggers"]] == [("tensorboard", "ganbench.loggers.tensorboard")]
    plugins = {row["name"]: row for row in json.loads(CliRunner().invoke(app, ["plugins", "--json"]).stdout)}
    assert plugins["ganbench.loggers.tensorboard"]["contributions"] == {"loggers": ["tensorboard"]}
    assert plugins["ganbench.loggers.tensorboard"]["hooks"] == ["register_loggers"]
