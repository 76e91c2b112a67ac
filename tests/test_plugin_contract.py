"""The plugin author's contract in docs/writing-plugins.md: every documented example runs, and
every hook and public base-class member is documented (docstring and guide)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import sys
import typing
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

import ganbench
from ganbench.datasets import DatasetKind, Task
from ganbench.metrics import Requirement
from ganbench.values import Section
from ganbench.variants import CriticKind, CriticNorm, CriticOutput
from ganbench.config import SweepConfig, TrainSettings, rebuild_dataset, resolve_runs
from ganbench.docs import hook_specs
from ganbench.errors import UsageError
from ganbench.executors import Executor
from ganbench.loggers import Logger
from ganbench.plugins import PluginLoadWarning, build_catalog, create_plugin_manager
from ganbench.report.plots import dataset_plots
from ganbench.report.runs import load_runs
from ganbench.runner import RunTask, run_one, run_sweep
from ganbench.storage import read_json
from ganbench.training import build_models, capturable_run, train

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "writing-plugins.md").read_text()
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```\n", re.S)
EXTENSION_POINTS = ("variant", "dataset", "metric", "architecture", "executor", "command", "logger")


def example_code(name: str) -> str:
    """The guide's code blocks marked ``<!-- example: NAME -->``, joined in order."""
    blocks = [m["code"] for m in EXAMPLE.finditer(GUIDE) if m["name"] == name]
    assert blocks, f"docs/writing-plugins.md has no block marked <!-- example: {name} -->"
    return "\n".join(blocks)


def example_module(name: str) -> types.ModuleType:
    """Run the example ``name`` as a plugin module."""
    module = types.ModuleType(f"guide_example_{name}")
    exec(compile(example_code(name), f"<docs/writing-plugins.md example {name}>", "exec", dont_inherit=True), module.__dict__)
    return module


@pytest.fixture
def catalog_with():
    """A catalog of the built-ins and one guide example, on a fresh plugin manager."""

    def make(name: str):
        module = example_module(name)
        pm = create_plugin_manager(load_entry_points=False)
        pm.register(module, name=f"guide-{name}")
        return module, build_catalog(pm)

    return make


def tiny_sweep(catalog, *, variants=("vanilla",), datasets=("ring-8",), steps=4, **train):
    sweep = SweepConfig(variants=list(variants), datasets=list(datasets), seeds=[0],
                        train=TrainSettings(steps=steps, eval_samples=200, device="cpu", **train))
    return resolve_runs(sweep, catalog)


def test_every_extension_point_has_an_example():
    assert sorted(set(m["name"] for m in EXAMPLE.finditer(GUIDE))) == sorted(EXTENSION_POINTS)


def test_variant_example_trains_and_keeps_its_constraint(catalog_with):
    module, catalog = catalog_with("variant")
    (config,) = tiny_sweep(catalog, variants=["hinge-clip"])
    assert config.variant_params["clip"] == 0.05 and config.variant_params["beta1"] == 0.0
    outcome = train(config, catalog)
    assert outcome.status == "finished" and len(outcome.history) == 4
    assert {"critic_real", "critic_fake"} <= set(outcome.history.columns)  # critic_output = "raw"
    assert all(p.abs().max() <= 0.05 for p in outcome.critic.parameters())  # after_critic_step
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in outcome.critic.modules())
    # capturable = True: a --fast run on CUDA would replay its steps as a CUDA graph
    fast_cuda = dataclasses.replace(config, fast=True, device="cuda")
    assert capturable_run(fast_cuda, catalog, outcome.variant, outcome.source, torch.device("cuda"))
    with pytest.raises(UsageError, match="clip must be a positive number"):
        resolve_runs(SweepConfig(variants=["hinge-clip"], datasets=["ring-8"],
                                 variant_params={"hinge-clip": {"clip": 0}}), catalog)


