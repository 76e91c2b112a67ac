"""Data sets: generated mixtures, and image files through torchvision's real loading code."""

from __future__ import annotations

import os
import urllib.error

import pytest
import torch

from conftest import write_idx
from ganbench.datasets import StreamingSource, TensorSource, images
from ganbench.datasets.toy import GaussianMixture1D, Grid25, Ring8
from ganbench.errors import DatasetUnavailableError

CPU = torch.device("cpu")


@pytest.mark.parametrize("cls,modes,dim", [(GaussianMixture1D, 2, 1), (Ring8, 8, 2), (Grid25, 25, 2)])
def test_mixtures_are_generated_from_the_seed(cls, modes, dim):
    torch.manual_seed(0)
    source = cls().load(device=CPU, seed=0)
    batch = source.sample(4096)
    assert batch.shape == (4096, dim)
    torch.manual_seed(0)
    assert torch.equal(cls().load(device=CPU, seed=0).sample(4096), batch)
    # every sample sits near one of the declared centres
    distances = torch.cdist(batch, cls.centres()).min(dim=1).values
    assert distances.max() < 6 * cls.sigma
    assert len(cls.centres()) == modes


def test_ring_centres_are_on_a_circle_of_radius_two():
    assert torch.allclose(Ring8.centres().norm(dim=1), torch.full((8,), 2.0))


def _no_download(monkeypatch):
    """Make torchvision's download fail as it does offline, without touching the network."""
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr("torchvision.datasets.utils.urllib.request.urlopen", refuse)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files_in_data_root_load_through_torchvision(tmp_path, compress):
    folder = write_idx(tmp_path / "flat", count=32, compress=compress)
    source = images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    assert isinstance(source, TensorSource)
    assert source.data.dtype == torch.uint8 and source.data.shape == (32, 1, 28, 28)
    assert source.labels.shape == (32,)
    batch = source.sample(16)
    assert batch.dtype == torch.float32 and batch.shape == (16, 1, 28, 28)
    assert batch.min() >= -1 and batch.max() <= 1 and batch.min() == -1
    assert "--data-root" in source.describe()["source"]


def test_torchvision_layout_in_data_root(tmp_path):
    write_idx(tmp_path / "root" / "MNIST" / "raw", count=16, compress=False)
    source = images.MNIST().load(device=CPU, seed=0, data_root=tmp_path / "root")
    assert source.num_items == 16


def test_debian_location_is_searched_after_data_root(tmp_path, monkeypatch):
    debian = write_idx(tmp_path / "usr-share-datasets-fashion-mnist", count=8)
    monkeypatch.setattr(images.FashionMNIST, "debian_dir", debian)
    source = images.FashionMNIST().load(device=CPU, seed=0)
    assert source.num_items == 8 and "Debian package" in source.describe()["source"]
    # an explicit --data-root wins
    other = write_idx(tmp_path / "mine", count=12)
    assert images.FashionMNIST().load(device=CPU, seed=0, data_root=other).num_items == 12


def test_test_split(tmp_path):
    folder = write_idx(tmp_path / "flat", count=10)
    assert images.FashionMNIST().load(device=CPU, seed=0, data_root=folder, train=False).describe()["split"] == "test"


def test_missing_data_names_every_remedy(tmp_path, monkeypatch):
    _no_download(monkeypatch)
    with pytest.raises(DatasetUnavailableError) as info:
        images.FashionMNIST().load(device=CPU, seed=0, data_root=tmp_path / "empty")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--data-root" in message and "internet" in message
    assert "download into" in message


