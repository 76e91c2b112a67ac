"""Comparison reports: ``ganbench report RESULTS_DIR -o DIR`` writes ``report.html`` and ``report.md``.

The report is a function of the results on disk: generating it twice gives identical files
apart from the one line that says when it was generated. The HTML embeds its images; the
Markdown refers to the same images written to ``DIR/images/``. Every name that comes from a
plugin is escaped in the HTML (Jinja2's autoescaping).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ganbench.errors import UsageError
from ganbench.markdown import code_fence, code_span, escape_markdown
from ganbench.report.runs import RunData, load_runs, logger
from ganbench.report.search import load_search, ranked_run_ids, search_section
from ganbench.report.statistics import pairwise_tests, seed_warning, summarise, untested_pairs_note
from ganbench.storage import RunFolder, atomic_path
from ganbench.tables import (
    SECTIONS, condition_groups, load_results, mixed_conditions_note, undeclared_value_warnings, value_info,
)
from ganbench.values import ValueInfo, unknown_value

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("ganbench.report", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters.update(md=escape_markdown, md_code=code_span, md_fence=code_fence)
# The core's penalty figures, described together for each variant that has a penalty.
PENALTY_SHARE, PENALTY_RATIO = "gp_share", "gp_step_ratio"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    images: list[Path]


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def _cell(row: pd.Series) -> str:
    text = _number(row["mean"])
    if not math.isnan(row["ci_low"]):
        text += f" [{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
    if not math.isnan(row["rank"]):
        text += f" #{int(row['rank'])}" + (" (tie)" if row["tied"] else "")
    return text


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _setup(runs: list[RunData]) -> dict[str, Any]:
    """Versions, devices, commits and commands, each with the runs it applies to if they differ."""
    facts: dict[str, list[str]] = {}
    for key in ("ganbench", "git_commit", "python", "torch", "torchvision", "cuda", "device_name",
                "torch_threads", "platform"):
        values = sorted({str(run.config.get("environment", {}).get(key)) for run in runs})
        facts[key] = values
    # shell-quoted, so that a command whose arguments hold spaces, `|` or `<` can be pasted and run again
    commands = sorted({shlex.join(str(part) for part in run.config.get("command") or []) for run in runs})
    configs = [{
        "run_id": run.run_id, "digest": run.config.get("digest", "")[:16], "status": run.status,
        **{k: run.config["config"].get(k) for k in ("variant", "dataset", "seed", "arch", "steps",
                                                      "batch_size", "latent_dim", "device")},
        "params": json.dumps(run.config["config"].get("variant_params", {}), sort_keys=True),
    } for run in runs]
    return {"facts": facts, "commands": commands, "configs": configs,
            "seeds": sorted({run.seed for run in runs})}


def _claims(summary: pd.DataFrame, tests: pd.DataFrame, info: dict[str, ValueInfo],
            cost_note: str | None, mixed: set[str]) -> list[str]:
    """What the sweep's numbers say: for each headline value (as its metric declares it), the
    best variant or the tied ones, with whether the difference is significant; the penalty's
    cost for each variant that has one. No cost conclusion when the runs' measurement
    conditions differ (``cost_note`` says so instead), and no penalty figures for the variants
    in ``mixed``, whose own runs were measured under different conditions."""
    claims: list[str] = []

    def significance(metric: str, winner: str) -> str:
        rows = tests[(tests["metric"] == metric) & ((tests["a"] == winner) | (tests["b"] == winner))]
        if rows.empty:
            return ""
        if (rows["verdict"] == "too few seeds").any():
            return " (too few seeds to test)"
        other = {r["b"] if r["a"] == winner else r["a"]: r["verdict"] for _, r in rows.iterrows()}
        unclear = [v for v, verdict in other.items() if not verdict.startswith(f"{winner} better")]
        always = [v for v, verdict in other.items() if verdict.startswith(f"{winner} better in every seed")]
        if unclear:
            return f" (not significantly different from {', '.join(unclear)})"
        if always:
            return (f" (better in every seed than {', '.join(always)}, with no spread over seeds to test; "
                    "significantly better than the others, Welch p < 0.05)" if len(always) < len(other)
                    else " (better in every seed than every other variant; no spread over seeds to test)")
        return " (significantly better than every other variant, Welch p < 0.05)"

    def best_claim(metric: str, value: ValueInfo) -> str | None:
        rows = summary[(summary["metric"] == metric) & summary["mean"].notna()].sort_values(["rank", "variant"])
        if len(rows) < 2 or value.higher_is_better is None:
            return None  # "best" needs at least two variants with a value
        winners = rows[rows["rank"] == 1]
        others = ", ".join(f"{r['variant']} {_number(r['mean'])}" for _, r in rows[rows["rank"] != 1].iterrows())
        figure = _number(winners.iloc[0]["mean"]) + (f"; others: {others}" if others else "")
        if len(winners) == len(rows):
            return f"No difference in {value.label}: every variant has {_number(winners.iloc[0]['mean'])}."
        if len(winners) > 1:
            names = ", ".join(winners["variant"].iloc[:-1]) + " and " + winners["variant"].iloc[-1]
            return f"Tied for best {value.label} ({value.direction_text}): {names} ({figure})."
        winner = winners.iloc[0]["variant"]
        return (f"Best {value.label} ({value.direction_text}): {winner} ({figure})"
                + significance(metric, winner) + ".")

    for section in SECTIONS:
        headlines = [(m, v) for m, v in info.items() if v.section == section and v.headline]
        if section == "cost" and cost_note is not None:
            claims.append(f"No cost conclusion: {cost_note[0].lower()}{cost_note[1:]}")
            headlines = []
        notes: list[str] = []
        for metric, value in headlines:
            claim = best_claim(metric, value)
            if claim is not None:
                claims.append(claim)
                if value.note and value.note not in notes:
                    notes.append(value.note)
        claims.extend(notes)
        if section == "cost":
            claims.extend(_penalty_claims(summary, mixed))
    return claims


def _penalty_claims(summary: pd.DataFrame, mixed: set[str]) -> list[str]:
    """For each variant with a gradient penalty: its share of critic time and the step-time ratio
    (not for the variants in ``mixed``, measured under different conditions)."""
    claims = []
    for _, row in summary[(summary["metric"] == PENALTY_SHARE) & summary["mean"].notna()].iterrows():
        if row["variant"] in mixed:
            claims.append(f"Gradient-penalty cost for {row['variant']}: not summarised, its runs were "
                          "measured under different conditions.")
            continue
        ratio = summary[(summary["metric"] == PENALTY_RATIO) & (summary["variant"] == row["variant"])]
        text = (f"Gradient-penalty cost for {row['variant']}: {100 * row['mean']:.1f}% of critic-step time "
                f"went into the penalty")
        if not ratio.empty and not math.isnan(ratio.iloc[0]["mean"]):
            text += f"; a critic step with it took {ratio.iloc[0]['mean']:.2f}× as long as without it"
        claims.append(text + ".")
    return claims


def _dataset_section(dataset: str, runs: list[RunData], long: pd.DataFrame, catalog: Any,
                     image_dir: Path) -> dict[str, Any]:
    from ganbench.report.plots import dataset_plots, sample_images, slug
    from ganbench.report.published import published_comparisons

    info = value_info(catalog)
    frame = long[(long["dataset"] == dataset) & long["status"].isin(["finished", "diverged"])
                 & ~long["metric"].str.startswith("error:")]
    info.update({m: unknown_value(m) for m in frame["metric"].unique() if m not in info})
    groups = condition_groups(frame)
    cost_note = mixed_conditions_note(groups)
    mixed = {v for v in frame["variant"].unique() if sum(v in names for names in groups.values()) > 1}
    # Cost figures measured under different conditions are shown but not ranked or tested.
    comparable = {m: v for m, v in info.items() if not (cost_note and v.section == "cost")}
    higher = {m: v.higher_is_better for m, v in comparable.items()}
    summary = summarise(frame, higher)
    tested = [m for m, v in comparable.items() if v.section != "cost" or v.headline]
    tests = pairwise_tests(frame[frame["metric"].isin(tested)], higher)
    variants = sorted(frame["variant"].unique())
    seeds = {v: int(frame[frame["variant"] == v]["seed"].nunique()) for v in variants}

    tables = []
    present = set(summary.loc[summary["mean"].notna(), "metric"])
    for section in SECTIONS:
        metrics = [m for m, v in info.items() if v.section == section and m in present]
        if not metrics:
            continue
        rows = []
        for variant in variants:
            cells = []
            for metric in metrics:
                match = summary[(summary["metric"] == metric) & (summary["variant"] == variant)]
                cells.append({"text": _cell(match.iloc[0]) if not match.empty else "n/a",
                              "best": bool(not match.empty and match.iloc[0]["best"])})
            rows.append({"variant": variant, "seeds": seeds[variant], "cells": cells})
        columns = [info[m].label + info[m].arrow for m in metrics]
        tables.append({"name": section, "columns": columns, "rows": rows,
                       "note": cost_note if section == "cost" else None})

    pairwise = [{
        "metric": info[r["metric"]].label, "a": r["a"], "b": r["b"],
        "n": f"{r['n_a']} vs {r['n_b']}", "welch_p": _p(r["welch_p"]),
        "mann_whitney_p": _p(r["mann_whitney_p"]), "verdict": r["verdict"],
    } for _, r in tests.iterrows() if r["verdict"] != "too few seeds"]

    plots, samples = [], []
    dataset_runs = [r for r in runs if r.dataset == dataset]
    for plot in dataset_plots(dataset_runs, dataset, catalog):
        path = image_dir / f"{plot.name}.png"
        plots.append({"title": plot.title, "caption": plot.caption, "file": f"images/{path.name}",
                      "data_uri": _data_uri(plot.png), "png": plot.png, "path": path})
    for variant, png in sample_images(dataset_runs, dataset):
        path = image_dir / f"samples-{slug(dataset)}-{slug(variant)}.png"
        samples.append({"variant": variant, "file": f"images/{path.name}", "data_uri": _data_uri(png),
                        "png": png, "path": path})

    errors = long[(long["dataset"] == dataset) & long["metric"].str.startswith("error:")]
    notes = sorted({f"{m.removeprefix('error:')}: {str(n).splitlines()[0]}"
                    for m, n in zip(errors["metric"], errors["note"])})
    return {"name": dataset, "tables": tables, "pairwise": pairwise, "pairwise_note": untested_pairs_note(tests),
            "seeds": seeds, "seed_warning": seed_warning(seeds), "claims": _claims(summary, tests, info, cost_note, mixed),
            "plots": plots, "samples": samples, "notes": notes, "summary": summary,
            "published": published_comparisons(dataset_runs, info)}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def build_report(results_dir: Path, out_dir: Path, catalog: Any, *,
                 generated_at: dt.datetime | None = None) -> ReportFiles:
    """Write ``report.html``, ``report.md`` and ``images/`` for the runs below ``results_dir``."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    try:
        runs = load_runs(results_dir)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    if not runs:
        raise UsageError(f"no ganbench runs under {results_dir}; run `ganbench run --out {results_dir}` first.")
    search = load_search(results_dir)
    if search is not None:  # a `ganbench search` folder: compare the runs it ranks, not every trial
        ranked = ranked_run_ids(search)
        runs = [r for r in runs if r.run_id in ranked] or runs
    long = load_results([RunFolder(r.run_dir, r.config, r.summary) for r in runs])  # warned once, by load_runs
    for line in undeclared_value_warnings(long, catalog):
        logger.warning("%s", line)
    image_dir = out_dir / "images"
    done = [r for r in runs if r.status != "failed"]
    datasets = [_dataset_section(d, done, long, catalog, image_dir)
                for d in sorted({r.dataset for r in done})]
    failed = [{"run_id": r.run_id, "error": (r.summary.get("error") or "").strip().splitlines()[-1:] or [""]}
              for r in runs if r.status == "failed"]
    stamp = (generated_at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z")
    context = {"title": f"ganbench report: {results_dir.resolve().name}", "generated": stamp,
               "source": str(results_dir), "setup": _setup(runs), "datasets": datasets,
               "failed": [{"run_id": f["run_id"], "error": f["error"][0]} for f in failed], "search": None}
    if search is not None:
        context["search"] = search_section(search)
        context["search"]["plots"] = [{
            "title": plot.title, "caption": plot.caption, "file": f"images/{plot.name}.png",
            "data_uri": _data_uri(plot.png), "png": plot.png, "path": image_dir / f"{plot.name}.png",
        } for plot in context["search"]["plots"]]

    image_dir.mkdir(parents=True, exist_ok=True)
    written = []
    items = [item for section in datasets for item in section["plots"] + section["samples"]]
    for item in items + (context["search"]["plots"] if search is not None else []):
        with atomic_path(item["path"]) as tmp:
            tmp.write_bytes(item["png"])
        written.append(item["path"])
    files = ReportFiles(out_dir / "report.html", out_dir / "report.md", written)
    for template, path in (("report.html.j2", files.html), ("report.md.j2", files.markdown)):
        with atomic_path(path) as tmp:
            tmp.write_text(TEMPLATES.get_template(template).render(**context), encoding="utf-8")
    return files


__all__ = ["ReportFiles", "build_report"]
