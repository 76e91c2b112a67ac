"""Scoring samples made elsewhere (``ganbench evaluate``) and writing reference statistics
(``ganbench stats``), with the metric plugins, feature caches and folders of trained runs.

SAMPLES is a folder of images or a ``.npy``/``.npz`` array (read by
:func:`ganbench.datasets.files.read_images`), a ganbench run folder (its generator), or
``module:function`` returning a torch module that maps noise to images. REF is a registered
data set, ``folder:PATH``, ``array:FILE`` or a statistics ``.npz`` (pytorch-fid's ``mu`` and
``sigma``). The figures come from :func:`ganbench.runner.compute_metrics`, the code that
scores trained runs, and land in an evaluation folder that ``ganbench table`` and ``report``
show beside trained runs, as ``NAME (evaluated)``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganbench.catalog import Catalog
from ganbench.config import RunConfig, SweepConfig, TrainSettings, rebuild_dataset, resolve_dataset, resolve_device
from ganbench.datasets import DataSource, Dataset, to_unit_range
from ganbench.errors import GanbenchError, UsageError
from ganbench.metrics import EvaluationContext, EvaluationOptions
from ganbench.metrics.features import (
    STABLE_FID_SAMPLES, ReferenceStatistics, domain_extractor, inception_extractor, load_statistics,
    real_features, save_statistics,
)
from ganbench.metrics.statistics import GaussianStatistics
from ganbench.runner import compute_metrics, environment
from ganbench.storage import (
    CONFIG_FILE, DONE_STATUSES, EVALUATION_KIND, GENERATOR_FILE, METRICS_FILE, DamagedRun, is_evaluation, read_json,
    read_run, slug, write_json,
)

GENERATOR_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
RANGE_TOLERANCE = 1e-4  # generated pixels may exceed [-1, 1] by this much (float rounding)
STATISTICS_FEATURES = ("inception", "domain")
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".safetensors", ".bin")  # networks, never samples


@dataclass
class Samples:
    """What ``ganbench evaluate`` scores: given images, or a generator and its noise size."""

    name: str
    description: dict[str, Any]
    images: Tensor | None = None  # float32 in [-1, 1], N×C×H×W
    generator: nn.Module | None = None
    latent_dim: int = 0
    run_config: RunConfig | None = None  # for a ganbench run folder
    data_root: Path | None = None  # the run's recorded --data-root


@dataclass
class Reference:
    """What the samples are compared with: a data set's images, or statistics from a file."""

    name: str  # the data set column of tables
    description: dict[str, Any]
    dataset: Dataset
    source: DataSource | None
    statistics: ReferenceStatistics | None = None
    data_root: Path | None = None  # where a registered data set is looked for, by :meth:`load`

    def load(self, device: torch.device, seed: int) -> None:
        """Open a registered data set's images (left until the input is checked: it can be slow)."""
        if self.source is None and self.statistics is None:
            self.source = self.dataset.load(device=device, seed=seed, data_root=self.data_root)


@dataclass
class EvaluationSettings:
    """The options of ``ganbench evaluate`` (None: the default, or the run folder's)."""

    metrics: list[str] | None = None
    eval_samples: int | None = None
    name: str | None = None
    seed: int | None = None
    latent_dim: int | None = None
    resolution: int | None = None
    device: str = "auto"
    fid_pipeline: str = "tf"
    inception_weights: str | None = None
    data_root: Path | None = None
    command: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class EvaluationResult:
    """Where an evaluation was written, and its ``metrics.json`` content."""

    folder: Path
    summary: dict[str, Any]


# --- what is evaluated --------------------------------------------------------------------

