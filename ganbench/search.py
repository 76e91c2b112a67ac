"""``ganbench search``: each variant gets the same number of tuned configurations (Lucic et al. 2018).

For every variant × data set, an Optuna study draws ``budget`` configurations from the
variant's search space (:mod:`ganbench.spaces`); each is trained as an ordinary run by
:func:`ganbench.runner.run_sweep` into ``SWEEP/trials/`` (finished runs are skipped, so a search
is resumed by running it again, and executors apply). The objective's direction is the one its
metric declares. Optionally the best configuration of each variant is re-run with fresh seeds
into ``SWEEP/final/``. The search's record (trials, configurations, values, sampler, seed) is
``SWEEP/search.json``, written atomically after every wave of trials.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from ganbench.catalog import Catalog
from ganbench.config import RunConfig, SweepConfig, field_types, resolve_runs, variant_params
from ganbench.errors import UsageError
from ganbench.executors import DEFAULT_EXECUTOR, Executor, make_executor, opened
from ganbench.runner import run_sweep
from ganbench.spaces import Space, check_space_fits, declared_spaces, parse_space
from ganbench.storage import EVALUATIONS_FILE, SEARCH_FILE, write_json
from ganbench.tasks import RunRecord

SAMPLERS = ("random", "qmc", "tpe")
PRUNERS = ("median", "asha")
TRIALS_FOLDER, FINAL_FOLDER = "trials", "final"


@dataclass(frozen=True)
class SearchSettings:
    """What ``ganbench search`` does besides the sweep: the budget, objective, sampler and seeds.

    ``seed`` seeds the sampler and is the training seed of every trial; the final runs use the
    seeds ``seed + 1`` to ``seed + final_seeds``, none of which a trial was selected on.
    """

    budget: int
    objective: str
    sampler: str = "tpe"
    seed: int = 0
    final_seeds: int = 0
    pruner: str | None = None  # median or asha: stop weak trials at their evaluations over training

    def validate(self) -> None:
        if self.budget < 1:
            raise UsageError(f"--budget must be at least 1 configuration per variant, got {self.budget}.")
        if self.sampler not in SAMPLERS:
            raise UsageError(f"unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}.")
        if self.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {self.seed}.")
        if self.final_seeds < 0:
            raise UsageError(f"--final-seeds must be 0 (no final runs) or more, got {self.final_seeds}.")
        if self.pruner is not None and self.pruner not in PRUNERS:
            raise UsageError(f"unknown pruner {self.pruner!r}; use one of {', '.join(PRUNERS)}.")


@dataclass
class SearchResult:
    """The search's record (as saved in ``search.json``) and the runs it ranks."""

    record: dict[str, Any]
    best_runs: list[RunRecord] = field(default_factory=list)  # the best trial of each variant
    final_runs: list[RunRecord] = field(default_factory=list)  # its re-runs with fresh seeds


def search_spaces(sweep: SweepConfig, catalog: Catalog) -> dict[str, dict[str, Space]]:
    """Each variant's search space: its declared spaces, replaced by ``sweep.spaces``
    (``--space``, ``[search.VARIANT]``), less the fields that ``--set`` fixes.

    :raises UsageError: a space names a variant outside the search or an unknown field, or is
        empty, invalid or of the wrong type for its field.
    """
    for variant in sweep.spaces:
        if variant not in sweep.variants:
            raise UsageError(f"a search space is given for variant {variant!r}, which is not searched "
                             f"(variants: {', '.join(sweep.variants)}); add it to --variants or drop the space.")
    spaces = {}
    for variant in sweep.variants:
        params_cls = catalog.variants.get(variant).Params
        types = field_types(params_cls)
        space = dict(declared_spaces(params_cls))
        for name, text in sweep.spaces.get(variant, {}).items():
            where = f"search space {variant}.{name}"
            if name not in types:
                raise UsageError(f"{where}: variant {variant!r} has no hyperparameter {name!r}; "
                                 f"it has {', '.join(types)}.")
            space[name] = parse_space(text, where)
            check_space_fits(space[name], types[name], where)
        fixed = sweep.variant_params.get(variant, {})
        spaces[variant] = {name: s for name, s in space.items() if name not in fixed}
    return spaces


