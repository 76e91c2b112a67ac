"""``volatility``: how much the per-batch losses fluctuate.

Raw figures (the course's definition): the sample standard deviation of the per-batch G and
D losses, over the whole run (``g_std``, ``d_std``) and over its second half (``*_std_late``).
Raw figures depend on the loss's scale: a BCE loss and a Wasserstein loss cannot be compared
by them.

Scale-free figure: the *roughness* over the second half,
``std(x[t+1] - x[t]) / (sqrt(2) * std(x))``. It is unchanged when the loss is multiplied by a
constant or shifted, so it compares losses of any scale. It equals sqrt(1 - r1), r1 being
the lag-1 autocorrelation: about 1 for batch-to-batch noise around a level, towards 0 for a
curve that moves smoothly, up to sqrt(2) for a loss that flips from one batch to the next.

Each history row holds the loss of one generator batch and of the last critic batch before
it: no averaging over the ``n_critic`` critic batches, which would shrink the spread of the
variants with ``n_critic > 1``.
"""

from __future__ import annotations

import math

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.metrics import EvaluationContext, Metric

np = lazy_import("numpy")


def loss_std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1); NaN for fewer than 2 values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def roughness(values: np.ndarray) -> float:
    """std of first differences over sqrt(2)·std: scale- and shift-free; NaN if undefined."""
    if len(values) < 3:
        return math.nan
    spread = np.std(values, ddof=1)
    if spread == 0:
        return math.nan
    return float(np.std(np.diff(values), ddof=1) / (math.sqrt(2) * spread))


class Volatility(Metric):
    name = "volatility"
    description = "Raw std of per-batch G/D losses (all, 2nd half) and scale-free roughness."
    requires = frozenset({"history"})
    section = "stability"
    higher_is_better = {
        "g_std": False, "d_std": False, "g_std_late": False, "d_std_late": False,
        "g_roughness": False, "d_roughness": False,
    }
    labels = {
        "g_std": "G loss std", "d_std": "D loss std",
        "g_std_late": "G loss std (2nd half)", "d_std_late": "D loss std (2nd half)",
        "g_roughness": "G roughness (scale-free)", "d_roughness": "D roughness (scale-free)",
    }
    headline = frozenset({"g_std", "d_std", "g_roughness", "d_roughness"})
    notes = {key: ("Raw standard deviations depend on each loss's scale (a BCE loss and a Wasserstein "
                   "estimate differ by orders of magnitude); the roughness measures are scale-free and "
                   "compare variants fairly.") for key in ("g_std", "d_std")}

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        values = {}
        for side in ("g", "d"):
            series = context.history[f"{side}_loss"].to_numpy(dtype=np.float64)
            series = series[np.isfinite(series)]
            late = series[len(series) // 2:]
            values[f"{side}_std"] = loss_std(series)
            values[f"{side}_std_late"] = loss_std(late)
            values[f"{side}_roughness"] = roughness(late)
        return values


@hookimpl
def register_metrics(register):
    register(Volatility)
