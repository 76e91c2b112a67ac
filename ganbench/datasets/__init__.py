"""Data sets: what to train on (images scaled to [-1, 1], vectors in their own coordinates).

Subclass :class:`Dataset`, set ``name``, ``description``, ``kind`` and ``shape``, implement
:meth:`Dataset.load` returning a :class:`DataSource`, and register the class from a
``register_datasets`` hook.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Literal

from ganbench.errors import UsageError
from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor

DatasetKind = Literal["vector", "image", "two-domain"]
Task = Literal["generation", "translation"]
MAX_IN_MEMORY_ENV = "GANBENCH_MAX_IN_MEMORY_MB"
DEFAULT_MAX_IN_MEMORY_MB = 4096


def cache_dir() -> Path:
    """ganbench's cache folder: ``$GANBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/ganbench``."""
    explicit = os.environ.get("GANBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganbench"


class DataSource:
    """Samples of one data set on one device. Randomness comes from torch's seeded RNG.

    ``shape``: one sample's shape; ``num_items``: the number of fixed items, ``None`` for a
    generated (infinite) distribution; ``labels``: every item's label, or ``None``. Images are
    float32 in [-1, 1]; vectors are float32 in the data set's own coordinates.

    ``capturable``: whether :meth:`sample` and :meth:`sample_with_labels` draw on the device
    from torch's default generator, with no host synchronisation and no copy from the host,
    doing the same work on every call. Fast mode on CUDA may then capture whole training steps
    as a CUDA graph (:mod:`ganbench.step_graph`). ``False`` (the default) for sources that
    read from a loader or the host.
    """

    shape: tuple[int, ...]
    num_items: int | None = None  # None: an infinite (generated) distribution
    labels: Tensor | None = None
    capturable: ClassVar[bool] = False

    def sample(self, batch_size: int) -> Tensor:
        """A batch of ``batch_size`` samples on the device: images in [-1, 1], vectors in the
        data set's own coordinates. Draw from torch's default (seeded) generator."""
        raise NotImplementedError

    def sample_with_labels(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """A batch as :meth:`sample` gives it and its int64 class labels (for conditional
        variants). Sources of unlabelled data raise ``TypeError``."""
        raise TypeError(f"{type(self).__name__} has no labels; conditional variants need labelled data.")

    def items(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        """The samples at ``indices`` (as :meth:`sample` scales them, on the device) and their
        labels, if any.

        Only finite data sets have items; generated distributions raise ``TypeError``.
        """
        raise TypeError(f"{type(self).__name__} is a generated distribution without fixed items.")

    def describe(self) -> dict[str, Any]:
        """Facts recorded with every run (where the files came from, storage mode, ...)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The source's own random state (tensors and plain values), saved in every checkpoint.
        Sources that draw from torch's default generator, as :meth:`sample` asks, have none
        of their own: ``{}`` (the checkpoint saves torch's state)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set what :meth:`state_dict` returned (when a run resumes from a checkpoint)."""


class TensorSource(DataSource):
    """A data set held as one tensor on the device and sampled there (no loader workers).

    Images are kept as uint8 (a quarter of the memory) and scaled to [-1, 1] per batch.
    ``capturable`` (see :class:`DataSource`): indices are drawn on the device.
    """

    capturable = True  # indices drawn on the device: a CUDA graph may capture the sampling

    def __init__(self, data: Tensor, labels: Tensor | None = None, info: dict[str, Any] | None = None):
        self.data = data
        self.labels = labels
        self.shape = tuple(data.shape[1:])
        self.num_items = data.shape[0]
        self._info = info or {}

    def sample(self, batch_size: int) -> Tensor:
        index = torch.randint(0, self.num_items, (batch_size,), device=self.data.device)
        return to_unit_range(self.data[index])

    def sample_with_labels(self, batch_size: int) -> tuple[Tensor, Tensor]:
        if self.labels is None:
            return super().sample_with_labels(batch_size)
        index = torch.randint(0, self.num_items, (batch_size,), device=self.data.device)
        return to_unit_range(self.data[index]), self.labels[index]

    def items(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        indices = indices.to(self.data.device)
        labels = None if self.labels is None else self.labels[indices]
        return to_unit_range(self.data[indices]), labels

    def describe(self) -> dict[str, Any]:
        return {"storage": "in-memory", "num_items": self.num_items, **self._info}


class ResumableIndices:
    """Endless item indices drawn with replacement from ``generator``, exactly as
    ``RandomSampler(replacement=True)`` draws them (chunks of 32), whose position can be saved
    and set again: :meth:`state_dict` holds the generator's state before the current chunk and
    how many of its indices were used. A sampler for :class:`torch.utils.data.DataLoader` (an
    iterable of indices; not a ``Sampler`` subclass, so that defining it does not import torch)."""

    CHUNK = 32

    def __init__(self, num_items: int, generator: torch.Generator):
        self.num_items, self.generator = num_items, generator
        self.chunk_start, self.used = generator.get_state(), 0
        self._resume = False

    def __iter__(self) -> Iterator[int]:
        if self._resume:  # go on inside the chunk where the saved stream stood
            self.generator.set_state(self.chunk_start)
            self._resume = False
        else:  # a new stream starts a new chunk, as RandomSampler does
            self.chunk_start, self.used = self.generator.get_state(), 0
        while True:
            chunk = torch.randint(high=self.num_items, size=(self.CHUNK,), dtype=torch.int64,
                                  generator=self.generator).tolist()
            while self.used < self.CHUNK:
                self.used += 1
                yield chunk[self.used - 1]
            self.chunk_start, self.used = self.generator.get_state(), 0

    def state_dict(self) -> dict[str, Any]:
        return {"chunk_start": self.chunk_start.clone(), "used": self.used}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set a saved position: the next stream goes on from it."""
        self.chunk_start, self.used, self._resume = state["chunk_start"], int(state["used"]), True


class StreamingSource(DataSource):
    """A data set too large for memory, read through a seeded :class:`~torch.utils.data.DataLoader`.

    Its own generator picks the items (:class:`ResumableIndices`), so its :meth:`state_dict`
    is the position in that stream and the batch size in use.
    """

    def __init__(self, dataset: Any, shape: tuple[int, ...], device: torch.device, seed: int,
                 batch_size_hint: int = 128, info: dict[str, Any] | None = None):
        self.dataset = dataset
        self.shape = shape
        self.num_items = len(dataset)
        self.device = device
        self._indices = ResumableIndices(self.num_items, torch.Generator().manual_seed(seed))
        self._batch_size = None
        self._iterator: Iterator | None = None
        self._info = info or {}

    def _batches(self, batch_size: int, resumed: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=batch_size, sampler=self._indices)
        if resumed:  # starting a loader draws a base seed from torch's generator: not again on resume
            with torch.random.fork_rng(devices=[]):
                iterator = iter(loader)
        else:
            iterator = iter(loader)
        yield from iterator

    def sample(self, batch_size: int) -> Tensor:
        return self.sample_with_labels(batch_size)[0]

    def sample_with_labels(self, batch_size: int) -> tuple[Tensor, Tensor]:
        if self._iterator is None or self._batch_size != batch_size:
            self._batch_size, self._iterator = batch_size, self._batches(batch_size)
        images, labels = next(self._iterator)
        return (to_unit_range(images).to(self.device, non_blocking=True),
                torch.as_tensor(labels, dtype=torch.int64).to(self.device))

    def state_dict(self) -> dict[str, Any]:
        return {"indices": self._indices.state_dict(), "batch_size": self._batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._indices.load_state_dict(state["indices"])
        self._batch_size = state["batch_size"]
        self._iterator = None if self._batch_size is None else self._batches(self._batch_size, resumed=True)

    def items(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        pairs = [self.dataset[int(i)] for i in indices]
        images = torch.stack([torch.as_tensor(image) for image, _ in pairs])
        labels = torch.as_tensor([int(label) for _, label in pairs])
        return to_unit_range(images).to(self.device), labels.to(self.device)

    def describe(self) -> dict[str, Any]:
        return {"storage": "streaming", "num_items": self.num_items, **self._info}


def to_unit_range(batch: Tensor) -> Tensor:
    """uint8 pixels in [0, 255] to float32 in [-1, 1]; float input is returned as float32."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(127.5).sub_(1.0)
    return batch.float()


def fits_in_memory(num_bytes: int) -> bool:
    """Whether a data set of ``num_bytes`` may be held as one tensor (``GANBENCH_MAX_IN_MEMORY_MB``)."""
    limit_mb = float(os.environ.get(MAX_IN_MEMORY_ENV, DEFAULT_MAX_IN_MEMORY_MB))
    return num_bytes <= limit_mb * 2**20


class Dataset:
    """A data set plugin.

    Class attributes: ``name``, ``description``, ``kind`` (``"vector"``, ``"image"`` or
    ``"two-domain"``),
    ``shape`` of one sample (``(dim,)`` or ``(channels, height, width)``), ``num_classes``
    (``None`` when unlabelled) and ``default_batch_size`` (the batch size of runs without
    ``--batch-size``: 128 unless a subclass sets another); ``task``: ``"generation"``
    (samples to imitate, for noise-to-sample variants) or ``"translation"`` (two unpaired
    domains of ``kind`` ``"two-domain"``, for translation variants such as ``cyclegan``);
    ``takes_argument``: the data set is named with an argument (``folder:PATH``) and
    :meth:`from_argument` makes the class that is used, which records its ``spec``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    kind: ClassVar[DatasetKind]
    shape: ClassVar[tuple[int, ...]]
    num_classes: ClassVar[int | None] = None
    default_batch_size: ClassVar[int] = 128
    task: ClassVar[Task] = "generation"
    takes_argument: ClassVar[bool] = False
    spec: ClassVar[dict[str, Any] | None] = None

    @classmethod
    def from_argument(cls, argument: str, *, name: str | None = None,
                      settings: dict[str, Any] | None = None) -> type[Dataset]:
        """For a data set that ``takes_argument`` (``--datasets NAME:ARGUMENT``, e.g.
        ``folder:~/faces``): a subclass for ``argument``, named ``name`` (default: made from
        the argument), with ``settings`` (e.g. ``{"resolution": 32}``) applied.

        The subclass declares its ``shape``, ``num_classes``, ... like any data set, and a
        JSON-serialisable ``spec`` (``dataset``, ``argument``, ``name``, ``settings``, and
        facts such as a content key): runs record it in ``config.json`` and in their digest,
        and ``ganbench reproduce`` makes the data set again from it.

        :raises ganbench.errors.UsageError: bad argument or settings, or unusable data.
        """
        raise UsageError(f"data set {cls.name!r} takes no argument; name it alone: --datasets {cls.name}.")

    def load(self, *, device: torch.device, seed: int, data_root: Path | None = None,
             train: bool = True) -> DataSource:
        """Open the data set's ``train`` (or test) split on ``device``.

        :param seed: for generated data sets, the seed that defines them.
        :param data_root: a folder given by the user (``--data-root``), searched first.
        :raises ganbench.errors.DatasetUnavailableError: when the data cannot be had, with
            a message naming the remedies.
        """
        raise NotImplementedError

    @classmethod
    def dimension(cls) -> int:
        """The number of values in one sample: the product of ``shape``."""
        return math.prod(cls.shape)


__all__ = [
    "DataSource", "Dataset", "DatasetKind", "StreamingSource", "TensorSource", "cache_dir",
    "Task", "fits_in_memory", "to_unit_range",
]