def objective_direction(objective: str, runs: list[RunConfig], catalog: Catalog) -> bool:
    """Whether a higher ``objective`` is better, as the metric that reports it declares.

    :raises UsageError: no metric of some run reports ``objective``, or its metric does not rank it.
    """
    for run in runs:
        declared = {key: higher for name in run.metrics for key, higher in catalog.metrics.get(name).higher_is_better.items()}
        if objective not in declared:
            raise UsageError(f"--objective {objective!r} is reported by no metric of the runs on {run.dataset} "
                             f"(metrics {', '.join(run.metrics) or 'none'}); use one of "
                             f"{', '.join(sorted(k for k, h in declared.items() if h is not None)) or 'none'}.")
        if declared[objective] is None:
            raise UsageError(f"--objective {objective!r} is not ranked by its metric (neither higher nor lower is "
                             "better); choose a value marked ↑ or ↓ in `ganbench list metrics`.")
    return bool(declared[objective])


def make_sampler(name: str, seed: int, budget: int) -> Any:
    """The Optuna sampler ``name``, seeded. TPE models the trials after the first
    ``min(10, max(2, budget // 4))`` random ones (Optuna's default 10 would leave small budgets random)."""
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":  # scrambled Sobol points; the first trial is random, then the sequence
        with warnings.catch_warnings():  # "experimental" since Optuna 3: nothing the user can act on
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(scramble=True, seed=seed, warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, budget // 4)))


def make_pruner(name: str, eval_every: int, budget: int) -> Any:
    """Optuna's median pruner (a trial stops when its value at a step is worse than the median
    of earlier trials' at that step; not before ``min(5, max(1, budget // 4))`` trials have
    finished) or ASHA (``SuccessiveHalvingPruner``: rungs at ``eval_every`` × 3^k steps, the best
    third of the trials at a rung go on)."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(1, budget // 4)))
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=eval_every, reduction_factor=3)


@dataclass
class PruneRule:
    """Stops a trial's run early (:attr:`ganbench.tasks.RunTask.stop_rule`): at each evaluation
    over training the objective is reported to a copy of the study as it stood when the trial
    started (``trials``: the finished and pruned ones), and the pruner decides. Picklable, so
    the decision is made where the run is, under any executor."""

    pruner: Any
    direction: str
    objective: str
    trials: list[Any]
    reported: list[tuple[int, float]] = field(default_factory=list)

    def __call__(self, step: int, values: dict[str, float]) -> bool:
        import optuna

        value = values.get(self.objective)
        if value is None or not math.isfinite(value):
            return False
        self.reported.append((step, float(value)))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction=self.direction, pruner=self.pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.add_trials(self.trials)
        trial = study.ask()
        for reported_step, reported in self.reported:
            trial.report(reported, reported_step)
        return bool(trial.should_prune())


def _over_training(run: RunRecord, objective: str) -> list[tuple[int, float]]:
    """The objective at each evaluation over training of a run (``evaluations.csv``), by step."""
    path = run.run_dir / EVALUATIONS_FILE
    if not path.is_file():
        return []
    frame = pd.read_csv(path)
    if objective not in frame:
        return []
    found: dict[int, float] = {}
    for step, value in zip(frame["step"], frame[objective]):
        if math.isfinite(value):
            found.setdefault(int(step), float(value))
    return sorted(found.items())


def waves(sampler: str, budget: int, pruning: bool = False) -> list[int]:
    """How many trials of each study are drawn before their results are told back: all at once
    for random sampling, the first alone for QMC (Optuna infers the space from it), one by one
    for TPE, which learns from every result, and for any sampler when pruning, which judges a
    trial against those before it."""
    if pruning:
        return [1] * budget
    if sampler == "random":
        return [budget]
    if sampler == "qmc":
        return [1, budget - 1] if budget > 1 else [1]
    return [1] * budget


@dataclass(frozen=True)
class CheckedSearch:
    """A search that :func:`check_search` accepted, as :func:`run_search` runs it."""

    settings: SearchSettings
    spaces: dict[str, dict[str, Any]]  # by variant: field -> space
    base: SweepConfig  # the sweep with the search's seed
    base_runs: list[RunConfig]  # one per variant × data set
    higher_is_better: bool  # of the objective


def check_search(sweep: SweepConfig, catalog: Catalog, settings: SearchSettings) -> CheckedSearch:
    """Check a search before anything is written: the settings, every space, the objective (and
    that it can prune).

    :raises UsageError: what is wrong, naming what was expected.
    """
    settings.validate()
    spaces = search_spaces(sweep, catalog)
    base = copy.deepcopy(sweep)
    base.seeds = [settings.seed]
    base_runs = resolve_runs(base, catalog)
    higher = objective_direction(settings.objective, base_runs, catalog)
    if settings.pruner is not None:
        check_prunable(settings.objective, base_runs, catalog)
    return CheckedSearch(settings, spaces, base, base_runs, higher)


def run_search(search: CheckedSearch, catalog: Catalog, sweep_dir: Path, *,
               executor: Executor | None = None, data_root: Path | None = None, quiet: bool = False,
               console: Console | None = None, force: bool = False) -> SearchResult:
    """Run the search that :func:`check_search` accepted (every variant × data set of its
    sweep) into ``sweep_dir``; see the module docstring. Checked first, separately, so that bad
    input makes no folder.

    A variant whose space is empty (none declared or given, or every field fixed by ``--set``)
    is trained once with its settings, and the record says so. A trial that diverges or fails
    has no objective value; it is told to Optuna as failed and counts in the diverged share.
    """
    import optuna

    settings, spaces, base, base_runs, higher = (search.settings, search.spaces, search.base, search.base_runs,
                                                  search.higher_is_better)
    executor = executor or make_executor(catalog, DEFAULT_EXECUTOR)
    with opened(executor, catalog):  # open once for every wave of trials and the final runs (Ray starts once, not per wave)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        console = console or Console(stderr=True, markup=False, emoji=False)  # names print as given
        direction = "maximize" if higher else "minimize"
        studies = []
        for run in base_runs:
            space = spaces[run.variant]
            if not space:
                console.print(f"variant {run.variant} has no search space (none declared or given, or all fixed by "
                              "--set): its settings are used, in one run.", highlight=False, soft_wrap=True)
            studies.append({
                "variant": run.variant, "dataset": run.dataset, "space": {k: str(v) for k, v in space.items()},
                "no_space": not space, "base": run, "distributions": {k: v.distribution() for k, v in space.items()},
                "optuna": optuna.create_study(
                    direction=direction, sampler=make_sampler(settings.sampler, settings.seed, settings.budget),
                    pruner=optuna.pruners.NopPruner() if settings.pruner is None
                    else make_pruner(settings.pruner, base.train.eval_every, settings.budget)),
                "trials": [],
            })
        record = {"objective": settings.objective, "direction": direction, "sampler": settings.sampler,
                  "seed": settings.seed, "budget": settings.budget, "final_seeds": settings.final_seeds,
                  "pruner": None if settings.pruner is None else {
                      "name": settings.pruner, "every": base.train.eval_every, "value": settings.objective,
                      "pruned": 0},
                  "command": list(sys.argv), "studies": []}
        trials_dir = Path(sweep_dir) / TRIALS_FOLDER
        runs_options = {"force": force, "data_root": data_root, "quiet": quiet, "console": console,
                        "executor": executor}
        records: dict[str, RunRecord] = {}
        for size in waves(settings.sampler, settings.budget, settings.pruner is not None):
            asked, stop_rules = [], {}
            for study in studies:
                count = min(size, 1 - len(study["trials"])) if study["no_space"] else size
                for _ in range(max(count, 0)):
                    trial = study["optuna"].ask(study["distributions"])
                    config = dataclasses.replace(study["base"], variant_params=variant_params(
                        catalog, study["variant"], {**study["base"].variant_params, **trial.params}))
                    asked.append((study, trial, config))
                    if settings.pruner is not None:
                        stop_rules[config.run_id] = PruneRule(
                            make_pruner(settings.pruner, base.train.eval_every, settings.budget), direction,
                            settings.objective, study["optuna"].get_trials(deepcopy=True, states=(
                                optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)))
            configs = list({config.run_id: config for _, _, config in asked if config.run_id not in records}.values())
            if configs:
                for done in run_sweep(configs, catalog, trials_dir, stop_rules=stop_rules, **runs_options):
                    records[done.config.run_id] = done
            for study, trial, config in asked:
                status, value = _outcome(records[config.run_id], settings.objective)
                reports = _over_training(records[config.run_id], settings.objective)
                if settings.pruner is not None:  # replayed, so the study holds what the pruner saw (its rungs)
                    for step, reported in reports:
                        if step < config.steps:
                            trial.report(reported, step)
                            trial.should_prune()
                if status == "pruned":
                    study["optuna"].tell(trial, state=optuna.trial.TrialState.PRUNED)
                    record["pruner"]["pruned"] += 1
                elif value is None:
                    study["optuna"].tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study["optuna"].tell(trial, value)
                study["trials"].append({"number": trial.number, "params": dict(trial.params), "run_id": config.run_id,
                                        "status": status, "value": value,
                                        "steps": reports[-1][0] if status == "pruned" and reports else config.steps})
            record["studies"] = [_study_record(s, higher) for s in studies]
            write_json(Path(sweep_dir) / SEARCH_FILE, record)

        result = SearchResult(record)
        finals: list[RunConfig] = []
        for study, summary in zip(studies, record["studies"]):
            best = summary["best"]
            if best is None:
                console.print(f"variant {study['variant']} on {study['dataset']}: no trial reached a value of "
                              f"{settings.objective}; it has no best configuration.", highlight=False, soft_wrap=True)
                continue
            best_config = records[best["run_id"]].config
            result.best_runs.append(records[best["run_id"]])
            seeds = range(settings.seed + 1, settings.seed + 1 + settings.final_seeds)
            summary["final_run_ids"] = [dataclasses.replace(best_config, seed=s).run_id for s in seeds]
            finals += [dataclasses.replace(best_config, seed=s) for s in seeds]
        if finals:
            result.final_runs = run_sweep(finals, catalog, Path(sweep_dir) / FINAL_FOLDER, **runs_options)
        write_json(Path(sweep_dir) / SEARCH_FILE, record)
        return result


def check_prunable(objective: str, runs: list[RunConfig], catalog: Catalog) -> None:
    """Refuse pruning without evaluations over training, or on a value not computed over training."""
    for run in runs:
        if run.eval_every < 1:
            raise UsageError("--pruner needs --eval-every N: the trials are judged on the objective every N steps.")
        metric = next(name for name in run.metrics if objective in catalog.metrics.get(name).higher_is_better)
        if not catalog.metrics.get(metric).over_training:
            raise UsageError(f"--pruner cannot judge trials on {objective!r}: metric {metric!r} is computed only at "
                             "the end of a run; prune on a value of a metric computed over training (e.g. w1, "
                             "modes_covered, domain_fid, fid) or leave --pruner out.")


def _outcome(run: RunRecord, objective: str) -> tuple[str, float | None]:
    """A trial's status (finished, diverged, pruned or failed) and objective value (``None``:
    none; a pruned trial has none, as it never reached the end)."""
    status = run.summary.get("status", run.status) if run.status == "skipped" else run.status
    value = (run.summary.get("metrics") or {}).get(objective) if status == "finished" else None
    if value is None or not math.isfinite(value):
        return status, None
    return status, float(value)


def _study_record(study: dict[str, Any], higher: bool) -> dict[str, Any]:
    """One study's part of ``search.json``: its space, trials, best trial and diverged share."""
    trials = study["trials"]
    valued = [t for t in trials if t["value"] is not None]
    best = (max if higher else min)(valued, key=lambda t: t["value"]) if valued else None
    return {"variant": study["variant"], "dataset": study["dataset"], "space": study["space"],
            "no_space": study["no_space"], "trials": trials, "best": best,
            "diverged_share": sum(t["status"] == "diverged" for t in trials) / len(trials) if trials else 0.0,
            "pruned": sum(t["status"] == "pruned" for t in trials),
            "failed": sum(t["status"] == "failed" for t in trials)}


__all__ = ["PRUNERS", "SAMPLERS", "SEARCH_FILE", "PruneRule", "SearchResult", "SearchSettings", "check_prunable",
           "make_pruner", "make_sampler", "objective_direction", "run_search", "search_spaces", "waves"]
