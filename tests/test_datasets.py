"""Data sets: generated mixtures, and image files through torchvision's real loading code."""

from __future__ import annotations

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
