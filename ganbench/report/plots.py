"""Report figures of one data set: loss curves, volatility, cost and a metric over training.

Every figure is a :class:`matplotlib.figure.Figure` rendered by Agg under matplotlib's default
style, so the same runs give byte-identical PNGs whatever the user's ``matplotlibrc``.
Variant names are arbitrary plugin strings: they pass through :func:`_label`, so ``$`` never
starts mathtext and a leading ``_`` does not hide a legend entry.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ganbench.report.runs import RunData
from ganbench.report.statistics import confidence_interval
from ganbench.storage import slug
from ganbench.tables import value_info
from ganbench.values import ValueInfo

DPI = 100
PALETTE = (  # tab10, then the paler tab20 shades
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)
SMOOTHING_SHARE = 0.02  # rolling-mean window as a share of a run's steps
MAX_SEEDS_OVERLAID = 3  # loss curves of at most this many (lowest) seeds per variant
SEED_STYLES = ("-", "--", ":")
STYLE: dict[str, Any] = {"text.usetex": False, "savefig.dpi": DPI, "font.size": 9}


@dataclass(frozen=True)
class Plot:
    """One rendered figure: ``name`` is a file stem, ``png`` the image's bytes."""

    name: str
    title: str
    caption: str
    png: bytes


def dataset_plots(runs: list[RunData], dataset: str, catalog: Any | None = None) -> list[Plot]:
    """The figures of ``dataset`` over its finished and diverged runs; absent data, no figure.

    :param runs: runs of any data sets (all of them fix the variants' colours).
    :param catalog: the plugin catalog, for what the metrics declare (labels, headlines);
        without it, values are shown under their keys.
    """
    done = [r for r in runs if r.dataset == dataset and r.status != "failed"]
    if not done:
        return []
    colours = variant_colours(runs)
    info = value_info(catalog)
    labels = {key: value.label for key, value in info.items()}
    stem = slug(dataset)
    makers: list[tuple[str, Callable[..., Plot | None]]] = [
        ("losses", _loss_plot), ("volatility", _volatility_plot), ("cost", _cost_plot),
        ("over-training", partial(_training_plot, info=info)),
    ]
    plots = []
    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        for kind, make in makers:
            plot = make(done, dataset, f"{kind}-{stem}", colours, labels)
            if plot is not None:
                plots.append(plot)
    return plots


def sample_images(runs: list[RunData], dataset: str) -> list[tuple[str, bytes]]:
    """``(variant, samples.png bytes)`` of each variant's lowest seed that has one, by variant."""
    chosen: dict[str, RunData] = {}
    for run in sorted(runs, key=lambda r: (r.variant, r.seed, r.run_id)):
        if run.dataset == dataset and run.status != "failed" and run.samples_png is not None:
            chosen.setdefault(run.variant, run)
    return [(variant, chosen[variant].samples_png.read_bytes()) for variant in sorted(chosen)]


def variant_colours(runs: list[RunData]) -> dict[str, str]:
    """A fixed colour per variant: sorted names in :data:`PALETTE` order (cycled past 20)."""
    names = sorted({r.variant for r in runs})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def smoothing_window(steps: int) -> int:
    """Rolling-mean window: :data:`SMOOTHING_SHARE` of the steps, at least 1."""
    return max(1, round(SMOOTHING_SHARE * steps))


def mean_ci(values: Sequence[Any]) -> tuple[float, float, int]:
    """``(mean, 95% CI half-width, n)`` over the finite values; NaN half-width below 2 values."""
    finite = _finite(values)
    if not len(finite):
        return math.nan, math.nan, 0
    low, high = confidence_interval(finite)
    return float(finite.mean()), (high - low) / 2, len(finite)


# --- figures -------------------------------------------------------------------------------


