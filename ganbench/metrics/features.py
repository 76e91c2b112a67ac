"""Features for quality metrics: which extractor, generated features, cached real features.

Real-data features are computed once per data set, split, sample count and extractor and kept
in ``<cache>/statistics/``, under a key that hashes all of those plus the exact pixels of the
real images used, so the cache is recomputed whenever any of them changes. The real images
are the same for every run: the first ``n`` of a fixed permutation (seed 0) of the training
split, drawn without replacement.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench.datasets import cache_dir
from ganbench.errors import UsageError
from ganbench.features import FeatureExtractor, quantize
from ganbench.lazy import lazy_import
from ganbench.metrics import EvaluationContext, MetricSkipped
from ganbench.metrics.statistics import GaussianStatistics
from ganbench.storage import atomic_path
from ganbench.timing import one_off_work

np = lazy_import("numpy")
torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)

REAL_SPLIT = "train"
REAL_SELECTION_SEED = 0
STABLE_FID_SAMPLES = 10_000  # fewer samples bias FID upwards noticeably (Chong & Forsyth 2020)
STATISTICS_VERSION = 1


# --- extractors, built once per process ---------------------------------------------------

@cache
def _inception(pipeline: str, weights: str | None, device: str) -> FeatureExtractor | str:
    """The extractor, or the reason it cannot be had (remembered: the look-up runs once)."""
    from ganbench.errors import WeightsUnavailableError
    from ganbench.features.inception import ENV_VAR, InceptionFeatures

    try:
        with one_off_work():  # weights found (or downloaded), checked and loaded once per process
            return InceptionFeatures(pipeline=pipeline, weights=weights, device=torch.device(device))
    except WeightsUnavailableError as exc:
        if weights or os.environ.get(ENV_VAR):
            raise  # the user named a file and it is wrong: an error, not a skip
        log.warning("%s", exc)
        return ("the FID Inception weights are not available (not in torch hub's cache, download "
                "failed); pass --inception-weights PATH")


def inception_extractor(context: EvaluationContext) -> FeatureExtractor:
    """The FID Inception network with the user's pipeline; :class:`MetricSkipped` without weights."""
    found = _inception(context.options.fid_pipeline, context.options.inception_weights, str(context.device))
    if isinstance(found, str):
        raise MetricSkipped(found)
    return found


@cache
def _domain(dataset_name: str, dataset: Any, device: str, data_root: Path | None) -> FeatureExtractor:
    from ganbench.features.classifier import DomainFeatures, load_or_train_classifier

    with one_off_work():  # trained on a cache miss, loaded and hashed once per process
        network, info = load_or_train_classifier(dataset, seed=0, device=torch.device(device), data_root=data_root,
                                                 progress=lambda message: print(message, file=sys.stderr))
        return DomainFeatures(network, dataset, info)


def domain_extractor(context: EvaluationContext) -> FeatureExtractor:
    """The data set's own classifier (trained and cached on first use)."""
    dataset = context.dataset
    if dataset.kind != "image" or not dataset.num_classes:
        raise MetricSkipped(f"{dataset.name} is not a labelled image data set")
    return _domain(dataset.name, dataset, str(context.device), context.options.data_root)


# --- features ------------------------------------------------------------------------------

def generated_features(context: EvaluationContext, extractor: FeatureExtractor) -> dict[str, Tensor]:
    """Features of the run's ``eval_samples`` generated samples (computed once per evaluation)."""
    key = ("features", extractor.name)
    if key not in context.memo:
        context.memo[key] = extractor.extract(context.generated())
    return context.memo[key]


def real_selection(num_items: int, count: int) -> Tensor:
    """Indices of the real images used for evaluation: the same for every run."""
    generator = torch.Generator().manual_seed(REAL_SELECTION_SEED)
    return torch.randperm(num_items, generator=generator)[:count]


def _statistics_path(key: str, dataset: str, count: int, extractor: str) -> Path:
    return cache_dir() / "statistics" / f"{dataset}-{REAL_SPLIT}-{count}-{extractor}-{key[:16]}.pt"


