"""Unpaired two-domain data sets for translation variants (``cyclegan``).

``fashion-mnist-tops2shoes``: Fashion-MNIST split by class into domain X, tops
{T-shirt/top (0), Pullover (2), Coat (4), Shirt (6)}, and domain Y, footwear
{Sandal (5), Sneaker (7), Ankle boot (9)}. The other classes (Trouser, Dress, Bag) are left
out. The images are not paired: each domain is sampled independently. Files are found as
for ``fashion-mnist`` (``--data-root``, Debian's package, download).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganbench.datasets import DataSource, Dataset, TensorSource
from ganbench.datasets.images import FashionMNIST
from ganbench.errors import DatasetUnavailableError
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor


class TwoDomainSource(DataSource):
    """Two independent sources of images: domain X and domain Y, each in [-1, 1]."""

    def __init__(self, x: TensorSource, y: TensorSource, info: dict[str, Any] | None = None):
        self.x, self.y = x, y
        self.shape = x.shape
        self._info = info or {}

    def sample(self, batch_size: int) -> Tensor:
        raise TypeError("a two-domain source has no single distribution to sample; "
                        "use sample_pair(batch_size) for an unpaired (x, y) batch.")

    def sample_pair(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """An unpaired batch: ``batch_size`` images of X and, independently, of Y."""
        return self.x.sample(batch_size), self.y.sample(batch_size)

    def first(self, count: int) -> tuple[Tensor, Tensor]:
        """The first ``count`` images of each domain (fewer if a domain is smaller): fixed sets."""
        x, _ = self.x.items(torch.arange(min(count, self.x.num_items)))
        y, _ = self.y.items(torch.arange(min(count, self.y.num_items)))
        return x, y

    def describe(self) -> dict[str, Any]:
        return {"storage": "in-memory", "num_items_x": self.x.num_items,
                "num_items_y": self.y.num_items, **self._info}


class ClassGroupDomains(Dataset):
    """Two domains made of two disjoint groups of a labelled data set's classes."""

    kind = "two-domain"
    task = "translation"
    base: ClassVar[type[Dataset]]
    classes_x: ClassVar[tuple[int, ...]]
    classes_y: ClassVar[tuple[int, ...]]

    def load(self, *, device: torch.device, seed: int, data_root: Path | None = None,
             train: bool = True) -> TwoDomainSource:
        source = self.base().load(device=device, seed=seed, data_root=data_root, train=train)
        if not isinstance(source, TensorSource) or source.labels is None:
            raise DatasetUnavailableError(
                f"data set {self.name!r} needs {self.base.name!r} in memory with its labels; "
                f"raise GANBENCH_MAX_IN_MEMORY_MB so that it is not streamed.")
        domains = []
        for group in (self.classes_x, self.classes_y):
            mask = torch.isin(source.labels, torch.tensor(group, device=source.labels.device))
            if not mask.any():
                raise DatasetUnavailableError(
                    f"data set {self.name!r}: the {'train' if train else 'test'} split of "
                    f"{self.base.name!r} has no image of classes {list(group)}; are these the right files?")
            domains.append(TensorSource(source.data[mask], source.labels[mask]))
        info = {**source.describe(), "classes_x": list(self.classes_x), "classes_y": list(self.classes_y)}
        info.pop("num_items", None)
        info.pop("storage", None)
        return TwoDomainSource(*domains, info=info)


class FashionTopsToShoes(ClassGroupDomains):
    name = "fashion-mnist-tops2shoes"
    description = ("Unpaired Fashion-MNIST domains: tops (T-shirt, Pullover, Coat, Shirt) "
                   "vs footwear (Sandal, Sneaker, Ankle boot).")
    shape = (1, 28, 28)
    default_batch_size = 32
    base = FashionMNIST
    classes_x = (0, 2, 4, 6)
    classes_y = (5, 7, 9)


@hookimpl
def register_datasets(register):
    register(FashionTopsToShoes)