def _loss_plot(runs: list[RunData], dataset: str, name: str, colours: dict[str, str],
               labels: dict[str, str]) -> Plot | None:
    by_variant = _by_variant([r for r in runs if r.history is not None and len(r.history)])
    columns = [c for c in ("g_loss", "d_loss")
               if any(c in r.history.columns for rs in by_variant.values() for r in rs)]
    if not columns:
        return None
    fig = _figure(10, 0.6 + 2.1 * len(by_variant))
    axes = fig.subplots(len(by_variant), len(columns), sharex=True, squeeze=False)
    windows = set()
    for row, (variant, variant_runs) in enumerate(by_variant.items()):
        shown = variant_runs[:MAX_SEEDS_OVERLAID]
        for col, column in enumerate(columns):
            ax = axes[row][col]
            values = []
            for i, run in enumerate(shown):
                if column not in run.history.columns:
                    continue
                steps = _steps(run.history)
                loss = _numeric(run.history[column])
                window = smoothing_window(len(loss))
                windows.add(window)
                smooth = loss.rolling(window, center=True, min_periods=1).mean()
                colour = colours[variant]
                ax.plot(steps, loss, color=colour, linewidth=0.5, alpha=0.25)
                seed = f"seed {run.seed}" + (" (diverged)" if run.status == "diverged" else "")
                ax.plot(steps, smooth, color=colour, linewidth=1.4, linestyle=SEED_STYLES[i], label=seed)
                values.append(loss.to_numpy())
            _robust_ylim(ax, values)
            ax.set_title(_label(f"{variant}: {'G' if column == 'g_loss' else 'D'} loss"), loc="left")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="upper right", fontsize=7, frameon=False)
        for ax in axes[row]:
            if not ax.lines:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    window_text = ", ".join(str(w) for w in sorted(windows))
    caption = (f"Per-batch G and D losses (thin, faint) and their centred rolling mean over "
               f"{SMOOTHING_SHARE:.0%} of the steps (window {window_text} steps, thick), one row "
               f"per variant, up to {MAX_SEEDS_OVERLAID} lowest seeds overlaid by line style. "
               "The y range covers the 1st-99th percentile of the losses, so a divergence spike "
               "may run off the panel.")
    return _plot(fig, name, f"Loss curves on {dataset}", caption)


def _volatility_plot(runs: list[RunData], dataset: str, name: str, colours: dict[str, str],
                     labels: dict[str, str]) -> Plot | None:
    panels = [
        ("raw std (depends on the loss scale)", [("g_std", "G"), ("d_std", "D")]),
        ("roughness (scale-free)", [("g_roughness", "G"), ("d_roughness", "D")]),
    ]
    return _bar_plot(
        runs, name, f"Loss volatility on {dataset}", colours, panels, section="metrics",
        caption=("Left: sample std of the per-batch G and D losses; it depends on each variant's "
                 "loss scale, so compare it only between variants with the same loss. Right: "
                 "roughness, std of batch-to-batch differences over sqrt(2)·std in the second half "
                 "of training; scale-free, about 1 for pure noise, lower for smooth curves. "
                 + _BAR_NOTE),
    )


def _cost_plot(runs: list[RunData], dataset: str, name: str, colours: dict[str, str],
               labels: dict[str, str]) -> Plot | None:
    panels = [
        ("time (s)", [("wall_clock_s", "wall-clock"), ("train_time_s", "training")]),
        ("throughput (steps/s)", [("steps_per_s", "steps/s")]),
        ("gradient-penalty share of critic time", [("gp_share", "GP share")]),
        ("critic step time ratio with/without GP", [("gp_step_ratio", "GP step ratio")]),
    ]
    return _bar_plot(
        runs, name, f"Cost on {dataset}", colours, panels, section="timings",
        caption=("Wall-clock time of the whole run and time spent training, training steps per "
                 "second, and for the variants with a gradient penalty its share of the critic's "
                 "time and how much slower a critic step is with it (n/a: no penalty). "
                 + _BAR_NOTE),
    )


_BAR_NOTE = ("Bars: mean over seeds; error bars: 95% t-interval of the mean (none with one seed); "
             "dots: single seeds.")


def _training_plot(runs: list[RunData], dataset: str, name: str, colours: dict[str, str],
                   labels: dict[str, str], *, info: dict[str, ValueInfo]) -> Plot | None:
    evaluated = [r for r in runs if r.evaluations is not None and "step" in r.evaluations.columns]
    key = _eval_key(evaluated, info)
    if key is None:
        return None
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    for variant, variant_runs in _by_variant(evaluated).items():
        curves = {run.seed: _curve(run.evaluations, key)
                  for run in variant_runs if key in run.evaluations.columns}
        if not curves:
            continue
        table = pd.DataFrame(curves).sort_index().dropna(how="all")
        if table.empty:
            continue
        colour = colours[variant]
        seeds = table.shape[1]
        ax.plot(table.index, table.mean(axis=1), color=colour, marker="o", markersize=3,
                label=_label(f"{variant} ({seeds} seed{'s' if seeds > 1 else ''})"))
        if seeds > 1:
            ax.fill_between(table.index, table.min(axis=1), table.max(axis=1), color=colour,
                            alpha=0.2, linewidth=0)
    if not ax.lines:
        return None
    label = labels.get(key, key)
    ax.set_xlabel("step")
    ax.set_ylabel(_label(label))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    caption = (f"{label} during training: mean over the seeds evaluated at each step (line) and "
               "their min-max range (band).")
    return _plot(fig, name, f"{label} over training on {dataset}", caption)


# --- helpers -------------------------------------------------------------------------------


