"""``ganbench cache``: what ganbench keeps in its cache folder, and clearing or pruning it.

The cache folder is :func:`ganbench.datasets.cache_dir` (``$GANBENCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/ganbench``, else ``~/.cache/ganbench``). Everything in it can be made again,
at a cost: a decode, a download, a classifier trained. Clearing a sub-folder while a run uses
it is safe on Linux and macOS (a file a run has open stays readable until it closes it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ganbench.datasets import cache_dir
from ganbench.errors import UsageError

# What each sub-folder holds, as ganbench's modules write them.
FOLDERS = {
    "decoded": "user images (folder:PATH, array:FILE) decoded to uint8 arrays; made again by a decode",
    "statistics": "features and statistics of real data for FID-like metrics; made again on the next evaluation",
    "classifiers": "domain classifiers for domain-* metrics; trained again when needed",
    "staged": "decompressed loose IDX files; made again from the files",
    "datasets": "downloaded data sets; downloaded again when needed",
}


@dataclass(frozen=True)
class FolderUsage:
    """One sub-folder of the cache: its name, what it holds, its files and their size in bytes."""

    name: str
    holds: str
    files: int
    size: int


def usage(root: Path | None = None) -> list[FolderUsage]:
    """Every sub-folder of the cache (the known ones first, then any other), with its size."""
    root = cache_dir() if root is None else root
    present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    rows = []
    for name in [*FOLDERS, *(n for n in present if n not in FOLDERS)]:
        files = [p for p in (root / name).rglob("*") if p.is_file() and not p.is_symlink()]
        rows.append(FolderUsage(name, FOLDERS.get(name, "not written by ganbench's own modules (a plugin?)"),
                                len(files), sum(p.stat().st_size for p in files)))
    return rows


def clear(names: list[str], root: Path | None = None) -> list[FolderUsage]:
    """Delete the sub-folders ``names`` of the cache (``all``: every one); returns what they held.

    :raises UsageError: a name that is not a sub-folder of the cache.
    """
    root = cache_dir() if root is None else root
    known = {row.name: row for row in usage(root)}
    chosen = list(known) if names == ["all"] else names
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise UsageError(f"--clear {', '.join(unknown)}: not a folder of the cache {root}; use all or "
                         f"one of {', '.join(known)}.")
    for name in chosen:
        if (root / name).is_dir():
            shutil.rmtree(root / name)
    return [known[name] for name in chosen]


def format_size(size: int) -> str:
    """``"0 B"``, ``"12.0 KiB"``, ``"3.4 GiB"``."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


__all__ = ["FOLDERS", "FolderUsage", "clear", "format_size", "usage"]
