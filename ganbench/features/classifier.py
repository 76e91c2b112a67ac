"""A small CNN trained on a labelled image data set, used as a domain feature extractor.

Inception weights are not always at hand, and Inception features are a rough instrument on
MNIST-like data, so for labelled image data sets ganbench trains :class:`DomainClassifierNet`
on the data set's training split (deterministically, seeded) and uses its penultimate layer
and class logits for offline "domain" metrics. :func:`load_or_train_classifier` caches the
trained weights under ``cache_dir()/classifiers``; :class:`DomainFeatures` wraps a trained
network as a :class:`~ganbench.features.FeatureExtractor`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from ganbench.datasets import Dataset, TensorSource, cache_dir, to_unit_range
from ganbench.errors import GanbenchError
from ganbench.fast import full_float32
from ganbench.features import FeatureExtractor, quantize
from ganbench.seeding import torch_threads
from ganbench.storage import atomic_path, read_json, write_json

CLASSIFIER_VERSION = 1  # bump whenever the network, training or input pipeline changes
FEATURE_DIM = 128
EVAL_BATCH_SIZE = 1000
FEATURES_VERSION = 3  # bump when the features' computation changes (cached statistics are redone); 2: channels-last; 3: no TF32 on CUDA

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingParams:
    """Hyperparameters of :func:`train_domain_classifier` (all part of the cache key)."""

    epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    dropout: float = 0.2
    max_items: int | None = None  # training items used (None: the whole split)
    # torch threads for CPU training (None: leave torch's setting). One thread by default: on
    # small CPUs shared with other jobs, OpenMP with 2+ threads ran 6-10x slower here, and a
    # fixed count keeps CPU weights repeatable across machines with different core counts.
    cpu_threads: int | None = 1


DEFAULT_PARAMS = TrainingParams()


def _conv_block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DomainClassifierNet(nn.Module):
    """A small CNN for C×H×W images in [-1, 1]: logits from ``forward``, and features too.

    conv 32 (stride 2) -> conv 64 -> max-pool -> conv 128 -> adaptive 2×2 average pool ->
    fc 128 (BatchNorm, ReLU: the ``features``) -> dropout -> fc ``num_classes``. The adaptive
    pool makes any image size of at least 4×4 work (28×28 grey, 32×32 colour, ...).
    """

    def __init__(self, in_channels: int, num_classes: int, feature_dim: int = FEATURE_DIM,
                 dropout: float = DEFAULT_PARAMS.dropout):
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            *_conv_block(in_channels, 32, stride=2),
            *_conv_block(32, 64),
            nn.MaxPool2d(2),
            *_conv_block(64, 128),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.embed = nn.Sequential(
            nn.Linear(128 * 4, feature_dim, bias=False), nn.BatchNorm1d(feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The ``feature_dim``-wide penultimate activations and the class logits."""
        features = self.embed(self.body(images))
        return features, self.head(features)

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[1]


# --- training ----------------------------------------------------------------------------------

def _check_labelled_images(dataset: Dataset) -> None:
    if dataset.kind != "image" or not dataset.num_classes or len(dataset.shape) != 3:
        raise GanbenchError(
            f"the domain classifier needs a labelled image data set, but {dataset.name!r} is "
            f"of kind {dataset.kind!r} with shape {tuple(dataset.shape)} and "
            f"num_classes={dataset.num_classes}; use the domain metrics only with labelled image "
            f"data sets (e.g. fashion-mnist, mnist, cifar10), or use Inception features instead."
        )


def _load_split(dataset: Dataset, device: torch.device, seed: int, data_root: Path | None,
                train: bool) -> TensorSource:
    source = dataset.load(device=device, seed=seed, data_root=data_root, train=train)
    split = "train" if train else "test"
    if not isinstance(source, TensorSource):
        raise GanbenchError(
            f"the domain classifier needs the {split} split of {dataset.name!r} in memory, but "
            f"it is read as a {type(source).__name__}; raise GANBENCH_MAX_IN_MEMORY_MB (MiB) "
            f"so that the data set is held in memory."
        )
    if source.labels is None:
        raise GanbenchError(
            f"the domain classifier needs labels, but the {split} split of {dataset.name!r} "
            f"came without them; check that its label files are present."
        )
    return source


