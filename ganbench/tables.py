"""Results on disk → long-format pandas frames → comparison tables."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ganbench.fast import ComputeMode
from ganbench.markdown import escape_table_cell
from ganbench.plugins import plugin_source
from ganbench.storage import RunFolder, atomic_path, is_evaluation, scan_runs, slug
from ganbench.values import SECTIONS, ValueInfo, unknown_value


def _cost(label: str, higher_is_better: bool | None, headline: bool = False) -> ValueInfo:
    return ValueInfo(label, higher_is_better, "cost", headline)


# Values every run reports, measured by the core (timings: "timings" in metrics.json).
CORE_VALUES: dict[str, ValueInfo] = {
    "steps_per_s": _cost("steps/s", True, headline=True),
    "train_time_s": _cost("train time (s)", False),
    "critic_time_s": _cost("critic time (s)", False),
    "generator_time_s": _cost("generator time (s)", False),
    "eval_time_s": _cost("eval time (s)", False),
    "gp_share": _cost("GP share of critic time", False),
    "gp_step_ratio": _cost("critic step time ratio with/without GP", False),
    "penalty_time_s": _cost("penalty time (s)", False),
    "wall_clock_s": _cost("wall-clock (s)", False),
    "cpu_time_s": _cost("CPU time, all threads (s)", False),
    "peak_memory_mb": _cost("peak memory of the run (MiB)", False),
    # one-off work (a classifier trained, real statistics computed): depends on the caches, not the run
    "setup_time_s": _cost("one-off setup time (s)", None),
    # writing checkpoints: depends on --checkpoint-every, not on the variant
    "checkpoint_time_s": _cost("checkpoint save time (s)", None),
    # the whole process's peak, where the run's own cannot be measured: not a per-run figure
    "process_peak_memory_mb": _cost("process peak memory (MiB)", None),
}
DIVERGED = ValueInfo("diverged (share of seeds)", False, "stability")
# Shown in the comparison table, in this order, before the metrics' own values.
TABLE_CORE = ("steps_per_s", "wall_clock_s", "gp_share", "gp_step_ratio", "diverged")
ID_COLUMNS = ["sweep", "run_id", "variant", "dataset", "seed", "status", "conditions"]
ERROR_PREFIX = "error:"  # long-format rows that carry a metric's skip reason or error in "note"


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"variant_params": {"lambda_gp": 5}}`` → ``{"variant_params.lambda_gp": 5}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Settings that change neither training nor the values computed: runs differing only in
# these are compared as one recipe.
NOT_RECIPE = frozenset({"seed", "metrics", "sample_every", "inception_weights", "recipe", "checkpoint_every",
                        "keep_checkpoints"})
MODE_DEFAULTS = dataclasses.asdict(ComputeMode())


def _setting(key: str) -> str:
    return key.removeprefix("variant_params.")


def comparison_labels(configs: dict[Path, dict[str, Any]]) -> dict[Path, str]:
    """The name each run is compared under: its variant, plus the settings that tell it apart.

    Runs of one variant on one data set whose configurations differ in more than the seed
    (say ``--arch stylegan`` in one sweep and ``mlp`` in another, or ``lambda_gp`` 5 and 10)
    are different recipes and must not be averaged as seeds of one: they get labels like
    ``vanilla [arch=stylegan]`` and ``vanilla [arch=mlp]``. ``configs`` maps each run folder
    to the ``config`` of its ``config.json``.
    """
    groups: dict[tuple[str, str], dict[Path, dict[str, Any]]] = {}
    for run_dir, config in configs.items():
        config = {**MODE_DEFAULTS, **config}  # runs recorded before the mode was: the default mode
        flat = {k: v for k, v in _flat(config).items() if k.split(".")[0] not in NOT_RECIPE}
        groups.setdefault((config["dataset"], config["variant"]), {})[run_dir] = flat
    labels: dict[Path, str] = {}
    for (_, variant), members in groups.items():
        keys = sorted({k for flat in members.values() for k in flat})
        differing = [k for k in keys if len({repr(flat.get(k)) for flat in members.values()}) > 1]
        for run_dir, flat in members.items():
            settings = ", ".join(f"{_setting(k)}={flat.get(k)}" for k in differing)
            labels[run_dir] = f"{variant} [{settings}]" if settings else variant
    return labels


def measurement_conditions(record: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    """What a run's cost figures depend on besides the recipe, from its ``config.json`` (and
    ``metrics.json``): the device, the CPU thread count, the ganbench version, and the compute
    mode when it is not the default (``fast mode``, ``bf16``: see :mod:`ganbench.fast`; ``CUDA
    graph`` when fast mode replayed the steps as one, :mod:`ganbench.step_graph`). Timings are
    compared only between runs with the same conditions."""
    env = record.get("environment") or {}
    config = record.get("config") or {}
    mode = ComputeMode(bool(config.get("fast", False)), str(config.get("precision", "fp32"))).label()
    if ((summary or {}).get("execution") or {}).get("step") == "cuda-graph":
        mode += ", CUDA graph"
    return (f"{config.get('device', '?')} ({env.get('device_name') or 'unknown device'}), "
            f"{env.get('torch_threads', '?')} thread(s), ganbench {env.get('ganbench', '?')}"
            + (f", {mode}" if mode else ""))


def load_results(path: Path | Sequence[RunFolder]) -> pd.DataFrame:
    """All runs below ``path`` in long format: one row per (run, metric) with its ``value``.

    ``path`` may also be the runs :func:`ganbench.storage.scan_runs` found. Damaged or
    unfinished run folders are skipped with one warning each. ``run_id`` is the run folder's
    name. A metric that was skipped or failed gives a row ``error:<metric>`` with the reason in
    ``note``. The ``variant`` column holds :func:`comparison_labels`: the variant's name, with
    the settings that tell runs of different configurations apart; ``conditions`` holds
    :func:`measurement_conditions`.
    """
    rows: list[dict[str, Any]] = []
    runs = scan_runs(path) if isinstance(path, (str, Path)) else list(path)
    labels = comparison_labels({run.run_dir: run.record["config"] for run in runs})
    sources: dict[str, tuple[str, dict[str, Any]]] = {}
    for run in runs:
        for metric, plugin in ((run.record.get("plugins") or {}).get("metric") or {}).items():
            for key in plugin.get("values", []) if isinstance(plugin, dict) else []:
                sources.setdefault(key, (metric, plugin))
    for run in runs:
        run_dir, summary = run.run_dir, run.summary
        ids = {
            "sweep": run_dir.parent.name, "run_id": run_dir.name,
            "variant": labels[run_dir], "dataset": summary["dataset"],
            "seed": summary["seed"], "status": summary["status"],
            "conditions": measurement_conditions(run.record, summary),
        }
        values = {**summary.get("timings", {}), **summary.get("metrics", {})}
        if summary["status"] != "failed" and not is_evaluation(summary):  # evaluations were not trained
            values["diverged"] = float(summary["status"] == "diverged")
        for metric, value in values.items():
            rows.append({**ids, "metric": metric, "value": math.nan if value is None else float(value)})
        for metric, message in summary.get("metric_errors", {}).items():
            rows.append({**ids, "metric": f"{ERROR_PREFIX}{metric}", "value": math.nan, "note": message})
        if not values:
            rows.append({**ids, "metric": "failed", "value": 1.0})
    frame = pd.DataFrame(rows, columns=ID_COLUMNS + ["metric", "value", "note"])
    frame.attrs["value_sources"] = sources
    return frame


def undeclared_value_warnings(long: pd.DataFrame, catalog: Any | None) -> list[str]:
    """One line per plugin whose values in ``long`` (from :func:`load_results`) no loaded metric
    declares, naming the values and the plugin recorded for them: they are shown unranked."""
    info = value_info(catalog)
    keys = [m for m in dict.fromkeys(long["metric"]) if m not in info and m != "failed"
            and not m.startswith(ERROR_PREFIX)]
    sources: dict[str, tuple[str, dict[str, Any]]] = long.attrs.get("value_sources", {})
    by_origin: dict[tuple[str, str] | None, list[str]] = {}
    for key in keys:
        metric, plugin = sources.get(key, (None, None))
        by_origin.setdefault((metric, plugin_source(plugin)) if metric else None, []).append(key)
    lines = []
    for origin, values in by_origin.items():
        if origin is None:
            lines.append(f"values {', '.join(values)} are declared by no loaded metric: shown unranked; "
                         "load the plugin that computed them to rank them")
        else:
            lines.append(f"values {', '.join(values)} come from metric {origin[0]} of plugin {origin[1]}, "
                         "which is not loaded: shown unranked; load it to rank them")
    return lines


def value_info(catalog: Any | None) -> dict[str, ValueInfo]:
    """``{value key: ValueInfo}`` from the core's declarations and the registered metrics'
    (:meth:`ganbench.metrics.Metric.value_info`)."""
    info = {**CORE_VALUES, "diverged": DIVERGED}
    if catalog is not None:
        for entry in catalog.metrics:
            info.update(entry.obj.value_info())
    return info


def condition_groups(frame: pd.DataFrame) -> dict[str, list[str]]:
    """``{conditions: [compared names]}`` over the runs in ``frame`` (long format)."""
    if "conditions" not in frame.columns:
        return {}
    pairs = frame[["conditions", "variant"]].drop_duplicates().sort_values(["conditions", "variant"])
    return {str(c): list(group["variant"]) for c, group in pairs.groupby("conditions", sort=True)}


def mixed_conditions_note(groups: dict[str, list[str]]) -> str | None:
    """The sentence shown beside the cost section when its runs were measured under
    different conditions (device, threads, ganbench version); None when they all match."""
    if len(groups) < 2:
        return None
    listed = "; ".join(f"{', '.join(names)} on {conditions}" for conditions, names in groups.items())
    return (f"The cost figures come from runs measured under {len(groups)} different conditions "
            f"({listed}); they are not compared across conditions: no ranks, no best marks, no "
            f"fastest. Re-run the variants on one machine with the same --cpus-per-run to compare cost.")


def comparison_tables(long: pd.DataFrame, catalog: Any | None = None) -> dict[str, pd.DataFrame]:
    """One numeric table per data set: rows variants, columns (value, mean|std|n) over seeds."""
    tables: dict[str, pd.DataFrame] = {}
    done = long[long["status"].isin(["finished", "diverged"])]
    info = value_info(catalog)
    for dataset, frame in done.groupby("dataset", sort=True):
        stats = frame.groupby(["variant", "metric"])["value"].agg(["mean", "std", "count"])
        table = stats.unstack("metric")
        table.columns = table.columns.swaplevel(0, 1)
        present = [m for m in frame["metric"].unique() if frame.loc[frame["metric"] == m, "value"].notna().any()]
        order = [m for m in TABLE_CORE if m in present]
        order += [m for m in info if m in present and m not in order and m not in CORE_VALUES]
        order = [m for m in order if m in TABLE_CORE or m not in CORE_VALUES]
        order += sorted(m for m in present if m not in order and m not in CORE_VALUES)
        order = [m for m in order if not m.startswith(ERROR_PREFIX)]
        runs = frame.groupby("variant")["seed"].nunique().rename(("seeds", "count"))
        table = table.reindex(columns=pd.MultiIndex.from_product([order, ["mean", "std", "count"]]))
        table = pd.concat([runs, table], axis=1)
        table.attrs["notes"] = _notes(frame)
        table.attrs["cost_note"] = mixed_conditions_note(condition_groups(frame))
        tables[str(dataset)] = table
    return tables


def _notes(frame: pd.DataFrame) -> list[str]:
    """One line per reason a metric was skipped or failed: the metrics and the number of runs."""
    errors = frame[frame["metric"].str.startswith(ERROR_PREFIX)].copy()
    errors["reason"] = errors["note"].astype(str).str.split("\n").str[0]
    lines = []
    for reason, group in errors.groupby("reason", sort=True):
        metrics = ", ".join(dict.fromkeys(m.removeprefix(ERROR_PREFIX) for m in group["metric"]))
        lines.append(f"{metrics}: {reason} ({group['run_id'].nunique()} run(s))")
    return lines


def markdown(dataset: str, table: pd.DataFrame, catalog: Any | None = None) -> str:
    """A data set's table as Markdown: one sub-table per section (cost, stability, quality),
    values declared without a direction (spreads such as ``is_std``) left to the CSV, values no
    loaded metric declares shown unranked, and the skipped or failed metrics listed below."""
    shown = formatted(table, catalog)
    info = value_info(catalog)
    metrics = [m for m in dict.fromkeys(table.columns.get_level_values(0)) if m != "seeds"]
    text = f"## {escape_table_cell(dataset)}\n"
    for section in SECTIONS:
        keys = [m for m in metrics if info.get(m, unknown_value(m)).section == section
                and (m not in info or info[m].higher_is_better is not None)]  # undeclared: unranked
        if not keys:
            continue
        columns = ["seeds"] + [shown.columns[metrics.index(m) + 1] for m in keys]
        text += f"\n### {section}\n\n"
        if section == "cost" and table.attrs.get("cost_note"):
            text += f"Note: {escape_table_cell(table.attrs['cost_note'])}\n\n"
        part = shown[columns]  # names and labels from results and plugins: no `|` or HTML gets through
        part = part.map(lambda cell: escape_table_cell(cell) if isinstance(cell, str) else cell)
        part.index = part.index.map(escape_table_cell).rename(part.index.name)
        part.columns = [escape_table_cell(column) for column in part.columns]
        text += part.to_markdown() + "\n"
    notes = table.attrs.get("notes", [])
    if notes:
        text += "\nNot computed:\n" + "".join(f"- {escape_table_cell(line)}\n" for line in notes)
    return text


def _format_cell(mean: float, std: float) -> str:
    if mean != mean:  # NaN
        return "n/a"
    text = f"{mean:.4g}"
    if std == std:
        text += f" ± {std:.2g}"
    return text


def formatted(table: pd.DataFrame, catalog: Any | None = None) -> pd.DataFrame:
    """``mean ± std`` strings with readable column labels (↑ higher is better, ↓ lower)."""
    info = value_info(catalog)
    out = pd.DataFrame(index=table.index)
    out["seeds"] = table[("seeds", "count")].astype(int)
    metrics = [m for m in dict.fromkeys(table.columns.get_level_values(0)) if m != "seeds"]
    for metric in metrics:
        value = info.get(metric, unknown_value(metric))
        out[f"{value.label}{value.arrow}"] = [
            _format_cell(mean, std)
            for mean, std in zip(table[(metric, "mean")], table[(metric, "std")])
        ]
    out.index.name = "variant"
    return out


def flat_numeric(table: pd.DataFrame) -> pd.DataFrame:
    """The numeric table with ``metric:mean``-style column names (for CSV and JSON)."""
    flat = table.copy()
    flat.columns = [f"{metric}:{stat}" if metric != "seeds" else "seeds" for metric, stat in flat.columns]
    flat.index.name = "variant"
    return flat


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_text(text: str) -> str:
    """``text`` as LaTeX text that prints literally (as pandas' ``escape=True`` does for cells)."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def render(tables: dict[str, pd.DataFrame], fmt: str, catalog: Any | None = None) -> str:
    """All tables in one of ``md``, ``csv``, ``json`` or ``latex``."""
    if fmt == "json":
        import json

        return json.dumps({  # pandas' to_json writes NaN as null
            dataset: json.loads(flat_numeric(t).reset_index().to_json(orient="records"))
            for dataset, t in tables.items()
        }, indent=2)
    parts = []
    for dataset, table in tables.items():
        if fmt == "csv":
            parts.append(f"# {dataset}\n" + flat_numeric(table).to_csv())
        elif fmt == "latex":
            latex = formatted(table, catalog).to_latex(caption=_latex_text(dataset), escape=True)
            parts.append(f"% {dataset}\n" + latex)
        else:
            parts.append(markdown(dataset, table, catalog))
    return "\n".join(parts)


def save_tables(tables: dict[str, pd.DataFrame], folder: Path, catalog: Any | None = None) -> list[Path]:
    """``table-<dataset>.csv`` (numeric) and ``.md`` (formatted) in ``folder``; the data set's
    name is reduced to a safe file name by :func:`ganbench.storage.slug`."""
    written = []
    for dataset, table in tables.items():
        for suffix, text in (("csv", flat_numeric(table).to_csv()),
                             ("md", markdown(dataset, table, catalog))):
            path = Path(folder) / f"table-{slug(dataset)}.{suffix}"
            with atomic_path(path) as tmp:
                tmp.write_text(text)
            written.append(path)
    return written
