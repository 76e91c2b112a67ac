"""The domain classifier: deterministic training, on-disk cache, and the feature extractor."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import write_idx
from ganbench.datasets import Dataset, to_unit_range
from ganbench.datasets.images import FashionMNIST
from ganbench.datasets.toy import GaussianMixture1D
from ganbench.errors import GanbenchError
from ganbench.features import classifier
from ganbench.features.classifier import (
    DomainClassifierNet, DomainFeatures, load_or_train_classifier, train_domain_classifier,
)

CPU = torch.device("cpu")
QUICK = {"epochs": 2, "batch_size": 64, "max_items": 128}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny batches: one thread is as fast, and far faster when other jobs share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny(tmp_path):
    """256 training and 256 test images of the square-size task."""
    return write_idx(tmp_path / "idx", count=256)


def _quick_train(data_root, seed: int):
    return train_domain_classifier(FashionMNIST(), seed=seed, device=CPU, data_root=data_root,
                                   **QUICK)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 17, 23)])
def test_network_handles_image_sizes(shape):
    net = DomainClassifierNet(shape[0], 7).eval()
    features, logits = net.features_and_logits(torch.rand(5, *shape) * 2 - 1)
    assert features.shape == (5, 128) and logits.shape == (5, 7)
    zeros = torch.zeros(2, *shape)
    assert torch.equal(net(zeros), net.features_and_logits(zeros)[1])


def test_training_is_deterministic_and_leaves_the_callers_rng_alone(tiny):
    rng_before = torch.get_rng_state()
    first, info = _quick_train(tiny, seed=0)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training
    again, _ = _quick_train(tiny, seed=0)
    other, _ = _quick_train(tiny, seed=1)
    assert _same_weights(first, again)
    assert not _same_weights(first, other)
    assert info["train_items"] == 128 and info["test_items"] == 256 and info["epochs"] == 2
    assert info["seconds"] > 0 and 0 <= info["test_accuracy"] <= 1


def test_learns_the_toy_task(tiny):
    model, info = train_domain_classifier(FashionMNIST(), seed=0, device=CPU, data_root=tiny,
                                          epochs=5, batch_size=32)
    assert info["train_items"] == 256
    assert info["test_accuracy"] >= 0.9, info  # chance is 0.1
    assert not model.training


def test_cache_hit_loads_without_training(tiny, monkeypatch):
    messages: list[str] = []
    model, info = load_or_train_classifier(FashionMNIST(), seed=0, device=CPU, data_root=tiny,
                                           progress=messages.append)
    assert info["from_cache"] is False and messages
    path = classifier.classifier_path(FashionMNIST(), 0)
    assert path.is_file() and path.name.startswith("fashion-mnist-seed0-")
    assert path.parent == classifier.cache_dir() / "classifiers"
    stored = json.loads(path.with_suffix(".json").read_text())
    assert stored["test_accuracy"] == info["test_accuracy"] and "from_cache" not in stored
    assert not list(path.parent.glob("*.tmp"))

    def refuse(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(classifier, "train_domain_classifier", refuse)
    cached, cached_info = load_or_train_classifier(FashionMNIST(), seed=0, device=CPU,
                                                   data_root=tiny)
    assert cached_info["from_cache"] is True
    assert cached_info["test_accuracy"] == info["test_accuracy"]
    assert _same_weights(model, cached) and not cached.training


def test_changed_key_or_broken_file_retrains(tiny, monkeypatch):
    calls = []
    real_train = classifier.train_domain_classifier

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(classifier, "train_domain_classifier", counting)

    def load(seed: int):
        return load_or_train_classifier(FashionMNIST(), seed=seed, device=CPU, data_root=tiny)

    load(0)
    load(0)
    assert calls == [0]
    load(1)
    assert calls == [0, 1]
    old_path = classifier.classifier_path(FashionMNIST(), 0)
    monkeypatch.setattr(classifier, "CLASSIFIER_VERSION", classifier.CLASSIFIER_VERSION + 1)
    assert classifier.classifier_path(FashionMNIST(), 0) != old_path
    load(0)
    assert calls == [0, 1, 0]
    classifier.classifier_path(FashionMNIST(), 0).write_bytes(b"not a state dict")
    _, info = load(0)
    assert calls == [0, 1, 0, 0] and info["from_cache"] is False
    assert load(0)[1]["from_cache"] is True


def test_extract_gives_float64_features_through_the_quantised_path(tiny):
    model, info = _quick_train(tiny, seed=0)
    extractor = DomainFeatures(model, FashionMNIST(), info, batch_size=50)
    assert extractor.name == "classifier-fashion-mnist" and extractor.info is info
    real = FashionMNIST().load(device=CPU, seed=0, data_root=tiny, train=False).data[:120]
    out = extractor.extract(real)
    assert out["features"].shape == (120, 128) and out["logits"].shape == (120, 10)
    assert out["features"].dtype == out["logits"].dtype == torch.float64
    assert out["features"].device.type == "cpu"
    as_float = to_unit_range(real)
    jittered = (as_float + (torch.rand_like(as_float) - 0.5) * 0.007).clamp(-1.5, 1.5)
    for variant in (as_float, jittered):
        again = extractor.extract(variant)
        assert torch.equal(again["features"], out["features"])
        assert torch.equal(again["logits"], out["logits"])
    empty = extractor.extract(real[:0])
    assert empty["features"].shape == (0, 128) and empty["logits"].shape == (0, 10)
    with pytest.raises(GanbenchError, match="expects images of shape N×1×28×28"):
        extractor.extract(torch.zeros(4, 3, 32, 32))


def test_cache_key_names_the_weights(tiny):
    extractor = DomainFeatures.for_dataset(FashionMNIST(), seed=0, device=CPU, data_root=tiny)
    key = extractor.cache_key()
    json.dumps(key)  # serialisable
    assert key["dataset"] == "fashion-mnist" and key["seed"] == 0
    assert key["classifier_version"] == classifier.CLASSIFIER_VERSION
    assert len(key["weights_sha256"]) == 64
    model = DomainClassifierNet(1, 10)
    other = DomainFeatures(model, FashionMNIST(), extractor.info)
    assert other.cache_key()["weights_sha256"] != key["weights_sha256"]


class Unlabelled(Dataset):
    name = "unlabelled-images"
    kind = "image"
    shape = (1, 8, 8)


@pytest.mark.parametrize("dataset", [GaussianMixture1D(), Unlabelled()])
def test_needs_a_labelled_image_dataset(dataset):
    with pytest.raises(GanbenchError, match="needs a labelled image data set"):
        train_domain_classifier(dataset, device=CPU)
    with pytest.raises(GanbenchError, match="needs a labelled image data set"):
        load_or_train_classifier(dataset, device=CPU)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"max_items": 0}, {"cpu_threads": 0}])
def test_rejects_nonsense_parameters(tiny, bad):
    with pytest.raises(GanbenchError, match="must be at least 1"):
        train_domain_classifier(FashionMNIST(), device=CPU, data_root=tiny, **bad)