def test_dataset_example_loads_as_documented_and_trains(catalog_with, tmp_path):
    module, catalog = catalog_with("dataset")
    dataset = catalog.datasets.get("two-moons")()
    source = dataset.load(device=torch.device("cpu"), seed=3)
    test = dataset.load(device=torch.device("cpu"), seed=3, train=False)
    assert source.num_items == test.num_items == 4000 and not torch.equal(source.data, test.data)
    assert torch.equal(source.data, dataset.load(device=torch.device("cpu"), seed=7).data)  # not the run's seed
    torch.manual_seed(0)
    batch, labels = source.sample_with_labels(256)
    torch.manual_seed(0)
    assert torch.equal(source.sample(256), batch)  # batches come from torch's seeded generator
    assert batch.dtype == torch.float32 and batch.shape == (256, 2) and set(labels.tolist()) <= {0, 1}
    assert batch[:, 0].max() > 1.5  # vectors keep their own coordinates, beyond [-1, 1]
    assert source.describe()["source"] == "generated (train split)"

    configs = tiny_sweep(catalog, variants=["vanilla", "cgan"], datasets=["two-moons"])
    assert [c.batch_size for c in configs] == [256, 256]  # the data set's default_batch_size
    for config in configs:
        summary = run_one(config, catalog, tmp_path / config.run_id)
        assert summary["status"] == "finished" and summary["data"]["split"] == "train"


def test_dataset_example_made_from_an_argument_is_recorded_and_rebuilt(catalog_with):
    module, catalog = catalog_with("dataset")
    (config,) = tiny_sweep(catalog, datasets=["moons:0.1"])
    assert config.dataset == "moons-0.1"
    assert config.data == {"dataset": "moons", "argument": "0.1", "name": "moons-0.1",
                           "settings": {"resolution": None}}
    made = catalog.datasets.get("moons-0.1")
    assert made.noise == 0.1 and not made.takes_argument and made.default_batch_size == 256
    fresh = build_catalog(_manager_with(module))
    assert rebuild_dataset(config.data, fresh).noise == 0.1  # what `ganbench reproduce` does
    outcome = train(config, catalog)
    assert outcome.status == "finished"
    with pytest.raises(UsageError, match="the argument is the noise's std"):
        tiny_sweep(build_catalog(_manager_with(module)), datasets=["moons:lots"])
    with pytest.raises(UsageError, match="needs an argument: --datasets moons:NOISE"):
        tiny_sweep(catalog, datasets=["moons"])


def test_a_run_on_a_data_set_made_from_an_argument_that_is_not_a_path_reproduces(catalog_with, tmp_path):
    from ganbench.reproduce import reproduce

    module, catalog = catalog_with("dataset")
    (config,) = tiny_sweep(catalog, datasets=["moons:0.1"], steps=2)
    run_one(config, catalog, tmp_path / "run")
    assert reproduce(tmp_path / "run", build_catalog(_manager_with(module))).matches, "'0.1' is no missing path"
    # no content key was recorded, so nothing could check that another argument makes the same data
    with pytest.raises(UsageError, match="records no content key"):
        reproduce(tmp_path / "run", build_catalog(_manager_with(module)), data={"moons-0.1": Path("0.3")})


def _manager_with(module):
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(module, name="guide-example")
    return pm


def test_metric_example_applies_to_vectors_and_runs_over_training(catalog_with, tmp_path):
    module, catalog = catalog_with("metric")
    metric = catalog.metrics.get("mean-gap")
    assert metric.applies_to(catalog.datasets.get("ring-8"))
    assert not metric.applies_to(catalog.datasets.get("fashion-mnist"))
    assert metric.value_info()["mean_gap"].headline and metric.value_info()["generated_std"].higher_is_better is None
    (config,) = tiny_sweep(catalog, steps=6, eval_every=3)
    assert "mean-gap" in config.metrics  # applies, so it runs by default
    summary = run_one(config, catalog, tmp_path / "run")
    assert summary["metrics"]["mean_gap"] > 0 and summary["metric_details"]["mean-gap"] == {"samples": 200}
    evaluations = pd.read_csv(tmp_path / "run" / "evaluations.csv")
    assert evaluations["step"].tolist() == [3, 6]  # every 3 steps; the last row is the final evaluation
    assert evaluations["mean_gap"].iloc[-1] == summary["metrics"]["mean_gap"]
    assert "modes_covered" in evaluations  # a headline of priority 0: the curve follows mean_gap (5)
    assert metric.value_info()["mean_gap"].headline_priority == 5
    plots = dataset_plots(load_runs(tmp_path), "ring-8", catalog)
    assert [p.title for p in plots if p.name.startswith("over-training")] == ["mean gap over training on ring-8"]


