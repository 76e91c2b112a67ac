"""``ganbench reproduce``: re-running a recorded run and comparing losses and metrics."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ganbench import config as cfg
from ganbench.cli import app
from ganbench.config import RunConfig
from ganbench.errors import UsageError
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.reproduce import CUDA_TOLERANCE, _compare_tables, reproduce
from ganbench.runner import run_sweep

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, catalog) -> Path:
    """One tiny finished wgan-gp run on ring-8 (its penalty and Wasserstein columns included)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_LOAD_PLUGINS", "")
        mp.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        sweep = cfg.SweepConfig(variants=["wgan-gp"], datasets=["ring-8"], seeds=[0])
        sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 20, 32, 500
        sweep.train.device = "cpu"
        [record] = run_sweep(cfg.resolve_runs(sweep, catalog), catalog, tmp_path_factory.mktemp("sweep"), quiet=True)
        torch.use_deterministic_algorithms(False)
    assert record.status == "finished"
    return record.run_dir


@pytest.fixture
def run_dir(recorded, tmp_path) -> Path:
    """A private copy of the recorded run that a test may edit."""
    return Path(shutil.copytree(recorded, tmp_path / recorded.name))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_a_fresh_run_reproduces_bit_for_bit(run_dir, catalog):
    result = reproduce(run_dir, catalog)
    assert result.matches and result.tolerance is None and result.differences == []
    assert result.history_steps == 20 and result.metrics_compared >= 5
    assert set(result.history_max_abs_diff) >= {"g_loss", "d_loss", "penalty", "wasserstein"}
    assert all(v == 0.0 for v in result.history_max_abs_diff.values())
    assert result.new_run_dir is None
    assert json.loads(json.dumps(result.to_dict()))["matches"] is True

    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 0, cli.output
    assert "reproduced: losses (20 steps) and" in cli.stdout and "identical (bit for bit)" in cli.stdout
    assert "wall clock (not compared)" in cli.stdout


def test_keep_and_json(run_dir, tmp_path):
    kept = tmp_path / "rerun"
    cli = invoke("reproduce", str(run_dir), "--keep", str(kept), "--json")
    assert cli.exit_code == 0, cli.output
    payload = json.loads(cli.stdout)
    assert payload["matches"] is True and payload["new_run_dir"] == str(kept)
    assert (kept / "metrics.json").exists() and (kept / "history.csv").exists()
    assert json.loads((kept / "config.json").read_text())["command"][:2] == ["ganbench", "reproduce"]
    recorded = json.loads((run_dir / "metrics.json").read_text())["files"]
    rerun = json.loads((kept / "metrics.json").read_text())["files"]
    for name in ("generator.pt", "critic.pt", "history.csv"):  # byte for byte, so the hashes agree too
        assert rerun[name]["sha256"] == recorded[name]["sha256"], name

    again = invoke("reproduce", str(run_dir), "--keep", str(kept))
    assert again.exit_code == 2 and "already exists" in again.stderr
    itself = invoke("reproduce", str(run_dir), "--keep", str(run_dir))
    assert itself.exit_code == 2 and "is the run being reproduced" in " ".join(itself.stderr.split())
    assert (run_dir / "metrics.json").exists()


def test_an_edited_loss_is_named_by_step_and_column(run_dir):
    path = run_dir / "history.csv"
    rows = list(csv.DictReader(path.open()))
    rows[7]["d_loss"] = repr(float(rows[7]["d_loss"]) + 1e-7)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 1
    assert "NOT reproduced: 1 difference(s)" in cli.stdout
    assert "history: d_loss first differs at step 7" in cli.stdout and "1 of 20 values differ" in cli.stdout


def test_an_edited_metric_is_named(run_dir):
    edit_json(run_dir / "metrics.json", lambda m: m["metrics"].update(g_std=m["metrics"]["g_std"] * 1.5))
    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 1
    assert "metric g_std: recorded" in cli.stdout and "history" not in cli.stdout.split("note:")[0]


def test_timings_are_not_compared(run_dir, catalog):
    edit_json(run_dir / "metrics.json", lambda m: m["timings"].update(wall_clock_s=1234.5, steps_per_s=1.0))
    result = reproduce(run_dir, catalog)
    assert result.matches and result.wall_clock_s["recorded"] == 1234.5
    assert any("recorded 1234.50 s" in note for note in result.notes)


def test_an_edited_config_is_refused_by_its_digest(run_dir):
    edit_json(run_dir / "config.json", lambda c: c["config"].update(steps=25))
    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 2
    message = " ".join(cli.stderr.split())
    assert "config.json was edited" in message and "digest" in message and "Traceback" not in cli.output


def test_a_folder_that_is_not_a_run_exits_2(tmp_path):
    cli = invoke("reproduce", str(tmp_path))
    assert cli.exit_code == 2
    message = " ".join(cli.stderr.split())
    assert "is not a completed ganbench run" in message and "config.json" in message


def test_an_evaluation_folder_is_named_as_one(tmp_path):
    folder = tmp_path / "my-gan_ring-8_12345678"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"run_id": folder.name, "kind": "evaluation", "digest": "x",
                                                    "config": {}}))
    (folder / "metrics.json").write_text(json.dumps({"run_id": folder.name, "kind": "evaluation",
                                                     "status": "finished"}))
    cli = invoke("reproduce", str(folder))
    assert cli.exit_code == 2
    assert "is an evaluation (ganbench evaluate), not a trained run" in " ".join(cli.stderr.split())


