"""Per-run cost figures: one-off setup work kept apart, peak memory of the run itself, n/a figures."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

import ganbench
from ganbench import config as cfg
from ganbench import memory
from ganbench.config import RunConfig, variant_params
from ganbench.memory import PeakMemory
from ganbench.metrics import features as metric_features
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.runner import run_sweep
from ganbench.tables import value_info
from ganbench.timing import one_off_seconds, one_off_work
from ganbench.training import train

ONE_OFF_SECONDS = 1.0


class SlowFirstTime(ganbench.Metric):
    """A metric that, like the domain classifier, does expensive one-off work on first use."""

    name = "test-slow-first-time"
    requires = frozenset({"history"})
    higher_is_better = {"slow_first_time": True}
    prepared = False

    def compute(self, context):
        if not SlowFirstTime.prepared:
            with one_off_work():
                time.sleep(ONE_OFF_SECONDS)
            SlowFirstTime.prepared = True
        return {"slow_first_time": 1.0}


class SlowPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(SlowFirstTime)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def test_one_off_work_is_setup_time_outside_the_compared_timings(tmp_path):
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(SlowPlugin, name="slow-plugin")
    catalog = build_catalog(pm)
    SlowFirstTime.prepared = False
    sweep = cfg.SweepConfig(variants=["vanilla"], datasets=["ring-8"], seeds=[0, 1],
                            metrics=["volatility", "test-slow-first-time"])
    sweep.train.steps, sweep.train.batch_size, sweep.train.eval_samples = 5, 16, 100
    started = time.perf_counter()
    first, second = run_sweep(cfg.resolve_runs(sweep, catalog), catalog, tmp_path, quiet=True)
    elapsed = time.perf_counter() - started
    timings = [json.loads((r.run_dir / "metrics.json").read_text())["timings"] for r in (first, second)]
    assert timings[0]["setup_time_s"] >= ONE_OFF_SECONDS  # the first run did the one-off work ...
    assert timings[1]["setup_time_s"] < 0.05  # ... the second found it done
    # neither the first run's evaluation (which also imports matplotlib for its samples) ...
    assert timings[0]["eval_time_s"] - timings[1]["eval_time_s"] < ONE_OFF_SECONDS
    assert elapsed - timings[0]["wall_clock_s"] - timings[1]["wall_clock_s"] >= ONE_OFF_SECONDS  # ... nor wall-clock
    assert timings[0]["cpu_time_s"] >= 0
    assert value_info(catalog)["setup_time_s"].higher_is_better is None  # shown, never ranked


def test_nested_one_off_work_counts_once():
    before = one_off_seconds()[0]
    with one_off_work():
        with one_off_work():
            time.sleep(0.2)
    assert 0.2 <= one_off_seconds()[0] - before < 0.4  # counted twice would be 0.4 or more


def test_real_statistics_count_as_one_off_work_on_a_cache_miss_only(tmp_path):
    from test_quality_metrics import PixelFeatures, Replay, context_for

    from conftest import write_idx
    from ganbench.datasets.images import FashionMNIST

    class SlowPixels(PixelFeatures):
        def extract(self, images):
            time.sleep(0.3)
            return super().extract(images)

    dataset = FashionMNIST()
    source = dataset.load(device=torch.device("cpu"), seed=0, data_root=write_idx(tmp_path / "idx", count=100))
    generator = Replay(source.items(torch.arange(10))[0])
    before = one_off_seconds()[0]
    metric_features.real_features(context_for(dataset, source, generator, eval_samples=50), SlowPixels())
    missed = one_off_seconds()[0]
    metric_features.real_features(context_for(dataset, source, generator, eval_samples=50), SlowPixels())
    assert missed - before >= 0.3  # computed: one-off
    assert one_off_seconds()[0] - missed < 0.05  # loaded from the cache: the run's own work


def test_peak_memory_on_cpu_is_the_runs_own():
    first = PeakMemory(torch.device("cpu"))
    big = torch.ones(50 * 2**20)  # 200 MiB, written, so resident
    del big
    large = first.figures()["peak_memory_mb"]
    second = PeakMemory(torch.device("cpu"))
    small = torch.ones(2**20)  # 4 MiB
    del small
    later = second.figures()["peak_memory_mb"]
    assert 190 <= large < 400
    assert later < 50  # the earlier run's peak is not carried over (ru_maxrss would be >= 200 MiB)


def test_identical_runs_in_one_process_read_alike():
    """Later runs of a process reuse memory that earlier ones freed: without handing it back,
    the second and later of identical runs read 0 MiB and were ranked best."""
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))

    def run() -> float:
        config = RunConfig(variant="vanilla", dataset="ring-8", seed=0, arch="mlp", steps=5, batch_size=4096,
                           latent_dim=64, device="cpu", variant_params=variant_params(catalog, "vanilla", {}))
        return train(config, catalog).timings["peak_memory_mb"]

    figures = [run() for _ in range(3)]
    assert min(figures) > 5, figures  # a batch of 4096 through the toy MLPs holds a few MiB at least
    assert max(figures) / min(figures) < 1.5, figures


def test_the_warm_up_leaves_the_random_state_alone():
    memory.warm_up_cpu.cache_clear()
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    memory.warm_up_cpu()
    assert torch.equal(torch.rand(3), expected)


def test_without_proc_only_an_unranked_process_peak(monkeypatch, tmp_path):
    monkeypatch.setattr(memory, "CLEAR_REFS", tmp_path / "missing" / "clear_refs")
    figures = PeakMemory(torch.device("cpu")).figures()
    assert set(figures) == {"process_peak_memory_mb"} and figures["process_peak_memory_mb"] > 0
    info = value_info(None)
    assert info["process_peak_memory_mb"].higher_is_better is None and info["peak_memory_mb"].higher_is_better is False


def test_penalty_time_is_not_applicable_without_a_penalty(catalog):
    def config(variant):
        return RunConfig(variant=variant, dataset="ring-8", seed=0, arch="mlp", steps=5, batch_size=16,
                         latent_dim=4, device="cpu", variant_params=variant_params(catalog, variant, {}))

    assert math.isnan(train(config("vanilla"), catalog).timings["penalty_time_s"])
    assert train(config("wgan-gp"), catalog).timings["penalty_time_s"] > 0
