"""Fast mode's CUDA-graph step (:mod:`ganbench.step_graph`): when a run's step is captured,
the order of warm-up, capture and replay, the fall-back when a capture fails, and the
optimisers' capturable switch. The capture itself needs a GPU: the ``cuda`` tests at the end
run only where one is present (``benchmarks/gpu_check.py`` runs them on a lent GPU)."""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager

import pytest
import torch

from ganbench.config import RunConfig, variant_params
from ganbench.datasets import DataSource, StreamingSource, TensorSource
from ganbench.options import TrainingOptions
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench import step_graph
from ganbench.step_graph import GraphedStep, make_capturable
from ganbench.training import capturable_run, train

CUDA = torch.device("cuda")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


class FakeGraph:
    """Records the step function called inside its capture and re-runs it on replay."""

    def __init__(self, calls):
        self.calls = calls
        self.fn = None

    def replay(self):
        self.calls.append("replay")
        self.fn()


@pytest.fixture(autouse=True)
def no_cuda_streams(request, monkeypatch):
    """The stand-in graphs run on the CPU, also on a machine with a GPU."""
    if "on_cuda" not in request.node.name:
        monkeypatch.setattr(step_graph, "_current_stream", lambda: None)
        monkeypatch.setattr(step_graph, "_save_cuda_state", lambda: lambda: None)


def fake_stepper(step_fn, calls, fail_capture=False, warmup=2):
    graphs = []

    def new_graph():
        graphs.append(FakeGraph(calls))
        return graphs[-1]

    @contextmanager
    def graph_context(graph):
        calls.append("capture")
        if fail_capture:
            raise RuntimeError("operation not permitted when stream is capturing")
        yield
        graph.fn = lambda: step_fn(-1)

    return GraphedStep(step_fn, warmup=warmup, new_graph=new_graph,
                       graph_context=graph_context)


def test_warm_up_steps_run_eagerly_then_one_capture_is_replayed_every_step():
    calls = []
    output = torch.zeros(1)

    def step_fn(step):
        calls.append(f"step {step}")
        output.add_(1)
        return output

    stepper = fake_stepper(step_fn, calls)
    results = [stepper(step).item() for step in range(5)]
    assert calls == ["step 0", "step 1", "capture", "step 2", "replay", "step -1", "replay", "step -1",
                     "replay", "step -1"]
    assert stepper.captured and stepper.failure is None
    assert results == [1.0, 2.0, 4.0, 5.0, 6.0]  # the capture's own call records, it does not run


def test_a_failed_capture_warns_once_and_the_steps_run_eagerly_from_then_on():
    calls = []

    def step_fn(step):
        calls.append(f"step {step}")
        return torch.tensor([float(step)])

    stepper = fake_stepper(step_fn, calls, fail_capture=True, warmup=1)
    with pytest.warns(UserWarning, match="could not capture the training step as a CUDA graph.*RuntimeError: "
                                         "operation not permitted.*steps run eagerly"):
        outputs = [stepper(step).item() for step in range(4)]
    assert calls == ["step 0", "capture", "step 1", "step 2", "step 3"]
    assert outputs == [0.0, 1.0, 2.0, 3.0]  # no step is lost or run twice
    assert not stepper.captured and "RuntimeError" in stepper.failure


@pytest.mark.parametrize("optimizer_cls, options", [
    (torch.optim.Adam, {"fused": True}), (torch.optim.Adam, {}), (torch.optim.RMSprop, {}), (torch.optim.SGD, {}),
])
def test_make_capturable_switches_groups_that_have_the_setting_and_moves_existing_step_counters(optimizer_cls, options):
    weight = torch.nn.Parameter(torch.randn(3))
    optimizer = optimizer_cls([weight], lr=0.1, **options)
    weight.grad = torch.ones(3)
    optimizer.step()  # make the state, as a resumed run has it
    make_capturable(optimizer)
    group = optimizer.param_groups[0]
    if "capturable" in optimizer.defaults:
        assert group["capturable"] is True
        step = optimizer.state[weight]["step"]
        assert step.device == weight.device and step.dtype == torch.get_default_dtype() and float(step) == 1.0
    else:
        assert "capturable" not in group  # SGD has no such setting and keeps none


def cuda_config(catalog, **changes):
    config = RunConfig(variant="vanilla", dataset="ring-8", seed=0, arch="mlp", steps=20, batch_size=64,
                       latent_dim=8, device="cuda", fast=True, variant_params=variant_params(catalog, "vanilla", {}))
    return dataclasses.replace(config, **changes)