def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a ganbench results folder (a run or an evaluation), whose files are
    then checked rather than read as images: it has a ``config.json`` that ganbench wrote, or,
    damaged, one beside a ``metrics.json`` or ``generator.pt`` (another tool's ``config.json``
    beside sample images is not enough)."""
    if not (path.is_dir() and (path / CONFIG_FILE).is_file()):
        return False
    if (path / METRICS_FILE).is_file() or (path / GENERATOR_FILE).is_file():
        return True
    try:
        record = read_json(path / CONFIG_FILE)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "config" in record and "digest" in record


def open_samples(spec: str, catalog: Catalog, settings: EvaluationSettings, device: torch.device) -> Samples:
    """SAMPLES as given on the command line (see the module's doc)."""
    path = Path(spec)
    if is_run_folder(path):
        return _run_samples(path, catalog, device)
    if not path.exists() and GENERATOR_SPEC.match(spec):
        return _module_samples(spec, settings.latent_dim, device)
    from ganbench.datasets.files import read_images

    if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES:
        raise UsageError(f"{path} is a weights or pickle file; ganbench evaluate takes your network only as "
                         "module:function (a weights file does not say which network it fits, and unpickling one "
                         "can run code): write a function that builds your generator and loads the weights, and "
                         "pass it as module:function with --latent-dim N.")
    if path.is_dir() and (run_dir := _run_folder_inside(path)) is not None:
        raise UsageError(f"{path} holds ganbench run folders (such as {run_dir}), not images of samples; evaluate "
                         "one run folder at a time (ganbench evaluate RUN_DIR), or compare runs with ganbench "
                         "table / ganbench report.")
    decoded = read_images(path, settings.resolution)
    if decoded.skipped_files:
        print(f"warning: {decoded.skipped_files} file(s) in {path} are not images and were skipped.",
              file=sys.stderr)
    return Samples(name=path.stem or path.name, images=to_unit_range(decoded.pixels),
                   description={"kind": "files", "path": str(path.resolve()), "content_key": decoded.content_key,
                                "count": int(decoded.pixels.shape[0]), "recipe": decoded.recipe,
                                "skipped_files": decoded.skipped_files})


def _run_folder_inside(folder: Path) -> Path | None:
    """A run or evaluation folder one or two levels below ``folder`` (a sweep or a results
    folder, whose ``samples.png`` grids must not be read as samples), else None."""
    for child in sorted(os.scandir(folder), key=lambda e: e.name):
        if not child.is_dir():
            continue
        if is_run_folder(Path(child.path)):
            return Path(child.path)
        for grandchild in sorted(os.scandir(child.path), key=lambda e: e.name):
            if grandchild.is_dir() and is_run_folder(Path(grandchild.path)):
                return Path(grandchild.path)
    return None


def _run_samples(run_dir: Path, catalog: Catalog, device: torch.device) -> Samples:
    from ganbench.training import build_models, build_variant

    try:
        run = read_run(run_dir)  # checked as table and report check it: types, file sizes and hashes
    except DamagedRun as exc:
        raise UsageError(f"{run_dir} is not a usable ganbench run: {exc}.") from None
    record, summary = run.record, run.summary
    if is_evaluation(summary):
        raise UsageError(f"{run_dir} is an evaluation, not a trained run: evaluate what it evaluated instead "
                         f"({summary.get('data', {}).get('samples', {}).get('path', 'its samples')}).")
    if summary.get("status") not in DONE_STATUSES:
        raise UsageError(f"run {run_dir} did not finish (status {summary.get('status')!r}); only a finished "
                         "run's generator can be evaluated.")
    config = RunConfig.from_dict(record["config"])
    if config.data is not None:  # a data set made from the user's files: make it again
        rebuild_dataset(config.data, catalog)
    dataset = catalog.datasets.get(config.dataset)()
    if dataset.task != "generation":
        raise UsageError(f"run {run_dir.name} trained a {dataset.task} model; ganbench evaluate scores "
                         "noise-to-sample generators.")
    generator = build_models(config, catalog, build_variant(config, catalog), dataset, device).generator
    _load_weights(generator, run_dir / GENERATOR_FILE, device)
    return Samples(name=config.run_id, generator=generator, latent_dim=config.latent_dim, run_config=config,
                   data_root=Path(record["data_root"]) if record.get("data_root") else None,
                   description={"kind": "run", "path": str(run_dir.resolve()), "run_id": config.run_id,
                                "digest": record.get("digest")})


def _load_weights(generator: nn.Module, file: Path, device: torch.device) -> None:
    """Load a run's generator state dict (tensors only: ``weights_only``, never arbitrary pickles)."""
    try:
        generator.load_state_dict(torch.load(file, map_location=device, weights_only=True))
    except pickle.UnpicklingError:
        raise UsageError(f"{file} is not a torch file of plain tensors (objects other than tensors are never "
                         "unpickled); expected the state dict the run saved: restore the file, or train the run "
                         "again (ganbench run ... --force).") from None
    except Exception as exc:  # noqa: BLE001 - truncated or foreign files fail in many ways: name it in one line
        detail = (str(exc).strip().splitlines() or ["the file ends early"])[-1].strip()
        raise UsageError(f"{file} cannot be loaded as the run's generator weights ({type(exc).__name__}: "
                         f"{detail}); expected the state dict the run saved: restore the file, or train the "
                         "run again (ganbench run ... --force).") from None


def _module_samples(spec: str, latent_dim: int | None, device: torch.device) -> Samples:
    module_name, attribute = spec.split(":")
    if latent_dim is None:
        raise UsageError(f"the generator {spec} needs --latent-dim: the size of the noise vectors it takes.")
    if latent_dim < 1:
        raise UsageError(f"--latent-dim must be at least 1 (the size of the noise vectors), got {latent_dim}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory = importlib.import_module(module_name)
        for part in attribute.split("."):
            factory = getattr(factory, part)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r} for the generator {spec}: {exc}; run from the folder "
                         "that holds it or put it on PYTHONPATH.") from None
    except AttributeError:
        raise UsageError(f"module {module_name!r} has no {attribute!r} for the generator {spec}.") from None
    if not callable(factory):
        raise UsageError(f"{spec} is not callable; it must be a function returning a torch module.")
    try:
        generator = factory()
    except Exception as exc:  # noqa: BLE001 - the user's code: report it in one line
        raise GanbenchError(f"{spec}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(generator, nn.Module):
        raise UsageError(f"{spec}() returned a {type(generator).__name__}, not a torch.nn.Module.")
    return Samples(name=attribute.rsplit(".", 1)[-1], generator=generator.to(device), latent_dim=latent_dim,
                   description={"kind": "generator", "factory": spec, "latent_dim": latent_dim})


# --- what they are compared with ----------------------------------------------------------

def open_reference(spec: str, catalog: Catalog, *, device: torch.device,
                   data_root: Path | None = None, resolution: int | None = None,
                   sample_shape: tuple[int, ...] | None = None, strict: bool = False) -> Reference:
    """REF as given on the command line: a data set name, ``folder:PATH``, ``array:FILE`` (made
    by :func:`ganbench.config.resolve_dataset`, as ``--datasets`` makes them) or a statistics
    ``.npz``. A data set's images are opened later, by :meth:`Reference.load`.

    :param sample_shape: the shape of one sample, for a statistics file that names no data set.
    :param strict: statistics of other features than a metric's are an error (the user named
        the metrics), not a skip.
    """
    path = Path(spec)
    if ":" not in spec and path.suffix.lower() == ".npz" and path.is_file():
        return _statistics_reference(path, catalog, sample_shape, strict)
    if ":" not in spec and path.exists():
        raise UsageError(f"--reference {spec}: to compare with the images of a folder or array write "
                         f"folder:{spec} or array:{spec}; a statistics file is an .npz with 'mu' and 'sigma'.")
    dataset_cls = resolve_dataset(spec, SweepConfig(resolution=resolution), catalog)
    if dataset_cls.task != "generation":
        raise UsageError(f"--reference {spec} is a {dataset_cls.task} data set; use a one-domain data set.")
    return Reference(dataset_cls.name, {"kind": "dataset", "dataset": dataset_cls.name, "spec": dataset_cls.spec},
                     dataset_cls(), None, data_root=data_root)


def _statistics_reference(path: Path, catalog: Catalog, sample_shape: tuple[int, ...] | None,
                          strict: bool) -> Reference:
    statistics = load_statistics(path, strict=strict)
    if statistics.dataset is not None and statistics.dataset in catalog.datasets.names():
        dataset: Dataset = catalog.datasets.get(statistics.dataset)()
        name = statistics.dataset
    else:
        name = f"stats:{path.name}"
        dataset = type("StatisticsReference", (Dataset,), {
            "name": name, "description": f"statistics from {path}", "kind": "image",
            "shape": tuple(sample_shape or ())})()
    description = {"kind": "statistics", "path": str(path.resolve()), "features": statistics.features,
                   "dataset": statistics.dataset, "count": statistics.count,
                   "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return Reference(name, description, dataset, None, statistics)


# --- the evaluation -----------------------------------------------------------------------

def choose_metrics(named: list[str] | None, reference: Reference, catalog: Catalog,
                   run_config: RunConfig | None) -> list[str]:
    """The metrics to compute: those named (each must apply and need no training history),
    else the run's own (when its data set is the reference), else every default one."""
    dataset_cls = type(reference.dataset)
    if named is None:
        if run_config is not None and run_config.dataset == reference.name:
            candidates = list(run_config.metrics)
        else:
            candidates = [n for n in catalog.metrics.names() if catalog.metrics.get(n).default_for(dataset_cls)]
        return [n for n in candidates if "history" not in catalog.metrics.get(n).requires]
    for name in named:
        metric_cls = catalog.metrics.get(name)
        if "history" in metric_cls.requires:
            raise UsageError(f"metric {name!r} needs a training history; ganbench evaluate has only samples.")
        if not metric_cls.applies_to(dataset_cls):
            raise UsageError(f"metric {name!r} does not apply to the reference {reference.name} "
                             f"({dataset_cls.kind} data{'' if dataset_cls.num_classes else ', unlabelled'}).")
    return list(named)


def _check_samples(samples: Tensor, expected_count: int, reference: Reference, source: str) -> None:
    """Refuse generated samples of the wrong type, count, shape or range (one clear line)."""
    if not isinstance(samples, Tensor) or not samples.is_floating_point():
        raise UsageError(f"{source} must return a float tensor; got "
                         f"{getattr(samples, 'dtype', type(samples).__name__)}.")
    shape = tuple(reference.dataset.shape)
    image = reference.dataset.kind == "image"
    if samples.shape[0] != expected_count or (image and (samples.dim() != 4 or samples.shape[1] not in (1, 3))):
        raise UsageError(f"{source} returned shape {tuple(samples.shape)} for {expected_count} noise vectors; "
                         f"expected {expected_count}×C×H×W images with C = 1 or 3"
                         if image else f"{source} returned shape {tuple(samples.shape)}; expected "
                         f"{(expected_count, *shape)}.")
    if shape and tuple(samples.shape[1:]) != shape:
        raise UsageError(f"{source} gives samples of shape {tuple(samples.shape[1:])}, but the reference "
                         f"{reference.name} has {shape}; "
                         + (_image_remedy(tuple(samples.shape[1:]), shape, "its output") if image
                            else "compare like with like."))
    if not torch.isfinite(samples).all():
        raise UsageError(f"{source} produced NaN or infinite values.")
    if image:
        low, high = float(samples.min()), float(samples.max())
        if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise UsageError(f"{source} gives pixel values in [{low:.3g}, {high:.3g}]; expected images in "
                             "[-1, 1] (a tanh output). Rescale them (2x - 1 for [0, 1]).")
        if low >= 0:  # a tanh generator all but never gives no negative pixel in thousands of images
            warnings.warn(f"{source} gave no negative pixel value in {samples.shape[0]} images (all in "
                          f"[{low:.3g}, {high:.3g}]): if it ends in a sigmoid (images in [0, 1]), return 2x - 1; "
                          "ganbench reads [-1, 1], so these are scored as mid-grey to white images.", stacklevel=2)


def _image_remedy(given: tuple[int, ...], expected: tuple[int, ...], what: str) -> str:
    """What to do about images of shape ``given`` (C, H, W) where ``expected`` is needed."""
    if given[0] != expected[0]:
        colour = {1: "grey", 3: "RGB"}
        return (f"convert {what} to {colour.get(expected[0], f'{expected[0]} channels')} "
                f"({expected[0]} channel(s), not {given[0]}).")
    return f"pass --resolution {expected[-1]} to resize {what}." if expected[-1] == expected[-2] else \
        f"make {what} {expected[-1]}x{expected[-2]}."


def _sample_count(samples: Samples, reference: Reference, requested: int | None, spec: str) -> int:
    """How many samples to score: all given images (or the first ``requested``), checked to fit
    the reference; for a generator ``requested``, the run's count or 10,000."""
    if samples.images is None:
        count = requested or (samples.run_config.eval_samples if samples.run_config else STABLE_FID_SAMPLES)
    else:
        if reference.dataset.kind != "image":
            raise UsageError(f"{spec} holds images, but {reference.name} holds {reference.dataset.kind} "
                             "data; evaluate a generator (module:function or a run folder) instead.")
        available = samples.images.shape[0]
        count = requested or available
        if count > available:
            raise UsageError(f"{spec} holds {available} images; --eval-samples {count} needs at least as many.")
        expected = tuple(reference.dataset.shape)
        if expected and tuple(samples.images.shape[1:]) != expected:
            raise UsageError(f"{spec} holds images of shape {tuple(samples.images.shape[1:])}, but the "
                             f"reference {reference.name} has {expected}; "
                             + _image_remedy(tuple(samples.images.shape[1:]), expected, "them"))
    if count < 2:
        raise UsageError(f"--eval-samples must be at least 2, got {count}.")
    return count


def evaluate_samples(samples_spec: str, reference_spec: str | None, catalog: Catalog, out: Path,
                     settings: EvaluationSettings) -> EvaluationResult:
    """Score SAMPLES against REF and write the evaluation folder under ``out``.

    The folder holds ``config.json`` (what was evaluated, against what, with which settings)
    and ``metrics.json`` (status ``finished``, the values, skipped metrics with reasons, and
    how each figure was obtained), written last; nothing is written when anything fails.
    :raises UsageError: bad input (exit 2); :raises GanbenchError: a failure at run time (exit 1).
    """
    started = time.perf_counter()
    if settings.name is not None and (not settings.name.strip() or not settings.name.isprintable()):
        raise UsageError(f"--name {settings.name!r} must be one line of visible text: the row label in tables "
                         "and reports; leave it out to name the evaluation after SAMPLES.")
    if settings.eval_samples is not None and settings.eval_samples < 2:
        raise UsageError(f"--eval-samples must be at least 2, got {settings.eval_samples}; leave it out to score "
                         "all the given images (a generator: the run's count, else 10,000).")
    TrainSettings(device=settings.device, fid_pipeline=settings.fid_pipeline).validate()
    device = torch.device(resolve_device(settings.device))
    samples = open_samples(samples_spec, catalog, settings, device)
    run = samples.run_config
    if reference_spec is None:
        if run is None:
            raise UsageError("--reference is needed: a data set name, folder:PATH, array:FILE or a statistics .npz.")
        reference_spec = run.dataset
    seed = settings.seed if settings.seed is not None else (run.seed if run else 0)
    data_root = settings.data_root or samples.data_root
    sample_shape = tuple(samples.images.shape[1:]) if samples.images is not None else None
    reference = open_reference(reference_spec, catalog, device=device, data_root=data_root,
                               resolution=settings.resolution, sample_shape=sample_shape,
                               strict=settings.metrics is not None)
    metrics = choose_metrics(settings.metrics, reference, catalog, run)
    eval_samples = _sample_count(samples, reference, settings.eval_samples, samples_spec)
    reference.load(device, seed)
    options = EvaluationOptions(
        settings.fid_pipeline,
        settings.inception_weights if settings.inception_weights else (run.inception_weights if run else None),
        data_root)
    context = EvaluationContext(
        dataset=reference.dataset, source=reference.source, generator=samples.generator,
        latent_dim=samples.latent_dim, history=None, eval_samples=eval_samples, device=device, seed=seed,
        options=options, samples=samples.images, reference_statistics=reference.statistics)
    _generate(context, samples, reference, samples_spec)

    name = settings.name.strip() if settings.name is not None else samples.name
    config = {"variant": f"{name} (evaluated)", "dataset": reference.name, "seed": seed, "metrics": metrics,
              "eval_samples": eval_samples, "latent_dim": samples.latent_dim or None,
              "fid_pipeline": options.fid_pipeline, "inception_weights": options.inception_weights,
              "device": str(device), "samples": samples.description, "reference": reference.description}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    values, errors, details = compute_metrics(context, metrics, catalog, subject=f"{name} (evaluated)", strict=True)
    if not values:
        reasons = "; ".join(f"{metric}: {reason.splitlines()[0]}" for metric, reason in errors.items())
        raise GanbenchError(f"no metric could be computed for {samples_spec} against {reference.name}: "
                            f"{reasons or 'no metric applies'}.")
    evaluation_id = f"{slug(name)}_{slug(reference.name)}_{digest[:8]}"
    folder = Path(out) / evaluation_id
    summary = {
        "run_id": evaluation_id, "kind": EVALUATION_KIND, "status": "finished", "variant": config["variant"],
        "dataset": reference.name, "seed": seed, "timings": {},  # nothing trained: cost columns n/a
        "elapsed_s": time.perf_counter() - started,
        "metrics": values, "metric_errors": errors, "metric_details": details,
        "data": {"samples": samples.description, "reference": reference.description},
    }
    try:
        if folder.exists():
            shutil.rmtree(folder)  # the same evaluation again: replace it
        write_json(folder / CONFIG_FILE, {"run_id": evaluation_id, "kind": EVALUATION_KIND, "digest": digest,
                                          "config": config, "environment": environment(),
                                          "command": settings.command})
        write_json(folder / METRICS_FILE, summary)  # last: marks the evaluation as done
    except OSError as exc:  # a full disk, a folder made read-only meanwhile
        raise GanbenchError(f"cannot write the evaluation folder {folder} ({exc.strerror or exc}); free space "
                            "or name another --out, and evaluate again.") from None
    return EvaluationResult(folder, summary)


def _generate(context: EvaluationContext, samples: Samples, reference: Reference, spec: str) -> None:
    """Make (and memoise) the samples once, so that a generator's failure stops the evaluation."""
    if samples.generator is None:
        return
    source = f"the generator {spec}"
    try:
        generated = context.generated()
    except GanbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's generator: report it in one line
        raise GanbenchError(f"{source} failed while making {context.eval_samples} samples: "
                            f"{type(exc).__name__}: {exc}") from None
    _check_samples(generated, context.eval_samples, reference, source)


# --- reference statistics (ganbench stats) -------------------------------------------------

def write_reference_statistics(reference_spec: str, catalog: Catalog, path: Path, *, features: str = "inception",
                               eval_samples: int = STABLE_FID_SAMPLES, device: str = "auto",
                               fid_pipeline: str = "tf", inception_weights: str | None = None,
                               data_root: Path | None = None, resolution: int | None = None) -> dict[str, Any]:
    """Write REF's statistics in ``features`` (``inception`` or ``domain``) to ``path`` in
    pytorch-fid's format; returns what was written (features, count, reference).

    The real images are those every metric uses (the first ``eval_samples`` of a fixed
    permutation), so the statistics equal the cached ones behind ``fid``/``domain-fid``.
    """
    if features not in STATISTICS_FEATURES:
        raise UsageError(f"--features must be one of {', '.join(STATISTICS_FEATURES)}, got {features!r}.")
    if Path(path).suffix.lower() != ".npz":
        raise UsageError(f"-o {path}: statistics are written as an .npz file; name it FILE.npz.")
    if eval_samples < 2:
        raise UsageError(f"--eval-samples must be at least 2, got {eval_samples}.")
    TrainSettings(device=device, fid_pipeline=fid_pipeline).validate()
    torch_device = torch.device(resolve_device(device))
    reference = open_reference(reference_spec, catalog, device=torch_device, data_root=data_root,
                               resolution=resolution)
    if reference.statistics is not None:
        raise UsageError(f"{reference_spec} is already a statistics file.")
    if reference.dataset.kind != "image":
        raise UsageError(f"{reference.name} holds {reference.dataset.kind} data; statistics are of images.")
    reference.load(torch_device, 0)
    context = EvaluationContext(
        dataset=reference.dataset, source=reference.source, generator=None, latent_dim=0, history=None,
        eval_samples=eval_samples, device=torch_device, seed=0,
        options=EvaluationOptions(fid_pipeline, inception_weights, data_root))
    from ganbench.metrics import MetricSkipped

    try:
        extractor = inception_extractor(context) if features == "inception" else domain_extractor(context)
    except MetricSkipped as exc:
        raise UsageError(f"cannot compute {features} features: {exc}.") from None
    real = real_features(context, extractor)
    statistics = GaussianStatistics(real["mu"].numpy(), real["sigma"].numpy(), int(real["count"]))
    try:
        save_statistics(path, statistics, extractor, reference.name)
    except OSError as exc:
        raise GanbenchError(f"cannot write {path} ({exc.strerror or exc}); name a file in a folder you can "
                            "write to.") from None
    return {"path": str(path), "features": extractor.name, "count": statistics.count,
            "dimension": int(statistics.mu.shape[0]), "reference": reference.name,
            "cached_features": real["path"]}


__all__ = ["EvaluationResult", "EvaluationSettings", "Reference", "Samples", "choose_metrics",
           "evaluate_samples", "open_reference", "open_samples", "write_reference_statistics"]
