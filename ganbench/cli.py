"""The ``ganbench`` command line (typer)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ganbench import config as cfg
from ganbench.errors import GanbenchError, UsageError, unknown_name_message
from ganbench.executors import DEFAULT_EXECUTOR, ExecutorOptions, ExecutorWarning, make_executor
from ganbench.loggers import LoggerWarning
from ganbench.plugins import (
    PluginHookWarning, PluginLoadWarning, build_catalog, describe_hook_failure, get_plugin_manager, plugin_report,
    warn_hook_failure,
)
from ganbench.registry import Entry, Registry
from ganbench.storage import is_done

if TYPE_CHECKING:
    from ganbench.architectures import Architecture
    from ganbench.plugins import Catalog
    from ganbench.variants import Variant

app = typer.Typer(
    name="ganbench",
    help="""Benchmark GAN variants: stability, cost and quality, under fixed seeds.

Examples:

  ganbench run --variants vanilla,wgan,wgan-gp

  ganbench run --datasets ring-8,grid-25 --seeds 0,1,2 --steps 2000 --set wgan-gp.lambda_gp=5

  ganbench run --variants vanilla,cgan --datasets ring-8 --real-target 0.9 --spectral-norm --ttur

  ganbench table results/default --format latex

  ganbench evaluate my-samples/ --reference fashion-mnist --name my-stylegan

  ganbench search --variants vanilla,wgan-gp --datasets ring-8 --budget 20 --objective modes_covered

  ganbench list variants
""",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True, markup=False, emoji=False)  # paths and messages print as given: `[x]`, `:x:`
INTERRUPTED = 130  # exit code after Ctrl-C, as shells report a SIGINT
_format_warning = warnings.formatwarning


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _one_line_plugin_warnings(message, category, filename, lineno, line=None) -> str:
    """Plugin warnings and ganbench's own as one line (``Warning: ...``), without the source
    line that says nothing to a user; other libraries' warnings as Python formats them."""
    if issubclass(category, (PluginHookWarning, PluginLoadWarning, LoggerWarning, ExecutorWarning)) or (
            issubclass(category, UserWarning) and os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)):
        return f"Warning: {message}\n"
    return _format_warning(message, category, filename, lineno, line)


warnings.formatwarning = _one_line_plugin_warnings


def _print_version(value: bool) -> None:
    """``--version``: print ``ganbench X.Y.Z (torch ..., Python ...)`` and exit 0.

    Torch's version comes from its installed metadata: importing torch would take seconds."""
    if value:
        import platform
        from importlib.metadata import PackageNotFoundError, version

        from ganbench import __version__

        try:
            torch_version = f"torch {version('torch')}"
        except PackageNotFoundError:
            torch_version = "torch not installed"
        print(f"ganbench {__version__} ({torch_version}, Python {platform.python_version()})")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print ganbench's version (and torch's) and exit.")] = False,
) -> None:
    # Options of `ganbench` itself, before any command; --version acts in its callback.
    pass