def real_features(context: EvaluationContext, extractor: FeatureExtractor) -> dict[str, Any]:
    """Features, labels and Gaussian statistics of the real evaluation images, cached on disk.

    :returns: ``{"features", "logits", ..., "labels", "mu", "sigma", "count", "path"}``.
    """
    memo_key = ("real", extractor.name, context.eval_samples)
    if memo_key in context.memo:
        return context.memo[memo_key]
    if context.reference_statistics is not None:
        raise MetricSkipped(f"the reference {context.reference_statistics.path.name} holds only statistics "
                            "(mu, sigma); this metric needs the reference's features or images")
    source = context.source
    if source.num_items is None:
        raise MetricSkipped(f"{context.dataset.name} has no fixed real images")
    count = min(context.eval_samples, source.num_items)
    images, labels = source.items(real_selection(source.num_items, count))
    pixels = quantize(images).cpu().contiguous()
    key = hashlib.sha256(json.dumps({
        "dataset": context.dataset.name, "split": REAL_SPLIT, "count": count,
        "extractor": extractor.cache_key(), "version": STATISTICS_VERSION,
        "pixels_sha256": hashlib.sha256(pixels.numpy().tobytes()).hexdigest(),
    }, sort_keys=True, default=str).encode()).hexdigest()
    path = _statistics_path(key, context.dataset.name, count, extractor.name)
    if path.is_file():
        entry = torch.load(path, map_location="cpu", weights_only=True)
        log.info("real-data features from %s", path)
    else:
        with one_off_work():  # a cache miss: the next run with the same real images loads them
            entry = dict(extractor.extract(pixels))
            stats = GaussianStatistics.of(entry["features"])
            entry.update(mu=torch.from_numpy(stats.mu), sigma=torch.from_numpy(stats.sigma), count=count,
                         key=key, labels=None if labels is None else labels.cpu())
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                torch.save(entry, tmp)
    entry = {**entry, "path": str(path)}
    context.memo[memo_key] = entry
    return entry


def real_statistics(context: EvaluationContext, extractor: FeatureExtractor) -> GaussianStatistics:
    """Gaussian statistics of the reference in the extractor's feature space: from the real
    images' cached features, or from the context's statistics file (checked to be of these
    features)."""
    reference = context.reference_statistics
    if reference is not None:
        reference.check(extractor)
        return GaussianStatistics(reference.mu, reference.sigma, reference.count or 0)
    real = real_features(context, extractor)
    return GaussianStatistics(real["mu"].numpy(), real["sigma"].numpy(), real["count"])


