"""The command line through typer's test runner, end to end on tiny data."""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import pandas as pd
import pytest
from typer.testing import CliRunner

import ganbench
from ganbench.cli import app
from ganbench.errors import did_you_mean, unknown_name_message

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_has_examples():
    result = invoke("--help")
    assert result.exit_code == 0 and "ganbench run --variants vanilla,wgan,wgan-gp" in result.output


def test_end_to_end_on_idx_files_through_torchvision(tmp_path, idx_dir):
    out = tmp_path / "results"
    result = invoke("run", "--variants", "vanilla,wgan,wgan-gp", "--seeds", "0,1", "--steps", "8",
                    "--batch-size", "16", "--eval-samples", "64", "--data-root", str(idx_dir),
                    "--out", str(out), "--sweep", "tiny", "--quiet")
    assert result.exit_code == 0, result.output
    assert "## fashion-mnist" in result.stdout
    for variant in ("vanilla", "wgan", "wgan-gp"):
        assert f"| {variant} " in result.stdout
    assert "G roughness (scale-free)" in result.stdout and "GP share of critic time" in result.stdout
    runs = sorted(p.name for p in (out / "tiny").iterdir() if p.is_dir())
    assert len(runs) == 6 and runs[0].startswith("vanilla_fashion-mnist_seed0_")
    table = pd.read_csv(out / "tiny" / "table-fashion-mnist.csv", index_col="variant")
    assert list(table.index) == ["vanilla", "wgan", "wgan-gp"]
    assert (table["seeds"] == 2).all()
    assert table.loc["wgan-gp", "gp_share:mean"] > 0 and pd.isna(table.loc["vanilla", "gp_share:mean"])
    assert (out / "tiny" / "table-fashion-mnist.md").read_text().startswith("## fashion-mnist")
    config = json.loads(next((out / "tiny").glob("wgan-gp_*/config.json")).read_text())
    assert config["config"]["arch"] == "mlp" and config["config"]["batch_size"] == 16

    # rebuilt from disk in every format
    md = invoke("table", str(out))
    assert md.exit_code == 0 and "| wgan-gp " in md.stdout
    as_json = json.loads(invoke("table", str(out / "tiny"), "--format", "json").stdout)
    assert [row["variant"] for row in as_json["fashion-mnist"]] == ["vanilla", "wgan", "wgan-gp"]
    assert "seeds" in invoke("table", str(out), "--format", "csv").stdout
    assert "\\begin{tabular}" in invoke("table", str(out), "--format", "latex").stdout

    # a second identical command skips the finished runs
    again = invoke("run", "--variants", "vanilla,wgan,wgan-gp", "--seeds", "0,1", "--steps", "8",
                   "--batch-size", "16", "--eval-samples", "64", "--data-root", str(idx_dir),
                   "--out", str(out), "--sweep", "tiny", "--json")
    assert {run["status"] for run in json.loads(again.stdout)["runs"]} == {"skipped"}


