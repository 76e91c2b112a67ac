"""The report's search section (``ganbench search``): the best objective against the budget.

As Lucic et al. (2018) plot it: for a budget of k configurations, the best objective among k
trials drawn in a random order, averaged over many random orderings of the trials the search
made, with a bootstrap interval for that mean.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ganbench.report.plots import PALETTE, Plot, _figure, _label, _plot
from ganbench.storage import SEARCH_FILE, read_json, slug


def best_so_far_curve(values: Sequence[float | None], higher_is_better: bool, *, orderings: int = 500,
                      resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """The expected best objective after k trials, k = 1..len(values), over random orderings.

    ``values`` are the trials' objective values; ``None`` or NaN (a diverged or failed trial)
    never counts as best. For each of ``orderings`` random permutations of the trials the best
    value among the first k is taken; ``mean`` is its mean over the orderings in which one of
    the first k trials has a value, ``low``/``high`` a percentile-bootstrap interval of that
    mean (``resamples`` resamples of the orderings), and ``reached`` the share of orderings with
    a value by k. Columns: ``budget``, ``mean``, ``low``, ``high``, ``reached``. Deterministic
    for a given ``seed``.
    """
    data = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
    n = len(data)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((orderings, n)), axis=1)
    accumulate = np.fmax.accumulate if higher_is_better else np.fmin.accumulate  # fmax/fmin skip NaN
    best = accumulate(data[order], axis=1)  # orderings × budget
    rows = []
    picks = rng.integers(0, orderings, size=(resamples, orderings))
    alpha = (1 - confidence) / 2
    for k in range(n):
        column = best[:, k]
        reached = ~np.isnan(column)
        if not reached.any():
            rows.append({"budget": k + 1, "mean": math.nan, "low": math.nan, "high": math.nan, "reached": 0.0})
            continue
        with warnings.catch_warnings():  # a resample without any value is dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(column[picks], axis=1)
        means = means[~np.isnan(means)]
        rows.append({"budget": k + 1, "mean": float(np.nanmean(column)),
                     "low": float(np.quantile(means, alpha)), "high": float(np.quantile(means, 1 - alpha)),
                     "reached": float(reached.mean())})
    return pd.DataFrame(rows, columns=["budget", "mean", "low", "high", "reached"])


def load_search(results_dir: Path) -> dict[str, Any] | None:
    """The search record of ``results_dir`` (a ``ganbench search`` folder), or ``None``."""
    path = Path(results_dir) / SEARCH_FILE
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("studies"), list) else None


def ranked_run_ids(record: dict[str, Any]) -> set[str]:
    """The runs the report compares: the final re-runs when there are any, else each best trial."""
    final = {run_id for s in record["studies"] for run_id in s.get("final_run_ids") or []}
    return final or {s["best"]["run_id"] for s in record["studies"] if s.get("best")}


def search_plot(record: dict[str, Any], dataset: str) -> Plot:
    """The best objective against the budget for each variant searched on ``dataset``."""
    higher = record["direction"] == "maximize"
    objective = record["objective"]
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    studies = [s for s in record["studies"] if s["dataset"] == dataset]
    for index, study in enumerate(studies):
        values = [t["value"] for t in study["trials"]]
        curve = best_so_far_curve(values, higher)
        colour = PALETTE[index % len(PALETTE)]
        ax.plot(curve["budget"], curve["mean"], color=colour, marker="o", markersize=3,
                label=_label(study["variant"] + (" (defaults, no space)" if study["no_space"] else "")))
        ax.fill_between(curve["budget"], curve["low"], curve["high"], color=colour, alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("budget (configurations tried)")
    ax.set_ylabel(_label(f"best {objective} {'↑' if higher else '↓'}"))
    ax.grid(alpha=0.3)
    if studies:
        ax.legend(frameon=False, fontsize=8)
    title = f"Best {objective} against the budget on {dataset}"
    caption = (f"For each budget k, the best {objective} among k of the search's trials taken in a random order: "
               "mean over 500 random orderings, band: 95% bootstrap interval of that mean (Lucic et al. 2018). "
               "Diverged trials never count as best.")
    return _plot(fig, f"search-{slug(dataset)}", title, caption)


def search_section(record: dict[str, Any]) -> dict[str, Any]:
    """What the templates show of a search: settings, one row per variant and data set, plots."""
    rows = []
    for study in record["studies"]:
        best = study.get("best")
        rows.append({
            "variant": study["variant"], "dataset": study["dataset"], "trials": len(study["trials"]),
            "diverged": f"{100 * study.get('diverged_share', 0.0):.0f}%",
            "best": "n/a" if best is None else f"{best['value']:.4g}",
            "config": ("defaults (no search space)" if study["no_space"] else
                       "n/a" if best is None else ", ".join(f"{k}={_short(v)}" for k, v in best["params"].items())),
            "space": ", ".join(f"{k}={v}" for k, v in study["space"].items()) or "none",
            "final": len(study.get("final_run_ids") or []),
        })
    pruner = record.get("pruner")
    plots = [search_plot(record, d) for d in dict.fromkeys(s["dataset"] for s in record["studies"])]
    return {
        "objective": record["objective"], "direction": "higher is better" if record["direction"] == "maximize"
        else "lower is better", "sampler": record["sampler"], "seed": record["seed"], "budget": record["budget"],
        "final_seeds": record.get("final_seeds", 0), "rows": rows, "plots": plots,
        "pruning": (f"{pruner['name']} pruning on {pruner['value']} every {pruner['every']} steps: "
                    f"{pruner['pruned']} trial(s) stopped early" if pruner
                    else "none: every trial was trained for all its steps"),
        "ranked": ("the best configuration of each variant re-run with "
                   f"{record.get('final_seeds', 0)} fresh seed(s)" if any(r["final"] for r in rows)
                   else "the best trial of each variant (one seed)"),
    }


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


__all__ = ["best_so_far_curve", "load_search", "ranked_run_ids", "search_plot", "search_section"]
