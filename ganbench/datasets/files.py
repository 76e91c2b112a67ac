"""Read the user's own images: a folder of image files, or a ``.npy``/``.npz`` array.

:func:`read_images` decodes once and caches the result as a memory-mapped uint8 ``.npy``
under ``cache_dir()/decoded/``; later calls with the same files and recipe read the cache.

- A folder is read recursively. When it holds sub-folders, each sub-folder is a class
  (torchvision's ``ImageFolder`` convention: sorted names, label = index) and images lying
  directly in the folder are an error; otherwise the data are unlabelled. Files whose
  extension PIL does not read are skipped and counted; an image file that does not decode
  stops the read, naming it, and so do a symbolic link that loops back to a folder above it
  and a file named as an image that is not a regular file (a named pipe would block the read).
- 16-bit grey images are scaled to 8 bits (``round(v * 255 / 65535)``); 32-bit integer or
  floating-point images (PIL modes ``I``, ``F``) have no fixed range and are refused. An
  alpha channel is dropped (PIL's ``convert("RGB")``, as torchvision's ``ImageFolder`` does).
- An array is uint8, N×H×W (grey), N×H×W×C or N×C×H×W with C = 1 or 3. A ``.npz`` holds it
  as ``images`` (or as its only array besides ``labels``) and may hold int ``labels``: the
  classes are the label values present, in increasing order, each named by its value (labels
  0 and 5 make two classes, ``"0"`` and ``"5"``), as a folder's empty class folders are no class.
- Grey or RGB comes from the data: grey when every image is grey, RGB otherwise.
- Resizing (:data:`RESIZE_RECIPE`, clean-fid's advice): centre crop to a square, then PIL's
  bicubic resize, which antialiases when it shrinks. Without a resolution, images keep their
  own size when all share one; mixed sizes need a resolution.

The content key is a SHA-256 of the relative file names and their bytes (for a folder) or of
the array file's bytes: it does not change when files are copied elsewhere, and it changes
with any edit, addition or removal.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat as stat_module
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from ganbench.datasets import cache_dir
from ganbench.errors import UsageError
from ganbench.lazy import lazy_import
from ganbench.storage import atomic_path, read_json, write_json

np = lazy_import("numpy")
torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor

RESIZE_RECIPE = "centre crop to square, PIL bicubic with antialias"
NATIVE_RECIPE = "none: images kept at their own size"
ARRAY_SUFFIXES = (".npy", ".npz")
CACHE_FORMAT = 3  # bump when the cached layout or decoding changes
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})  # 16-bit grey (PNG, TIFF)
GREY_MODES = frozenset({"1", "L", "LA"}) | SIXTEEN_BIT_MODES
UNREADABLE_MODES = {"I": "32-bit integer", "F": "32-bit floating-point"}  # no fixed 0..255 meaning
IMAGE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@dataclass(frozen=True)
class DecodedImages:
    """Images decoded from files.

    ``pixels``: uint8 N×C×H×W (C = 1 or 3), memory-mapped from the cache;
    ``labels``: int64 N, or None when unlabelled; ``class_names``: the sub-folder names (or
    ``"0"``, ``"1"``, ... for an array's labels), or None; ``content_key``: SHA-256 of the
    input's content; ``skipped_files``: non-image files left out; ``recipe``: how the images
    were resized (with the resolution), part of a run's configuration.
    """

    pixels: Tensor
    labels: Tensor | None
    class_names: list[str] | None
    content_key: str
    skipped_files: int
    recipe: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one image, (C, H, W)."""
        return tuple(self.pixels.shape[1:])  # type: ignore[return-value]


def read_images(path: Path, resolution: int | None = None) -> DecodedImages:
    """Decode the images of a folder or a ``.npy``/``.npz`` file (see the module's doc).

    :param resolution: the side of the square images to make; None keeps the images' own
        size (all images must share one).
    :raises ganbench.errors.UsageError: a missing path, an empty folder, an image that does
        not decode, mixed sizes without a resolution, an array of the wrong dtype or shape;
        the message names the file and what is wrong.
    """
    path = Path(path)
    if resolution is not None and (not isinstance(resolution, int) or resolution < 1):
        raise UsageError(f"resolution must be a positive integer number of pixels, got {resolution!r}.")
    if path.is_dir():
        return _read_folder(path, resolution)
    if path.is_file() and path.suffix.lower() in ARRAY_SUFFIXES:
        return _read_array(path, resolution)
    if path.is_file():
        raise UsageError(f"{path} is neither a folder of images nor a .npy/.npz array file.")
    raise UsageError(f"{path} does not exist; expected a folder of images or a .npy/.npz array file."
                     + _comma_hint(path))


def _comma_hint(path: Path) -> str:
    """A hint when ``path`` is the part before a comma of an existing name: the comma split a
    comma-separated option (``--datasets "folder:faces, cropped"``)."""
    try:
        names = sorted(entry.name for entry in os.scandir(path.parent) if entry.name.startswith(f"{path.name},"))
    except OSError:
        return ""
    if not names:
        return ""
    return (f" Did you mean {str(path.parent / names[0])!r}? A comma separates names in --datasets; name a path "
            f"holding one in a config file ([datasets.NAME] then path = \"...\").")


def recipe_for(resolution: int | None) -> str:
    """The recorded recipe: :data:`RESIZE_RECIPE` to ``resolution``, or :data:`NATIVE_RECIPE`."""
    return NATIVE_RECIPE if resolution is None else f"{RESIZE_RECIPE}, to {resolution}x{resolution}"


# --- folders ---------------------------------------------------------------------------------
@cache
def image_suffixes() -> frozenset[str]:
    """File name extensions that PIL can open (``.png``, ``.jpg``, ``.webp``, ...)."""
    return frozenset(suffix.lower() for suffix in Image.registered_extensions())


@dataclass(frozen=True)
class _FolderListing:
    files: list[str]             # image files relative to the folder, POSIX, sorted by class then path
    stats: list[tuple[int, int]]  # (size, mtime_ns) of each file
    labels: list[int] | None
    class_names: list[str] | None
    skipped: int


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _check_no_loop(entry: os.DirEntry, above: tuple[str, ...]) -> None:
    """Refuse a folder (a symbolic link to one) that is also one of the folders ``above`` it:
    following it would list the same images forever."""
    if os.path.realpath(entry.path) in above:
        raise UsageError(f"{entry.path} is a symbolic link to {os.path.realpath(entry.path)}, a folder that "
                         f"contains it, so the folder never ends; remove the link.")


def _list_folder(folder: Path) -> _FolderListing:
    suffixes = image_suffixes()
    top = sorted(os.scandir(folder), key=lambda e: e.name)
    root = (os.path.realpath(folder),)
    classes = [entry.name for entry in top if entry.is_dir() and not entry.name.startswith(".")]
    skipped = 0

    def images_under(directory: str, prefix: str, above: tuple[str, ...]) -> tuple[list[str], list[tuple[int, int]]]:
        """Image files under ``directory`` (recursive, sorted), as paths starting with ``prefix``;
        ``above``: the real paths of ``directory`` and the folders that hold it."""
        nonlocal skipped
        found, stats = [], []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                _check_no_loop(entry, above)
                more, more_stats = images_under(entry.path, f"{prefix}{entry.name}/",
                                                (*above, os.path.realpath(entry.path)))
                found += more
                stats += more_stats
            elif _suffix(entry.name) in suffixes:
                try:
                    stat = entry.stat()
                except OSError as exc:  # a dangling symbolic link, say
                    raise UsageError(f"image file {entry.path} cannot be read ({type(exc).__name__}: "
                                     f"{exc.strerror}); repair or remove it.") from None
                if not stat_module.S_ISREG(stat.st_mode):  # reading a FIFO would wait forever
                    raise UsageError(f"{entry.path} is named as an image but is not a regular file (a named pipe, "
                                     "socket or device); remove it or give it another name.")
                found.append(prefix + entry.name)
                stats.append((stat.st_size, stat.st_mtime_ns))
            else:
                skipped += 1
        return found, stats

    for entry in top:
        if entry.name in classes:
            _check_no_loop(entry, root)
    if not classes:
        files, stats = images_under(str(folder), "", root)
        labels, class_names = None, None
    else:
        loose = [e.name for e in top if e.is_file() and _suffix(e.name) in suffixes]
        if loose:
            raise UsageError(
                f"{folder} holds images both directly ({loose[0]}, ...) and in class sub-folders "
                f"({', '.join(classes[:3])}, ...); move them all into class sub-folders, or none."
            )
        skipped += sum(1 for e in top if e.is_file() and not e.name.startswith("."))
        files, stats, labels, class_names = [], [], [], []
        for name in classes:
            members, member_stats = images_under(str(folder / name), f"{name}/",
                                                 (*root, os.path.realpath(folder / name)))
            if not members:
                continue  # an empty class folder is no class (ImageFolder refuses; we skip it)
            class_names.append(name)
            files += members
            stats += member_stats
            labels += [len(class_names) - 1] * len(members)
    if not files:
        raise UsageError(
            f"{folder} holds no image files (looked recursively for "
            f"{', '.join(sorted(s for s in suffixes if s in ('.png', '.jpg', '.jpeg', '.webp', '.bmp')))}, ...)."
        )
    return _FolderListing(files, stats, labels, class_names, skipped)


def _stat_key(folder: Path, listing: _FolderListing) -> str:
    digest = hashlib.sha256(f"folder:{folder.resolve()}\n".encode())
    for name, (size, mtime_ns) in zip(listing.files, listing.stats):
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()


def _open_image(file: Path, data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except IMAGE_ERRORS as exc:
        raise UsageError(f"image file {file} cannot be read ({type(exc).__name__}: {exc}); "
                         f"repair or remove it.") from None


def _header(file: Path) -> tuple[tuple[int, int], str]:
    try:
        with Image.open(file) as image:
            size, mode = image.size, image.mode
    except IMAGE_ERRORS as exc:
        raise UsageError(f"image file {file} cannot be read ({type(exc).__name__}: {exc}); "
                         f"repair or remove it.") from None
    if mode in UNREADABLE_MODES:
        raise UsageError(f"image file {file} has {UNREADABLE_MODES[mode]} pixels (PIL mode {mode}), whose range "
                         f"is unknown; expected 8-bit or 16-bit grey or colour images: save it as one.")
    return size, mode


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` as ``mode`` (``L`` or ``RGB``); 16-bit grey scaled to 8 bits, not clipped."""
    if image.mode in SIXTEEN_BIT_MODES:
        wide = np.asarray(image).astype(np.uint32)
        image = Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8), "L")
    return image.convert(mode)


def resize_square(image: Image.Image, resolution: int) -> Image.Image:
    """:data:`RESIZE_RECIPE`: centre crop to a square, then PIL bicubic to ``resolution``²."""
    width, height = image.size
    side = min(width, height)
    if width != height:
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if side != resolution:
        image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
    return image


def _read_folder(folder: Path, resolution: int | None) -> DecodedImages:
    listing = _list_folder(folder)
    recipe = recipe_for(resolution)
    entry = _cache_entry(_stat_key(folder, listing), recipe)
    cached = _load_cached(entry, listing.skipped)
    if cached is not None:
        return cached
    headers = [_header(folder / name) for name in listing.files]
    sizes = {size for size, _ in headers}
    if resolution is None and len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
        raise UsageError(f"the images under {folder} have {len(sizes)} different sizes ({shown}, ...); "
                         f"give a resolution (--resolution N, or resolution = N in the config file).")
    channels = 1 if all(mode in GREY_MODES for _, mode in headers) else 3
    width, height = (resolution, resolution) if resolution is not None else next(iter(sizes))
    content = hashlib.sha256(b"folder\n")
    shape = (len(listing.files), channels, height, width)
    with atomic_path(entry.pixels) as tmp:
        pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        for index, name in enumerate(listing.files):
            file = folder / name
            content.update(f"{name}\0".encode())
            data = file.read_bytes()
            content.update(hashlib.sha256(data).digest())
            image = _to_mode(_open_image(file, data), "L" if channels == 1 else "RGB")
            if resolution is not None:
                image = resize_square(image, resolution)
            array = np.asarray(image, dtype=np.uint8)
            pixels[index] = array[None] if channels == 1 else array.transpose(2, 0, 1)
        pixels.flush()
        del pixels
    if listing.class_names is not None:
        content.update(json.dumps([listing.class_names, listing.labels]).encode())
    return _store(entry, content.hexdigest(), listing.labels, listing.class_names, listing.skipped, recipe, folder)


# --- arrays ----------------------------------------------------------------------------------
def _read_array(file: Path, resolution: int | None) -> DecodedImages:
    recipe = recipe_for(resolution)
    content_key = _file_sha256(file)
    entry = _cache_entry(hashlib.sha256(f"array:{content_key}".encode()).hexdigest(), recipe)
    cached = _load_cached(entry, 0)
    if cached is not None:
        return cached
    images, labels = _array_contents(file)
    images = _as_nchw(file, images)
    if labels is not None:
        labels = _check_labels(file, labels, images.shape[0])
    if resolution is not None and images.shape[2:] != (resolution, resolution):
        mode = "L" if images.shape[1] == 1 else "RGB"
        resized = np.empty((images.shape[0], images.shape[1], resolution, resolution), dtype=np.uint8)
        for index, image in enumerate(images):
            pil = Image.fromarray(image[0] if mode == "L" else image.transpose(1, 2, 0), mode)
            array = np.asarray(resize_square(pil, resolution))
            resized[index] = array[None] if mode == "L" else array.transpose(2, 0, 1)
        images = resized
    with atomic_path(entry.pixels) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(images))
    class_names = None
    if labels is not None:  # the classes present, in increasing order: labels 0 and 5 are two classes
        present, labels = np.unique(labels, return_inverse=True)
        class_names = [str(int(value)) for value in present]
    return _store(entry, content_key, None if labels is None else labels.tolist(), class_names, 0, recipe, file)


def _array_contents(file: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"array file {file} cannot be read ({type(exc).__name__}: {exc}); "
                         f"expected a .npy or .npz file written by numpy.") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        names = list(loaded.files)
        image_names = ["images"] if "images" in names else [n for n in names if n != "labels"]
        if len(image_names) != 1:
            raise UsageError(f"array file {file} holds arrays {names}; expected one named 'images' "
                             f"(and optionally 'labels').")
        try:
            return loaded[image_names[0]], loaded["labels"] if "labels" in names else None
        except (OSError, ValueError, EOFError) as exc:
            raise UsageError(f"array file {file} cannot be read ({type(exc).__name__}: {exc}).") from None


def _as_nchw(file: Path, images: np.ndarray) -> np.ndarray:
    if images.dtype != np.uint8:
        raise UsageError(
            f"array file {file} has dtype {images.dtype}; expected uint8 pixels in 0..255 "
            f"(convert floats in [0, 1] with (x * 255).round().astype(numpy.uint8))."
        )
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    elif images.ndim == 4 and images.shape[1] in (1, 3):
        pass
    else:
        raise UsageError(f"array file {file} has shape {images.shape}; expected N×H×W, N×H×W×C "
                         f"or N×C×H×W with C = 1 or 3.")
    if 0 in images.shape:
        raise UsageError(f"array file {file} has shape {images.shape}, which holds no pixels.")
    return images


def _check_labels(file: Path, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"array file {file}: labels have dtype {labels.dtype} and shape "
                         f"{labels.shape}; expected {count} integers.")
    if labels.shape[0] != count:
        raise UsageError(f"array file {file} holds {count} images but {labels.shape[0]} labels; "
                         f"expected one label per image.")
    if labels.min() < 0:
        raise UsageError(f"array file {file}: labels must be class indices ≥ 0, found {labels.min()}.")
    return labels.astype(np.int64)


def _file_sha256(file: Path) -> str:
    digest = hashlib.sha256(b"array\n")
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the cache -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CacheEntry:
    pixels: Path  # the uint8 N×C×H×W .npy
    meta: Path    # JSON written last: its presence marks a complete entry


def decoded_cache_dir() -> Path:
    """Where decoded user images are cached: ``cache_dir()/decoded``."""
    return cache_dir() / "decoded"


def _cache_entry(input_key: str, recipe: str) -> _CacheEntry:
    key = hashlib.sha256(f"{CACHE_FORMAT}\n{input_key}\n{recipe}".encode()).hexdigest()[:32]
    folder = decoded_cache_dir()
    return _CacheEntry(folder / f"{key}.npy", folder / f"{key}.json")


def _store(entry: _CacheEntry, content_key: str, labels: list[int] | None,
           class_names: list[str] | None, skipped: int, recipe: str, source: Path) -> DecodedImages:
    write_json(entry.meta, {
        "content_key": content_key, "labels": labels, "class_names": class_names,
        "recipe": recipe, "pixels_bytes": entry.pixels.stat().st_size,
        "source": str(Path(source).resolve()), "format": CACHE_FORMAT,  # for `ganbench cache --prune`
    })
    cached = _load_cached(entry, skipped)
    assert cached is not None, f"the decoded cache {entry.meta} was just written"
    return cached


def _load_cached(entry: _CacheEntry, skipped: int) -> DecodedImages | None:
    """The cached images, or None when the entry is missing, incomplete or damaged."""
    try:
        meta = read_json(entry.meta)
        if entry.pixels.stat().st_size != meta["pixels_bytes"]:
            return None
        array = np.load(entry.pixels, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    labels = meta["labels"]
    return DecodedImages(
        pixels=torch.from_numpy(array),
        labels=None if labels is None else torch.tensor(labels, dtype=torch.int64),
        class_names=meta["class_names"],
        content_key=meta["content_key"],
        skipped_files=skipped,
        recipe=meta["recipe"],
    )


# --- pruning the cache -----------------------------------------------------------------------
ORPHAN_AGE_S = 24 * 3600  # a half-written entry younger than this may be a decode in progress


@dataclass(frozen=True)
class StaleEntry:
    """Files of the decoded cache that no read can use any more, and why."""

    files: tuple[Path, ...]
    reason: str

    @property
    def size(self) -> int:
        return sum(file.stat().st_size for file in self.files if file.exists())


def _current_entry(source: Path, recipe: str) -> _CacheEntry:
    """The entry that reading ``source`` with ``recipe`` would use now."""
    if source.is_dir():
        return _cache_entry(_stat_key(source, _list_folder(source)), recipe)
    return _cache_entry(hashlib.sha256(f"array:{_file_sha256(source)}".encode()).hexdigest(), recipe)


def _why_stale(meta_file: Path) -> str | None:
    """Why the complete entry of ``meta_file`` can no longer be read, or None while it can."""
    try:
        meta = read_json(meta_file)
    except (OSError, ValueError):
        return "its record cannot be read"
    source, recipe = meta.get("source"), meta.get("recipe")
    if not isinstance(source, str) or not isinstance(recipe, str):
        return "written by an older ganbench, which did not record its source"
    if meta.get("format") != CACHE_FORMAT:
        return f"written in an older cache format ({meta.get('format')}; now {CACHE_FORMAT})"
    path = Path(source)
    if not (path.is_dir() or path.is_file()):
        return f"its source {source} is gone"
    try:
        current = _current_entry(path, recipe)
    except (UsageError, OSError) as exc:
        return f"its source {source} no longer reads as images ({exc})"
    if current.meta.name != meta_file.name:
        return f"its source {source} changed since (files edited, added or removed)"
    return None


def stale_decoded_entries(now: float | None = None) -> list[StaleEntry]:
    """The entries of the decoded cache that no later read will use: their source folder or
    array file is gone or changed (a changed folder gets a new entry), their format is old,
    or they are half-written and older than :data:`ORPHAN_AGE_S` (a killed decode)."""
    import time

    folder = decoded_cache_dir()
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    stale: list[StaleEntry] = []
    files = sorted(p for p in folder.iterdir() if p.is_file())
    names = {p.name for p in files}
    for file in files:
        if file.suffix == ".json" and not file.name.startswith("."):
            pixels = file.with_suffix(".npy")
            reason = _why_stale(file) if pixels.name in names else "its pixels file is missing"
            if reason is not None:
                stale.append(StaleEntry((file, pixels), reason))
        elif (file.suffix == ".npy" and file.with_suffix(".json").name not in names) or file.name.startswith("."):
            if now - file.stat().st_mtime > ORPHAN_AGE_S:
                stale.append(StaleEntry((file,), "half-written by a decode that did not finish"))
    return stale


__all__ = ["DecodedImages", "NATIVE_RECIPE", "RESIZE_RECIPE", "StaleEntry", "decoded_cache_dir", "image_suffixes",
           "read_images", "recipe_for", "resize_square", "stale_decoded_entries"]