def test_architecture_example_is_used_only_when_named(catalog_with):
    module, catalog = catalog_with("architecture")
    assert [c.arch for c in tiny_sweep(catalog)] == ["mlp"]  # suitability 1: --arch auto passes it over
    (config,) = tiny_sweep(catalog, arch="wide-mlp", batch_size=16)
    assert config.latent_dim == 16
    outcome = train(config, catalog)
    assert outcome.status == "finished"
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in outcome.critic.modules())  # vanilla's critic_norm
    assert outcome.critic(torch.zeros(5, 2)).shape == (5,)
    assert outcome.generator(torch.zeros(5, 16)).shape == (5, 2)
    (config,) = tiny_sweep(catalog, variants=["wgan-gp"], arch="wide-mlp")
    variant = catalog.variants.get("wgan-gp")()
    models = build_models(config, catalog, variant, catalog.datasets.get("ring-8")(), torch.device("cpu"))
    norms = {type(m) for m in models.critic.modules()}
    assert torch.nn.LayerNorm in norms and torch.nn.BatchNorm1d not in norms  # wgan-gp's critic_norm
    with pytest.raises(UsageError, match="cannot build the 'autoencoder' critic"):
        tiny_sweep(catalog, variants=["ebgan"], arch="wide-mlp")
    with pytest.raises(UsageError, match="cannot model"):
        tiny_sweep(catalog, datasets=["fashion-mnist"], arch="wide-mlp")


def test_executor_example_runs_the_shortest_first(catalog_with, tmp_path):
    module, catalog = catalog_with("executor")
    executor_cls = catalog.executors.get("shortest-first")
    long, short = tiny_sweep(catalog, steps=6)[0], tiny_sweep(catalog, steps=2)[0]

    order: list[int] = []

    class Recorder:
        def started(self, config):
            order.append(config.steps)

        def step(self, config, done, latest=None):
            pass

        def stopped(self, config):
            pass

    tasks = [RunTask(c, tmp_path / "direct" / c.run_id) for c in (long, short)]
    with executor_cls() as executor:
        records = list(executor.run(tasks, catalog, Recorder()))
    assert order == [2, 6] and [r.status for r in records] == ["finished", "finished"]
    records = run_sweep([long, short], catalog, tmp_path / "sweep", quiet=True, executor=executor_cls())
    assert [r.config.steps for r in records] == [6, 2] and {r.status for r in records} == {"finished"}


def test_command_example_counts_runs(catalog_with, tmp_path):
    module, catalog = catalog_with("command")
    (config,) = tiny_sweep(catalog, steps=2)
    run_one(config, catalog, tmp_path / "results" / config.run_id)
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, as ganbench's app is
    _manager_with(module).hook.register_commands(cli=app)
    result = CliRunner().invoke(app, ["count-runs", str(tmp_path / "results")])
    assert result.exit_code == 0 and result.stdout == "finished: 1\n", result.output
    missing = CliRunner().invoke(app, ["count-runs", str(tmp_path / "nowhere")], env={"COLUMNS": "300"})
    assert missing.exit_code == 2 and "is not a folder" in missing.output


