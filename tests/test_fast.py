"""Fast mode and training precision (``--fast``, ``--precision``): recorded, hashed only when
set, shown as a measurement condition, reproduced within a tolerance; CUDA-only settings only
on CUDA; a fast CPU run trains to finite results."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganbench import config as cfg
from ganbench.architectures import ArchSpec
from ganbench.cli import app
from ganbench.fast import (
    BackendFlags, ComputeMode, apply_backend_flags, backend_flags, compile_with_fallback, current_backend_flags,
    prepare_models, should_compile,
)
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.reproduce import CUDA_TOLERANCE, reproduce
from ganbench.storage import CONFIG_FILE, METRICS_FILE
from ganbench.tables import comparison_labels, condition_groups, load_results, measurement_conditions

runner = CliRunner()
CUDA = torch.device("cuda")  # a device object needs no GPU: the settings for CUDA are checked on any machine
CPU = torch.device("cpu")


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


@pytest.fixture
def restore_backends():
    before = current_backend_flags()
    yield
    apply_backend_flags(before, CPU)


def sweep(**train) -> cfg.SweepConfig:
    config = cfg.SweepConfig(variants=["vanilla", "wgan-gp"], datasets=["ring-8"], seeds=[0])
    config.train = dataclasses.replace(config.train, steps=30, device="cpu", **train)
    return config


# --- configuration and digest ----------------------------------------------------------------

def test_default_digests_are_the_ones_recorded_before_fast_mode(catalog):
    # digests computed by the code before fast mode existed, for the same sweep
    digests = {run.variant: run.digest() for run in cfg.resolve_runs(sweep(), catalog)}
    assert digests == {"vanilla": "31b85623d9a798a3ba302256907608a3f142c9426cede3167222f098289fc84d",
                       "wgan-gp": "d0a09afe7384e09af9faf46d3ca1161910ca43a0c642ee4eed818b70c9536e43"}


def test_fast_and_precision_are_recorded_and_enter_the_digest_each_when_set(catalog):
    [default] = cfg.resolve_runs(dataclasses.replace(sweep(), variants=["vanilla"]), catalog)
    [fast] = cfg.resolve_runs(dataclasses.replace(sweep(fast=True), variants=["vanilla"]), catalog)
    [bf16] = cfg.resolve_runs(dataclasses.replace(sweep(precision="bf16"), variants=["vanilla"]), catalog)
    assert (default.fast, default.precision) == (False, "fp32")
    assert fast.compute_mode == ComputeMode(fast=True) and bf16.compute_mode == ComputeMode(precision="bf16")
    assert len({default.digest(), fast.digest(), bf16.digest()}) == 3
    assert fast.to_dict()["fast"] is True and bf16.to_dict()["precision"] == "bf16"
    assert cfg.RunConfig.from_dict(json.loads(json.dumps(fast.to_dict()))).digest() == fast.digest()
    # a config.json written before the mode existed reads back as the default mode, same digest
    old = {k: v for k, v in default.to_dict().items() if k not in ("fast", "precision")}
    assert cfg.RunConfig.from_dict(old).digest() == default.digest()


def test_config_file_sets_fast_and_precision(catalog, tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('variants = ["vanilla"]\ndatasets = ["ring-8"]\n[train]\nfast = true\nprecision = "bf16"\n'
                    'device = "cpu"\n')
    config = cfg.SweepConfig()
    cfg.load_config_file(path, config, catalog)
    [run] = cfg.resolve_runs(config, catalog)
    assert run.compute_mode == ComputeMode(fast=True, precision="bf16")


@pytest.mark.parametrize("args", [["--precision", "fp16"], ["--set", "train.precision=half"]])
def test_an_unknown_precision_exits_2_with_one_line(tmp_path, args):
    result = invoke("run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "2", "--device", "cpu",
                    "--out", str(tmp_path), *args)
    assert result.exit_code == 2
    assert "precision must be one of fp32, bf16" in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def test_bf16_is_refused_for_a_translation_variant(catalog):
    config = cfg.SweepConfig(variants=["cyclegan"], datasets=["fashion-mnist-tops2shoes"], seeds=[0])
    config.train.precision, config.train.device = "bf16", "cpu"
    with pytest.raises(cfg.UsageError, match="cyclegan.*computes in fp32"):
        cfg.resolve_runs(config, catalog)


# --- backend settings --------------------------------------------------------------------------

def test_backend_flags_turn_cuda_settings_on_only_on_cuda():
    assert backend_flags(ComputeMode(fast=True), CUDA) == BackendFlags(
        deterministic=False, cudnn_benchmark=True, matmul_tf32=True, cudnn_tf32=True)
    assert backend_flags(ComputeMode(fast=True), CPU) == BackendFlags(
        deterministic=False, cudnn_benchmark=False, matmul_tf32=False, cudnn_tf32=True)
    for device in (CPU, CUDA):  # the default mode: deterministic, torch's own TF32 defaults
        assert backend_flags(ComputeMode(), device) == BackendFlags(True, False, False, True)
        assert backend_flags(ComputeMode(precision="bf16"), device) == BackendFlags(True, False, False, True)


def test_apply_backend_flags_sets_torch_process_wide(restore_backends):
    apply_backend_flags(backend_flags(ComputeMode(fast=True), CUDA), CUDA)
    assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
    assert not torch.are_deterministic_algorithms_enabled()
    apply_backend_flags(backend_flags(ComputeMode(), CUDA), CUDA)
    assert not torch.backends.cudnn.benchmark and not torch.backends.cuda.matmul.allow_tf32
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()


def test_networks_are_compiled_only_in_fast_mode_on_cuda_without_double_backward():
    fast = ComputeMode(fast=True)
    assert should_compile(fast, CUDA, has_penalty=False, unrolled_steps=0)
    assert not should_compile(fast, CPU, has_penalty=False, unrolled_steps=0)
    assert not should_compile(fast, CUDA, has_penalty=True, unrolled_steps=0)
    assert not should_compile(fast, CUDA, has_penalty=False, unrolled_steps=5)
    assert not should_compile(ComputeMode(precision="bf16"), CUDA, has_penalty=False, unrolled_steps=0)


# --- the networks ------------------------------------------------------------------------------

def pair(catalog, arch: str, shape: tuple[int, ...], kind: str) -> tuple[nn.Module, nn.Module]:
    return catalog.architectures.get(arch)().build(ArchSpec(shape, kind, 16, "batch", "scalar"))


def test_fast_mode_makes_convolutional_networks_channels_last_only(catalog):
    generator, critic = pair(catalog, "dcgan", (1, 28, 28), "image")
    keys = list(critic.state_dict())
    done = prepare_models((generator, critic), ComputeMode(fast=True), CPU, compile_networks=False)
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert list(critic.state_dict()) == keys
    assert len(done) == 2 and all(line.endswith(": channels-last") for line in done)
    mlp_g, mlp_c = pair(catalog, "mlp", (2,), "vector")
    assert prepare_models((mlp_g, mlp_c), ComputeMode(fast=True), CPU, compile_networks=False) == []
    assert prepare_models(pair(catalog, "dcgan", (1, 28, 28), "image"), ComputeMode(), CPU,
                          compile_networks=False) == []


def test_bf16_runs_the_forward_under_autocast_and_returns_float32(catalog):
    torch.manual_seed(0)
    generator, _ = pair(catalog, "mlp", (2,), "vector")
    plain = copy.deepcopy(generator)
    prepare_models((generator,), ComputeMode(precision="bf16"), CPU, compile_networks=False)
    z = torch.randn(8, 16)
    out, reference = generator(z), plain(z)
    assert out.dtype == torch.float32
    assert torch.equal(out, out.bfloat16().float())  # its last layer computed in bfloat16
    assert not torch.equal(reference, reference.bfloat16().float())
    assert torch.allclose(out, reference, atol=0.05)
    copied = copy.deepcopy(generator)  # e.g. the unrolled critic's copy: still under autocast, own weights
    assert torch.equal(copied(z), out)
    with torch.no_grad():
        next(copied.parameters()).add_(1.0)
    assert torch.equal(generator(z), out)
    assert list(generator.state_dict()) == list(plain.state_dict())


def test_a_failing_compilation_falls_back_to_the_eager_network_with_a_warning():
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no compiler here")

    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    expected = network(torch.ones(3, 4))
    compile_with_fallback(network, mode=None, backend=broken_backend)
    with pytest.warns(UserWarning, match="torch.compile failed for Sequential.*runs uncompiled"):
        got = network(torch.ones(3, 4))
    assert torch.equal(got, expected)
    assert network._compiled_call_impl is None  # eager from then on: no second warning
    assert torch.equal(network(torch.ones(3, 4)), expected)


# --- runs --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    """A tiny ``--fast --precision bf16`` run of vanilla on ring-8, on the CPU, via the CLI."""
    out = tmp_path_factory.mktemp("fast")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANBENCH_LOAD_PLUGINS", "")
        patch.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        result = invoke("run", "--variants", "vanilla", "--datasets", "ring-8", "--steps", "60", "--batch-size",
                        "32", "--eval-samples", "500", "--device", "cpu", "--fast", "--precision", "bf16",
                        "--out", str(out), "--quiet")
        flags_after = current_backend_flags()  # before the next test's fixtures reset them
    assert result.exit_code == 0, result.output
    [run_dir] = (out / "default").glob("vanilla_*")
    (run_dir.parent / "flags-after.json").write_text(json.dumps(dataclasses.asdict(flags_after)))
    return run_dir


def test_a_fast_cpu_run_trains_to_finite_results_and_records_its_mode(fast_run):
    record = json.loads((fast_run / CONFIG_FILE).read_text())
    summary = json.loads((fast_run / METRICS_FILE).read_text())
    assert record["config"]["fast"] is True and record["config"]["precision"] == "bf16"
    assert summary["status"] == "finished"
    assert summary["metrics"] and all(math.isfinite(v) for v in summary["metrics"].values())
    assert math.isfinite(summary["timings"]["steps_per_s"])
    assert summary["execution"] == {"step": "eager"}  # CUDA graphs only on CUDA
    # evaluation and later runs get the default, deterministic settings back
    flags_after = BackendFlags(**json.loads((fast_run.parent / "flags-after.json").read_text()))
    assert flags_after == backend_flags(ComputeMode(), CPU)


def test_tables_show_the_mode_as_a_measurement_condition(fast_run):
    record = json.loads((fast_run / CONFIG_FILE).read_text())
    assert measurement_conditions(record).endswith(", fast mode, bf16")
    default = {**record, "config": {**record["config"], "fast": False, "precision": "fp32"}}
    assert "fast" not in measurement_conditions(default) and "bf16" not in measurement_conditions(default)
    graphed = {"execution": {"step": "cuda-graph"}}  # what a fast CUDA run's metrics.json says
    assert measurement_conditions(record, graphed).endswith(", fast mode, bf16, CUDA graph")
    assert measurement_conditions(record, {"execution": {"step": "eager"}}) == measurement_conditions(record)
    long = load_results(fast_run.parent)
    assert set(long["conditions"]) == {measurement_conditions(record)}
    assert list(condition_groups(long)) == [measurement_conditions(record)]


def test_runs_recorded_before_the_mode_compare_as_the_default_mode():
    new = {"variant": "vanilla", "dataset": "ring-8", "seed": 0, "fast": False, "precision": "fp32"}
    old = {"variant": "vanilla", "dataset": "ring-8", "seed": 1}
    fast = {**new, "seed": 2, "fast": True}
    labels = comparison_labels({Path("new"): new, Path("old"): old})
    assert labels == {Path("new"): "vanilla", Path("old"): "vanilla"}
    labels = comparison_labels({Path("old"): old, Path("fast"): fast})
    assert labels == {Path("old"): "vanilla [fast=False]", Path("fast"): "vanilla [fast=True]"}


def test_a_fast_run_is_reproduced_within_the_tolerance(fast_run, catalog):
    result = reproduce(fast_run, catalog)
    torch.use_deterministic_algorithms(False)
    assert result.matches, result.differences
    assert result.tolerance == CUDA_TOLERANCE
    assert "within rtol=" in result.verdict()
    assert any("fast mode" in note for note in result.notes)


# --- evaluation speed --------------------------------------------------------------------------

def test_generated_samples_are_made_under_inference_mode_but_are_ordinary_tensors(catalog):
    from ganbench.metrics import EvaluationContext

    class Recording(nn.Module):
        def __init__(self, network: nn.Module):
            super().__init__()
            self.network, self.inference = network, []

        def forward(self, z):
            self.inference.append(torch.is_inference_mode_enabled())
            return self.network(z)

    torch.manual_seed(0)
    generator = Recording(pair(catalog, "mlp", (2,), "vector")[0])
    dataset = catalog.datasets.get("ring-8")()
    context = EvaluationContext(dataset=dataset, source=None, generator=generator, latent_dim=16, history=None,
                                eval_samples=250, device=CPU, seed=3)
    samples = context.generated(batch_size=100)
    assert generator.inference == [True, True, True]  # three chunks, each under inference mode
    generator.eval()
    z = torch.randn(250, 16, generator=torch.Generator().manual_seed(10_003))
    with torch.no_grad():
        assert torch.equal(samples, generator(z))  # the same samples as before, from the same noise
    assert not samples.is_inference() and not samples.requires_grad
    samples.clamp_(-10, 10)  # a metric may still change them in place


def test_domain_features_run_channels_last_on_the_cpu_and_match_the_plain_network():
    from ganbench.datasets.images import FashionMNIST
    from ganbench.features.classifier import FEATURES_VERSION, DomainClassifierNet, DomainFeatures

    torch.manual_seed(0)
    network = DomainClassifierNet(1, 10).eval()
    plain = copy.deepcopy(network)
    extractor = DomainFeatures(network, FashionMNIST(), {})
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    got = extractor.extract(images)
    with torch.inference_mode():
        from ganbench.datasets import to_unit_range
        from ganbench.features import quantize

        expected, logits = plain.features_and_logits(to_unit_range(quantize(images)))
    assert extractor.model.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got["features"], expected.double(), atol=1e-5)
    assert torch.allclose(got["logits"], logits.double(), atol=1e-5)
    assert extractor.cache_key()["features_version"] == FEATURES_VERSION == 3


def test_feature_networks_run_without_tf32_and_leave_the_settings_as_they_were():
    """On CUDA, TF32 convolutions (torch's default) move FID features by ~1e-3 from the float32
    reference (measured on an H200: 3.0e-3 against torch-fidelity with TF32, 6.7e-6 without)."""
    from ganbench.datasets.images import FashionMNIST
    from ganbench.fast import full_float32
    from ganbench.features.classifier import DomainClassifierNet, DomainFeatures
    from ganbench.features.inception import FIDInceptionV3, InceptionFeatures

    seen = []

    def record_flags(module, args):
        seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))

    inception = InceptionFeatures.from_state_dict(FIDInceptionV3().state_dict(), pipeline="tf", device=CPU)
    inception.network.register_forward_pre_hook(record_flags)
    domain = DomainFeatures(DomainClassifierNet(1, 10).eval(), FashionMNIST(), {})
    domain.model.body.register_forward_pre_hook(record_flags)  # extract calls features_and_logits
    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        inception.extract(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
        domain.extract(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
        assert seen == [(False, False), (False, False)]
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (True, True)
        with pytest.raises(RuntimeError), full_float32():
            raise RuntimeError("an error inside still restores the settings")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
