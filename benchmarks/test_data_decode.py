"""Speed of reading a folder of images (pytest-benchmark): first decode vs the cached load.

Run with ``python -m pytest benchmarks/test_data_decode.py --benchmark-enable``.

The folder holds 60,000 28×28 grey PNGs in 10 class sub-folders, made from Debian's
Fashion-MNIST when it is installed, otherwise from random pixels. ``GANBENCH_BENCH_QUICK=1``
shrinks it to 2,000 images (for CI: one quick pass that checks the code still runs).

- ``first``: :func:`ganbench.datasets.files.read_images` with an empty cache: list, hash and
  decode every file, write the memory-mapped ``.npy``.
- ``cached``: the same call again, then every pixel read once (``pixels.sum()``): listing and
  stat of every file, and the cache read from disk.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.datasets.files import read_images

from benchmarks.bench_sizes import quick_mode

QUICK = quick_mode()
COUNT = 2_000 if QUICK else 60_000
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _source_images(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    images_file = FASHION_MNIST / "train-images-idx3-ubyte.gz"
    labels_file = FASHION_MNIST / "train-labels-idx1-ubyte.gz"
    if images_file.is_file() and labels_file.is_file():
        images = np.frombuffer(gzip.decompress(images_file.read_bytes()), np.uint8, offset=16).reshape(-1, 28, 28)
        labels = np.frombuffer(gzip.decompress(labels_file.read_bytes()), np.uint8, offset=8)
        return images[:count], labels[:count], "Fashion-MNIST"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, count, dtype=np.uint8), "random pixels")


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("pngs")
    images, labels, origin = _source_images(COUNT)
    for label in range(10):
        (folder / f"class{label}").mkdir()
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / f"class{label}" / f"{index:05d}.png")
    return folder, origin


def test_first_decode(benchmark, png_folder, tmp_path, monkeypatch):
    folder, origin = png_folder
    caches = iter(range(100))

    def fresh_cache():
        monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path / f"cache{next(caches)}"))

    decoded = benchmark.pedantic(read_images, args=(folder,), setup=fresh_cache, rounds=1 if not QUICK else 2)
    assert tuple(decoded.pixels.shape) == (COUNT, 1, 28, 28) and len(decoded.class_names) == 10
    benchmark.extra_info.update(images=COUNT, origin=origin)


def test_cached_load(benchmark, png_folder, tmp_path, monkeypatch):
    folder, origin = png_folder
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path / "cache"))
    first = read_images(folder)

    def load() -> int:
        decoded = read_images(folder)
        return int(decoded.pixels.sum())

    total = benchmark.pedantic(load, rounds=5, warmup_rounds=1)
    assert total == int(first.pixels.sum())
    benchmark.extra_info.update(images=COUNT, origin=origin)
