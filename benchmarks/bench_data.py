"""Data for the benchmarks: random images held in memory, registered as a plugin would."""

from __future__ import annotations

import torch

import ganbench
from ganbench.catalog import Catalog
from ganbench.datasets import Dataset, TensorSource
from ganbench.plugins import build_catalog, create_plugin_manager


def random_images(name: str, shape: tuple[int, int, int], count: int) -> type[Dataset]:
    """A data set ``name`` of ``count`` random uint8 images of ``shape`` (no files needed),
    the same for the same seed."""

    class RandomImages(Dataset):
        kind = "image"
        description = f"{count} random {shape[1]}x{shape[2]} images with {shape[0]} channel(s), for benchmarks."

        def load(self, *, device, seed, data_root=None, train=True):
            pixels = torch.randint(0, 256, (count, *self.shape), dtype=torch.uint8,
                                   generator=torch.Generator().manual_seed(seed))
            return TensorSource(pixels.to(device))

    RandomImages.name, RandomImages.shape = name, shape
    return RandomImages


def catalog_with(*datasets: type[Dataset]) -> Catalog:
    """The built-in catalog (no installed plugins) plus ``datasets``."""

    class BenchPlugin:
        @ganbench.hookimpl
        def register_datasets(self, register):
            for dataset in datasets:
                register(dataset)

    manager = create_plugin_manager(load_entry_points=False)
    manager.register(BenchPlugin(), name="bench")
    return build_catalog(manager)
