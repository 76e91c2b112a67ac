"""Statistics over seeds for reports: means with 95% confidence intervals, ranks, pairwise tests."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
MIN_SEEDS_FOR_CLAIMS = 3


def confidence_interval(values: np.ndarray) -> tuple[float, float]:
    """The two-sided 95% t-interval of the mean; NaN when fewer than two values."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return math.nan, math.nan
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean - half, mean + half


def summarise(long: pd.DataFrame, higher_is_better: dict[str, bool | None]) -> pd.DataFrame:
    """One row per (value, variant): n, mean, std, 95% CI, rank (1 = best), ``best`` and ``tied``.

    Equal means share a rank (``tied`` is True for each of them; several variants may be
    ``best``), but when every variant with a value ties, none is ``best``. A variant without a
    value for a metric (NaN mean) gets no rank and is never best.

    :param long: rows of one data set with ``variant``, ``metric`` and ``value`` columns.
    :param higher_is_better: direction of each value; values without one get no rank.
    """
    rows = []
    for (metric, variant), group in long.groupby(["metric", "variant"], sort=True):
        values = group["value"].to_numpy(dtype=float)
        finite = values[~np.isnan(values)]
        low, high = confidence_interval(values)
        rows.append({
            "metric": metric, "variant": variant, "n": len(finite),
            "mean": float(finite.mean()) if len(finite) else math.nan,
            "std": float(finite.std(ddof=1)) if len(finite) > 1 else math.nan,
            "ci_low": low, "ci_high": high,
        })
    table = pd.DataFrame(rows, columns=["metric", "variant", "n", "mean", "std", "ci_low", "ci_high"])
    table["rank"] = math.nan
    for metric, index in table.groupby("metric").groups.items():
        direction = higher_is_better.get(metric)
        if direction is None:
            continue
        means = table.loc[index, "mean"]
        table.loc[index, "rank"] = means.rank(ascending=not direction, method="min")
    table["tied"] = table["rank"].notna() & table.duplicated(["metric", "rank"], keep=False)
    ranked = table[table["rank"].notna()]
    all_tied = ranked.groupby("metric")["rank"].transform("max") == 1
    table["best"] = (table["rank"] == 1) & ~table.index.isin(ranked.index[all_tied])
    return table


def pairwise_tests(long: pd.DataFrame, higher_is_better: dict[str, bool | None]) -> pd.DataFrame:
    """Welch's t-test and the Mann-Whitney U test for every pair of variants and ranked value.

    ``verdict`` names the better variant when Welch's test gives p < 0.05, says "no
    significant difference" otherwise, and "too few seeds" when either side has fewer than two
    values. When neither variant varies over seeds (e.g. classes covered 10, 10, 10 against
    9, 9, 9) the t-test is undefined: ``welch_p`` is NaN and the verdict says that one variant
    was better in every seed, leaving the Mann-Whitney p-value as the test. A pair where a
    variant has no value at all (a GP share of a variant without a penalty) is left out.
    """
    rows = []
    for metric, frame in long.groupby("metric", sort=True):
        direction = higher_is_better.get(metric)
        if direction is None:
            continue
        samples = {v: g["value"].dropna().to_numpy(dtype=float) for v, g in frame.groupby("variant", sort=True)}
        for a, b in itertools.combinations(sorted(samples), 2):
            x, y = samples[a], samples[b]
            if min(len(x), len(y)) == 0:
                continue
            row = {"metric": metric, "a": a, "b": b, "n_a": len(x), "n_b": len(y),
                   "mean_a": x.mean() if len(x) else math.nan, "mean_b": y.mean() if len(y) else math.nan,
                   "welch_p": math.nan, "mann_whitney_p": math.nan}
            if min(len(x), len(y)) < 2:
                row["verdict"] = "too few seeds"
            else:
                better = a if (x.mean() > y.mean()) == direction else b
                row["mann_whitney_p"] = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
                if np.ptp(np.concatenate([x, y])) == 0:
                    row["welch_p"] = 1.0
                    row["verdict"] = "no significant difference"
                elif np.ptp(x) == 0 and np.ptp(y) == 0:
                    row["verdict"] = f"{better} better in every seed (no spread: t-test undefined)"
                else:
                    with warnings.catch_warnings():
                        # SciPy warns of precision loss when one side barely varies (0, 0, 1e-4);
                        # the p-value is still right to the precision reported (3 digits).
                        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
                        row["welch_p"] = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
                    row["verdict"] = f"{better} better" if row["welch_p"] < ALPHA else "no significant difference"
            rows.append(row)
    return pd.DataFrame(rows, columns=["metric", "a", "b", "n_a", "n_b", "mean_a", "mean_b",
                                       "welch_p", "mann_whitney_p", "verdict"])


def untested_pairs_note(tests: pd.DataFrame) -> str | None:
    """One line for the pairs that could not be tested (fewer than two seeds on a side), which
    the pairwise table leaves out; None when every pair was tested."""
    untested = tests[tests["verdict"] == "too few seeds"]
    if untested.empty:
        return None
    pairs = len(untested[["a", "b"]].drop_duplicates())
    subject = "No pair of variants" if len(untested) == len(tests) else f"{pairs} pair(s) of variants"
    return (f"{subject} could be tested: a test needs at least 2 seeds per variant "
            f"({len(untested)} comparison(s) left out). Run more seeds (--seeds 0-4) to test the differences.")


def seed_warning(seeds_per_variant: dict[str, int]) -> str | None:
    """A warning when too few seeds make confidence intervals and tests meaningless."""
    fewest = min(seeds_per_variant.values(), default=0)
    if fewest >= MIN_SEEDS_FOR_CLAIMS:
        return None
    return (f"Only {fewest} seed(s) for some variants: confidence intervals and significance tests "
            f"need at least {MIN_SEEDS_FOR_CLAIMS} seeds per variant (5 or more for claims you "
            f"would publish); treat the differences below as anecdotes. Add seeds with "
            f"--seeds 0-4.")