def test_toy_run_with_set_and_json(tmp_path):
    result = invoke("run", "--variants", "wgan-gp", "--datasets", "gaussian-1d", "--steps", "5",
                    "--set", "wgan-gp.lambda_gp=5", "--set", "train.batch_size=32",
                    "--eval-samples", "200", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [row] = payload["tables"]["gaussian-1d"]
    assert row["variant"] == "wgan-gp" and row["w1:mean"] > 0
    run_dir = payload["runs"][0]["dir"]
    config = json.loads(open(f"{run_dir}/config.json").read())
    assert config["config"]["variant_params"]["lambda_gp"] == 5.0 and config["config"]["batch_size"] == 32


@pytest.mark.parametrize("args,message", [
    (["run", "--variants", "wgan_gp"], "unknown variant 'wgan_gp'; did you mean 'wgan-gp'? Available: cgan, cyclegan, dcgan, ebgan, hinge, lsgan, r1, ragan, rsgan, vanilla, wgan, wgan-gp"),
    (["run", "--datasets", "fashion_mnist"], "did you mean 'fashion-mnist'?"),
    (["run", "--steps", "-5"], "steps must be a positive integer"),
    (["run", "--set", "wgan-gp.lambda_gp=abc"], "wgan-gp.lambda_gp must be a number, got 'abc'"),
    (["run", "--seeds", "x"], "--seeds expects"),
    (["run", "--arch", "resnet"], "unknown architecture 'resnet'"),
    (["run", "--metrics", "fidd"], "unknown metric 'fidd'"),
    (["list", "variant"], "did you mean 'variants'?"),
    (["table", "/nonexistent/folder"], "is not a folder of ganbench results"),
    (["table", ".", "--format", "xml"], "--format must be md, csv, json or latex"),
])
def test_usage_errors_exit_2_with_a_clear_message(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


UNIFORM_UNKNOWN = re.compile(r"unknown (.+) '(.+)'; did you mean '(.+)'\? Available: (.+)\.")


@pytest.mark.parametrize("args,what,bad,nearest", [
    (["list", "Variants"], "kind", "Variants", "variants"),
    (["run", "--variants", "wgan_gp"], "variant", "wgan_gp", "wgan-gp"),
    (["run", "--recipe", "mimicry-sngan"], "recipe", "mimicry-sngan", "mimicry-sngan-cifar10"),
    (["run", "--set", "wgan-gp.lamda_gp=5"], "wgan-gp setting", "lamda_gp", "lambda_gp"),
    (["run", "--config", "CONFIG"], "[published] key", "step", "steps"),
])
def test_every_unknown_name_is_refused_in_the_same_words(tmp_path, args, what, bad, nearest):
    """The bad name, the nearest one, every name accepted: one wording wherever a name is refused."""
    config = tmp_path / "mine.toml"
    config.write_text('[published]\nsource = "x"\nstep = 5\n[published.figures]\nfid = 1.0\n')
    result = invoke(*[str(config) if arg == "CONFIG" else arg for arg in args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    match = UNIFORM_UNKNOWN.search(" ".join(result.stderr.split()))
    assert match is not None, result.stderr
    assert match.group(1).endswith(what) and match.group(2) == bad and match.group(3) == nearest
    assert nearest in match.group(4).split(", ")


def test_did_you_mean_names_the_nearest_or_nothing():
    hooks = ["register_variants", "register_metrics", "register_datasets"]
    assert did_you_mean("register_variant", hooks) == "did you mean 'register_variants'?"
    assert did_you_mean("Register-Metrics", hooks) == "did you mean 'register_metrics'?"  # case, - for _
    assert did_you_mean("zzz", hooks) == ""
    assert unknown_name_message("hook", "zzz", hooks, then="See the docs.") == (
        "unknown hook 'zzz'. Available: register_variants, register_metrics, register_datasets. See the docs.")


def test_missing_data_set_exits_1_naming_remedies(tmp_path, monkeypatch):
    import urllib.error

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr("torchvision.datasets.utils.urllib.request.urlopen", offline)
    result = invoke("run", "--variants", "vanilla", "--steps", "2", "--out", str(tmp_path),
                    "--data-root", str(tmp_path / "nothing"), "--quiet")
    assert result.exit_code == 1
    assert "apt-get install dataset-fashion-mnist" in result.stderr


def test_list_and_plugins(test_plugin):
    listing = invoke("list")
    assert listing.exit_code == 0
    for name in ("vanilla", "wgan-gp", "fashion-mnist", "ring-8", "mlp", "dcgan", "volatility", "test-lsq"):
        assert name in listing.stdout
    assert "lambda_gp=10.0" in listing.stdout
    variants = json.loads(invoke("list", "variants", "--json").stdout)["variants"]
    assert {v["name"]: v["plugin"] for v in variants}["test-lsq"] == "test-plugin"
    plugins = json.loads(invoke("plugins", "--json").stdout)
    assert {"name": "test-plugin", "package": "(registered at run time)", "version": "",
            "hooks": ["register_metrics", "register_variants"],
            "contributions": {"variants": ["test-lsq"], "metrics": ["test-mean"]}} in plugins
    rows = _table_rows(invoke("plugins").stdout)
    assert ["ganbench.variants.vanilla", "ganbench (built-in)", ganbench.__version__, "variant vanilla"] in rows
    assert ["ganbench.datasets.toy", "ganbench (built-in)", ganbench.__version__,
            "datasets gaussian-1d, grid-25, ring-8"] in rows
    assert ["test-plugin", "(registered at run time)", "–", "variant test-lsq; metric test-mean"] in rows


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every body row of the rich tables in ``text``."""
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in text.splitlines()
            if line.startswith("│")]


def test_version_names_ganbench_and_torch():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"ganbench {version('ganbench')} (torch {version('torch')}, Python ")


def test_version_says_when_torch_is_not_installed(monkeypatch):
    import importlib.metadata

    real_version = importlib.metadata.version

    def version_without_torch(name: str) -> str:
        if name == "torch":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version_without_torch)
    result = invoke("--version")
    assert result.exit_code == 0
    assert f"ganbench {version('ganbench')} (torch not installed, Python " in result.stdout


def _tables(text: str) -> dict[str, list[str]]:
    """The lines of each titled table in ``text`` (the output of ``ganbench list``), by title."""
    tables: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() in ("variants", "datasets", "metrics", "architectures", "executors", "loggers"):
            title = line.strip()
        tables.setdefault(title, []).append(line)
    return tables


def test_list_prints_aligned_tables_with_each_kinds_facts():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert not any(text in result.stdout for text in ("{'", "['", "=[", "True", "None"))  # no Python reprs
    tables = _tables(result.stdout)
    assert list(tables) == ["variants", "datasets", "metrics", "architectures", "executors", "loggers"]
    rows = {}
    for kind, lines in tables.items():
        body = [line for line in lines if line.startswith("│")]
        assert len({line.index("│", 1) for line in body}) == 1  # the names column is aligned
        rows[kind] = {row[0]: row for row in _table_rows("\n".join(body))}
        assert len(rows[kind]) == len(body)  # one line per row: never wrapped when piped
    assert rows["variants"]["wgan-gp"][1:5] == [
        "ganbench.variants.wgan_gp", "5", "adam, lr_g=0.0001, lr_d=0.0001, betas=(0, 0.9)", "lambda_gp=10.0"]
    assert rows["variants"]["wgan"][3] == "rmsprop, lr_g=5e-05, lr_d=5e-05"
    assert rows["datasets"]["fashion-mnist-tops2shoes"][2:6] == ["two-domain", "1×28×28", "–", "32"]
    assert rows["datasets"]["folder"][3:6] == ["from the files", "–", "128"]
    assert rows["metrics"]["is"][2:4] == ["is ↑, is_std ·", "samples"]
    assert rows["metrics"]["fid"][2] == "fid ↓"
    architectures = rows["architectures"]
    assert "ring-8" in architectures["mlp"][2] and "cifar10" in architectures["mlp"][3]
    assert architectures["stylegan"][2] == "–" and "fashion-mnist" in architectures["stylegan"][3]
    assert rows["executors"]["local"][1] == "ganbench.executors.local"
    assert rows["loggers"]["tensorboard"][1] == "ganbench.loggers.tensorboard"


def test_list_json_keeps_its_keys_and_adds_each_kinds_facts():
    listing = json.loads(invoke("list", "--json").stdout)
    wgan_gp = next(row for row in listing["variants"] if row["name"] == "wgan-gp")
    assert wgan_gp["defaults"]["n_critic"] == 5 and wgan_gp["plugin"] == "ganbench.variants.wgan_gp"
    assert wgan_gp["hyperparameters"] == {"lambda_gp": 10.0} and wgan_gp["task"] == "generation"
    is_ = next(row for row in listing["metrics"] if row["name"] == "is")
    assert is_["defaults"]["higher_is_better"] == {"is": True, "is_std": None}
    assert [(v["key"], v["higher_is_better"]) for v in is_["values"]] == [("is", True), ("is_std", None)]
    mlp = next(row for row in listing["architectures"] if row["name"] == "mlp")
    assert {"ring-8", "fashion-mnist"} <= set(mlp["fits"]["auto"]) and "cifar10" in mlp["fits"]["named"]
    assert "folder" not in mlp["fits"]["auto"] + mlp["fits"]["named"]
    assert set(listing) == {"variants", "datasets", "metrics", "architectures", "executors", "loggers"}


def test_table_cells_are_plain_text_not_rich_markup():
    import ganbench as gb
    from ganbench.plugins import get_plugin_manager

    class Bracketed(gb.Variant):
        name = "bracketed"
        description = "A [bold]literal[/bold] description."

    class Plugin:
        @staticmethod
        @gb.hookimpl
        def register_variants(register):
            register(Bracketed)

        @staticmethod
        @gb.hookimpl
        def register_commands(cli):
            pass

    pm = get_plugin_manager()
    pm.register(Plugin, name="bracket-plugin")
    try:
        listing, plugins = invoke("list", "variants"), invoke("plugins")
    finally:
        pm.unregister(name="bracket-plugin")
    assert "A [bold]literal[/bold] description." in listing.stdout
    assert ["bracket-plugin", "(registered at run time)", "–", "variant bracketed; hook register_commands"] \
        in _table_rows(plugins.stdout)


def test_a_plugin_variant_and_metric_run_through_the_cli(tmp_path, test_plugin):
    result = invoke("run", "--variants", "test-lsq,vanilla", "--datasets", "ring-8", "--steps", "5",
                    "--eval-samples", "100", "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "| test-lsq " in result.stdout
    assert "sample_mean" in result.stdout


@pytest.fixture
def clashing_plugin():
    """A plugin registering a second variant named 'wgan', on the process-wide manager."""
    from ganbench.plugins import get_plugin_manager
    from ganbench.variants.vanilla import Vanilla

    class Clash:
        @staticmethod
        @ganbench.hookimpl
        def register_variants(register):
            register(type("Clash", (Vanilla,), {"name": "wgan"}))

    pm = get_plugin_manager()
    pm.register(Clash, name="clashing-plugin")
    try:
        yield
    finally:
        pm.unregister(name="clashing-plugin")


def test_plugins_still_lists_the_plugins_when_two_register_the_same_name(clashing_plugin):
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ["clashing-plugin", "(registered at run time)", "–", "hook register_variants"] in _table_rows(result.stdout)
    assert "'wgan' is registered twice" in result.stderr and "clashing-plugin" in result.stderr


def test_list_reports_a_name_conflict_without_a_traceback(clashing_plugin):
    result = CliRunner().invoke(app, ["list", "variants"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "'wgan' is registered twice" in result.output and "clashing-plugin" in result.output


def test_ganbench_warnings_print_as_one_line_and_other_libraries_as_python_does():
    import warnings
    from pathlib import Path

    import ganbench.cli  # noqa: F401 - installs the formatter

    inside = str(Path(ganbench.__file__).parent / "metrics" / "domain.py")
    assert warnings.formatwarning("few samples", UserWarning, inside, 51, "x = f()") == "Warning: few samples\n"
    outside = warnings.formatwarning("other", UserWarning, "/usr/lib/python3/x.py", 3, "y = g()")
    assert outside.startswith("/usr/lib/python3/x.py:3: UserWarning: other") and "y = g()" in outside
