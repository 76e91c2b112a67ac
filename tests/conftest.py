"""Shared fixtures: isolated caches, tiny IDX data sets, a registered test plugin."""

from __future__ import annotations

import gzip
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import ganbench
from ganbench.plugins import get_plugin_manager


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """No third-party plugins, a private cache, and no Debian data set unless a test asks."""
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "")
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    from ganbench.datasets import images

    monkeypatch.setattr(images.FashionMNIST, "debian_dir", tmp_path_factory.mktemp("no-debian"))
    # No Inception weights and no downloads: tests never touch the network.
    hub_dir = tmp_path_factory.mktemp("hub")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub_dir))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse_download)
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    from ganbench.metrics import features

    features._inception.cache_clear()
    features._domain.cache_clear()
    # The local executor's thread count must not depend on the machine's load (results depend
    # on it), and sampling the load would add half a second to every sweep.
    from ganbench import threads

    monkeypatch.setattr(threads, "busy_cpus_elsewhere", lambda: 0.0)
    torch.use_deterministic_algorithms(False)


def refuse_download(url, *args, **kwargs):
    raise urllib.error.URLError(f"tests do not download ({url})")


def write_idx(folder: Path, count: int = 64, seed: int = 0, compress: bool = True,
              prefixes: tuple[str, ...] = ("train", "t10k")) -> Path:
    """Write MNIST-format IDX files (images: bright squares whose size encodes the label)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix in prefixes:
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        images = np.zeros((count, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            half = 3 + int(label)
            images[i, 14 - half:14 + half, 14 - half:14 + half] = 200 + rng.integers(0, 55)
        image_bytes = struct.pack(">IIII", 0x00000803, count, 28, 28) + images.tobytes()
        label_bytes = struct.pack(">II", 0x00000801, count) + labels.tobytes()
        for name, payload in ((f"{prefix}-images-idx3-ubyte", image_bytes),
                              (f"{prefix}-labels-idx1-ubyte", label_bytes)):
            if compress:
                with gzip.open(folder / f"{name}.gz", "wb") as handle:
                    handle.write(payload)
            else:
                (folder / name).write_bytes(payload)
    return folder


@pytest.fixture
def idx_dir(tmp_path) -> Path:
    """A folder holding the four gzipped IDX files of a 64-image Fashion-MNIST look-alike."""
    return write_idx(tmp_path / "idx")


class ConstantShift(ganbench.Variant):
    """A test variant: least-squares losses (not shipped by ganbench)."""

    name = "test-lsq"
    description = "Least-squares test variant registered by a test fixture."

    def discriminator_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores**2).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - 1) ** 2).mean()


class ScoreMean(ganbench.Metric):
    name = "test-mean"
    description = "Mean of generated samples (test metric)."
    requires = frozenset({"samples"})
    higher_is_better = {"sample_mean": True}

    def compute(self, context):
        return {"sample_mean": float(context.generated(200).mean())}


class TestPlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        register(ConstantShift)

    @staticmethod
    @ganbench.hookimpl
    def register_metrics(register):
        register(ScoreMean)


@pytest.fixture
def test_plugin():
    """Register :class:`TestPlugin` on the process-wide plugin manager for one test."""
    pm = get_plugin_manager()
    pm.register(TestPlugin, name="test-plugin")
    try:
        yield TestPlugin
    finally:
        pm.unregister(name="test-plugin")