def _bar_plot(runs: list[RunData], name: str, title: str, colours: dict[str, str],
              panels: list[tuple[str, list[tuple[str, str]]]], section: str, caption: str) -> Plot | None:
    """Grouped bars, one panel per entry of ``panels``; panels without any value are left out."""
    by_variant = _by_variant(runs)
    values = {  # (variant, key) -> values over seeds
        (variant, key): [r.summary.get(section, {}).get(key) for r in variant_runs]
        for variant, variant_runs in by_variant.items()
        for _, groups in panels for key, _ in groups
    }
    shown = [(heading, groups) for heading, groups in panels
             if any(len(_finite(values[v, key])) for v in by_variant for key, _ in groups)]
    if not shown:
        return None
    fig = _figure(min(4.2 * len(shown), 14), 4.2)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    width = 0.8 / len(by_variant)
    for ax, (heading, groups) in zip(axes, shown):
        for g, (key, _) in enumerate(groups):
            for v, variant in enumerate(by_variant):
                x = g - 0.4 + width * (v + 0.5)
                mean, half, n = mean_ci(values[variant, key])
                if n == 0:
                    ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, color="grey", rotation=90)
                    continue
                ax.bar(x, mean, width * 0.9, color=colours[variant],
                       label=_label(variant) if g == 0 else None)
                if math.isfinite(half):
                    ax.errorbar(x, mean, yerr=half, color="black", capsize=3, linewidth=1)
                seeds = _finite(values[variant, key])
                ax.plot([x] * len(seeds), seeds, "o", color="black", markersize=2.5, alpha=0.6)
        ax.set_xticks(range(len(groups)), [_label(text) for _, text in groups])
        ax.set_xlim(-0.5, len(groups) - 0.5)
        ax.set_title(heading, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.axhline(0, color="black", linewidth=0.6)
    handles = [(colours[v], _label(v)) for v in by_variant]
    fig.legend([Patch(color=c) for c, _ in handles], [t for _, t in handles],
               loc="outside lower center", ncols=min(len(handles), 5), frameon=False)
    return _plot(fig, name, title, caption)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plot(fig: Figure, name: str, title: str, caption: str) -> Plot:
    """Render ``fig`` to PNG bytes (no software tag, so identical runs give identical bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return Plot(name=name, title=title, caption=caption, png=buffer.getvalue())


def _by_variant(runs: list[RunData]) -> dict[str, list[RunData]]:
    """Runs grouped by variant (sorted), each group by seed."""
    groups: dict[str, list[RunData]] = {}
    for run in sorted(runs, key=lambda r: (r.variant, r.seed, r.run_id)):
        groups.setdefault(run.variant, []).append(run)
    return groups


def _eval_key(runs: list[RunData], info: dict[str, ValueInfo]) -> str | None:
    """The evaluated value the curve over training follows: the headline value of the highest
    ``headline_priority`` its metric declares, else the first evaluated headline, else the
    first evaluated value."""
    columns = [c for r in runs for c in r.evaluations.columns
               if c != "step" and _numeric(r.evaluations[c]).notna().any()]

    def rank(key: str) -> tuple[bool, int]:
        declared = info.get(key)
        return (declared.headline, declared.headline_priority) if declared else (False, 0)

    return max(columns, key=rank) if columns else None  # max keeps the first of equal ranks


def _steps(frame: pd.DataFrame) -> pd.Series:
    return _numeric(frame["step"]) if "step" in frame.columns else pd.Series(range(len(frame)), dtype=float)


def _curve(frame: pd.DataFrame, key: str) -> pd.Series:
    """Column ``key`` of ``frame`` indexed by step (rows without a step dropped, last of repeats kept)."""
    curve = pd.Series(_numeric(frame[key]).to_numpy(), index=_steps(frame).to_numpy())
    curve = curve[curve.index.notna()]
    return curve[~curve.index.duplicated(keep="last")]


def _numeric(series: pd.Series) -> pd.Series:
    """Floats with ``inf`` and non-numbers as NaN."""
    values = pd.to_numeric(series, errors="coerce").astype(float)
    return values.where(np.isfinite(values)).reset_index(drop=True)


def _finite(values: Sequence[Any]) -> np.ndarray:
    """The finite floats among ``values`` (``None`` and non-numbers dropped)."""
    numbers = np.array([float(v) if isinstance(v, (int, float)) else math.nan for v in values], dtype=float)
    return numbers[np.isfinite(numbers)]


def _robust_ylim(ax: Axes, series: list[np.ndarray]) -> None:
    """Limit the y axis to the 1st-99th percentile of ``series`` (padded) if that is narrower."""
    finite = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.array([])
    if len(finite) < 2:
        return
    low, high = np.percentile(finite, [1, 99])
    pad = 0.1 * (high - low) or 0.1 * max(abs(high), 1.0)
    ax.set_ylim(max(low - pad, finite.min() - pad), min(high + pad, finite.max() + pad))


def _label(text: str) -> str:
    """``text`` safe as matplotlib text: ``$`` escaped (no mathtext); a leading ``_``, which
    legends treat as "hide me", preceded by a space."""
    text = str(text).replace("$", r"\$")
    return f" {text}" if text.startswith("_") else text


