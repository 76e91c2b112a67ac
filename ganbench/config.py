"""Run configuration: defaults, config files, ``--set`` overrides, resolution and hashing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganbench.architectures import AUTO_MIN_SUITABILITY
from ganbench.catalog import Catalog
from ganbench.checkpoints import DEFAULT_CHECKPOINT_EVERY, CheckpointInterval, check_keep_checkpoints
from ganbench.errors import UsageError, unknown_name_message
from ganbench.lazy import lazy_import
from ganbench.fast import ComputeMode
from ganbench.options import TrainingOptions, apply_ttur, check_compatible
from ganbench.recipes import check_published

torch = lazy_import("torch")

DEFAULT_VARIANTS = ("vanilla", "wgan", "wgan-gp")
DEFAULT_DATASETS = ("fashion-mnist",)
FID_PIPELINES = ("tf", "pytorch-fid")
MAX_STEPS = 10_000_000  # per-step history is held in memory: about 32 bytes a step per run
DEFAULT_MAX_RUNS = 10_000  # a larger sweep needs --max-runs


@dataclass
class TrainSettings:
    """Settings shared by every run of a sweep (``--set train.FIELD=VALUE`` or ``[train]``)."""

    steps: int = 2000
    batch_size: int | None = None  # None: the data set's default
    latent_dim: int | None = None  # None: the architecture's default
    arch: str = "auto"
    device: str = "auto"
    sample_every: int = 0
    eval_samples: int = 10_000
    eval_every: int = 0
    fid_pipeline: str = "tf"
    inception_weights: str | None = None
    checkpoint_every: str = DEFAULT_CHECKPOINT_EVERY  # steps (500), training time (10m) or off
    keep_checkpoints: int = 0  # 0: only the latest checkpoint; K: also every K-th
    fast: bool = False  # trade bit-for-bit repeatability for speed (ganbench.fast)
    precision: str = "fp32"  # or bf16: the networks under bfloat16 autocast

    def validate(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise UsageError(f"steps must be a positive integer of at most {MAX_STEPS:,}, got {self.steps}.")
        for name in ("batch_size", "latent_dim"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be a positive integer, got {value}.")
        if self.sample_every < 0:
            raise UsageError(f"sample_every must be 0 (only at the end) or positive, got {self.sample_every}.")
        if self.eval_samples < 1:
            raise UsageError(f"eval_samples must be a positive integer, got {self.eval_samples}.")
        if self.eval_every < 0:
            raise UsageError(f"eval_every must be 0 (only at the end) or positive, got {self.eval_every}.")
        if self.fid_pipeline not in FID_PIPELINES:
            raise UsageError(f"fid_pipeline must be one of {', '.join(FID_PIPELINES)}, got {self.fid_pipeline!r}.")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise UsageError(f"device must be auto, cpu or cuda, got {self.device!r}.")
        CheckpointInterval.parse(self.checkpoint_every)
        check_keep_checkpoints(self.keep_checkpoints)
        ComputeMode(self.fast, self.precision).validate()


@dataclass
class SweepConfig:
    """Everything ``ganbench run`` needs: which runs, their settings and their overrides."""

    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    datasets: list[str] = field(default_factory=lambda: list(DEFAULT_DATASETS))
    seeds: list[int] = field(default_factory=lambda: [0])
    metrics: list[str] | None = None  # None: every metric that applies
    train: TrainSettings = field(default_factory=TrainSettings)
    variant_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # TrainingOptions fields set by the user
    resolution: int | None = None  # for data sets made from files (folder:PATH, array:FILE)
    named_datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # [datasets.NAME] tables
    max_runs: int = DEFAULT_MAX_RUNS  # refuse larger sweeps before building their run list
    recipe: dict[str, Any] | None = None  # {"name", "published"} of a config file with a [published] block
    loggers: list[str] = field(default_factory=list)  # --log: where runs send what they record (no digest change)
    spaces: dict[str, dict[str, str]] = field(default_factory=dict)  # [search.VARIANT]: ganbench search


@dataclass(frozen=True)
class RunConfig:
    """One fully resolved run. Its :meth:`digest` identifies the run's results."""

    variant: str
    dataset: str
    seed: int
    arch: str
    steps: int
    batch_size: int
    latent_dim: int
    device: str
    variant_params: dict[str, Any]
    metrics: tuple[str, ...] = ()
    sample_every: int = 0
    eval_samples: int = 10_000
    eval_every: int = 0
    fid_pipeline: str = "tf"
    inception_weights: str | None = None
    options: dict[str, Any] = field(default_factory=lambda: TrainingOptions().to_dict())
    data: dict[str, Any] | None = None  # the data set's spec, for data sets made from an argument
    recipe: dict[str, Any] | None = None  # the recipe's name and published figures; not in the digest
    checkpoint_every: str = DEFAULT_CHECKPOINT_EVERY  # when checkpoints are taken: never changes results
    keep_checkpoints: int = 0
    fast: bool = False
    precision: str = "fp32"

    # Fields that change what training computes; the others only change what is evaluated.
    IDENTITY = ("variant", "dataset", "seed", "arch", "steps", "batch_size", "latent_dim",
                "device", "variant_params", "options", "data", "fast", "precision")

    @property
    def training_options(self) -> TrainingOptions:
        return TrainingOptions.from_dict(self.options)

    @property
    def compute_mode(self) -> ComputeMode:
        return ComputeMode(self.fast, self.precision)

    def digest(self) -> str:
        identity = {name: getattr(self, name) for name in self.IDENTITY}
        if self.training_options.is_default():
            del identity["options"]  # runs without options keep the digests they had before options
        if self.data is None:
            del identity["data"]  # likewise for data sets that are not made from files
        for name in ("fast", "precision"):  # and for runs in the default (deterministic, float32) mode
            if identity[name] == getattr(ComputeMode(), name):
                del identity[name]
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    @property
    def run_id(self) -> str:
        return f"{self.variant}_{self.dataset}_seed{self.seed}_{self.digest()[:8]}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["metrics"] = tuple(values.get("metrics", ()))
        values["options"] = TrainingOptions.from_dict(values.get("options")).to_dict()
        values["data"] = values.get("data") or None
        values["recipe"] = values.get("recipe") or None
        return cls(**values)