@contextmanager
def _deterministic(seed: int, device: torch.device) -> Iterator[None]:
    """Seeded RNG and deterministic algorithms inside; the caller's state restored after."""
    was_enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    devices: list[int] = []
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if device.type != "cpu":
        module = torch.get_device_module(device.type)
        devices = [device.index if device.index is not None else module.current_device()]
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_enabled, warn_only=was_warn_only)


def _accuracy(model: DomainClassifierNet, source: TensorSource) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, source.num_items, EVAL_BATCH_SIZE):
            images = to_unit_range(source.data[start:start + EVAL_BATCH_SIZE])
            labels = source.labels[start:start + EVAL_BATCH_SIZE]
            correct += int((model(images).argmax(dim=1) == labels).sum())
    return correct / max(source.num_items, 1)


def train_domain_classifier(
    dataset: Dataset, *, seed: int = 0, device: torch.device | str,
    data_root: Path | None = None, epochs: int = DEFAULT_PARAMS.epochs,
    batch_size: int = DEFAULT_PARAMS.batch_size, lr: float = DEFAULT_PARAMS.lr,
    weight_decay: float = DEFAULT_PARAMS.weight_decay, dropout: float = DEFAULT_PARAMS.dropout,
    max_items: int | None = None, cpu_threads: int | None = DEFAULT_PARAMS.cpu_threads,
    progress: Progress | None = None,
) -> tuple[DomainClassifierNet, dict[str, Any]]:
    """Train a :class:`DomainClassifierNet` on ``dataset``'s train split; test it on the test split.

    AdamW with a one-cycle learning-rate schedule, cross-entropy, no augmentation. Shuffling
    uses a ``torch.Generator`` seeded with ``seed``, initialisation and dropout torch's RNG
    seeded inside :func:`torch.random.fork_rng` (the caller's RNG state is left as it was), and
    deterministic algorithms are on: on CPU two trainings with the same seed, machine and
    thread count give identical weights.

    :param max_items: use only the first ``max_items`` training items (for quick checks).
    :param cpu_threads: torch threads while training on CPU (restored after); None: as set.
    :returns: the trained network in eval mode, and facts: ``test_accuracy``,
        ``train_items``, ``test_items``, ``epochs``, ``seconds``, ``key_facts``, ...
    :raises GanbenchError: for a data set without labels or not of images.
    """
    _check_labelled_images(dataset)
    device = torch.device(device)
    params = TrainingParams(epochs, batch_size, lr, weight_decay, dropout, max_items, cpu_threads)
    counts = {"epochs": epochs, "batch_size": batch_size, "max_items": max_items,
              "cpu_threads": cpu_threads}
    wrong = {name: value for name, value in counts.items() if value is not None and value < 1}
    if wrong:
        raise GanbenchError(f"invalid domain classifier training parameters {wrong}: each must be "
                            f"at least 1 (max_items and cpu_threads may also be None).")
    say = progress or (lambda message: None)
    data_root = Path(data_root) if data_root is not None else None
    train = _load_split(dataset, device, seed, data_root, train=True)
    test = _load_split(dataset, device, seed, data_root, train=False)
    images, labels = train.data, train.labels
    if max_items is not None:
        images, labels = images[:max_items], labels[:max_items]
    num_items = images.shape[0]
    steps_per_epoch = max(num_items // batch_size, 1)  # the last partial batch is dropped
    start = time.perf_counter()
    with _deterministic(seed, device), torch_threads(cpu_threads if device.type == "cpu" else None):
        threads = torch.get_num_threads()
        model = DomainClassifierNet(dataset.shape[0], dataset.num_classes, dropout=dropout)
        model.to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, lr, total_steps=epochs * steps_per_epoch)
        shuffle = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(num_items, generator=shuffle).to(device)
            total_loss = torch.zeros((), device=device)
            for step in range(steps_per_epoch):
                index = order[step * batch_size:(step + 1) * batch_size]
                logits = model(to_unit_range(images[index]))
                loss = nn.functional.cross_entropy(logits, labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total_loss += loss.detach()
            mean_loss = float(total_loss) / steps_per_epoch
            say(f"domain classifier for {dataset.name}: epoch {epoch + 1}/{epochs}, "
                f"loss {mean_loss:.4f}, {time.perf_counter() - start:.0f} s")
        train_seconds = time.perf_counter() - start
        test_accuracy = _accuracy(model, test)
    info = {
        "dataset": dataset.name,
        "seed": seed,
        "test_accuracy": test_accuracy,
        "train_items": num_items,
        "test_items": test.num_items,
        "epochs": epochs,
        "final_train_loss": mean_loss,
        "seconds": train_seconds,
        "device": str(device),
        "threads": threads,
        "torch": torch.__version__,
        "key_facts": key_facts(dataset, seed, params),
    }
    say(f"domain classifier for {dataset.name}: test accuracy {test_accuracy:.4f} "
        f"({train_seconds:.0f} s)")
    return model, info


# --- caching -----------------------------------------------------------------------------------

def key_facts(dataset: Dataset, seed: int,
              params: TrainingParams = DEFAULT_PARAMS) -> dict[str, Any]:
    """Everything that determines a trained classifier (JSON-serialisable); for a data set
    made from files, its ``spec`` (path, content key, recipe) too."""
    facts = {
        "dataset": dataset.name,
        "shape": list(dataset.shape),
        "num_classes": dataset.num_classes,
        "seed": seed,
        "classifier_version": CLASSIFIER_VERSION,
        "hyperparameters": asdict(params),
    }
    if dataset.spec is not None:
        facts["data"] = dataset.spec
    return facts


def _digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def classifier_path(dataset: Dataset, seed: int, params: TrainingParams = DEFAULT_PARAMS) -> Path:
    """Where :func:`load_or_train_classifier` keeps the weights (info: same name, ``.json``)."""
    key = _digest(key_facts(dataset, seed, params))
    return cache_dir() / "classifiers" / f"{dataset.name}-seed{seed}-{key[:12]}.pt"


def _load_cached(path: Path, facts: dict[str, Any], device: torch.device
                 ) -> tuple[DomainClassifierNet, dict[str, Any]] | None:
    info_path = path.with_suffix(".json")
    try:
        info = read_json(info_path)
        if info.get("key") != _digest(facts):
            return None
        state = torch.load(path, map_location=device, weights_only=True)
        model = DomainClassifierNet(facts["shape"][0], facts["num_classes"],
                                    dropout=facts["hyperparameters"]["dropout"]).to(device)
        model.load_state_dict(state)
    except (OSError, ValueError, RuntimeError, KeyError, AttributeError, pickle.UnpicklingError):
        return None  # missing, partial or unreadable: train afresh and overwrite
    return model.eval(), info


def load_or_train_classifier(
    dataset: Dataset, *, seed: int = 0, device: torch.device | str,
    data_root: Path | None = None, progress: Progress | None = None,
) -> tuple[DomainClassifierNet, dict[str, Any]]:
    """The domain classifier of ``dataset`` and ``seed``: from the cache, else trained and cached.

    The cache file ``cache_dir()/classifiers/<dataset>-seed<seed>-<key>.pt`` (state dict) and
    its ``.json`` (the training facts, written last) are named by a hash of
    :func:`key_facts`, so a change of code version (:data:`CLASSIFIER_VERSION`) or
    hyperparameters trains a new one. The info has ``from_cache`` set accordingly.
    """
    _check_labelled_images(dataset)
    device = torch.device(device)
    facts = key_facts(dataset, seed, DEFAULT_PARAMS)
    path = classifier_path(dataset, seed, DEFAULT_PARAMS)
    cached = _load_cached(path, facts, device)
    if cached is not None:
        model, info = cached
        return model, {**info, "from_cache": True, "cache_file": str(path)}
    if progress is not None:
        progress(f"training the domain classifier for {dataset.name} (seed {seed}); "
                 f"it is cached in {path.parent} for later runs")
    model, info = train_domain_classifier(dataset, seed=seed, device=device, data_root=data_root,
                                          progress=progress, **asdict(DEFAULT_PARAMS))
    info = {**info, "key": _digest(facts)}
    with atomic_path(path) as tmp:
        torch.save({name: t.detach().cpu() for name, t in model.state_dict().items()}, tmp)
    write_json(path.with_suffix(".json"), info)
    return model, {**info, "from_cache": False, "cache_file": str(path)}


# --- the feature extractor ---------------------------------------------------------------------

def state_dict_sha256(model: nn.Module) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``model``'s state dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class DomainFeatures(FeatureExtractor):
    """A trained :class:`DomainClassifierNet` as a feature extractor.

    Float images are quantised to uint8 with :func:`~ganbench.features.quantize` and mapped
    back with :func:`~ganbench.datasets.to_unit_range`, exactly like real data, so real and
    generated samples take the same path. ``info`` holds the training facts (``test_accuracy``).
    """

    def __init__(self, model: DomainClassifierNet, dataset: Dataset, info: dict[str, Any],
                 batch_size: int = EVAL_BATCH_SIZE):
        self.name = f"classifier-{dataset.name}"
        self.dataset = dataset
        # oneDNN runs this CNN ~1.4× faster on channels-last tensors on the CPU (measured with
        # benchmarks/test_metrics_speed.py); the features change only by float rounding.
        on_cpu = next(model.parameters()).device.type == "cpu"
        self.memory_format = torch.channels_last if on_cpu else torch.contiguous_format
        self.model = model.eval().to(memory_format=self.memory_format)
        self.info = info
        self.batch_size = batch_size
        self._weights_sha256 = state_dict_sha256(model)

    @classmethod
    def for_dataset(cls, dataset: Dataset, *, seed: int = 0, device: torch.device | str,
                    data_root: Path | None = None, progress: Progress | None = None
                    ) -> DomainFeatures:
        """The extractor of ``dataset``'s cached (or newly trained) classifier."""
        model, info = load_or_train_classifier(dataset, seed=seed, device=device,
                                               data_root=data_root, progress=progress)
        return cls(model, dataset, info)

    def cache_key(self) -> dict[str, Any]:
        facts = self.info.get("key_facts") or key_facts(self.dataset, self.info.get("seed", 0))
        return {"extractor": self.name, **facts, "weights_sha256": self._weights_sha256,
                "input": "quantize-uint8-to_unit_range", "features_version": FEATURES_VERSION}

    def extract(self, images: Tensor) -> dict[str, Tensor]:
        expected = tuple(self.dataset.shape)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise GanbenchError(
                f"{self.name} expects images of shape N×{'×'.join(map(str, expected))}, got "
                f"{tuple(images.shape)}; pass samples of {self.dataset.name!r}."
            )
        device = next(self.model.parameters()).device
        self.model.eval()
        features, logits = [], []
        with torch.inference_mode(), full_float32():
            for start in range(0, images.shape[0], self.batch_size):
                batch = to_unit_range(quantize(images[start:start + self.batch_size]).to(device))
                batch = batch.contiguous(memory_format=self.memory_format)
                f, l = self.model.features_and_logits(batch)
                features.append(f.double().cpu())
                logits.append(l.double().cpu())
        if not features:
            return {"features": torch.empty(0, self.model.feature_dim, dtype=torch.float64),
                    "logits": torch.empty(0, self.model.num_classes, dtype=torch.float64)}
        return {"features": torch.cat(features), "logits": torch.cat(logits)}


__all__ = [
    "CLASSIFIER_VERSION", "DomainClassifierNet", "DomainFeatures", "TrainingParams",
    "classifier_path", "key_facts", "load_or_train_classifier", "state_dict_sha256",
    "train_domain_classifier",
]
