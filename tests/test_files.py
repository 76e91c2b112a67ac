"""ganbench.datasets.files: folders and arrays of the user's own images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.datasets import cache_dir
from ganbench.datasets.files import NATIVE_RECIPE, read_images, resize_square
from ganbench.errors import UsageError


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def grey(value: int, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.full(size, value, dtype=np.uint8)


def test_folder_with_class_subfolders_gives_labels_in_sorted_class_order(tmp_path):
    write_png(tmp_path / "data" / "cat" / "a.png", grey(10))
    write_png(tmp_path / "data" / "cat" / "deeper" / "b.png", grey(20))
    write_png(tmp_path / "data" / "ant" / "c.png", grey(30))
    (tmp_path / "data" / "ant" / "notes.txt").write_text("not an image")
    decoded = read_images(tmp_path / "data")
    assert decoded.class_names == ["ant", "cat"]
    assert decoded.labels.tolist() == [0, 1, 1]
    assert decoded.pixels.dtype == torch.uint8 and tuple(decoded.pixels.shape) == (3, 1, 8, 8)
    assert decoded.pixels[:, 0, 0, 0].tolist() == [30, 10, 20]
    assert decoded.skipped_files == 1
    assert decoded.recipe == NATIVE_RECIPE


def test_flat_folder_is_unlabelled_and_rgb_when_any_image_is_colour(tmp_path):
    write_png(tmp_path / "a.png", grey(7))
    colour = np.zeros((8, 8, 3), dtype=np.uint8)
    colour[..., 2] = 200
    Image.fromarray(colour).save(tmp_path / "b.jpg", quality=100)
    decoded = read_images(tmp_path)
    assert decoded.labels is None and decoded.class_names is None
    assert tuple(decoded.pixels.shape) == (2, 3, 8, 8)
    assert decoded.pixels[0, :, 0, 0].tolist() == [7, 7, 7]
    assert decoded.pixels[1, 2, 4, 4] > 180 and decoded.pixels[1, 0, 4, 4] < 30


def test_resolution_centre_crops_then_resizes_with_pil_bicubic(tmp_path):
    wide = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    write_png(tmp_path / "wide.png", wide)
    write_png(tmp_path / "small.png", grey(99, (10, 10)))
    decoded = read_images(tmp_path, resolution=16)
    assert tuple(decoded.pixels.shape) == (2, 1, 16, 16)
    expected = Image.fromarray(wide[:, 5:25]).resize((16, 16), Image.Resampling.BICUBIC)
    assert np.array_equal(decoded.pixels[1, 0].numpy(), np.asarray(expected))
    assert "bicubic" in decoded.recipe and "16x16" in decoded.recipe
    assert resize_square(Image.fromarray(wide), 20).size == (20, 20)


def test_second_read_comes_from_the_cache_and_content_key_follows_the_bytes(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    write_png(folder / "a.png", grey(1))
    write_png(folder / "b.png", grey(2))
    first = read_images(folder)
    import ganbench.datasets.files as files
    monkeypatch.setattr(files, "_open_image", lambda *a: pytest.fail("decoded again"))
    again = read_images(folder)
    assert again.content_key == first.content_key
    assert torch.equal(again.pixels, first.pixels)
    monkeypatch.undo()
    # Same bytes under a new mtime (a copy): decoded again, same content key.
    os.utime(folder / "a.png", (1, 1))
    assert read_images(folder).content_key == first.content_key
    write_png(folder / "b.png", grey(3))
    assert read_images(folder).content_key != first.content_key


def test_a_damaged_cache_entry_is_decoded_again(tmp_path):
    write_png(tmp_path / "data" / "a.png", grey(5))
    read_images(tmp_path / "data")
    (cached,) = (cache_dir() / "decoded").glob("*.npy")
    cached.write_bytes(b"")
    assert read_images(tmp_path / "data").pixels[0, 0, 0, 0] == 5


@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw"])
def test_array_layouts(tmp_path, layout):
    base = np.random.default_rng(1).integers(0, 256, (4, 3, 6, 6), dtype=np.uint8)
    array = {"nhw": base[:, 0], "nhwc": base.transpose(0, 2, 3, 1), "nchw": base}[layout]
    np.save(tmp_path / "x.npy", array)
    decoded = read_images(tmp_path / "x.npy")
    expected = base[:, :1] if layout == "nhw" else base
    assert np.array_equal(decoded.pixels.numpy(), expected)
    assert decoded.labels is None


def test_npz_with_labels(tmp_path):
    images = np.zeros((3, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=images, labels=np.array([2, 0, 1]))
    decoded = read_images(tmp_path / "x.npz")
    assert decoded.labels.tolist() == [2, 0, 1]
    assert decoded.class_names == ["0", "1", "2"]


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "holds no image files"),
    (lambda d: (d / "x.txt").write_text("x"), "holds no image files"),
    (lambda d: (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20), "bad.png cannot be read"),
    (lambda d: write_png(d / "a.png", grey(1, (4, 4))) and write_png(d / "b.png", grey(1, (5, 5))),
     "different sizes"),
])
def test_bad_folders_are_refused_naming_the_problem(tmp_path, make, message):
    folder = tmp_path / "data"
    folder.mkdir()
    make(folder)
    with pytest.raises(UsageError, match=message):
        read_images(folder)
    assert not list(cache_dir().glob("decoded/*")), "a failed read leaves nothing in the cache"


def test_truncated_png_is_named(tmp_path):
    png = write_png(tmp_path / "data" / "t.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    png.write_bytes(png.read_bytes()[:200])
    with pytest.raises(UsageError, match=r"t\.png cannot be read"):
        read_images(tmp_path / "data")
    assert not list(cache_dir().glob("decoded/*")), "a failed read leaves nothing in the cache"


@pytest.mark.parametrize("array, labels, message", [
    (np.zeros((2, 4, 4), dtype=np.float32), None, "dtype float32; expected uint8"),
    (np.zeros((2, 4, 4, 5), dtype=np.uint8), None, "expected N×H×W"),
    (np.zeros((4, 4), dtype=np.uint8), None, "expected N×H×W"),
    (np.zeros((2, 4, 4), dtype=np.uint8), np.array([0, 1, 2]), "2 images but 3 labels"),
    (np.zeros((2, 4, 4), dtype=np.uint8), np.array([0, -1]), "≥ 0"),
    (np.zeros((2, 4, 4), dtype=np.uint8), np.array([0.5, 1.0]), "expected 2 integers"),
])
def test_bad_arrays_are_refused(tmp_path, array, labels, message):
    file = tmp_path / "x.npz"
    np.savez(file, images=array, **({} if labels is None else {"labels": labels}))
    with pytest.raises(UsageError, match=message):
        read_images(file)


def test_missing_path_and_other_files_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_images(tmp_path / "nothing")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(UsageError, match="neither a folder"):
        read_images(tmp_path / "x.csv")


def test_sixteen_bit_grey_images_are_scaled_to_eight_bits_not_clipped(tmp_path):
    wide = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    decoded = read_images(tmp_path)
    assert tuple(decoded.pixels.shape) == (1, 1, 1, 4), "16-bit grey is grey"
    assert decoded.pixels[0, 0, 0].tolist() == [0, 1, 128, 255]


@pytest.mark.parametrize("array, mode", [
    (np.array([[0, 70000]], dtype=np.int32), "mode I"),
    (np.array([[0.0, 0.5]], dtype=np.float32), "mode F"),
])
def test_images_of_32_bit_pixels_are_refused_not_clipped(tmp_path, array, mode):
    Image.fromarray(array).save(tmp_path / "deep.tiff")
    with pytest.raises(UsageError, match=f"deep.tiff has 32-bit .* pixels \\(PIL {mode}\\).*8-bit or 16-bit"):
        read_images(tmp_path)


@pytest.mark.parametrize("link", ["sub/loop", "self"])
def test_a_symbolic_link_looping_back_is_refused_naming_it(tmp_path, link):
    write_png(tmp_path / "data" / "sub" / "a.png", grey(1))
    os.symlink(tmp_path / "data", tmp_path / "data" / link)
    with pytest.raises(UsageError, match=f"data/{link} is a symbolic link to .*remove the link"):
        read_images(tmp_path / "data")


def test_a_symbolic_link_to_a_folder_elsewhere_is_followed(tmp_path):
    write_png(tmp_path / "elsewhere" / "a.png", grey(3))
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "cls")
    assert read_images(tmp_path / "data").class_names == ["cls"]


def test_a_dangling_link_and_an_oversized_image_are_named(tmp_path, monkeypatch):
    (tmp_path / "dangling").mkdir()
    os.symlink(tmp_path / "nowhere.png", tmp_path / "dangling" / "gone.png")
    with pytest.raises(UsageError, match="gone.png cannot be read"):
        read_images(tmp_path / "dangling")
    write_png(tmp_path / "huge" / "big.png", grey(0, (64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses images over twice this
    with pytest.raises(UsageError, match="big.png cannot be read \\(DecompressionBombError"):
        read_images(tmp_path / "huge")


def test_a_named_pipe_named_like_an_image_is_refused_without_waiting(tmp_path):
    """Opening a FIFO for reading waits for a writer: the read hung forever."""
    import threading

    write_png(tmp_path / "pipes" / "a" / "0.png", grey(1))
    os.mkfifo(tmp_path / "pipes" / "a" / "1.png")
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_images(tmp_path / "pipes")
            outcome.append(None)
        except UsageError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert outcome, "read_images is still waiting on the named pipe"
    assert isinstance(outcome[0], UsageError) and "1.png is named as an image but is not a regular file" in str(outcome[0])


def test_array_labels_with_gaps_are_the_classes_present_and_huge_ones_do_not_hang(tmp_path):
    images = np.zeros((4, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "gaps.npz", images=images, labels=np.array([5, 0, 5, 2**40]))
    decoded = read_images(tmp_path / "gaps.npz")
    assert decoded.class_names == ["0", "5", str(2**40)], "no empty classes 1-4 (nor 2**40 of them)"
    assert decoded.labels.tolist() == [1, 0, 1, 2]


def test_a_path_cut_at_a_comma_names_the_folder_it_was_cut_from(tmp_path):
    write_png(tmp_path / "faces, cropped" / "a.png", grey(1))
    with pytest.raises(UsageError, match=r"faces does not exist; .* Did you mean '.*faces, cropped'\? A comma"):
        read_images(tmp_path / "faces")
