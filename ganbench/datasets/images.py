"""Image data sets through torchvision: ``fashion-mnist``, ``mnist``, ``cifar10``.

Where the files are looked for, in order:

1. ``--data-root DIR``: torchvision's layout (``DIR/FashionMNIST/raw/...``,
   ``DIR/cifar-10-batches-py``) or, for the MNIST family, the four IDX files (``.gz`` or
   not) directly in ``DIR``;
2. for ``fashion-mnist``, ``/usr/share/datasets/fashion-mnist/`` (Debian's
   ``dataset-fashion-mnist`` package);
3. torchvision's download into ``--data-root`` or ganbench's cache folder.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torchvision
from torch import Tensor
from torchvision.datasets.utils import extract_archive

from ganbench.datasets import (
    DataSource, Dataset, StreamingSource, TensorSource, cache_dir, fits_in_memory,
)
from ganbench.errors import DatasetUnavailableError
from ganbench.hookspecs import hookimpl

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class TorchvisionImages(Dataset):
    """An image data set read with a torchvision dataset class."""

    kind = "image"
    torchvision_class: ClassVar[type]
    debian_dir: ClassVar[Path | None] = None
    remedies: ClassVar[tuple[str, ...]] = ()

    # --- torchvision specifics, overridden per family -------------------------------------
    def _open(self, root: Path, train: bool, download: bool) -> Any:
        return self.torchvision_class(root=str(root), train=train, download=download)

    def _staged_root(self, folder: Path) -> Path | None:
        """A torchvision root made from loose files in ``folder``, or None if there are none."""
        return None

    @staticmethod
    def _as_tensors(tv_dataset: Any) -> tuple[Tensor, Tensor]:
        """All images as uint8 N×C×H×W and labels as int64."""
        data = tv_dataset.data
        data = torch.as_tensor(np.asarray(data)) if not isinstance(data, Tensor) else data
        data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
        return data.contiguous(), torch.as_tensor(np.asarray(tv_dataset.targets), dtype=torch.int64)

    # --- the look-up order -----------------------------------------------------------------
    def _candidates(self, data_root: Path | None) -> list[tuple[str, Path]]:
        candidates = []
        if data_root is not None:
            candidates.append(("--data-root", Path(data_root)))
        if self.debian_dir is not None:
            candidates.append(("Debian package", self.debian_dir))
        return candidates

    def open_torchvision(self, data_root: Path | None, train: bool = True) -> tuple[Any, str]:
        """The torchvision dataset object and a note of where its files came from."""
        tried: list[str] = []
        for label, folder in self._candidates(data_root):
            for root in (folder, self._staged_root(folder)):
                if root is None:
                    continue
                try:
                    return self._open(root, train, download=False), f"{label}: {folder}"
                except (RuntimeError, OSError, ValueError) as exc:
                    tried.append(f"{label} {root}: {exc}")
        download_root = Path(data_root) if data_root is not None else cache_dir() / "datasets"
        try:
            download_root.mkdir(parents=True, exist_ok=True)
            return self._open(download_root, train, download=True), f"download into {download_root}"
        except (RuntimeError, OSError, ValueError) as exc:  # URLError is an OSError
            tried.append(f"download into {download_root}: {type(exc).__name__}: {exc}")
        remedies = "\n".join(f"  - {r}" for r in self.remedies + (
            f"pass --data-root DIR with the files in torchvision's layout under DIR "
            f"(what torchvision.datasets.{self.torchvision_class.__name__}(DIR, download=True) writes)",
            "connect to the internet so that torchvision can download it",
        ))
        raise DatasetUnavailableError(
            f"data set {self.name!r} is not available. Tried:\n"
            + "\n".join(f"  * {t}" for t in tried)
            + f"\nRemedies:\n{remedies}"
        )

    def load(self, *, device: torch.device, seed: int, data_root: Path | None = None,
             train: bool = True) -> DataSource:
        tv_dataset, origin = self.open_torchvision(data_root, train)
        info = {"source": origin, "split": "train" if train else "test"}
        if fits_in_memory(len(tv_dataset) * self.dimension()):
            images, labels = self._as_tensors(tv_dataset)
            if tuple(images.shape[1:]) != self.shape:
                raise DatasetUnavailableError(
                    f"data set {self.name!r} from {origin} has images of shape "
                    f"{tuple(images.shape[1:])}, expected {self.shape}; the files are not {self.name}."
                )
            return TensorSource(images.to(device), labels.to(device), info)
        tv_dataset.transform = torchvision.transforms.PILToTensor()
        return StreamingSource(tv_dataset, self.shape, device, seed, info=info)


class MNISTFamily(TorchvisionImages):
    """MNIST-format data sets: four IDX files, 28×28 grey images, 10 classes."""

    shape = (1, 28, 28)
    num_classes = 10
    idx_files = (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    )

    def _staged_root(self, folder: Path) -> Path | None:
        sources = {}
        for stem in self.idx_files:
            found = [folder / stem, folder / f"{stem}.gz"]
            existing = [f for f in found if f.is_file()]
            if not existing:
                return None
            sources[stem] = existing[0]
        # torchvision reads uncompressed files from ROOT/<ClassName>/raw/: stage them there.
        key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
        root = cache_dir() / "staged" / f"{self.name}-{key}"
        raw = root / self.torchvision_class.__name__ / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for stem, source in sources.items():
            target = raw / stem
            if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
                continue
            if source.suffix == ".gz":
                extract_archive(str(source), str(raw))
            else:
                shutil.copyfile(source, target)
        return root


class FashionMNIST(MNISTFamily):
    name = "fashion-mnist"
    description = "Fashion-MNIST: 60k 28x28 grey clothing images, 10 classes."
    torchvision_class = torchvision.datasets.FashionMNIST
    debian_dir = DEBIAN_FASHION_MNIST
    remedies = ("install Debian's package: apt-get install dataset-fashion-mnist",)


class MNIST(MNISTFamily):
    name = "mnist"
    description = "MNIST: 60k 28x28 grey handwritten digits, 10 classes."
    torchvision_class = torchvision.datasets.MNIST


class CIFAR10(TorchvisionImages):
    name = "cifar10"
    description = "CIFAR-10: 50k 32x32 colour images, 10 classes."
    torchvision_class = torchvision.datasets.CIFAR10
    shape = (3, 32, 32)
    num_classes = 10


@hookimpl
def register_datasets(register):
    register(FashionMNIST)
    register(MNIST)
    register(CIFAR10)