def _fail(exc: GanbenchError) -> typer.Exit:
    stderr.print(f"[red]Error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(2 if isinstance(exc, UsageError) else 1)


@app.command()
def run(
    variants: Annotated[Optional[str], typer.Option(help="Comma-separated variant names. [default: vanilla,wgan,wgan-gp]")] = None,
    datasets: Annotated[Optional[str], typer.Option(help="Comma-separated data set names, folder:PATH or array:FILE. [default: fashion-mnist]")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds, e.g. 0,1,2 or 0-4. [default: 0]")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Generator steps per run. [default: 2000]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size. [default: the data set's]")] = None,
    latent_dim: Annotated[Optional[int], typer.Option(help="Noise size. [default: the architecture's]")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Architecture, or auto (chosen from the data shape).")] = None,
    resolution: Annotated[Optional[int], typer.Option(help="Side of the images made from folder:PATH and array:FILE data (centre crop, PIL bicubic). [default: their own size]")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.")] = None,
    fast: Annotated[Optional[bool], typer.Option("--fast", help="Fast mode: give up bit-for-bit repeatability for speed (on CUDA: cuDNN benchmark, TF32, compiled networks; channels-last convolutions). Recorded with the run.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="fp32, or bf16 (the networks under bfloat16 autocast). [default: fp32]")] = None,
    metrics: Annotated[Optional[str], typer.Option(help="Comma-separated metrics. [default: all that apply]")] = None,
    sample_every: Annotated[Optional[int], typer.Option(help="Also save samples every N steps (0: only at the end).")] = None,
    eval_samples: Annotated[Optional[int], typer.Option(help="Generated (and real) samples per metric. [default: 10000]")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Also compute FID-like metrics every N steps (0: only at the end).")] = None,
    fid_pipeline: Annotated[Optional[str], typer.Option(help="Inception input pipeline: tf (torch-fidelity, TF-compatible) or pytorch-fid. [default: tf]")] = None,
    inception_weights: Annotated[Optional[Path], typer.Option(help="The FID Inception weights file (pt_inception-2015-12-05-6726825d.pth).")] = None,
    real_target: Annotated[Optional[float], typer.Option(help="One-sided label smoothing: BCE target for real samples, e.g. 0.9 (logit variants only). [default: 1]", rich_help_panel="Training options")] = None,
    instance_noise: Annotated[Optional[float], typer.Option(help="Std of Gaussian noise added to real and fake critic inputs, annealed linearly to 0. [default: 0]", rich_help_panel="Training options")] = None,
    minibatch_std: Annotated[Optional[bool], typer.Option("--minibatch-std", help="Minibatch standard deviation feature before the critic's last layer.", rich_help_panel="Training options")] = None,
    unrolled_steps: Annotated[Optional[int], typer.Option(help="Generator loss against a copy of the critic after K lookahead steps (unrolled GAN). [default: 0]", rich_help_panel="Training options")] = None,
    ttur: Annotated[Optional[bool], typer.Option("--ttur", help="Two time-scale update rule: lr_d = 4 x lr_g.", rich_help_panel="Training options")] = None,
    spectral_norm: Annotated[Optional[bool], typer.Option("--spectral-norm", help="Spectral normalisation on every critic layer.", rich_help_panel="Training options")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting: VARIANT.FIELD=VALUE, train.FIELD=VALUE or options.FIELD=VALUE (repeatable).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML config file; command-line options win over it.")] = None,
    recipe: Annotated[Optional[str], typer.Option(help="A shipped recipe (`ganbench recipes`): a published setup with its figures; --config and command-line options win over it.")] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("results"),
    sweep: Annotated[str, typer.Option(help="Sweep name: runs go to OUT/SWEEP/RUN-ID/.")] = "default",
    data_root: Annotated[Optional[Path], typer.Option(help="Folder searched first for data set files.")] = None,
    force: Annotated[bool, typer.Option(help="Redo runs that are already finished.")] = False,
    executor: Annotated[str, typer.Option(help="What does the runs: local (this process, one after another) or ray (`ganbench list executors`).")] = DEFAULT_EXECUTOR,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, HOST:PORT or ray://HOST:10001); default: start Ray on this machine.")] = None,
    cpus_per_run: Annotated[Optional[int], typer.Option(help="Torch CPU threads per run (ray: also the CPUs each task asks for). [default: ray 1, local torch's]")] = None,
    retries: Annotated[int, typer.Option(help="Try a failed run up to N more times (it goes on from its latest checkpoint).", min=0)] = 0,
    checkpoint_every: Annotated[Optional[str], typer.Option(help="Save a checkpoint every N steps (500), every so much training time (90s, 10m, 1h), or off; a re-run goes on from the latest. [default: 10m]")] = None,
    keep_checkpoints: Annotated[Optional[int], typer.Option(help="Keep every K-th checkpoint besides the latest (0: only the latest). A finished run deletes its checkpoints. [default: 0]")] = None,
    log: Annotated[Optional[list[str]], typer.Option(help="Loggers each run sends its losses, metrics and samples to, e.g. tensorboard (comma-separated or repeated; `ganbench list loggers`).")] = None,
    max_runs: Annotated[int, typer.Option(help="Refuse a sweep of more runs than this.", min=1)] = cfg.DEFAULT_MAX_RUNS,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train every variant × data set × seed and print comparison tables."""
    from ganbench.runner import run_sweep
    from ganbench.tables import comparison_tables, load_results, render, save_tables

    runs: list[cfg.RunConfig] = []
    sweep_dir = out / sweep
    try:
        catalog = build_catalog()
        sweep_config = cfg.SweepConfig(max_runs=max_runs)
        if recipe is not None:
            from ganbench.recipes import find_recipe

            cfg.load_config_file(find_recipe(recipe).path, sweep_config, catalog)
        if config is not None:
            cfg.load_config_file(config, sweep_config, catalog)
        if variants is not None:
            sweep_config.variants = cfg.parse_list(variants, "variants")
        if datasets is not None:
            sweep_config.datasets = cfg.parse_list(datasets, "datasets")
        if seeds is not None:
            sweep_config.seeds = cfg.parse_seeds(seeds, max_runs)
        if resolution is not None:
            sweep_config.resolution = resolution
        if metrics is not None:
            sweep_config.metrics = cfg.parse_list(metrics, "metrics")
        flags = {"steps": steps, "batch_size": batch_size, "latent_dim": latent_dim, "arch": arch,
                 "device": device, "sample_every": sample_every, "eval_samples": eval_samples,
                 "eval_every": eval_every, "fid_pipeline": fid_pipeline,
                 "inception_weights": str(inception_weights) if inception_weights else None,
                 "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
                 "fast": fast, "precision": precision}
        for name, value in flags.items():
            if value is not None:
                cfg.apply_setting(sweep_config, f"train.{name}", value, catalog)
        options = {"real_target": real_target, "instance_noise": instance_noise, "minibatch_std": minibatch_std,
                   "unrolled_steps": unrolled_steps, "ttur": ttur, "spectral_norm": spectral_norm}
        for name, value in options.items():
            if value is not None:
                cfg.apply_setting(sweep_config, f"options.{name}", value, catalog)
        overrides = [cfg.parse_set_option(text) for text in set_ or []]
        for key, value in overrides:
            cfg.apply_setting(sweep_config, key, value, catalog)
        cfg.check_overrides_in_sweep([key for key, _ in overrides], sweep_config)
        if log is not None:
            sweep_config.loggers = cfg.parse_loggers(log)
        cfg.check_loggers(sweep_config.loggers, catalog)
        runs = cfg.resolve_runs(sweep_config, catalog)
        _check_named_weights(sweep_config.train.inception_weights)
        if ray_address is not None and executor != "ray":
            raise UsageError(f"--ray-address needs --executor ray, got --executor {executor}.")
        sweep_executor = make_executor(catalog, executor, ExecutorOptions(cpus_per_run=cpus_per_run, ray_address=ray_address))
        if sweep in ("", ".", "..") or Path(sweep).name != sweep or "\\" in sweep:
            raise UsageError(f"--sweep must be a folder name such as 'default', got {sweep!r}: "
                             "runs go to OUT/SWEEP/ and never outside --out.")
        _writable_folder(out, "--out")
        _writable_folder(sweep_dir, "--sweep")
        records = run_sweep(runs, catalog, sweep_dir, force=force, data_root=data_root, quiet=quiet or as_json,
                            executor=sweep_executor, retries=retries, loggers=sweep_config.loggers)
    except GanbenchError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        finished = sum(is_done(sweep_dir / c.run_id, c.digest()) for c in runs)
        stderr.print(f"Interrupted: {finished} of {len(runs)} run(s) finished in {sweep_dir}/. Run the same "
                     "command again to resume: finished runs are skipped.", highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None

    names = {r.config.run_id for r in records}
    long = load_results(sweep_dir)
    long = long[long["run_id"].isin(names)]
    tables = comparison_tables(long, catalog)
    save_tables(tables, sweep_dir, catalog)
    failed = [r for r in records if r.status == "failed"]
    if as_json:
        print(json.dumps({
            "sweep_dir": str(sweep_dir),
            "runs": [{"run_id": r.config.run_id, "status": r.status, "dir": str(r.run_dir)} for r in records],
            "tables": json.loads(render(tables, "json", catalog)),
        }, indent=2))
    else:
        print(render(tables, "md", catalog))
        stderr.print(f"Results in {sweep_dir}/ (tables: table-<dataset>.csv and .md)")
    for r in records:
        if r.status == "diverged":
            stderr.print(f"[yellow]run {escape(r.config.run_id)} diverged at step "
                         f"{r.summary.get('diverged_at')}[/yellow]", markup=True)
    if failed:
        stderr.print(f"[red]{len(failed)} run(s) failed:[/red] " + escape(", ".join(r.config.run_id for r in failed))
                     + " (tracebacks in their metrics.json; run again to retry them)", markup=True)
        raise typer.Exit(1)


def _writable_folder(path: Path, option: str) -> Path:
    """``path``, created if missing; a :class:`UsageError` naming ``option`` when it is a file
    or cannot be created or written to."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder; name a folder for the output.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise UsageError(f"{option} {path} cannot be written to ({exc.strerror or exc}); "
                         "name a folder you can write to.") from None
    return path


def _creatable_folder(path: Path, option: str) -> None:
    """Refuse, before any work and creating nothing, an output folder that is a file, lies
    under a file, or whose nearest existing folder cannot be written to."""
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, a file"
        raise UsageError(f"{option} {path} {where}, not a folder; name a folder for the output.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path} cannot be written to ({existing} is not writable); "
                         "name a folder you can write to.")


def _check_named_weights(path: str | None) -> None:
    """Fail before training when a named Inception weight file is missing or wrong."""
    from ganbench.features.inception import ENV_VAR, find_inception_weights

    if path or os.environ.get(ENV_VAR):
        find_inception_weights(path)


@app.command()
def table(
    results_dir: Annotated[Path, typer.Argument(help="A results, sweep or run folder.")] = Path("results"),
    fmt: Annotated[str, typer.Option("--format", help="md, csv, json or latex.")] = "md",
) -> None:
    """Rebuild the comparison tables from the results on disk."""
    from ganbench.tables import comparison_tables, load_results, render, undeclared_value_warnings

    if fmt not in ("md", "csv", "json", "latex"):
        raise _fail(UsageError(f"--format must be md, csv, json or latex, got {fmt!r}."))
    try:
        long = load_results(results_dir)
    except FileNotFoundError as exc:
        raise _fail(UsageError(str(exc))) from None
    if long.empty:
        raise _fail(UsageError(f"no finished ganbench runs under {results_dir}."))
    catalog = build_catalog()
    for line in undeclared_value_warnings(long, catalog):
        stderr.print(f"[yellow]warning:[/yellow] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
    print(render(comparison_tables(long, catalog), fmt, catalog))


@app.command()
def reproduce(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (results/SWEEP/RUN-ID).")],
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda (default: the recorded device).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder searched first for data set files (default: the recorded one).")] = None,
    keep: Annotated[Optional[Path], typer.Option(help="Keep the re-run in this new folder (default: a temporary one).")] = None,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="NAME=PATH: the data set NAME (folder:PATH or array:FILE data) is now at PATH; used only if its content is the recorded one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Re-run one recorded run from its config and check its losses and metrics: bit for bit
    on CPU, within a stated tolerance on CUDA and for runs made with --fast. Exit code 0 if they match, 1 if not, 2 if the
    run could not be re-run (not a run, edited config, data unavailable)."""
    from ganbench.reproduce import parse_data_paths, reproduce as reproduce_run

    if not as_json:
        stderr.print(f"Re-running {run_dir} ...", highlight=False)
    try:
        if keep is not None:
            _writable_folder(keep, "--keep")
        result = reproduce_run(run_dir, build_catalog(), device=device, data_root=data_root, workdir=keep,
                               data=parse_data_paths(data or []))
    except GanbenchError as exc:  # could not re-run at all: 2, kept apart from 1 (re-ran, differs)
        _fail(exc)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        stderr.print("Interrupted: the re-run was stopped and nothing was compared.", highlight=False)
        raise typer.Exit(INTERRUPTED) from None
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.verdict())
        for line in result.differences:
            print(f"  - {line}")
        for line in result.notes:
            print(f"note: {line}")
        if result.new_run_dir is not None:
            stderr.print(f"Re-run kept in {result.new_run_dir}/", highlight=False)
    if not result.matches:
        raise typer.Exit(1)


@app.command()
def report(
    results_dir: Annotated[Path, typer.Argument(help="A results, sweep or run folder.")] = Path("results"),
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for report.html, report.md and images/.")] = Path("report"),
) -> None:
    """Write a self-contained HTML report and the same as Markdown: setup, tables with 95% CIs,
    pairwise tests, answers to the usual questions, plots and samples."""
    from ganbench.report import build_report

    try:
        _writable_folder(out, "--out")
        files = build_report(results_dir, out, build_catalog())
    except GanbenchError as exc:
        raise _fail(exc) from None
    stderr.print(f"Report: {files.html} and {files.markdown} ({len(files.images)} images in {out / 'images'})")


@app.command()
def search(
    variants: Annotated[str, typer.Option(help="Comma-separated variants to compare, each tuned with the same budget.")],
    budget: Annotated[int, typer.Option(help="Configurations drawn and trained per variant (and data set).")],
    objective: Annotated[str, typer.Option(help="The metric value tuned for, e.g. modes_covered or domain_fid (`ganbench list metrics`); its metric says which way is better.")],
    datasets: Annotated[Optional[str], typer.Option(help="Comma-separated data sets. [default: fashion-mnist]")] = None,
    sampler: Annotated[str, typer.Option(help="Optuna sampler: random, qmc (scrambled Sobol) or tpe.")] = "tpe",
    seed: Annotated[int, typer.Option(help="Seed of the sampler and the training seed of every trial.")] = 0,
    final_seeds: Annotated[int, typer.Option(help="Re-run each variant's best configuration with K fresh seeds (seed+1..seed+K) and rank those.")] = 0,
    eval_every: Annotated[Optional[int], typer.Option(help="Compute the metrics over training every N steps (what --pruner judges).")] = None,
    pruner: Annotated[Optional[str], typer.Option(help="Stop weak trials early: median or asha (needs --eval-every).")] = None,
    space: Annotated[Optional[list[str]], typer.Option("--space", help="Replace a search space: VARIANT.FIELD=loguniform(1e-5,1e-3), uniform(A,B), int(A,B), logint(A,B) or choice(A,B,...) (repeatable).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Fix a setting for every trial: VARIANT.FIELD=VALUE (taken out of the space), train.FIELD=VALUE or options.FIELD=VALUE.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Generator steps per run. [default: 2000]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size. [default: the data set's]")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Architecture, or auto.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.")] = None,
    metrics: Annotated[Optional[str], typer.Option(help="Comma-separated metrics. [default: all that apply]")] = None,
    eval_samples: Annotated[Optional[int], typer.Option(help="Generated (and real) samples per metric. [default: 10000]")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML config file ([search.VARIANT] tables give spaces); command-line options win over it.")] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("results"),
    sweep: Annotated[str, typer.Option(help="Search name: trials go to OUT/SWEEP/trials/, final runs to OUT/SWEEP/final/.")] = "search",
    data_root: Annotated[Optional[Path], typer.Option(help="Folder searched first for data set files.")] = None,
    force: Annotated[bool, typer.Option(help="Redo runs that are already finished.")] = False,
    executor: Annotated[str, typer.Option(help="What does the runs: local or ray (`ganbench list executors`).")] = DEFAULT_EXECUTOR,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, HOST:PORT or ray://HOST:10001); default: start Ray on this machine.")] = None,
    cpus_per_run: Annotated[Optional[int], typer.Option(help="Torch CPU threads per run (ray: also the CPUs each task asks for).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the search's record as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Tune each variant with the same budget of configurations, then compare them (Lucic et al. 2018).

    Example: ganbench search --variants vanilla,wgan-gp --datasets ring-8 --budget 20 --objective modes_covered --final-seeds 3"""
    from ganbench.search import FINAL_FOLDER, SEARCH_FILE, SearchSettings, check_search, run_search
    from ganbench.tables import comparison_tables, load_results, render, save_tables

    sweep_dir = out / sweep
    try:
        settings = SearchSettings(budget=budget, objective=objective, sampler=sampler, seed=seed, final_seeds=final_seeds,
                                  pruner=pruner)
        settings.validate()
        catalog = build_catalog()
        sweep_config = cfg.SweepConfig()
        if config is not None:
            cfg.load_config_file(config, sweep_config, catalog)
        sweep_config.variants = cfg.parse_list(variants, "variants")
        if datasets is not None:
            sweep_config.datasets = cfg.parse_list(datasets, "datasets")
        if metrics is not None:
            sweep_config.metrics = cfg.parse_list(metrics, "metrics")
        flags = {"steps": steps, "batch_size": batch_size, "arch": arch, "device": device, "eval_samples": eval_samples,
                 "eval_every": eval_every}
        for name, value in flags.items():
            if value is not None:
                cfg.apply_setting(sweep_config, f"train.{name}", value, catalog)
        overrides = [cfg.parse_set_option(text) for text in set_ or []]
        for key, value in overrides:
            cfg.apply_setting(sweep_config, key, value, catalog)
        cfg.check_overrides_in_sweep([key for key, _ in overrides], sweep_config)
        for text in space or []:
            key, value = cfg.parse_set_option(text)
            variant, _, name = key.partition(".")
            if not name:
                raise UsageError(f"--space expects VARIANT.FIELD=SPACE such as wgan-gp.lr_g=loguniform(1e-5,1e-3), got {text!r}.")
            sweep_config.spaces.setdefault(variant, {})[name] = value
        if ray_address is not None and executor != "ray":
            raise UsageError(f"--ray-address needs --executor ray, got --executor {executor}.")
        sweep_executor = make_executor(catalog, executor, ExecutorOptions(cpus_per_run=cpus_per_run, ray_address=ray_address))
        if sweep in ("", ".", "..") or Path(sweep).name != sweep or "\\" in sweep:
            raise UsageError(f"--sweep must be a folder name such as 'search', got {sweep!r}.")
        checked = check_search(sweep_config, catalog, settings)  # before any folder is made
        _writable_folder(out, "--out")
        _writable_folder(sweep_dir, "--sweep")
        result = run_search(checked, catalog, sweep_dir, executor=sweep_executor, data_root=data_root,
                            quiet=quiet or as_json, force=force)
    except GanbenchError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        stderr.print(f"Interrupted. Run the same command again to resume the search in {sweep_dir}/: finished "
                     "trials are skipped and the same configurations are drawn.", highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None

    if as_json:
        print(json.dumps(result.record, indent=2))
    else:
        rows = [[s["variant"], s["dataset"], str(len(s["trials"])) + (f" ({s['pruned']} pruned)" if s["pruned"] else ""),
                 f"{s['diverged_share']:.0%}",
                 "–" if s["best"] is None else f"{s['best']['value']:.4g}",
                 "defaults (no space)" if s["no_space"] else
                 ("–" if s["best"] is None else _settings({k: f"{v:.3g}" if isinstance(v, float) else v
                                                          for k, v in s["best"]["params"].items()}))]
                for s in result.record["studies"]]
        arrow = "↑" if result.record["direction"] == "maximize" else "↓"
        _print_table(f"search: best {objective} {arrow} after {budget} configuration(s) per variant "
                     f"({sampler} sampler, seed {seed})",
                     _table(["variant", "data set", "trials", "diverged", f"best {objective}", "best configuration"], rows))
    ranked = result.final_runs or result.best_runs
    if ranked:
        long = load_results([r.run_dir for r in ranked][0].parent)
        long = long[long["run_id"].isin({r.config.run_id for r in ranked})]
        tables = comparison_tables(long, catalog)
        if result.final_runs:
            save_tables(tables, sweep_dir / FINAL_FOLDER, catalog)
        if not as_json:
            what = (f"the best configurations re-run with {final_seeds} fresh seed(s)" if result.final_runs
                    else "the best trial of each variant (one seed; --final-seeds K re-runs them with fresh seeds)")
            print(f"\nComparison of {what}:\n")
            print(render(tables, "md", catalog))
    stderr.print(f"Search record in {sweep_dir / SEARCH_FILE}; `ganbench report {sweep_dir}` shows it.",
                 highlight=False, soft_wrap=True)


@app.command()
def evaluate(
    samples: Annotated[str, typer.Argument(help="A folder of images, an .npy/.npz array, a ganbench run folder, or module:function returning a generator.")],
    reference: Annotated[Optional[str], typer.Option(help="A data set name, folder:PATH, array:FILE or a statistics .npz (mu, sigma). [default: a run folder's data set]")] = None,
    metrics: Annotated[Optional[str], typer.Option(help="Comma-separated metrics. [default: all that apply to the reference]")] = None,
    eval_samples: Annotated[Optional[int], typer.Option(help="Samples scored (and real samples). [default: all given images; 10000 generated]")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name in tables, shown as 'NAME (evaluated)'. [default: from SAMPLES]")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the evaluation folder.")] = Path("results/evaluations"),
    latent_dim: Annotated[Optional[int], typer.Option(help="Noise size of a module:function generator.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the noise and the real-sample draw. [default: a run's, else 0]")] = None,
    resolution: Annotated[Optional[int], typer.Option(help="Resize images (folders, arrays) to this square side.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    fid_pipeline: Annotated[str, typer.Option(help="Inception input pipeline: tf or pytorch-fid.")] = "tf",
    inception_weights: Annotated[Optional[Path], typer.Option(help="The FID Inception weights file.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder searched first for data set files.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Score samples made elsewhere with ganbench's metrics; `table` and `report` then show them
    beside trained runs.

    Example: ganbench evaluate my-samples/ --reference fashion-mnist --name my-stylegan"""
    from ganbench.evaluation import EvaluationSettings, evaluate_samples

    try:
        _creatable_folder(out, "--out")
        _check_named_weights(str(inception_weights) if inception_weights else None)
        settings = EvaluationSettings(
            metrics=cfg.parse_list(metrics, "metrics") if metrics is not None else None,
            eval_samples=eval_samples, name=name, seed=seed, latent_dim=latent_dim, resolution=resolution,
            device=device, fid_pipeline=fid_pipeline,
            inception_weights=str(inception_weights) if inception_weights else None, data_root=data_root)
        result = evaluate_samples(samples, reference, build_catalog(), out, settings)
    except GanbenchError as exc:
        raise _fail(exc) from None
    summary = result.summary
    if as_json:
        print(json.dumps({"dir": str(result.folder), **{k: summary[k] for k in (
            "run_id", "variant", "dataset", "metrics", "metric_errors")}}, indent=2))
        return
    for key, value in summary["metrics"].items():
        print(f"{key:<24} {value:.6g}" if value is not None else f"{key:<24} n/a")
    for metric, reason in summary["metric_errors"].items():
        stderr.print(f"{metric}: {reason.splitlines()[0]}", highlight=False, soft_wrap=True)
    stderr.print(f"Evaluation in {result.folder}/ (ganbench table {out} shows it)", highlight=False, soft_wrap=True)


@app.command()
def stats(
    reference: Annotated[str, typer.Argument(help="A data set name, folder:PATH or array:FILE.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .npz to write (mu, sigma; pytorch-fid's format).")],
    features: Annotated[str, typer.Option(help="inception (FID's) or domain (the data set's classifier).")] = "inception",
    eval_samples: Annotated[int, typer.Option(help="Real images used (the same ones every metric uses).")] = 10_000,
    resolution: Annotated[Optional[int], typer.Option(help="Resize images (folders, arrays) to this square side.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    fid_pipeline: Annotated[str, typer.Option(help="Inception input pipeline: tf or pytorch-fid.")] = "tf",
    inception_weights: Annotated[Optional[Path], typer.Option(help="The FID Inception weights file.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder searched first for data set files.")] = None,
) -> None:
    """Write a reference's feature statistics (mu, sigma) as pytorch-fid's --save-stats does;
    usable as `ganbench evaluate --reference FILE.npz` and by pytorch-fid."""
    from ganbench.evaluation import write_reference_statistics

    try:
        _creatable_folder(output.parent, f"-o {output}: the folder")
        _check_named_weights(str(inception_weights) if inception_weights else None)
        written = write_reference_statistics(
            reference, build_catalog(), output, features=features, eval_samples=eval_samples, device=device,
            fid_pipeline=fid_pipeline, inception_weights=str(inception_weights) if inception_weights else None,
            data_root=data_root, resolution=resolution)
    except GanbenchError as exc:
        raise _fail(exc) from None
    stderr.print(f"Statistics of {written['count']} images of {written['reference']} in {written['features']} "
                 f"features ({written['dimension']}-d) written to {output}", highlight=False, soft_wrap=True)


KINDS = ("variants", "datasets", "metrics", "architectures", "executors", "loggers")
DIRECTION = {True: "↑", False: "↓", None: "·"}  # how a metric value ranks, as the tables mark it


def _print_table(title: str, table: Table, caption: str | None = None) -> None:
    """Print ``title``, ``table`` and ``caption`` on stdout: fitted to a terminal's width,
    never wrapped when piped."""
    console = Console(highlight=False)
    if not console.is_terminal:
        natural = console.measure(table, options=console.options.update_width(100_000)).maximum
        console = Console(highlight=False, width=max(80, natural))
    console.print(Text(title, style="bold"))
    console.print(table)
    if caption:
        console.print(Text(caption))


def _table(columns: list[str], rows: list[list[str]]) -> Table:
    """A rich table of plain-text cells (never read as rich markup)."""
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _variant_facts(obj: type[Variant]) -> dict[str, Any]:
    """A variant's task, whether it is conditional, the hyperparameters of its own (those
    beyond :class:`~ganbench.variants.VariantParams`), with their defaults, and its declared
    search space (``ganbench search``)."""
    from ganbench.spaces import declared_spaces
    from ganbench.variants import VariantParams

    params = dataclasses.asdict(obj.Params())
    common = {f.name for f in dataclasses.fields(VariantParams)}
    return {"task": obj.task, "conditional": obj.conditional,
            "hyperparameters": {k: v for k, v in params.items() if k not in common},
            "search_space": {k: str(v) for k, v in declared_spaces(obj.Params).items()}}


def _architecture_fits(obj: type[Architecture], datasets: Registry) -> dict[str, list[str]]:
    """The data sets (of fixed shape) ``--arch auto`` may give this architecture, and those it
    models only when named."""
    from ganbench.architectures import AUTO_MIN_SUITABILITY

    fits: dict[str, list[str]] = {"auto": [], "named": []}
    for entry in datasets:
        if entry.obj.takes_argument:
            continue
        try:
            score = obj.suitability(tuple(entry.obj.shape), entry.obj.kind)
        except Exception:  # noqa: BLE001 - a plugin's suitability must not break the listing
            continue
        if score >= AUTO_MIN_SUITABILITY:
            fits["auto"].append(entry.name)
        elif score > 0:
            fits["named"].append(entry.name)
    return fits


def _describe(kind: str, entry: Entry, datasets: Registry) -> dict[str, Any]:
    """The ``list --json`` row of one registered class: ``name``, ``description``, ``plugin``,
    ``defaults`` (variants, data sets, metrics) and the kind's other facts."""
    obj = entry.obj
    row = {"name": entry.name, "description": obj.description, "plugin": entry.plugin}
    if kind == "variants":
        row["defaults"] = dataclasses.asdict(obj.Params())
        row.update(_variant_facts(obj))
    elif kind == "datasets":
        row["defaults"] = {"kind": obj.kind, "shape": list(obj.shape) or "from the files",
                           "batch_size": obj.default_batch_size}
        if obj.num_classes:
            row["defaults"]["classes"] = obj.num_classes
        row["task"] = obj.task
    elif kind == "metrics":
        row["defaults"] = {"requires": sorted(obj.requires), "higher_is_better": obj.higher_is_better}
        row["values"] = [{"key": key, "label": info.label, "higher_is_better": info.higher_is_better,
                          "section": info.section} for key, info in obj.value_info().items()]
    elif kind == "architectures":
        row["fits"] = _architecture_fits(obj, datasets)
        row["critic_kinds"] = list(obj.critic_kinds)
        row["supports_conditional"] = obj.supports_conditional
        row["supports_minibatch_std"] = obj.supports_minibatch_std
    return row


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items()) or "–"


def _print_listing(kind: str, rows: list[dict[str, Any]]) -> None:
    """Print the readable form of ``list KIND``: name, plugin, the kind's key facts, description."""
    caption = None
    if kind == "variants":
        columns = ["name", "plugin", "n_critic", "optimiser", "own hyperparameters", "search space", "description"]
        cells = []
        for row in rows:
            d = row["defaults"]
            optimiser = f"{d['optimizer']}, lr_g={d['lr_g']:g}, lr_d={d['lr_d']:g}"
            if d["optimizer"] == "adam":
                optimiser += f", betas=({d['beta1']:g}, {d['beta2']:g})"
            cells.append([str(d["n_critic"]), optimiser, _settings(row["hyperparameters"]),
                          _settings(row["search_space"])])
        caption = ("Change any of them with --set VARIANT.FIELD=VALUE; `ganbench search` draws from the search "
                   "space, --space VARIANT.FIELD=SPACE replaces one.")
    elif kind == "datasets":
        columns = ["name", "plugin", "kind", "shape", "classes", "batch size", "description"]
        cells = [[d["kind"], "×".join(map(str, d["shape"])) if isinstance(d["shape"], list) else d["shape"],
                  str(d.get("classes", "–")), str(d["batch_size"])] for d in (row["defaults"] for row in rows)]
    elif kind == "metrics":
        columns = ["name", "plugin", "values", "needs", "description"]
        cells = [[", ".join(f"{v['key']} {DIRECTION[v['higher_is_better']]}" for v in row["values"]),
                  ", ".join(row["defaults"]["requires"]) or "–"] for row in rows]
        caption = "↑ higher is better, ↓ lower is better, · not ranked."
    elif kind == "architectures":
        columns = ["name", "plugin", "--arch auto picks it for", "models when named", "supports", "description"]
        cells = []
        for row in rows:
            supports = [f"{k} critic" for k in row["critic_kinds"]]
            supports += ["conditional"] * row["supports_conditional"] + ["minibatch std"] * row["supports_minibatch_std"]
            cells.append([", ".join(row["fits"]["auto"]) or "–", ", ".join(row["fits"]["named"]) or "–",
                          ", ".join(supports)])
        caption = "Data sets named with an argument (folder:PATH, array:FILE) are matched by their images' shape."
    else:
        columns = ["name", "plugin", "description"]
        cells = [[] for _ in rows]
    _print_table(kind, _table(columns, [[row["name"], row["plugin"], *facts, row["description"]]
                                        for row, facts in zip(rows, cells)]), caption)


@app.command("list")
def list_(
    kind: Annotated[Optional[str], typer.Argument(help="variants, datasets, metrics, architectures, executors or loggers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: Annotated[Optional[Path], typer.Option(help="TOML config file: also list its [datasets.NAME] data sets.")] = None,
) -> None:
    """List what the installed plugins provide: names, plugins, defaults, descriptions.

    One table per kind (each name, the plugin that provides it, the kind's key facts and
    defaults, its description); --json gives the same as JSON."""
    if kind is not None and kind not in KINDS:
        raise _fail(UsageError(unknown_name_message("kind", kind, KINDS)))
    try:
        catalog = build_catalog()
        if config is not None:
            sweep_config = cfg.SweepConfig()
            cfg.load_config_file(config, sweep_config, catalog)
            for name in sweep_config.named_datasets:
                cfg.resolve_dataset(name, sweep_config, catalog)
    except GanbenchError as exc:
        raise _fail(exc) from None
    kinds = [kind] if kind else list(KINDS)
    listing = {k: [_describe(k, e, catalog.datasets) for e in getattr(catalog, k)] for k in kinds}
    if as_json:
        print(json.dumps(listing, indent=2))
        return
    for k in kinds:
        _print_listing(k, listing[k])


def _contributions(catalog: Catalog) -> dict[str, dict[str, list[str]]]:
    """``{plugin: {kind: [names]}}``: what each plugin registered, by the kinds of ``list``."""
    found: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for entry in getattr(catalog, kind):
            found.setdefault(entry.plugin, {}).setdefault(kind, []).append(entry.name)
    return found


@app.command()
def recipes(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the shipped recipes: published setups to run with `ganbench run --recipe NAME`."""
    from ganbench.recipes import available_recipes

    try:
        found = available_recipes()
    except GanbenchError as exc:
        raise _fail(exc) from None
    rows = [{"name": r.name, "variants": list(r.variants), "arch": r.arch, "datasets": list(r.datasets),
             "steps": r.steps, "published": r.published} for r in found]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = _table(["Recipe", "Variant", "Arch", "Data set", "Steps", "Published figures", "Source"], [[
        row["name"], ", ".join(row["variants"]), row["arch"], ", ".join(row["datasets"]),
        f"{row['steps']:,}" if row["steps"] else "default",
        ", ".join(f"{name} {_figure(f)}" for name, f in row["published"]["figures"].items()),
        row["published"]["source"],
    ] for row in rows])
    _print_table("Recipes", table, "Run one with: ganbench run --recipe NAME (e.g. --steps 2000 for a check).")


@app.command()
def cache(
    prune: Annotated[bool, typer.Option("--prune", help="Delete the decoded images no read will use again: their folder or array file is gone or changed, or a decode was killed half-way.")] = False,
    clear: Annotated[Optional[str], typer.Option(help="Delete these folders of the cache (comma-separated, e.g. decoded,statistics), or all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what ganbench's cache folder holds (size per folder), prune stale decoded images or clear folders.

    The folder is $GANBENCH_CACHE_DIR, else $XDG_CACHE_HOME/ganbench, else ~/.cache/ganbench; all of it can be made again."""
    from ganbench import cache as cache_module
    from ganbench.datasets import cache_dir
    from ganbench.datasets.files import stale_decoded_entries

    try:
        cleared = cache_module.clear(cfg.parse_list(clear, "clear")) if clear is not None else []
    except GanbenchError as exc:
        raise _fail(exc) from None
    stale = stale_decoded_entries()
    pruned = stale if prune else []
    for entry in pruned:
        for file in entry.files:
            file.unlink(missing_ok=True)
    size = cache_module.format_size
    if as_json:
        print(json.dumps({
            "cache_dir": str(cache_dir()), "cleared": [row.name for row in cleared],
            "pruned": [{"files": [str(f) for f in e.files], "reason": e.reason} for e in pruned],
            "stale": [] if prune else [{"files": [str(f) for f in e.files], "reason": e.reason} for e in stale],
            "folders": [vars(row) for row in cache_module.usage()],
        }, indent=2))
        return
    for row in (row for row in cleared if row.files):
        stderr.print(f"cleared {row.name}: {row.files} file(s), {size(row.size)}", highlight=False, soft_wrap=True)
    for entry in pruned:
        stderr.print(f"pruned {entry.files[0].name}: {entry.reason}", highlight=False, soft_wrap=True)
    rows = cache_module.usage()
    table = _table(["Folder", "Files", "Size", "Holds"],
                   [[row.name, str(row.files), size(row.size), row.holds] for row in rows])
    caption = f"Total {size(sum(row.size for row in rows))}. Clear with: ganbench cache --clear FOLDER[,FOLDER] or all."
    if stale and not prune:
        caption += (f"\n{len(stale)} decoded entr{'y' if len(stale) == 1 else 'ies'} "
                    f"({size(sum(e.size for e in stale))}) will not be used again (source gone or changed, or a "
                    "decode killed half-way): ganbench cache --prune deletes them.")
    _print_table(f"Cache {cache_dir()}", table, caption)


def _figure(figure: dict[str, float]) -> str:
    spread = f" ± {figure['spread']:g}" if "spread" in figure else ""
    return f"{figure['value']:g}{spread}"


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Installed plugins: package, version, the hooks each implements and what it provides.

    When the plugins' registrations clash (two register the same name), the plugins are
    still listed, by their hooks, and the clash is reported: exit code 1."""
    failure: GanbenchError | None = None
    try:
        contributions = _contributions(build_catalog())
    except GanbenchError as exc:
        contributions, failure = {}, exc
    rows = [{**row, "contributions": contributions.get(row["name"], {})} for row in plugin_report()]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table("plugins", _table(["plugin", "package", "version", "provides"],
                                       [[row["name"], row["package"], row["version"] or "–", _provides(row)]
                                        for row in rows]))
    if failure is not None:
        raise _fail(failure)


def _provides(row: dict[str, Any]) -> str:
    """``variant wgan-lp; metrics a, b``, then ``hook NAME`` for hooks that added to no list."""
    parts = [f"{kind if len(names) > 1 else kind.removesuffix('s')} {', '.join(names)}"
             for kind, names in row["contributions"].items()]
    used = {f"register_{kind}" for kind in row["contributions"]}
    parts += [f"hook {hook}" for hook in row["hooks"] if hook not in used]
    return "; ".join(parts) or "–"


def main() -> None:  # pragma: no cover - console entry for `python -m ganbench`
    app()


def add_plugin_commands(cli: typer.Typer) -> None:
    """Let every plugin add commands; one whose ``register_commands`` raises or exits gets one
    warning and loses the commands it added, and every other command works."""
    for impl in reversed(get_plugin_manager().hook.register_commands.get_hookimpls()):
        commands, groups = len(cli.registered_commands), len(cli.registered_groups)
        try:
            impl.function(cli=cli)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - foreign code must not break the CLI
            del cli.registered_commands[commands:], cli.registered_groups[groups:]
            warn_hook_failure(impl.plugin_name, "register_commands", describe_hook_failure(exc))


add_plugin_commands(app)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
