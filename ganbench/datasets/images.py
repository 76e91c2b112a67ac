"""Image data sets through torchvision: ``fashion-mnist``, ``mnist``, ``cifar10``.

Where the files are looked for, in order:

1. ``--data-root DIR``: torchvision's layout (``DIR/FashionMNIST/raw/...``,
   ``DIR/cifar-10-batches-py``) or, for the MNIST family, the four IDX files (``.gz`` or
   not) directly in ``DIR``;
2. for ``fashion-mnist``, ``/usr/share/datasets/fashion-mnist/`` (Debian's
   ``dataset-fashion-mnist`` package);
3. torchvision's download into ``--data-root`` or ganbench's cache folder.

Files found under ``--data-root`` are authoritative: they are checked (IDX magic numbers,
sizes against headers, image and label counts, label range) and used, or refused with a
message naming the file; the later sources are tried only when ``DIR`` holds no file of the
data set. Loose IDX files are staged (decompressed) into ``cache_dir()/staged/`` atomically,
under a key of their sizes and mtimes, and checked again before each use.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ganbench.datasets import (
    DataSource, Dataset, StreamingSource, TensorSource, cache_dir, fits_in_memory,
)
from ganbench.errors import DatasetUnavailableError
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.storage import read_json, write_json

np = lazy_import("numpy")
torch = lazy_import("torch")
torchvision = lazy_import("torchvision")

if TYPE_CHECKING:
    from torch import Tensor

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class TorchvisionImages(Dataset):
    """An image data set read with a torchvision dataset class."""

    kind = "image"
    torchvision_class: ClassVar[type | str]  # a torchvision.datasets class, or its name there
    debian_dir: ClassVar[Path | None] = None
    remedies: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def dataset_class(cls) -> type:
        """The torchvision dataset class; a name in ``torchvision_class`` is looked up in
        ``torchvision.datasets`` here, so that listing data sets does not import torchvision."""
        found = cls.torchvision_class
        return getattr(torchvision.datasets, found) if isinstance(found, str) else found

    # --- torchvision specifics, overridden per family -------------------------------------
    def _open(self, root: Path, train: bool, download: bool) -> Any:
        return self.dataset_class()(root=str(root), train=train, download=download)

    def _root_in(self, folder: Path) -> Path | None:
        """The torchvision root of this data set's files in ``folder`` (staged there if need
        be), or None when ``folder`` holds no file of this data set.

        :raises DatasetUnavailableError: the files are there but incomplete or damaged.
        """
        return None

    def _verify(self, root: Path, train: bool) -> None:
        """Check the files of one split under ``root`` before torchvision reads them."""

    @staticmethod
    def _as_tensors(tv_dataset: Any) -> tuple[Tensor, Tensor]:
        """All images as uint8 N×C×H×W and labels as int64."""
        data = tv_dataset.data
        data = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
        data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
        return data.contiguous(), torch.as_tensor(np.asarray(tv_dataset.targets), dtype=torch.int64)

    # --- the look-up order -----------------------------------------------------------------
    def _candidates(self, data_root: Path | None) -> list[tuple[str, Path, bool]]:
        """(label, folder, authoritative): files in an authoritative folder are used or refused,
        never passed over for the next folder."""
        candidates = []
        if data_root is not None:
            candidates.append(("--data-root", Path(data_root), True))
        if self.debian_dir is not None:
            candidates.append(("Debian package", self.debian_dir, False))
        return candidates

    def _open_in(self, folder: Path, train: bool) -> Any | None:
        root = self._root_in(folder)
        if root is None:
            return None
        self._verify(root, train)
        try:
            return self._open(root, train, download=False)
        except (RuntimeError, OSError, ValueError, AssertionError) as exc:
            raise DatasetUnavailableError(
                f"the {self.name} files in {folder} cannot be read by torchvision "
                f"({type(exc).__name__}: {exc}); replace them with a good copy."
            ) from None

    def open_torchvision(self, data_root: Path | None, train: bool = True) -> tuple[Any, str]:
        """The torchvision dataset object and a note of where its files came from.

        A folder named by the user that holds files of this data set is used or, when the
        files are incomplete or damaged, refused: no other source is tried then.
        """
        tried: list[str] = []
        for label, folder, authoritative in self._candidates(data_root):
            try:
                opened = self._open_in(folder, train)
            except DatasetUnavailableError as exc:
                if authoritative:
                    raise DatasetUnavailableError(f"data set {self.name!r} from {label} {folder}: {exc}") from None
                tried.append(f"{label} {folder}: {exc}")
                continue
            if opened is not None:
                return opened, f"{label}: {folder}"
            tried.append(f"{label} {folder}: no {self.name} files there")
        download_root = Path(data_root) if data_root is not None else cache_dir() / "datasets"
        try:
            download_root.mkdir(parents=True, exist_ok=True)
            return self._open(download_root, train, download=True), f"download into {download_root}"
        except (RuntimeError, OSError, ValueError) as exc:  # URLError is an OSError
            tried.append(f"download into {download_root}: {type(exc).__name__}: {exc}")
        remedies = "\n".join(f"  - {r}" for r in self.remedies + (
            f"pass --data-root DIR with the files in torchvision's layout under DIR "
            f"(what torchvision.datasets.{self.dataset_class().__name__}(DIR, download=True) writes)",
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

    def _raw(self, root: Path) -> Path:
        return root / self.dataset_class().__name__ / "raw"

    def _root_in(self, folder: Path) -> Path | None:
        if any((self._raw(folder) / stem).exists() for stem in self.idx_files):
            return folder  # torchvision's own layout
        sources = {}
        for stem in self.idx_files:
            places = (folder / stem, folder / f"{stem}.gz", self._raw(folder) / f"{stem}.gz")
            existing = [f for f in places if f.is_file()]
            if existing:
                sources[stem] = existing[0]
        if not sources:
            return None
        missing = [stem for stem in self.idx_files if stem not in sources]
        if missing:
            raise DatasetUnavailableError(
                f"{folder} holds {', '.join(p.name for p in sources.values())} but not "
                f"{', '.join(missing)} (.gz or not); expected all four IDX files."
            )
        return stage_idx_files(self._raw, f"{self.name}-{_path_key(folder)}", sources, self.num_classes)

    def _verify(self, root: Path, train: bool) -> None:
        raw = self._raw(root)
        missing = [stem for stem in self.idx_files if not (raw / stem).is_file()]
        if missing:
            raise DatasetUnavailableError(f"{raw} lacks {', '.join(missing)}; expected all four "
                                          f"uncompressed IDX files there.")
        prefix = "train" if train else "t10k"
        images, labels = raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"
        staged_from = _read_manifest(root)
        check_idx_pair(images, labels, self.num_classes,
                       shown_images=staged_from.get(images.name, images),
                       shown_labels=staged_from.get(labels.name, labels))


# --- IDX files: checks and staging ----------------------------------------------------------
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
STAGED_MANIFEST = "staged-from.json"


def _idx_header(file: Path, shown: Path, magic: int, dims: int) -> tuple[int, ...]:
    header_size = 4 + 4 * dims
    with open(file, "rb") as handle:
        header = handle.read(header_size)
    if len(header) < header_size:
        raise DatasetUnavailableError(f"{shown} is truncated: {len(header)} bytes, shorter than an IDX header.")
    found = int.from_bytes(header[:4], "big")
    if found != magic:
        raise DatasetUnavailableError(
            f"{shown} is not an IDX file of {'images' if dims == 3 else 'labels'}: magic number "
            f"0x{found:08x}, expected 0x{magic:08x}."
        )
    sizes = tuple(int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    expected = header_size + math.prod(sizes)
    actual = file.stat().st_size
    if actual != expected:
        raise DatasetUnavailableError(
            f"{shown} is {'truncated' if actual < expected else 'longer than its header says'}: "
            f"{actual} bytes, expected {expected} for {' x '.join(map(str, sizes))} values."
        )
    return sizes


def check_idx_pair(images: Path, labels: Path, num_classes: int, *, shown_images: Path | None = None,
                   shown_labels: Path | None = None) -> int:
    """Check an uncompressed IDX image file and its label file; return the image count.

    Checks the magic numbers, that each file's size matches its header, that the counts
    agree and that every label is below ``num_classes``. ``shown_*`` are the names used in
    messages (the user's files, when these are staged copies).

    :raises DatasetUnavailableError: naming the file and what is wrong with it.
    """
    shown_images, shown_labels = shown_images or images, shown_labels or labels
    count, _, _ = _idx_header(images, shown_images, IDX_IMAGES_MAGIC, 3)
    (label_count,) = _idx_header(labels, shown_labels, IDX_LABELS_MAGIC, 1)
    if count != label_count:
        raise DatasetUnavailableError(
            f"{shown_images} holds {count} images but {shown_labels} holds {label_count} labels; "
            f"they must be of one split."
        )
    values = np.fromfile(labels, dtype=np.uint8, offset=8)
    if values.size and int(values.max()) >= num_classes:
        bad = int(np.argmax(values >= num_classes))
        raise DatasetUnavailableError(
            f"{shown_labels} has label {int(values[bad])} at index {bad}; expected labels "
            f"0..{num_classes - 1}."
        )
    return count


def _path_key(folder: Path) -> str:
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:12]


def _read_manifest(root: Path) -> dict[str, Path]:
    try:
        return {name: Path(p) for name, p in read_json(root / STAGED_MANIFEST)["sources"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def stage_idx_files(raw_of: Callable[[Path], Path], prefix: str, sources: dict[str, Path],
                    num_classes: int) -> Path:
    """Decompress or copy ``sources`` (IDX stem → the user's file) into a torchvision root
    under ``cache_dir()/staged/`` and return it.

    The root's name carries a key of the sources' sizes and mtimes, so a changed or restored
    source file is staged afresh. Staging goes to a temporary folder, is checked
    (:func:`check_idx_pair`, naming the user's files) and renamed into place: a failed staging
    leaves nothing behind. A staged root whose files no longer pass the checks (emptied,
    truncated) is staged again; older stagings of the same folder are removed.
    """
    stats = "".join(f"{stem}\0{path.resolve()}\0{path.stat().st_size}\0{path.stat().st_mtime_ns}\n"
                    for stem, path in sorted(sources.items()))
    key = hashlib.sha256(stats.encode()).hexdigest()[:12]
    staged_dir = cache_dir() / "staged"
    root = staged_dir / f"{prefix}-{key}"
    if root.is_dir():
        try:
            _check_staged(root, raw_of(root), sources, num_classes)
            return root
        except DatasetUnavailableError:
            shutil.rmtree(root, ignore_errors=True)
    staged_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=staged_dir))
    try:
        raw = raw_of(tmp)
        raw.mkdir(parents=True)
        for stem, source in sources.items():
            try:
                if source.suffix == ".gz":
                    with gzip.open(source, "rb") as packed, open(raw / stem, "wb") as target:
                        shutil.copyfileobj(packed, target)
                else:
                    shutil.copyfile(source, raw / stem)
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetUnavailableError(f"{source} cannot be read ({type(exc).__name__}: {exc}); "
                                              f"replace it with a good copy.") from None
        write_json(tmp / STAGED_MANIFEST, {"sources": {stem: str(path) for stem, path in sources.items()}})
        _check_staged(tmp, raw, sources, num_classes)
        shutil.rmtree(root, ignore_errors=True)
        try:
            os.replace(tmp, root)
        except OSError:
            if not root.is_dir():
                raise
            # another process staged the same files meanwhile; theirs is checked before use
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in staged_dir.glob(f"{prefix}-*"):
        if old != root:
            shutil.rmtree(old, ignore_errors=True)
    return root


def _check_staged(root: Path, raw: Path, sources: dict[str, Path], num_classes: int) -> None:
    for prefix in ("train", "t10k"):
        images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        if not (raw / images).is_file() or not (raw / labels).is_file():
            raise DatasetUnavailableError(f"staged copy {raw} is incomplete")
        check_idx_pair(raw / images, raw / labels, num_classes,
                       shown_images=sources.get(images), shown_labels=sources.get(labels))


class FashionMNIST(MNISTFamily):
    name = "fashion-mnist"
    description = "Fashion-MNIST: 60k 28x28 grey clothing images, 10 classes."
    torchvision_class = "FashionMNIST"
    debian_dir = DEBIAN_FASHION_MNIST
    remedies = ("install Debian's package: apt-get install dataset-fashion-mnist",)


class MNIST(MNISTFamily):
    name = "mnist"
    description = "MNIST: 60k 28x28 grey handwritten digits, 10 classes."
    torchvision_class = "MNIST"


class CIFAR10(TorchvisionImages):
    name = "cifar10"
    description = "CIFAR-10: 50k 32x32 colour images, 10 classes."
    torchvision_class = "CIFAR10"
    shape = (3, 32, 32)
    num_classes = 10

    def _root_in(self, folder: Path) -> Path | None:
        return folder if (folder / "cifar-10-batches-py").exists() else None


@hookimpl
def register_datasets(register):
    register(FashionMNIST)
    register(MNIST)
    register(CIFAR10)
