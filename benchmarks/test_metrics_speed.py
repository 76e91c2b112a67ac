"""Speed of the quality metrics (pytest-benchmark).

Run with ``python -m pytest benchmarks/test_metrics_speed.py --benchmark-enable``.

- The Fréchet distance at 2048 dimensions (Inception's pool features): ganbench's
  Cholesky + symmetric-eigenvalue form against the ``scipy.linalg.sqrtm`` form that pytorch-fid
  uses; both cases check that the two agree within 1e-6 relative.
- Feature extraction throughput of the FID Inception network (random weights: the speed does
  not depend on their values) and of the domain classifier, on 28×28 grey images.
- The FID Inception network beside torch-fidelity's, with the same random state dict loaded
  into both, on the same uint8 images and device, timed alternately in the same process:
  prints both img/s and their ratio (ganbench / torch-fidelity), and checks that the features
  agree within 1e-4. torch-fidelity runs in batches of 64 (its ``calculate_metrics`` default)
  under ``torch.no_grad``, as its metrics do; ganbench in its own batches (200).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest
import torch

from ganbench.config import resolve_device
from ganbench.features.classifier import DomainClassifierNet, DomainFeatures
from ganbench.features.inception import FIDInceptionV3, InceptionFeatures
from ganbench.datasets.images import FashionMNIST
from ganbench.metrics.statistics import GaussianStatistics, frechet_distance, frechet_distance_sqrtm

from benchmarks.bench_sizes import size

DIM = size(2048, 64)
SAMPLES = size(10_000, 500)
INCEPTION_IMAGES = size(200, 4)
DOMAIN_IMAGES = size(10_000, 500)
DEVICE = torch.device(resolve_device("auto"))


@pytest.fixture(scope="module")
def statistics_pair() -> tuple[GaussianStatistics, GaussianStatistics]:
    """Two full-rank 2048-d statistics shaped like Inception features (10,000 samples each;
    quick mode: 64-d, 500 samples)."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    a = np.maximum(rng.normal(size=(SAMPLES, DIM)) @ mixing, 0)  # ReLU-like, as pool features
    b = np.maximum(rng.normal(size=(SAMPLES, DIM)) @ mixing + 0.05, 0)
    return GaussianStatistics.of(a), GaussianStatistics.of(b)


@pytest.fixture(scope="module")
def reference_value(statistics_pair) -> float:
    return frechet_distance_sqrtm(*statistics_pair)


@pytest.mark.parametrize("method", ["symmetric", "sqrtm"])
def test_frechet_distance_2048(benchmark, statistics_pair, reference_value, method):
    function = frechet_distance if method == "symmetric" else frechet_distance_sqrtm
    value = benchmark.pedantic(function, args=statistics_pair, rounds=3, warmup_rounds=1)
    assert value == pytest.approx(reference_value, rel=1e-6)
    benchmark.extra_info["fid"] = value


def _record_throughput(benchmark, images: int) -> None:
    """Images per second from the median round (only when benchmarks are enabled)."""
    if benchmark.stats is not None:
        benchmark.extra_info["images_per_s"] = images / benchmark.stats.stats.median


def _images(count: int) -> torch.Tensor:
    return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


TORCH_FIDELITY_BATCH = 64  # torch-fidelity's default batch size
SIDE_BY_SIDE_IMAGES = size(64, 2)
SIDE_BY_SIDE_ROUNDS = size(2, 1)


def _random_inception() -> FIDInceptionV3:
    torch.manual_seed(0)
    network = FIDInceptionV3()
    for module in network.modules():  # default BatchNorm statistics make activations subnormal
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return network


@pytest.mark.parametrize("pipeline", ["tf", "pytorch-fid"])
def test_inception_feature_throughput(benchmark, pipeline):
    network = _random_inception()
    extractor = InceptionFeatures.from_state_dict(network.state_dict(), pipeline=pipeline, device=DEVICE)
    images = _images(INCEPTION_IMAGES).to(DEVICE)
    features = benchmark.pedantic(extractor.extract, args=(images,), rounds=3, warmup_rounds=1)
    assert features["features"].shape == (INCEPTION_IMAGES, 2048)
    assert torch.isfinite(features["features"]).all()
    _record_throughput(benchmark, INCEPTION_IMAGES)
    benchmark.extra_info["device"] = DEVICE.type


def test_inception_throughput_beside_torch_fidelity(benchmark, tmp_path):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state_dict = _random_inception().state_dict()
    weights = tmp_path / "random-inception.pth"
    torch.save(state_dict, weights)
    ours = InceptionFeatures.from_state_dict(state_dict, pipeline="tf", device=DEVICE)
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(weights)).to(DEVICE).eval()
    pixels = torch.randint(0, 256, (SIDE_BY_SIDE_IMAGES, 1, 28, 28), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(DEVICE)

    times: dict[str, list[float]] = {"ganbench": [], "torch-fidelity": []}
    features: dict[str, torch.Tensor] = {}

    def timed(name: str, function) -> None:
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        features[name] = function()
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        times[name].append(time.perf_counter() - start)

    def torch_fidelity_round() -> None:  # pytest-benchmark's untimed setup: before each of ganbench's rounds
        with torch.no_grad():
            timed("torch-fidelity", lambda: torch.cat([
                theirs(pixels[start:start + TORCH_FIDELITY_BATCH].expand(-1, 3, -1, -1))[0].cpu()
                for start in range(0, len(pixels), TORCH_FIDELITY_BATCH)]))

    warmup = size(1, 0)
    benchmark.pedantic(lambda: timed("ganbench", lambda: ours.extract(pixels)["features"]),
                       setup=torch_fidelity_round, rounds=SIDE_BY_SIDE_ROUNDS, warmup_rounds=warmup)
    assert (features["ganbench"] - features["torch-fidelity"].double()).abs().max() <= 1e-4
    times = {name: seconds[warmup:] for name, seconds in times.items()}
    rate = {name: SIDE_BY_SIDE_IMAGES / statistics.median(seconds) for name, seconds in times.items()}
    benchmark.extra_info.update({f"{name}_images_per_s": value for name, value in rate.items()})
    benchmark.extra_info["ratio"] = rate["ganbench"] / rate["torch-fidelity"]
    benchmark.extra_info["load_average"] = os.getloadavg()[0]
    print(f"\nFID Inception features on {DEVICE} ({torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}), {SIDE_BY_SIDE_IMAGES} 28x28 images: ganbench {rate['ganbench']:.2f} img/s, "
          f"torch-fidelity {rate['torch-fidelity']:.2f} img/s, ratio {benchmark.extra_info['ratio']:.2f}")


def test_domain_feature_throughput(benchmark):
    torch.manual_seed(0)
    extractor = DomainFeatures(DomainClassifierNet(1, 10).to(DEVICE), FashionMNIST(), {})
    images = _images(DOMAIN_IMAGES).to(DEVICE)
    features = benchmark.pedantic(extractor.extract, args=(images,), rounds=3, warmup_rounds=1)
    assert features["features"].shape[0] == DOMAIN_IMAGES
    assert torch.isfinite(features["features"]).all()
    _record_throughput(benchmark, DOMAIN_IMAGES)
    benchmark.extra_info["device"] = DEVICE.type
