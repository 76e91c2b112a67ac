"""Speed of the quality metrics (pytest-benchmark).

Run with ``python -m pytest benchmarks/test_metrics_speed.py --benchmark-enable``.

- The Fréchet distance at 2048 dimensions (Inception's pool features): ganbench's
  Cholesky + symmetric-eigenvalue form against the ``scipy.linalg.sqrtm`` form that pytorch-fid
  uses; both cases check that the two agree within 1e-6 relative.
- Feature extraction throughput of the FID Inception network (random weights: the speed does
  not depend on their values) and of the domain classifier, on 28×28 grey images.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.config import resolve_device
from ganbench.features.classifier import DomainClassifierNet, DomainFeatures
from ganbench.features.inception import FIDInceptionV3, InceptionFeatures
from ganbench.datasets.images import FashionMNIST
from ganbench.metrics.statistics import GaussianStatistics, frechet_distance, frechet_distance_sqrtm

DIM = 2048
DEVICE = torch.device(resolve_device("auto"))


@pytest.fixture(scope="module")
def statistics_pair() -> tuple[GaussianStatistics, GaussianStatistics]:
    """Two full-rank 2048-d statistics shaped like Inception features (10,000 samples each)."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    a = np.maximum(rng.normal(size=(10_000, DIM)) @ mixing, 0)  # ReLU-like, as pool features
    b = np.maximum(rng.normal(size=(10_000, DIM)) @ mixing + 0.05, 0)
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


def _images(count: int) -> torch.Tensor:
    return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("pipeline", ["tf", "pytorch-fid"])
def test_inception_feature_throughput(benchmark, pipeline):
    torch.manual_seed(0)
    network = FIDInceptionV3()
    for module in network.modules():  # default BatchNorm statistics make activations subnormal
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    extractor = InceptionFeatures.from_state_dict(network.state_dict(), pipeline=pipeline, device=DEVICE)
    images = _images(200).to(DEVICE)
    benchmark.pedantic(extractor.extract, args=(images,), rounds=3, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = 200 / benchmark.stats.stats.median
    benchmark.extra_info["device"] = DEVICE.type


def test_domain_feature_throughput(benchmark):
    torch.manual_seed(0)
    extractor = DomainFeatures(DomainClassifierNet(1, 10).to(DEVICE), FashionMNIST(), {})
    images = _images(10_000).to(DEVICE)
    benchmark.pedantic(extractor.extract, args=(images,), rounds=3, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = 10_000 / benchmark.stats.stats.median
    benchmark.extra_info["device"] = DEVICE.type
