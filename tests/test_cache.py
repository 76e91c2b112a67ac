"""``ganbench cache``: the cache folder's size per folder, pruning stale decoded images, clearing folders."""

from __future__ import annotations

import json
import os
import time

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from ganbench.cache import format_size
from ganbench.cli import app
from ganbench.datasets import cache_dir
from ganbench.datasets.files import decoded_cache_dir, read_images


def invoke(*args: str):
    return CliRunner().invoke(app, ["cache", *args])


def image_folder(folder, count=4):
    folder.mkdir()
    for index in range(count):
        Image.fromarray(np.full((8, 8), index * 40, dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def test_prune_deletes_only_what_no_read_will_use_again(tmp_path):
    images = image_folder(tmp_path / "images")
    array = tmp_path / "faces.npy"
    np.save(array, np.zeros((3, 8, 8), dtype=np.uint8))
    read_images(images), read_images(images, resolution=4), read_images(array)
    (images / "0.png").unlink()  # the folder changed: its two entries are stale, a new one is made
    current = read_images(images)
    array.unlink()  # the array is gone
    old = decoded_cache_dir() / "0123456789abcdef0123456789abcdef"  # from an older ganbench: no source recorded
    np.save(old.with_suffix(".npy"), np.zeros((1, 1, 2, 2), dtype=np.uint8))
    old.with_suffix(".json").write_text(json.dumps({"recipe": "x", "pixels_bytes": 1}))
    killed, writing = decoded_cache_dir() / ".a.npy.123.ab.tmp", decoded_cache_dir() / ".b.npy.456.cd.tmp"
    killed.write_bytes(b"half"), writing.write_bytes(b"half")
    os.utime(killed, (time.time() - 2 * 86400,) * 2)  # a decode killed two days ago; `writing` may be running

    listed = json.loads(invoke("--json").stdout)
    reasons = sorted(entry["reason"] for entry in listed["stale"])
    assert reasons == sorted([f"its source {array.resolve()} is gone",
                              f"its source {images.resolve()} changed since (files edited, added or removed)",
                              f"its source {images.resolve()} changed since (files edited, added or removed)",
                              "half-written by a decode that did not finish",
                              "written by an older ganbench, which did not record its source"])
    assert listed["cache_dir"] == str(cache_dir()) and listed["pruned"] == []

    result = invoke("--prune")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in decoded_cache_dir().iterdir()) == sorted(
        [f"{name}.{suffix}" for name in [_key_of(current)] for suffix in ("json", "npy")] + [writing.name])
    assert "pruned " in result.stderr and "is gone" in result.stderr
    kept = decoded_cache_dir() / f"{_key_of(current)}.json"
    written = kept.stat().st_mtime_ns
    again = read_images(images)  # still read from the kept entry, not decoded and written again
    assert again.content_key == current.content_key and kept.stat().st_mtime_ns == written
    assert json.loads(invoke("--json").stdout)["stale"] == []


def _key_of(decoded) -> str:
    """The cache key of the entry ``decoded`` was read from (its memory-mapped file)."""
    [entry] = [p.stem for p in decoded_cache_dir().glob("*.json")
               if json.loads(p.read_text())["content_key"] == decoded.content_key]
    return entry


def test_the_listing_sizes_each_folder_and_clear_deletes_the_named_ones(tmp_path):
    read_images(image_folder(tmp_path / "images"))
    (cache_dir() / "statistics").mkdir()
    (cache_dir() / "statistics" / "ring.pt").write_bytes(b"x" * 2048)
    (cache_dir() / "my-plugin").mkdir()  # a folder ganbench's own modules do not write
    listed = {row["name"]: row for row in json.loads(invoke("--json").stdout)["folders"]}
    assert listed["statistics"]["files"] == 1 and listed["statistics"]["size"] == 2048
    assert listed["decoded"]["files"] == 2 and listed["decoded"]["size"] > 4 * 64
    assert listed["my-plugin"]["holds"].startswith("not written by ganbench's own modules")
    table = " ".join(invoke().stdout.split())
    assert f"Cache {cache_dir()}" in table and "statistics │ 1 │ 2.0 KiB" in table

    bad = invoke("--clear", "decoded,models")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "--clear models: not a folder of the cache" in " ".join(bad.stderr.split())
    assert (cache_dir() / "decoded").is_dir()  # nothing is deleted when a name is wrong

    cleared = invoke("--clear", "decoded,statistics")
    assert cleared.exit_code == 0 and "cleared statistics: 1 file(s), 2.0 KiB" in cleared.stderr
    assert not (cache_dir() / "decoded").exists() and not (cache_dir() / "statistics").exists()
    assert (cache_dir() / "my-plugin").is_dir()
    assert invoke("--clear", "all").exit_code == 0 and list(cache_dir().iterdir()) == []


def test_sizes_read_as_people_write_them():
    assert [format_size(n) for n in (0, 1023, 2048, 5 * 1024**3)] == ["0 B", "1023 B", "2.0 KiB", "5.0 GiB"]