def test_only_a_fast_cuda_run_of_capturable_parts_without_stepwise_options_is_captured(catalog):
    variant = catalog.variants.get("vanilla")()
    source = TensorSource(torch.zeros(4, 2))
    config = cuda_config(catalog)
    assert capturable_run(config, catalog, variant, source, CUDA)
    assert not capturable_run(config, catalog, variant, source, torch.device("cpu"))
    assert not capturable_run(dataclasses.replace(config, fast=False), catalog, variant, source, CUDA)
    for options in (TrainingOptions(instance_noise=0.1), TrainingOptions(unrolled_steps=2)):
        assert not capturable_run(dataclasses.replace(config, options=options.to_dict()), catalog, variant,
                                  source, CUDA)
    assert not capturable_run(dataclasses.replace(config, arch="stylegan"), catalog, variant, source, CUDA)
    streaming = StreamingSource.__new__(StreamingSource)
    assert not capturable_run(config, catalog, variant, streaming, CUDA)

    class HostState(type(variant)):
        capturable = False  # e.g. a balance term updated from loss.item()

    assert not capturable_run(config, catalog, HostState(), source, CUDA)


def test_every_built_in_generation_variant_and_in_memory_source_declares_itself_capturable(catalog):
    generation = [name for name in catalog.variants.names() if catalog.variants.get(name).task == "generation"]
    assert generation and all(catalog.variants.get(name).capturable for name in generation)
    assert TensorSource.capturable and not StreamingSource.capturable and not DataSource.capturable
    assert not catalog.architectures.get("stylegan").capturable  # style mixing decides on the host
    assert all(catalog.architectures.get(name).capturable for name in ("mlp", "dcgan", "resnet-sngan", "sngan-cnn"))


def test_a_cpu_run_in_fast_mode_times_its_phases_and_is_not_graphed(catalog):
    outcome = train(cuda_config(catalog, variant="wgan-gp", device="cpu",
                                variant_params=variant_params(catalog, "wgan-gp", {})), catalog)
    assert outcome.execution == {"step": "eager"}
    assert outcome.timings["critic_time_s"] > 0 and 0 < outcome.timings["gp_share"] < 1


@needs_cuda
@pytest.mark.parametrize("variant", ["vanilla", "wgan-gp", "wgan", "lsgan", "hinge", "r1", "ragan", "rsgan",
                                     "ebgan", "cgan"])
def test_on_cuda_a_fast_run_replays_a_captured_step_and_follows_the_eager_run(catalog, variant):
    params = variant_params(catalog, variant, {})
    config = cuda_config(catalog, variant=variant, variant_params=params, steps=30)
    graphed = train(config, catalog)
    assert graphed.execution == {"step": "cuda-graph"}, graphed.execution
    assert math.isnan(graphed.timings["critic_time_s"])
    torch.cuda.synchronize()
    eager = train(dataclasses.replace(config, fast=False), catalog)
    assert eager.execution == {"step": "eager"}
    for column in ("g_loss", "d_loss"):
        graph_losses, eager_losses = graphed.history[column].to_numpy(), eager.history[column].to_numpy()
        assert all(math.isfinite(value) for value in graph_losses)
        # same seed, same kernels: TF32 and nondeterministic algorithms are the only differences
        assert abs(graph_losses[:5] - eager_losses[:5]).max() < 0.05 * (1 + abs(eager_losses[:5]).max())


@needs_cuda
@pytest.mark.parametrize("fault", ["synchronises", "raises"])
def test_on_cuda_a_variant_that_cannot_be_captured_falls_back_to_eager_steps(catalog, fault):
    base = catalog.variants.get("vanilla")

    class Synchronising(base):
        capturable = True  # wrongly declared: its loss reads a value back to the host, or fails in a capture

        def discriminator_loss(self, real_scores, fake_scores):
            loss = super().discriminator_loss(real_scores, fake_scores)
            if fault == "raises" and torch.cuda.is_current_stream_capturing():
                raise RuntimeError("this loss cannot be captured")
            return loss * (1.0 if fault == "raises" or loss.item() > -1 else 2.0)

    original = catalog.variants.get
    catalog.variants.get = lambda name: Synchronising if name == "vanilla" else original(name)
    try:
        with pytest.warns(UserWarning, match="could not capture the training step"):
            outcome = train(cuda_config(catalog, steps=12), catalog)
    finally:
        catalog.variants.get = original
    assert outcome.status == "finished" and outcome.execution["step"] == "eager"
    assert "cannot be captured" in outcome.execution["capture_failure"] or fault == "synchronises"
    assert len(outcome.history) == 12 and outcome.history["g_loss"].notna().all()