def statistics_pair(context: EvaluationContext, extractor: FeatureExtractor
                    ) -> tuple[GaussianStatistics, GaussianStatistics]:
    """(real, generated) Gaussian statistics in the extractor's feature space."""
    real_stats = real_statistics(context, extractor)
    fake = generated_features(context, extractor)
    counts = [count for count in (real_stats.count, context.eval_samples) if count]
    if min(counts) < STABLE_FID_SAMPLES:
        warn_once(f"Fréchet distances from {min(counts)} samples are "
                  f"biased upwards and vary between runs; use --eval-samples {STABLE_FID_SAMPLES} "
                  f"or more for figures comparable with published ones.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sample-count warning above covers it
        fake_stats = GaussianStatistics.of(fake["features"])
    if fake_stats.mu.shape != real_stats.mu.shape:
        raise UsageError(f"the reference statistics have {real_stats.mu.shape[0]} dimensions but "
                         f"{extractor.name} features have {fake_stats.mu.shape[0]}; they come from another "
                         "feature network.")
    return real_stats, fake_stats


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """A warning shown once per process (metrics are computed for every run of a sweep)."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=3)


def describe_features(context: EvaluationContext, metric: str, extractor: FeatureExtractor) -> None:
    """Record the feature space and sample counts with a metric's figures."""
    reference = context.reference_statistics
    if reference is not None:
        context.describe(metric, features=extractor.name, extractor=extractor.cache_key(),
                         generated_samples=context.eval_samples, real_samples=reference.count,
                         real_statistics=str(reference.path))
        return
    real = real_features(context, extractor)
    context.describe(metric, features=extractor.name, extractor=extractor.cache_key(),
                     generated_samples=context.eval_samples, real_samples=real["count"],
                     real_split=REAL_SPLIT, real_statistics=real["path"])


# --- statistics files (pytorch-fid's format) -------------------------------------------------

@dataclass(frozen=True)
class ReferenceStatistics:
    """Reference statistics read from a ``.npz`` in pytorch-fid's format (``mu``, ``sigma``).

    ``features`` names the features that made them (``{"name": ..., **cache_key}``, recorded
    by ``ganbench stats``); None for a file without that key, such as pytorch-fid's
    ``--save-stats``, which holds FID Inception pool features. ``strict``: using them with
    other features is an error (the user named the metric) rather than a skip.
    """

    path: Path
    mu: np.ndarray
    sigma: np.ndarray
    features: dict[str, Any] | None = None
    dataset: str | None = None
    count: int | None = None
    strict: bool = False

    def check(self, extractor: FeatureExtractor) -> None:
        """Refuse (or skip, when not ``strict``) an extractor whose features these are not."""
        if self.features is None:
            if extractor.accepts_pytorch_fid_statistics:
                return
            reason = (f"{self.path.name} has no 'features' key, so it holds FID Inception statistics "
                      f"(pytorch-fid's format), not {extractor.name} features")
        else:
            wanted = statistics_features(extractor)
            if self.features == wanted:
                return
            differing = sorted(k for k in set(wanted) | set(self.features) if wanted.get(k) != self.features.get(k))
            reason = (f"{self.path.name} holds statistics of {self.features.get('name')} features, not of "
                      f"{extractor.name} (differing: {', '.join(differing)}); make them with "
                      "`ganbench stats REF --features ...` and the same settings")
        if self.strict:
            raise UsageError(reason + ".")
        raise MetricSkipped(reason)


def statistics_features(extractor: FeatureExtractor) -> dict[str, Any]:
    """What a statistics file records about the features that made it."""
    return json.loads(json.dumps({"name": extractor.name, **extractor.cache_key()}, default=str))


def save_statistics(path: Path, statistics: GaussianStatistics, extractor: FeatureExtractor,
                    dataset: str) -> None:
    """Write ``mu`` and ``sigma`` (float64) as pytorch-fid's ``--save-stats`` does, plus
    ``features`` (JSON: which features), ``dataset`` and ``count``, which pytorch-fid ignores."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, mu=statistics.mu, sigma=statistics.sigma,
                            features=np.array(json.dumps(statistics_features(extractor), sort_keys=True)),
                            dataset=np.array(dataset), count=np.array(statistics.count))


def load_statistics(path: Path, strict: bool = False) -> ReferenceStatistics:
    """Read a statistics ``.npz`` (pytorch-fid's, or one written by :func:`save_statistics`).

    :raises UsageError: not a readable ``.npz``, no ``mu``/``sigma``, or inconsistent shapes.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is not a readable .npz statistics file ({exc}).") from None
    missing = [key for key in ("mu", "sigma") if key not in contents]
    if missing:
        raise UsageError(f"{path} has no {' or '.join(missing)}: a statistics file holds 'mu' and 'sigma' "
                         f"(pytorch-fid's format); it has {', '.join(sorted(contents)) or 'nothing'}.")
    if not all(np.issubdtype(contents[key].dtype, np.integer) or np.issubdtype(contents[key].dtype, np.floating)
               for key in ("mu", "sigma")):
        raise UsageError(f"{path}: 'mu' and 'sigma' must hold real numbers, got dtypes {contents['mu'].dtype} and "
                         f"{contents['sigma'].dtype}; write them with numpy.savez(FILE, mu=..., sigma=...).")
    mu, sigma = contents["mu"].astype(np.float64), contents["sigma"].astype(np.float64)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise UsageError(f"{path}: 'mu' must be a vector of D values and 'sigma' a D×D matrix, got "
                         f"shapes {mu.shape} and {sigma.shape}.")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise UsageError(f"{path}: 'mu' or 'sigma' holds NaN or infinite values.")
    try:
        features = json.loads(str(contents["features"])) if "features" in contents else None
        count = int(contents["count"]) if "count" in contents else None
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"{path}: 'features' must be a JSON object and 'count' an integer, as "
                         f"ganbench stats writes them ({type(exc).__name__}: {exc}); remove them or write the "
                         "file again.") from None
    if features is not None and not isinstance(features, dict):
        raise UsageError(f"{path}: 'features' must be a JSON object, as ganbench stats writes it, got "
                         f"{type(features).__name__}; remove it or write the file again.")
    return ReferenceStatistics(
        path=path, mu=mu, sigma=sigma, features=features,
        dataset=str(contents["dataset"]) if "dataset" in contents else None, count=count, strict=strict,
    )


__all__ = [
    "ReferenceStatistics", "domain_extractor", "generated_features", "inception_extractor",
    "load_statistics", "real_features", "real_selection", "real_statistics", "save_statistics",
    "statistics_features", "statistics_pair", "warn_once",
]