def test_a_cuda_run_without_cuda_says_so(run_dir, catalog, monkeypatch):
    def on_cuda(record):
        config = RunConfig.from_dict({**record["config"], "device": "cuda"})
        record["config"], record["digest"] = config.to_dict(), config.digest()

    edit_json(run_dir / "config.json", on_cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="recorded on cuda .* torch sees no CUDA device here.*--device cpu"):
        reproduce(run_dir, catalog)
    cli = invoke("reproduce", str(run_dir), "--device", "tpu")
    assert cli.exit_code == 2 and "--device must be cpu or cuda" in cli.stderr


def test_tolerance_comparison_of_tables():
    recorded = pd.DataFrame({"step": [0, 1, 2], "g_loss": [1.0, 2.0, np.nan], "d_loss": [0.5, 0.5, 0.5]})
    close = recorded.assign(g_loss=[1.0 + 1e-6, 2.0, np.nan])
    assert _compare_tables("history", recorded, close, CUDA_TOLERANCE)[0] == []
    differences, max_abs = _compare_tables("history", recorded, close, None)
    assert differences[0].startswith("history: g_loss first differs at step 0")
    assert max_abs["g_loss"] == pytest.approx(1e-6) and max_abs["d_loss"] == 0.0
    far = recorded.assign(d_loss=[0.5, 0.6, 0.5], g_loss=[1.0, 2.0, 3.0])
    differences, max_abs = _compare_tables("history", recorded, far, CUDA_TOLERANCE)
    assert [d.split(" first")[0] for d in differences] == ["history: d_loss", "history: g_loss"]
    assert max_abs["g_loss"] == float("inf")
    shorter = _compare_tables("history", recorded, recorded.iloc[:2], None)[0]
    assert shorter == ["history: 3 steps recorded, 2 in the re-run"]


def test_a_run_that_cannot_be_rerun_exits_2_not_1(run_dir, monkeypatch):
    from ganbench.datasets.toy import Ring8
    from ganbench.errors import DatasetUnavailableError

    def unavailable(self, **kwargs):
        raise DatasetUnavailableError("data set 'ring-8' is not available (test)")

    monkeypatch.setattr(Ring8, "load", unavailable)
    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 2 and "not available (test)" in cli.stderr


def _edit_config_keeping_its_digest(run_dir: Path, **fields) -> None:
    """Change ``config.json``'s config and recompute its digest, as a hand-crafted file would."""
    def change(record):
        record["config"].update(fields)
        identity = {name: record["config"][name] for name in RunConfig.IDENTITY if name in record["config"]}
        if record["config"]["options"] == RunConfig.__dataclass_fields__["options"].default_factory():
            identity.pop("options", None)
        record["digest"] = __import__("hashlib").sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    edit_json(run_dir / "config.json", change)


@pytest.mark.parametrize("fields,run_args,message", [
    ({"steps": "abc"}, ["--set", "train.steps=abc"], "train.steps must be an integer, got 'abc'."),
    ({"steps": -1}, ["--steps", "-1"], "steps must be a positive integer of at most 10,000,000, got -1."),
    ({"eval_samples": 0}, ["--eval-samples", "0"], "eval_samples must be a positive integer, got 0."),
    ({"bogus": 1}, None, "config.json setting 'bogus'. Available: variant, dataset"),
    ({"options": {"real_target": 7}}, ["--real-target", "7"], "options.real_target must be in (0.5, 1]"),
    ({"options": {"nope": 1}}, ["--set", "options.nope=1"], "unknown options setting 'nope'. Available: "),
    ({"variant_params": {"lambda_gp": "x"}}, ["--set", "wgan-gp.lambda_gp=x"], "wgan-gp.lambda_gp must be a number, got 'x'."),
    ({"variant": "nosuch"}, ["--variants", "nosuch"], "unknown variant 'nosuch'"),
])
def test_reproduce_checks_config_json_as_run_checks_its_settings(run_dir, tmp_path, fields, run_args, message):
    _edit_config_keeping_its_digest(run_dir, **fields)
    if "variant" in fields:  # metrics.json names the variant too; a disagreement is a damaged folder
        edit_json(run_dir / "metrics.json", lambda summary: summary.update(variant=fields["variant"]))
    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 2 and "Traceback" not in cli.output
    assert message in " ".join(cli.stderr.split())
    if run_args is not None:  # the same words as `ganbench run` for the same value
        ran = invoke("run", "--variants", "wgan-gp", "--datasets", "ring-8", *run_args, "--out", str(tmp_path))
        assert ran.exit_code == 2 and message in " ".join(ran.stderr.split())


def test_reproduce_creates_no_folder_for_a_missing_recorded_data_root(run_dir, tmp_path):
    missing = tmp_path / "gone" / "data"
    edit_json(run_dir / "config.json", lambda record: record.update(data_root=str(missing)))
    cli = invoke("reproduce", str(run_dir))
    assert cli.exit_code == 2
    assert "recorded with --data-root" in " ".join(cli.stderr.split()) and "is not a folder here" in cli.stderr
    assert not (tmp_path / "gone").exists()


def test_data_for_a_run_whose_data_set_is_not_made_from_files_is_refused(run_dir, tmp_path):
    cli = invoke("reproduce", str(run_dir), "--data", f"ring-8={tmp_path}")
    assert cli.exit_code == 2 and "Traceback" not in cli.output
    said = " ".join(cli.stderr.split())
    assert "--data ring-8=... names a data set that run" in said
    assert "its data set 'ring-8' is not made from files (folder:PATH, array:FILE)" in said
