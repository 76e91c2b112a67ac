"""The user's own images as data sets: ``folder:PATH`` and ``array:FILE``.

``folder`` and ``array`` are registered data sets that take an argument: each
``--datasets folder:PATH`` (or ``[datasets.NAME]`` table of a config file) makes, with
:meth:`FileImages.from_argument`, a subclass that declares the images' ``shape``,
``num_classes`` and content key like any data set, and a ``spec`` that runs record in
``config.json`` so that ``ganbench reproduce`` can make it again. The images are decoded
once by :func:`ganbench.datasets.files.read_images` (cached on disk, memory-mapped).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganbench.datasets import DataSource, Dataset, StreamingSource, TensorSource, fits_in_memory
from ganbench.datasets.files import ARRAY_SUFFIXES, DecodedImages, read_images
from ganbench.errors import DatasetUnavailableError, UsageError
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor


class _PixelRows:
    """(image, label) pairs read from memory-mapped pixels, for :class:`StreamingSource`: a
    map-style data set for torch's ``DataLoader`` (``__len__`` and ``__getitem__``)."""

    def __init__(self, pixels: Tensor, labels: Tensor | None):
        self.pixels, self.labels = pixels, labels

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.pixels[index].clone(), -1 if self.labels is None else int(self.labels[index])


class FileImages(Dataset):
    """Images read from the user's files; ``from_argument`` makes the data set of one path."""

    kind = "image"
    shape = ()
    takes_argument = True
    argument_name: ClassVar[str] = "PATH"
    path: ClassVar[Path | None] = None
    resolution: ClassVar[int | None] = None
    content_key: ClassVar[str | None] = None
    recipe: ClassVar[str | None] = None
    class_names: ClassVar[list[str] | None] = None

    @classmethod
    def check_path(cls, path: Path) -> None:
        """Refuse a path of the wrong type for this data set (a file for ``folder``, ...)."""

    @classmethod
    def from_argument(cls, argument: str, *, name: str | None = None,
                      settings: dict[str, Any] | None = None) -> type[Dataset]:
        settings = dict(settings or {})
        resolution = settings.pop("resolution", None)
        if settings:
            raise UsageError(f"data set {cls.name!r} takes the settings resolution, not {', '.join(sorted(settings))}.")
        if not argument:
            raise UsageError(f"data set {cls.name!r} needs a path: --datasets {cls.name}:{cls.argument_name}.")
        path = Path(argument).expanduser().resolve()
        cls.check_path(path)
        decoded = read_images(path, resolution)
        if decoded.skipped_files:
            warnings.warn(f"{path}: {decoded.skipped_files} file(s) that are not images were skipped.",
                          stacklevel=2)
        name = name or f"{cls.name}-{_slug(path.stem if path.is_file() else path.name)}"
        spec = {"dataset": cls.name, "argument": str(path), "name": name,
                "settings": {"resolution": resolution}, "recipe": decoded.recipe,
                "content_key": decoded.content_key}
        return type(_class_name(name), (cls,), {
            "__module__": __name__,
            "name": name,
            "description": f"{decoded.pixels.shape[0]} images from {path}"
                           + (f", {len(decoded.class_names)} classes" if decoded.class_names else ", unlabelled"),
            "takes_argument": False,
            "shape": decoded.shape,
            "num_classes": len(decoded.class_names) if decoded.class_names else None,
            "path": path, "resolution": resolution, "content_key": decoded.content_key,
            "recipe": decoded.recipe, "class_names": decoded.class_names, "spec": spec,
        })

    def decoded(self) -> DecodedImages:
        """The images (from the cache), checked to be those the data set was made from."""
        if self.path is None:
            raise UsageError(f"data set {self.name!r} needs a path: --datasets {self.name}:{self.argument_name}.")
        try:
            decoded = read_images(self.path, self.resolution)
        except UsageError as exc:
            raise DatasetUnavailableError(str(exc)) from None
        if decoded.content_key != self.content_key:
            raise DatasetUnavailableError(
                f"the content of {self.path} changed (content key {decoded.content_key[:12]}, "
                f"expected {self.content_key[:12]}); run the sweep again to use the new content."
            )
        return decoded

    def load(self, *, device: torch.device, seed: int, data_root: Path | None = None,
             train: bool = True) -> DataSource:
        """All images, for either split (user data have no held-out test split)."""
        decoded = self.decoded()
        info = {"source": f"{self.spec['dataset']}:{self.path}", "split": "all (no separate test split)",
                "content_key": decoded.content_key, "recipe": decoded.recipe}
        if fits_in_memory(decoded.pixels.numel()):
            labels = None if decoded.labels is None else decoded.labels.to(device)
            return TensorSource(decoded.pixels.to(device, copy=True), labels, info)
        return StreamingSource(_PixelRows(decoded.pixels, decoded.labels), self.shape, device, seed, info=info)


class FolderImages(FileImages):
    name = "folder"
    description = ("Images under a folder (PNG, JPEG, WebP, ...; recursive): --datasets folder:PATH. "
                   "Class sub-folders become labels.")

    @classmethod
    def check_path(cls, path: Path) -> None:
        if path.exists() and not path.is_dir():
            raise UsageError(f"folder:{path} is not a folder; for an array file use array:{path}.")


class ArrayImages(FileImages):
    name = "array"
    argument_name = "FILE"
    description = ("A uint8 .npy/.npz array (NxHxW, NxHxWxC or NxCxHxW; optional 'labels' in a .npz): "
                   "--datasets array:FILE.")

    @classmethod
    def check_path(cls, path: Path) -> None:
        if path.is_dir() or path.suffix.lower() not in ARRAY_SUFFIXES:
            raise UsageError(f"array:{path} is not a .npy or .npz file; for a folder of images use folder:{path}.")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "data"


def _class_name(name: str) -> str:
    return "Files_" + re.sub(r"\W", "_", name)


@hookimpl
def register_datasets(register):
    register(FolderImages)
    register(ArrayImages)
