"""Speed of ``ganbench evaluate`` (pytest-benchmark): 10,000 samples, the domain metrics, CPU.

Run with ``python -m pytest benchmarks/test_evaluate_speed.py --benchmark-enable``.

The samples are an ``.npy`` array of Fashion-MNIST's 10,000 test images; the reference is
``fashion-mnist``'s training split (Debian's copy when installed, else a look-alike of
squares whose size encodes the class). The domain classifier is trained (and cached) before
timing. Metrics: ``domain-fid``, ``domain-is``, ``class-coverage``, ``domain-prdc``.

- ``cold``: the reference's features are not cached (the statistics cache is emptied before
  each round): the 10,000 real images go through the classifier and are written to the cache.
- ``warm``: a second evaluation against the same reference reads them from the cache.

``extra_info["real_features_cached"]`` says whether the cache was used; the difference of the
two medians is the time the cache saves. Quick mode (``GANBENCH_BENCH_QUICK=1``): 300
samples of a 600-image look-alike, one round.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.datasets import cache_dir
from ganbench.datasets.images import FashionMNIST
from ganbench.evaluation import EvaluationSettings, evaluate_samples
from ganbench.features import classifier
from ganbench.plugins import build_catalog

from benchmarks.bench_sizes import quick_mode, size

SAMPLES = size(10_000, 300)
LOOK_ALIKE = size(20_000, 600)  # training images of the look-alike, when Debian's copy is missing
ROUNDS = size(3, 1)
METRICS = ["domain-fid", "domain-is", "class-coverage", "domain-prdc"]
DEBIAN = FashionMNIST.debian_dir


def _write_look_alike(folder: Path, count: int) -> Path:
    """Fashion-MNIST-format IDX files of bright squares whose size encodes the label."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", count), ("t10k", max(SAMPLES, count // 6))):
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            half = 3 + int(label)
            images[i, 14 - half:14 + half, 14 - half:14 + half] = rng.integers(150, 256)
        for name, header, payload in (
                (f"{prefix}-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, n, 28, 28), images),
                (f"{prefix}-labels-idx1-ubyte.gz", struct.pack(">II", 2049, n), labels)):
            with gzip.open(folder / name, "wb") as handle:
                handle.write(header + payload.tobytes())
    return folder


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """One private cache for the module, so that the classifier is trained once."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    patch.setenv("GANBENCH_LOAD_PLUGINS", "")
    if quick_mode():
        patch.setattr(classifier, "DEFAULT_PARAMS", classifier.TrainingParams(epochs=1, batch_size=64))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def private_cache(module_cache):
    """Replaces the benchmarks' per-test cache (conftest.py) with the module's."""


@pytest.fixture(scope="module")
def setup(module_cache, tmp_path_factory):
    """(samples file, data root or None, catalog), with the domain classifier already cached."""
    folder = tmp_path_factory.mktemp("evaluate-speed")
    data_root = None
    if quick_mode() or not (DEBIAN / "train-images-idx3-ubyte.gz").is_file():
        data_root = _write_look_alike(folder / "idx", LOOK_ALIKE)
    test_split = FashionMNIST().load(device=torch.device("cpu"), seed=0, data_root=data_root, train=False)
    images, _ = test_split.items(torch.arange(SAMPLES))
    samples = folder / "samples.npy"
    np.save(samples, ((images + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy())
    classifier.load_or_train_classifier(FashionMNIST(), seed=0, device="cpu", data_root=data_root)
    return samples, data_root, build_catalog()


def _statistics_files() -> list[Path]:
    return sorted((cache_dir() / "statistics").glob("*.pt"))


@pytest.mark.parametrize("reference_cache", ["cold", "warm"])
def test_evaluate_10000_samples_domain_metrics(benchmark, setup, tmp_path, reference_cache):
    samples, data_root, catalog = setup
    settings = EvaluationSettings(metrics=METRICS, eval_samples=SAMPLES, device="cpu", data_root=data_root,
                                  command=["benchmark"])

    def empty_statistics_cache():
        shutil.rmtree(cache_dir() / "statistics", ignore_errors=True)

    def evaluate():
        return evaluate_samples(str(samples), "fashion-mnist", catalog, tmp_path / "out", settings)

    if reference_cache == "warm":
        evaluate()  # fill the cache once, outside the timing
        before = {path: path.stat().st_mtime_ns for path in _statistics_files()}
        result = benchmark.pedantic(evaluate, rounds=ROUNDS, iterations=1)
        assert before and {path: path.stat().st_mtime_ns for path in _statistics_files()} == before
    else:
        result = benchmark.pedantic(evaluate, setup=empty_statistics_cache, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["real_features_cached"] = reference_cache == "warm"
    benchmark.extra_info["samples"] = SAMPLES
    benchmark.extra_info["load_average_after"] = os.getloadavg()[0]  # a shared machine skews timings
    benchmark.extra_info.update({key: round(value, 6) for key, value in result.summary["metrics"].items()})
    assert set(result.summary["metrics"]) >= {"domain_fid", "domain_is", "classes_covered", "domain_precision"}
    assert not result.summary["metric_errors"]