def test_wrong_files_are_reported(tmp_path):
    folder = tmp_path / "cifar-like"
    (folder / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(DatasetUnavailableError, match="cifar10"):
        _no_download_and(lambda: images.CIFAR10().load(device=CPU, seed=0, data_root=folder))


def _no_download_and(call):
    import unittest.mock

    with unittest.mock.patch("torchvision.datasets.utils.urllib.request.urlopen",
                             side_effect=urllib.error.URLError("offline")):
        return call()


def test_large_data_sets_stream(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_MAX_IN_MEMORY_MB", "0")
    folder = write_idx(tmp_path / "flat", count=20)
    source = images.FashionMNIST().load(device=CPU, seed=3, data_root=folder)
    assert isinstance(source, StreamingSource)
    batch = source.sample(8)
    assert batch.shape == (8, 1, 28, 28) and batch.min() >= -1 and batch.max() <= 1
    again = images.FashionMNIST().load(device=CPU, seed=3, data_root=folder).sample(8)
    assert torch.equal(batch, again)


@pytest.mark.skipif(not images.DEBIAN_FASHION_MNIST.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
def test_the_real_debian_fashion_mnist(monkeypatch):
    monkeypatch.setattr(images.FashionMNIST, "debian_dir", images.DEBIAN_FASHION_MNIST)
    source = images.FashionMNIST().load(device=torch.device("cpu"), seed=0)
    assert source.num_items == 60_000 and source.shape == (1, 28, 28)
    assert torch.bincount(source.labels).tolist() == [6000] * 10
    assert source.describe()["source"].startswith("Debian package")
    batch = source.sample(64)
    assert batch.min() >= -1 and batch.max() <= 1


# --- files under --data-root are authoritative ------------------------------------------------
def _debian_copy(tmp_path, monkeypatch):
    """A good Fashion-MNIST copy where Debian's package would be: a fallback must not use it."""
    debian = write_idx(tmp_path / "debian", count=8)
    monkeypatch.setattr(images.FashionMNIST, "debian_dir", debian)
    return debian


def _rewrite(file, edit):
    file.write_bytes(edit(bytearray(file.read_bytes())))


@pytest.mark.parametrize("damage, message", [
    (lambda d: _rewrite(d / "train-images-idx3-ubyte", lambda b: b[:-100]),
     r"train-images-idx3-ubyte is truncated: \d+ bytes, expected \d+"),
    (lambda d: _rewrite(d / "train-labels-idx1-ubyte", lambda b: b"\x00\x00\x08\x03" + b[4:]),
     r"train-labels-idx1-ubyte is not an IDX file of labels: magic number 0x00000803, expected 0x00000801"),
    (lambda d: (d / "train-labels-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x01" + (30).to_bytes(4, "big") + bytes(30)),
     r"holds 32 images but .*train-labels-idx1-ubyte holds 30 labels"),
    (lambda d: _rewrite(d / "train-labels-idx1-ubyte", lambda b: b[:8] + bytes([12]) + b[9:]),
     r"train-labels-idx1-ubyte has label 12 at index 0; expected labels 0..9"),
    (lambda d: (d / "t10k-images-idx3-ubyte").unlink(), r"but not t10k-images-idx3-ubyte"),
])
def test_damaged_files_in_data_root_are_refused_without_fallback(tmp_path, monkeypatch, damage, message):
    _debian_copy(tmp_path, monkeypatch)
    folder = write_idx(tmp_path / "mine", count=32, compress=False)
    damage(folder)
    with pytest.raises(DatasetUnavailableError, match=message) as info:
        images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    assert str(folder) in str(info.value) and "debian" not in str(info.value)
    assert not list(images.cache_dir().glob("staged/*")), "a failed staging leaves nothing behind"


def test_truncated_gzip_in_data_root_is_named(tmp_path, monkeypatch):
    _debian_copy(tmp_path, monkeypatch)
    folder = write_idx(tmp_path / "mine", count=32, compress=True)
    _rewrite(folder / "train-images-idx3-ubyte.gz", lambda b: b[: len(b) // 2])
    with pytest.raises(DatasetUnavailableError, match=r"train-images-idx3-ubyte\.gz cannot be read"):
        images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)


def test_torchvision_layout_in_data_root_is_checked_too(tmp_path, monkeypatch):
    _debian_copy(tmp_path, monkeypatch)
    raw = write_idx(tmp_path / "root" / "FashionMNIST" / "raw", count=16, compress=False)
    _rewrite(raw / "train-images-idx3-ubyte", lambda b: b[:-1])
    with pytest.raises(DatasetUnavailableError, match="FashionMNIST/raw/train-images-idx3-ubyte is truncated"):
        images.FashionMNIST().load(device=CPU, seed=0, data_root=tmp_path / "root")


def test_data_root_without_the_files_falls_back_and_says_so(tmp_path, monkeypatch):
    _debian_copy(tmp_path, monkeypatch)
    (tmp_path / "other").mkdir()
    source = images.FashionMNIST().load(device=CPU, seed=0, data_root=tmp_path / "other")
    assert source.num_items == 8 and source.describe()["source"].startswith("Debian package")


def test_a_zero_byte_staged_file_is_staged_again(tmp_path):
    folder = write_idx(tmp_path / "mine", count=16)
    assert images.FashionMNIST().load(device=CPU, seed=0, data_root=folder).num_items == 16
    (staged,) = images.cache_dir().glob("staged/fashion-mnist-*/FashionMNIST/raw/train-images-idx3-ubyte")
    staged.write_bytes(b"")
    source = images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    assert source.num_items == 16 and source.data.shape == (16, 1, 28, 28)


def test_a_restored_good_file_is_picked_up_again(tmp_path):
    folder = write_idx(tmp_path / "mine", count=16)
    good = (folder / "train-images-idx3-ubyte.gz").read_bytes()
    good_stat = (folder / "train-images-idx3-ubyte.gz").stat()
    images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(good[:40])
    with pytest.raises(DatasetUnavailableError, match="cannot be read"):
        images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    # the backup is restored with its old mtime (cp -p): older than anything staged
    (folder / "train-images-idx3-ubyte.gz").write_bytes(good)
    os.utime(folder / "train-images-idx3-ubyte.gz", ns=(good_stat.st_atime_ns, good_stat.st_mtime_ns))
    assert images.FashionMNIST().load(device=CPU, seed=0, data_root=folder).num_items == 16


def test_a_changed_source_is_not_read_from_a_stale_staging(tmp_path):
    folder = write_idx(tmp_path / "mine", count=16)
    images.FashionMNIST().load(device=CPU, seed=0, data_root=folder)
    write_idx(folder, count=24)
    assert images.FashionMNIST().load(device=CPU, seed=0, data_root=folder).num_items == 24
    assert len(list(images.cache_dir().glob("staged/*"))) == 1, "the old staging is removed"


def test_gzipped_files_in_torchvision_layout_are_used_not_passed_over(tmp_path, monkeypatch):
    _debian_copy(tmp_path, monkeypatch)
    write_idx(tmp_path / "root" / "FashionMNIST" / "raw", count=12, compress=True)
    source = images.FashionMNIST().load(device=CPU, seed=0, data_root=tmp_path / "root")
    assert source.num_items == 12 and source.describe()["source"].startswith("--data-root")