# --- parsing values -------------------------------------------------------------------------

def parse_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError(f"--{what} needs at least one name, got {text!r}.")
    return items


def parse_seeds(text: str, max_count: int = DEFAULT_MAX_RUNS) -> list[int]:
    """``0,1,2`` or a range ``0-4``; an empty range (``5-2``) or one of more than ``max_count``
    seeds is refused before it is built."""
    seeds: list[int] = []
    for item in parse_list(text, "seeds"):
        if re.fullmatch(r"\d+", item):
            seeds.append(int(item))
        elif re.fullmatch(r"\d+-\d+", item):
            low, high = map(int, item.split("-"))
            if low > high:
                raise UsageError(f"--seeds range {item!r} is empty: its first seed is larger than its last; "
                                 f"write it as {high}-{low}.")
            if high - low + 1 > max_count:
                raise UsageError(f"--seeds range {item!r} holds {high - low + 1:,} seeds, more than the "
                                 f"{max_count:,} runs a sweep may have; narrow it, or pass --max-runs to allow more.")
            seeds.extend(range(low, high + 1))
        else:
            raise UsageError(
                f"--seeds expects non-negative integers like 0,1,2 or a range 0-4, got {text!r}."
            )
    return list(dict.fromkeys(seeds))


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert ``value`` (a string from ``--set`` or a TOML value) to a field's annotated type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except UsageError as exc:
                errors.append(str(exc))
        raise UsageError(errors[0] if errors else f"{where}: cannot use {value!r}.")
    if origin is Literal:
        if value not in args:
            raise UsageError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}.")
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise UsageError(f"{where} must be true or false, got {value!r}.")
    if annotation is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UsageError(f"{where} must be an integer, got {value!r}.")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where} must be an integer, got {value!r}.") from None
    if annotation is float:
        if isinstance(value, bool):
            raise UsageError(f"{where} must be a number, got {value!r}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where} must be a number, got {value!r}.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UsageError(f"{where} must be a finite number, got {value!r}.")
        return number
    if annotation is str:
        return str(value)
    raise UsageError(f"{where}: fields of type {annotation!r} cannot be set from the command line.")


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unknown_field(where: str, name: str, known: list[str]) -> UsageError:
    return UsageError(unknown_name_message(f"{where} setting", name, known))


# --- building a sweep -----------------------------------------------------------------------

def apply_setting(sweep: SweepConfig, key: str, value: Any, catalog: Catalog) -> None:
    """Apply ``train.FIELD=VALUE``, ``options.FIELD=VALUE`` or ``VARIANT.FIELD=VALUE`` to ``sweep``."""
    scope, _, name = key.partition(".")
    if not name:
        raise UsageError(f"setting {key!r} must look like VARIANT.FIELD, train.FIELD or options.FIELD "
                         f"(e.g. wgan-gp.lambda_gp).")
    if scope == "options":
        types = field_types(TrainingOptions)
        if name not in types:
            raise _unknown_field("options", name, list(types))
        sweep.options[name] = coerce(value, types[name], key)
        return
    if scope == "train":
        types = field_types(TrainSettings)
        if name not in types:
            raise _unknown_field("train", name, list(types))
        setattr(sweep.train, name, coerce(value, types[name], key))
        return
    variant_cls = catalog.variants.get(scope)
    types = field_types(variant_cls.Params)
    if name not in types:
        raise _unknown_field(scope, name, list(types))
    sweep.variant_params.setdefault(scope, {})[name] = coerce(value, types[name], key)


def parse_set_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects KEY=VALUE such as wgan-gp.lambda_gp=5, got {text!r}.")
    return key.strip(), value.strip()


def load_config_file(path: Path, sweep: SweepConfig, catalog: Catalog) -> None:
    """Apply a TOML config file to ``sweep``::

        variants = ["vanilla", "wgan-gp"]
        datasets = ["ring-8"]
        seeds = [0, 1, 2]
        metrics = ["volatility"]      # optional

        [train]                       # any field of TrainSettings
        steps = 500

        [params.wgan-gp]              # any hyperparameter of the variant
        lambda_gp = 5.0

        [options]                     # any field of ganbench.options.TrainingOptions
        real_target = 0.9

        [published]                   # optional: the figures this recipe reproduces
        source = "Mimicry README, CIFAR-10 results"
        steps = 100000                # and the protocol: see ganbench.recipes.PROTOCOL
        [published.figures]
        fid = { value = 16.77, spread = 0.04 }

        [search.wgan-gp]              # ganbench search: replace a field's search space
        lr_g = "loguniform(1e-5, 1e-3)"

    A file with a ``[published]`` block is a recipe: every run made from it records the file's
    name and the block in ``config.json`` (not in the digest), and the report sets the
    published figures beside the measured ones (see :mod:`ganbench.recipes`).

    ``log = ["tensorboard"]`` names loggers, as ``--log`` does. ``resolution = 32`` sets the
    side of the images of data sets made from files. Instead of a
    ``datasets`` list, tables name such data sets (then the sweep's data sets, unless
    ``--datasets`` says otherwise)::

        [datasets.faces]
        path = "~/faces"              # a folder of images, or a .npy/.npz file
        resolution = 64               # optional
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist.") from None
    except IsADirectoryError:
        raise UsageError(f"config file {path} is a folder; pass a TOML file such as sweep.toml.") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "save it as UTF-8 TOML.") from None
    except OSError as exc:
        raise UsageError(f"config file {path} cannot be read: {exc.strerror or exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}.") from None
    known = {"variants", "datasets", "seeds", "metrics", "train", "params", "options", "resolution", "published", "log",
             "search"}
    for key in data:
        if key not in known:
            raise _unknown_field(str(path), key, sorted(known))
    if "published" in data:
        sweep.recipe = {"name": Path(path).stem, "published": check_published(data["published"], str(path))}
    if isinstance(data.get("datasets"), dict):
        sweep.named_datasets = _named_datasets(path, data.pop("datasets"))
        sweep.datasets = list(sweep.named_datasets)
    if "resolution" in data:
        sweep.resolution = coerce(data["resolution"], int, f"{path}: resolution")
    for key, attribute in (("variants", "variants"), ("datasets", "datasets"), ("metrics", "metrics"),
                           ("log", "loggers")):
        if key in data:
            value = data[key]
            if isinstance(value, str):
                value = parse_list(value, key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{path}: {key} must be a list of names, got {value!r}.")
            setattr(sweep, attribute, value)
    if "seeds" in data:
        seeds = data["seeds"]
        sweep.seeds = parse_seeds(",".join(map(str, seeds)) if isinstance(seeds, list) else str(seeds),
                                  sweep.max_runs)
    for table in ("train", "options", "params", "search"):
        if not isinstance(data.get(table, {}), dict):
            raise UsageError(f"{path}: {table} must be a table ([{table}] followed by FIELD = VALUE lines), "
                             f"got {data[table]!r}.")
    for name, value in data.get("train", {}).items():
        apply_setting(sweep, f"train.{name}", value, catalog)
    for name, value in data.get("options", {}).items():
        apply_setting(sweep, f"options.{name}", value, catalog)
    for variant, params in data.get("params", {}).items():
        if not isinstance(params, dict):
            raise UsageError(f"{path}: [params.{variant}] must be a table of FIELD = VALUE.")
        for name, value in params.items():
            apply_setting(sweep, f"{variant}.{name}", value, catalog)
    for variant, spaces in data.get("search", {}).items():  # ganbench search's spaces, read there
        if not isinstance(spaces, dict) or not all(isinstance(v, str) for v in spaces.values()):
            raise UsageError(f'{path}: [search.{variant}] must be a table of FIELD = "SPACE" lines, '
                             f'e.g. lr_g = "loguniform(1e-5, 1e-3)".')
        sweep.spaces.setdefault(variant, {}).update(spaces)


def _named_datasets(path: Path, tables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    named = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("path"), str):
            raise UsageError(f'{path}: [datasets.{name}] must be a table with path = "FOLDER or FILE" '
                             f"(and optionally resolution = N), got {table!r}.")
        named[name] = dict(table)
    return named


def resolve_dataset(name: str, sweep: SweepConfig, catalog: Catalog) -> type:
    """The data set class for ``name``: a registered name, ``FACTORY:ARGUMENT`` (e.g.
    ``folder:~/faces``), or a ``[datasets.NAME]`` table of the config file.

    Data sets made from an argument are added to ``catalog.datasets`` under their name (under
    the plugin of the data set that made them), so that the rest of ganbench finds them.
    """
    if name in sweep.named_datasets:
        table = dict(sweep.named_datasets[name])
        argument = str(table.pop("path"))
        factory_name = table.pop("type", None) or ("array" if Path(argument).expanduser().is_file() else "folder")
        table.setdefault("resolution", sweep.resolution)
        made_name: str | None = name
    elif ":" in name:
        factory_name, argument = name.split(":", 1)
        table, made_name = {"resolution": sweep.resolution}, None
    else:
        dataset_cls = catalog.datasets.get(name)
        if dataset_cls.takes_argument:
            raise UsageError(f"data set {name!r} needs an argument: --datasets {name}:"
                             f"{getattr(dataset_cls, 'argument_name', 'ARGUMENT')} (see ganbench list datasets).")
        return dataset_cls
    factory = catalog.datasets.get(factory_name)
    if "resolution" in table:
        table["resolution"] = coerce(table["resolution"], int | None, f"resolution of data set {name!r}")
    dataset_cls = factory.from_argument(argument, name=made_name, settings=table)
    if dataset_cls.name in catalog.datasets:
        existing = catalog.datasets.get(dataset_cls.name)
        if existing.spec == dataset_cls.spec:
            return existing
        raise UsageError(
            f"data set name {dataset_cls.name!r} (from {name!r}) is already taken by "
            f"{'another path' if existing.spec else 'an installed data set'}; name it in a config "
            f'file: [datasets.OTHER-NAME] path = "{argument}".'
        )
    catalog.datasets.add(dataset_cls, catalog.datasets.plugin_of(factory.name))
    return dataset_cls


def rebuild_dataset(spec: dict[str, Any], catalog: Catalog, *, moved_to: Path | None = None) -> type:
    """Make again the data set of a recorded ``spec`` (``RunConfig.data``) and add it to
    ``catalog``; refuse, naming the path, when its content or recipe is no longer the recorded one.

    :param moved_to: read the files from here instead of the recorded path (the data were moved
        or copied); the content must still be the recorded one, and the spec made records this path.
    """
    try:
        factory = catalog.datasets.get(spec["dataset"])
        settings, argument, name = spec["settings"], spec["argument"], spec["name"]
    except (KeyError, TypeError):
        raise UsageError(f"the recorded data set spec {spec!r} lacks dataset, argument, name or settings.") from None
    source = argument if moved_to is None else str(moved_to)
    dataset_cls = factory.from_argument(source, name=name, settings=settings)
    if moved_to is not None and dataset_cls.spec.get("content_key") != spec.get("content_key"):
        raise UsageError(
            f"the data at {moved_to} differ from those of data set {name!r} that the run was recorded with "
            f"(content key {str(dataset_cls.spec.get('content_key'))[:12]}, recorded "
            f"{str(spec.get('content_key'))[:12]} from {argument}): name a copy of the recorded files."
        )
    if dataset_cls.spec.get("content_key") != spec.get("content_key"):
        raise UsageError(
            f"the content of {argument} changed since the run was recorded (content key "
            f"{str(dataset_cls.spec.get('content_key'))[:12]}, recorded {str(spec.get('content_key'))[:12]}): "
            f"the run cannot be reproduced on it; restore the recorded files."
        )
    if dataset_cls.spec.get("recipe") != spec.get("recipe"):
        raise UsageError(f"data set {name!r} would now be made with the recipe {dataset_cls.spec.get('recipe')!r}, "
                         f"the run was recorded with {spec.get('recipe')!r}; use the ganbench version that recorded it.")
    if name not in catalog.datasets:
        catalog.datasets.add(dataset_cls, catalog.datasets.plugin_of(factory.name))
    return dataset_cls


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu or auto.")
    return requested


def resolve_runs(sweep: SweepConfig, catalog: Catalog) -> list[RunConfig]:
    """Check every name and value of ``sweep`` and expand it into one :class:`RunConfig` per run."""
    check_sweep_size(sweep)
    sweep.train.validate()
    for name in sweep.variants:
        catalog.variants.get(name)
    for name in sweep.metrics or []:
        catalog.metrics.get(name)
    if sweep.train.arch != "auto":
        catalog.architectures.get(sweep.train.arch)
    device = resolve_device(sweep.train.device)
    try:
        options = TrainingOptions(**sweep.options)
    except TypeError as exc:
        raise UsageError(f"invalid training options: {exc}.") from None
    options.validate()
    dataset_classes = [resolve_dataset(name, sweep, catalog) for name in sweep.datasets]
    if sweep.resolution is not None and not any(cls.spec for cls in dataset_classes):
        raise UsageError(f"resolution {sweep.resolution} applies to data sets made from files "
                         f"(folder:PATH, array:FILE), and none is in this sweep; leave it out.")
    runs = []
    for dataset_cls in dataset_classes:
        dataset_name = dataset_cls.name
        if sweep.metrics:
            metrics = tuple(n for n in sweep.metrics if catalog.metrics.get(n).applies_to(dataset_cls))
        else:
            metrics = tuple(n for n in catalog.metrics.names() if catalog.metrics.get(n).default_for(dataset_cls))
        batch_size = sweep.train.batch_size or dataset_cls.default_batch_size
        for variant_name in sweep.variants:
            check_task(catalog, variant_name, dataset_cls)
            variant_cls = catalog.variants.get(variant_name)
            arch_name = choose_architecture(dataset_cls, sweep.train.arch, catalog, variant_cls)
            arch_cls = catalog.architectures.get(arch_name)
            latent_dim = sweep.train.latent_dim or arch_cls.default_latent_dim(dataset_cls.shape, dataset_cls.kind)
            overrides = sweep.variant_params.get(variant_name, {})
            check_compatible(options, variant_cls, arch_cls, batch_size=batch_size, variant_overrides=overrides)
            check_conditional(variant_cls, dataset_cls, arch_cls)
            check_precision(sweep.train.precision, variant_cls)
            params = variant_params(catalog, variant_name, apply_ttur(options, variant_params(catalog, variant_name, overrides)))
            for seed in sweep.seeds:
                runs.append(RunConfig(
                    variant=variant_name, dataset=dataset_name, seed=seed, arch=arch_name,
                    steps=sweep.train.steps, batch_size=batch_size,
                    latent_dim=latent_dim, device=device, variant_params=params, metrics=metrics,
                    sample_every=sweep.train.sample_every, eval_samples=sweep.train.eval_samples,
                    eval_every=sweep.train.eval_every, fid_pipeline=sweep.train.fid_pipeline,
                    inception_weights=sweep.train.inception_weights, options=options.to_dict(),
                    data=dataset_cls.spec, recipe=sweep.recipe,
                    checkpoint_every=sweep.train.checkpoint_every,
                    keep_checkpoints=sweep.train.keep_checkpoints,
                    fast=sweep.train.fast, precision=sweep.train.precision,
                ))
    return runs


def recorded_run_config(data: Any, catalog: Catalog, where: str, *, data_moved_to: Path | None = None) -> RunConfig:
    """Rebuild a :class:`RunConfig` recorded in a run's ``config.json`` (``where`` names it),
    checking every field with the same code and messages as ``ganbench run``: unknown fields,
    types, ranges, names, and what a variant, data set and architecture accept together.

    :param data_moved_to: where the files of a data set made from files are now (see
        :func:`rebuild_dataset`); the config returned then records this path in ``data``.
    """
    if not isinstance(data, dict):
        raise UsageError(f"{where}: 'config' must be a JSON object, got {type(data).__name__}.")
    known = [f.name for f in dataclasses.fields(RunConfig)]
    for key in data:
        if key not in known:
            raise _unknown_field(where, key, known)
    missing = [key for key in ("variant", "dataset", "seed", "arch", "steps", "batch_size", "latent_dim",
                               "device", "variant_params") if key not in data]
    if missing:
        raise UsageError(f"{where}: 'config' lacks {', '.join(missing)}; it was not written by ganbench run.")
    for key in ("variant", "dataset"):
        if not isinstance(data[key], str):
            raise UsageError(f"{where}: {key} must be a name, got {data[key]!r}.")
    catalog.variants.get(data["variant"])
    if data.get("data") is not None:  # a data set made from files: made again, its content checked
        if not isinstance(data["data"], dict):
            raise UsageError(f"{where}: data must be an object (the data set's spec), got {data['data']!r}.")
        rebuild_dataset(data["data"], catalog, moved_to=data_moved_to)
    seed = data["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{where}: seed must be a non-negative integer, got {seed!r}.")
    metrics = data.get("metrics") or []
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise UsageError(f"{where}: metrics must be a list of names, got {metrics!r}.")
    sweep = SweepConfig(variants=[data["variant"]], datasets=[data["dataset"]], seeds=parse_seeds(str(seed)),
                        metrics=list(metrics) or None)
    for name in field_types(TrainSettings):
        if name in data:
            apply_setting(sweep, f"train.{name}", data[name], catalog)
    for table, scope in (("options", "options"), ("variant_params", data["variant"])):
        values = data.get(table) or {}
        if not isinstance(values, dict):
            raise UsageError(f"{where}: {table} must be an object of FIELD: VALUE, got {values!r}.")
        for name, value in values.items():
            apply_setting(sweep, f"{scope}.{name}", value, catalog)
    sweep.train.validate()
    device = sweep.train.device  # whether it is available is checked where the run is redone
    sweep.train = dataclasses.replace(sweep.train, device="cpu")
    recipe = data.get("recipe")
    if recipe is not None:
        if not isinstance(recipe, dict) or not isinstance(recipe.get("name"), str):
            raise UsageError(f"{where}: recipe must be an object with a name and a published block, got {recipe!r}.")
        recipe = {"name": recipe["name"], "published": check_published(recipe.get("published"), f"{where}: recipe")}
    [run] = resolve_runs(sweep, catalog)
    return dataclasses.replace(run, device=device, metrics=tuple(metrics), recipe=recipe)


def parse_loggers(values: list[str]) -> list[str]:
    """``--log`` values, each a name or a comma-separated list, as one list without repeats."""
    return list(dict.fromkeys(name for value in values for name in parse_list(value, "log")))


def check_loggers(names: list[str], catalog: Catalog) -> None:
    """Refuse an unknown logger name (naming the known ones and the nearest) or a logger that
    cannot work here (its package missing), before any run starts."""
    for name in names:
        catalog.loggers.get(name).check_available()


def check_sweep_size(sweep: SweepConfig) -> None:
    """Refuse a sweep of more than ``sweep.max_runs`` runs, counted before any run is built."""
    count = len(sweep.variants) * len(sweep.datasets) * len(sweep.seeds)
    if count == 0:
        empty = [name for name in ("variants", "datasets", "seeds") if not getattr(sweep, name)]
        raise UsageError(f"the sweep has no runs: no {' and no '.join(empty)} given; name at least one of each.")
    if count > sweep.max_runs:
        raise UsageError(
            f"the sweep has {len(sweep.variants)} variant(s) x {len(sweep.datasets)} data set(s) x "
            f"{len(sweep.seeds)} seed(s) = {count:,} runs, more than the {sweep.max_runs:,} allowed; "
            f"narrow it, or pass --max-runs {count} to run them all."
        )


def check_overrides_in_sweep(keys: list[str], sweep: SweepConfig) -> None:
    """Refuse a ``--set VARIANT.FIELD=VALUE`` for a variant that is not in the sweep (it would do nothing)."""
    for key in keys:
        scope = key.partition(".")[0]
        if scope not in ("train", "options") and scope not in sweep.variants:
            raise UsageError(f"--set {key}: variant {scope!r} is not in this sweep (variants: "
                             f"{', '.join(sweep.variants)}); add it to --variants or drop the setting.")


def check_task(catalog: Catalog, variant_name: str, dataset_cls: type) -> None:
    """Refuse a variant and a data set of different tasks (e.g. cyclegan on fashion-mnist)."""
    variant_task = catalog.variants.get(variant_name).task
    if variant_task == dataset_cls.task:
        return
    variants = [e.name for e in catalog.variants if e.obj.task == dataset_cls.task]
    datasets = [e.name for e in catalog.datasets if e.obj.task == variant_task]
    raise UsageError(
        f"variant {variant_name!r} is for {variant_task} but data set {dataset_cls.name!r} is for "
        f"{dataset_cls.task} ({'two unpaired domains' if dataset_cls.task == 'translation' else 'one domain'}). "
        f"Use a {variant_task} data set ({', '.join(datasets) or 'none installed'}) with {variant_name!r}, "
        f"or a {dataset_cls.task} variant ({', '.join(variants) or 'none installed'}) with {dataset_cls.name!r}."
    )
def check_precision(precision: str, variant_cls: type) -> None:
    """Refuse a precision other than fp32 for a variant trained by a loop that does not apply it."""
    if precision != "fp32" and getattr(variant_cls, "task", "generation") != "generation":
        raise UsageError(f"--precision {precision} applies to the noise-to-sample training loop, but "
                         f"{variant_cls.name!r} is a {variant_cls.task} variant trained by its own loop, "
                         f"which computes in fp32; run it without --precision.")


def check_conditional(variant_cls: type, dataset_cls: type, arch_cls: type) -> None:
    """Refuse a conditional variant on unlabelled data or with an architecture that cannot condition."""
    if not variant_cls.conditional:
        return
    if not dataset_cls.num_classes:
        raise UsageError(f"variant {variant_cls.name!r} is class-conditional, but data set {dataset_cls.name!r} "
                         f"has no labels; use a labelled data set (e.g. fashion-mnist, ring-8).")
    if not getattr(arch_cls, "supports_conditional", False):
        raise UsageError(f"variant {variant_cls.name!r} is class-conditional, but architecture "
                         f"{arch_cls.name!r} cannot build conditional networks; use --arch mlp or dcgan.")


def variant_params(catalog: Catalog, variant_name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The variant's full, validated hyperparameters with ``overrides`` applied."""
    variant_cls = catalog.variants.get(variant_name)
    try:
        params = variant_cls.Params(**overrides)
        params.validate()
    except (TypeError, ValueError) as exc:
        raise UsageError(f"invalid hyperparameters for variant {variant_name!r}: {exc}.") from None
    return dataclasses.asdict(params)


def choose_architecture(dataset_cls: type, requested: str, catalog: Catalog,
                        variant_cls: type | None = None) -> str:
    """``requested`` if it can model the data (and build the variant's critic kind); for
    ``auto``, the variant's ``preferred_arch`` when it can, else the most suitable one."""
    kind = getattr(variant_cls, "critic_kind", "scalar")
    variant_name = getattr(variant_cls, "name", "?")
    if requested != "auto":
        arch_cls = catalog.architectures.get(requested)
        if arch_cls.suitability(dataset_cls.shape, dataset_cls.kind) <= 0:
            raise UsageError(
                f"architecture {requested!r} cannot model data set {dataset_cls.name!r} "
                f"({dataset_cls.kind}, shape {dataset_cls.shape}); use --arch auto."
            )
        if kind not in arch_cls.critic_kinds:
            raise UsageError(
                f"architecture {requested!r} cannot build the {kind!r} critic that variant "
                f"{variant_name!r} needs (it builds {', '.join(arch_cls.critic_kinds)}); use --arch auto."
            )
        return requested
    scored = {entry.name: entry.obj.suitability(dataset_cls.shape, dataset_cls.kind)
              for entry in catalog.architectures if kind in entry.obj.critic_kinds}
    scored = {name: score for name, score in scored.items() if score > 0}
    if not scored:
        raise UsageError(f"no installed architecture can model data set {dataset_cls.name!r} "
                         f"({dataset_cls.kind}, shape {dataset_cls.shape}) with a {kind!r} critic "
                         f"(variant {variant_name!r}).")
    fits = {name: score for name, score in scored.items() if score >= AUTO_MIN_SUITABILITY}
    if not fits:
        raise UsageError(
            f"--arch auto found no architecture that fits data set {dataset_cls.name!r} "
            f"({dataset_cls.kind}, shape {dataset_cls.shape}); {', '.join(sorted(scored))} can model it "
            f"when named (--arch {sorted(scored)[0]})" + _fitting_resolutions(dataset_cls, catalog, kind) + "."
        )
    preferred = getattr(variant_cls, "preferred_arch", None)
    if preferred in fits:
        return preferred
    return max((score, name) for name, score in fits.items())[1]


COMMON_RESOLUTIONS = (16, 28, 32, 48, 64, 96, 128, 256)


def _fitting_resolutions(dataset_cls: type, catalog: Catalog, critic_kind: str) -> str:
    """For square images: ``, or pick a resolution that one fits: --resolution 32 (dcgan), ...``."""
    shape = dataset_cls.shape
    if dataset_cls.kind != "image" or len(shape) != 3 or not dataset_cls.spec:
        return ""
    found = []
    for side in COMMON_RESOLUTIONS:
        names = [e.name for e in catalog.architectures if critic_kind in e.obj.critic_kinds
                 and e.obj.suitability((shape[0], side, side), "image") >= AUTO_MIN_SUITABILITY]
        if names:
            found.append(f"{side} ({', '.join(names)})")
    return f", or give a resolution that one fits: --resolution {' or '.join(found)}" if found else ""