def test_logger_example_writes_every_loss_of_the_history(catalog_with, tmp_path):
    module, catalog = catalog_with("logger")
    assert catalog.loggers.plugin_of("jsonl") == "guide-logger"
    (config,) = tiny_sweep(catalog, steps=60, eval_every=30)
    summary = run_one(config, catalog, tmp_path / "run", loggers=["jsonl"])
    lines = [json.loads(line) for line in (tmp_path / "run" / "scalars.jsonl").read_text().splitlines()]
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    g_loss = [(line["step"], line["value"]) for line in lines if line["tag"] == "loss/g_loss"]
    assert g_loss == list(zip(history["step"], history["g_loss"]))  # every step, as recorded
    assert {line["run"] for line in lines} == {config.run_id}
    assert {line["step"] for line in lines if line["tag"].startswith("eval/")} == {30}
    finals = {line["tag"]: line["value"] for line in lines if line["tag"].startswith("metrics/")}
    assert finals == {f"metrics/{k}": v for k, v in summary["metrics"].items() if v == v}



def test_logger_example_keeps_what_a_resumed_run_logged_before(catalog_with, tmp_path, monkeypatch):
    """A run killed at step 100, after its checkpoint of step 90, and resumed keeps its folder:
    the example appends, so every step's loss is there (steps 0-49 only from the first part),
    the last value of each step the recorded one."""
    import ganbench.runner as runner

    module, catalog = catalog_with("logger")
    (config,) = tiny_sweep(catalog, steps=120)
    config = dataclasses.replace(config, checkpoint_every="30")
    real_train = runner.train

    def crashing_train(*args, on_progress, **kwargs):
        def progress(done, rows):
            on_progress(done, rows)
            if done == 100:
                raise RuntimeError("killed at step 100")
        return real_train(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(runner, "train", crashing_train)
    with pytest.raises(RuntimeError, match="killed"):
        run_one(config, catalog, tmp_path / "run", loggers=["jsonl"])
    monkeypatch.setattr(runner, "train", real_train)
    summary = run_one(config, catalog, tmp_path / "run", loggers=["jsonl"])
    assert summary["resumed_from"] == [90]
    lines = [json.loads(line) for line in (tmp_path / "run" / "scalars.jsonl").read_text().splitlines()]
    last = {line["step"]: line["value"] for line in lines if line["tag"] == "loss/g_loss"}
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert last == dict(zip(history["step"], history["g_loss"]))

# --- every hook and public base-class member is documented ---------------------------------

BASES = (ganbench.Variant, ganbench.VariantParams, ganbench.Dataset, ganbench.DataSource,
         ganbench.TensorSource, ganbench.Metric, ganbench.EvaluationContext, ganbench.Architecture,
         ganbench.ArchSpec, Executor, Logger)


def public_members(cls: type) -> dict[str, object]:
    """Names a subclass or a user may touch: attributes, methods and dataclass fields."""
    members = {name: value for name, value in vars(cls).items() if not name.startswith("_")}
    members.update({name: None for name in getattr(cls, "__dataclass_fields__", {}) if not name.startswith("_")})
    members.update({name: None for name in getattr(cls, "__annotations__", {}) if not name.startswith("_")})
    return members


def quoted(name: str, text: str) -> bool:
    """Whether ``text`` names ``name`` inside backticks (``name``, ``name(...)``, ``x.name``)."""
    return re.search(r"`[^`\n]*(?<![\w-])" + re.escape(name) + r"(?![\w-])[^`\n]*`", text) is not None


def undocumented(cls: type) -> list[str]:
    problems = []
    class_doc = inspect.getdoc(cls) or ""
    for name, value in public_members(cls).items():
        function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        function = function.fget if isinstance(function, property) else function
        if callable(function) and not isinstance(function, type):
            if not inspect.getdoc(function):
                problems.append(f"{cls.__name__}.{name} has no docstring")
        elif not quoted(name, class_doc):
            problems.append(f"{cls.__name__}.{name} is not described in the class docstring")
        if not quoted(name, GUIDE):
            problems.append(f"{cls.__name__}.{name} is not mentioned in docs/writing-plugins.md")
    return problems


@pytest.mark.parametrize("cls", BASES, ids=lambda cls: cls.__name__)
def test_every_public_member_of_a_base_class_is_documented(cls):
    assert inspect.getdoc(cls)
    assert undocumented(cls) == []


def test_every_hook_is_documented_in_the_contract():
    for spec in hook_specs():
        assert inspect.getdoc(spec), spec.__name__
        assert re.search(rf"^### .*\(`{spec.__name__}`\)$", GUIDE, re.M), spec.__name__


def test_the_documentation_check_finds_an_undocumented_member():
    class Careless(ganbench.Metric):
        """A metric."""

        zeal: int = 3

        def frobnicate(self):
            return 1

    assert set(undocumented(Careless)) >= {
        "Careless.zeal is not described in the class docstring",
        "Careless.zeal is not mentioned in docs/writing-plugins.md",
        "Careless.frobnicate has no docstring",
    }


# --- the data contract as the README and the guide state it -------------------------------

README = (ROOT / "README.md").read_text()


def test_default_batch_sizes_are_what_the_docs_say():
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    declared = {entry.name: entry.obj.default_batch_size for entry in catalog.datasets}
    assert ganbench.Dataset.default_batch_size == 128
    assert {declared[n] for n in ("gaussian-1d", "ring-8", "grid-25")} == {256}
    assert declared["fashion-mnist-tops2shoes"] == 32
    assert {size for name, size in declared.items()
            if name not in ("gaussian-1d", "ring-8", "grid-25", "fashion-mnist-tops2shoes")} == {128}
    statement = ("the data set's `default_batch_size` (128 unless the data set declares another: "
                 "the toy mixtures 256, `fashion-mnist-tops2shoes` 32")
    assert statement in README
    assert "**128 unless the data set sets another**" in GUIDE

    class PlainVectors(ganbench.Dataset):
        name, kind, shape = "plain-vectors", "vector", (2,)

    assert PlainVectors.default_batch_size == 128  # being a vector data set changes nothing


@pytest.mark.parametrize("name, reach", [("ring-8", 2.2), ("grid-25", 2.2), ("gaussian-1d", 3.4)])
def test_toy_data_stay_in_their_own_coordinates_as_documented(name, reach):
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    torch.manual_seed(0)
    samples = catalog.datasets.get(name)().load(device=torch.device("cpu"), seed=0).sample(20_000)
    assert samples.dtype == torch.float32
    assert 1.0 < samples.abs().max() < reach + 0.3  # beyond [-1, 1], about as far as documented
    assert f"about ±{reach}" in GUIDE and f"about ±{reach}" in README


def test_image_data_are_in_the_unit_range():
    pixels = torch.tensor([[[[0, 255], [128, 7]]]], dtype=torch.uint8)
    batch = ganbench.TensorSource(pixels).sample(64)
    assert batch.dtype == torch.float32 and batch.min() == -1 and batch.max() == 1


@pytest.mark.parametrize("declared", [CriticOutput, CriticNorm, CriticKind, DatasetKind, Task, Requirement, Section],
                         ids=lambda literal: "-".join(typing.get_args(literal)))
def test_every_allowed_value_of_a_declaration_is_in_the_guide(declared):
    for value in typing.get_args(declared):
        assert f'`"{value}"`' in GUIDE, value
    if declared is Section:
        assert re.search(r'`"cost"`, holds the timings the core measures', GUIDE)


def test_an_example_works_as_a_one_file_plugin_with_postponed_annotations(tmp_path, monkeypatch):
    """``GANBENCH_PLUGINS=FILE.py`` loads a module whose dataclasses use string annotations."""
    path = tmp_path / "hinge_clip_plugin.py"
    path.write_text("from __future__ import annotations\n\n" + example_code("variant"))
    monkeypatch.setenv("GANBENCH_PLUGINS", str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plugin that fails to load only warns
        catalog = build_catalog(create_plugin_manager())
    (config,) = tiny_sweep(catalog, variants=["hinge-clip"])
    assert config.variant_params["clip"] == 0.05


def test_a_one_file_plugin_that_fails_leaves_no_module_behind(tmp_path, monkeypatch):
    path = tmp_path / "broken_plugin.py"
    path.write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.setenv("GANBENCH_PLUGINS", str(path))
    with pytest.warns(PluginLoadWarning, match="broken on purpose"):
        create_plugin_manager()
    assert "ganbench_local_plugin_broken_plugin" not in sys.modules
