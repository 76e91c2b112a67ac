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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ganbench.errors import UsageError
from ganbench.report.markdown import code_fence, code_span, escape_markdown
from ganbench.report.runs import RunData, load_runs
from ganbench.report.statistics import pairwise_tests, seed_warning, summarise
from ganbench.storage import atomic_path
from ganbench.tables import SECTIONS, load_results, value_info, value_sections

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("ganbench.report", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters.update(md=escape_markdown, md_code=code_span, md_fence=code_fence)
TESTED_COSTS = ("steps_per_s", "wall_clock_s", "gp_share")  # timings worth a pairwise test
VOLATILITY_MEASURES = ("g_std", "d_std", "g_roughness", "d_roughness")


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
        text += f" #{int(row['rank'])}"
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
    commands = sorted({" ".join(run.config.get("command") or []) for run in runs})
    configs = [{
        "run_id": run.run_id, "digest": run.config.get("digest", "")[:16], "status": run.status,
        **{k: run.config["config"].get(k) for k in ("variant", "dataset", "seed", "arch", "steps",
                                                      "batch_size", "latent_dim", "device")},
        "params": json.dumps(run.config["config"].get("variant_params", {}), sort_keys=True),
    } for run in runs]
    return {"facts": facts, "commands": commands, "configs": configs,
            "seeds": sorted({run.seed for run in runs})}


def _claims(summary: pd.DataFrame, tests: pd.DataFrame, info: dict[str, tuple[str, bool | None]]) -> list[str]:
    """The course's questions answered with this sweep's numbers."""
    claims: list[str] = []

    def best_of(metric: str) -> pd.Series | None:
        rows = summary[(summary["metric"] == metric) & summary["mean"].notna()]
        if rows.empty or info.get(metric, (metric, None))[1] is None:
            return None
        return rows.sort_values(["rank", "variant"]).iloc[0]

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

    def others(metric: str, winner: str) -> str:
        rows = summary[(summary["metric"] == metric) & (summary["variant"] != winner)]
        return ", ".join(f"{r['variant']} {_number(r['mean'])}" for _, r in rows.iterrows())

    fastest = best_of("steps_per_s")
    if fastest is not None:
        claims.append(f"Fastest training: {fastest['variant']} at {_number(fastest['mean'])} generator "
                      f"steps/s (others: {others('steps_per_s', fastest['variant'])})"
                      + significance("steps_per_s", fastest["variant"]) + ".")
    for _, row in summary[(summary["metric"] == "gp_share") & summary["mean"].notna()].iterrows():
        ratio = summary[(summary["metric"] == "gp_step_ratio") & (summary["variant"] == row["variant"])]
        text = (f"Gradient-penalty cost for {row['variant']}: {100 * row['mean']:.1f}% of critic-step time "
                f"went into the penalty")
        if not ratio.empty and not math.isnan(ratio.iloc[0]["mean"]):
            text += f"; a critic step with it took {ratio.iloc[0]['mean']:.2f}× as long as without it"
        claims.append(text + ".")
    for metric in VOLATILITY_MEASURES:
        winner = best_of(metric)
        if winner is not None:
            claims.append(f"Least volatile by {info[metric][0]}: {winner['variant']} "
                          f"({_number(winner['mean'])}; others: {others(metric, winner['variant'])})"
                          + significance(metric, winner["variant"]) + ".")
    if any(best_of(m) is not None for m in ("g_std", "d_std")):
        claims.append("Raw standard deviations depend on each loss's scale (a BCE loss and a Wasserstein "
                      "estimate differ by orders of magnitude); the roughness measures are scale-free "
                      "and compare variants fairly.")
    for metric in ("fid", "domain_fid", "kid", "classes_covered", "modes_covered", "w1"):
        winner = best_of(metric)
        if winner is not None:
            claims.append(f"Best {info[metric][0]}: {winner['variant']} ({_number(winner['mean'])}; others: "
                          f"{others(metric, winner['variant'])})" + significance(metric, winner["variant"]) + ".")
    return claims


def _dataset_section(dataset: str, runs: list[RunData], long: pd.DataFrame, catalog: Any,
                     image_dir: Path) -> dict[str, Any]:
    from ganbench.report.plots import dataset_plots, sample_images, slug

    info, sections = value_info(catalog), value_sections(catalog)
    frame = long[(long["dataset"] == dataset) & long["status"].isin(["finished", "diverged"])
                 & ~long["metric"].str.startswith("error:")]
    higher = {key: direction for key, (_label, direction) in info.items()}
    summary = summarise(frame, higher)
    tested = {m for m in higher if sections.get(m, "quality") != "cost"} | set(TESTED_COSTS)
    tests = pairwise_tests(frame[frame["metric"].isin(tested) | ~frame["metric"].isin(list(higher))], higher)
    variants = sorted(frame["variant"].unique())
    seeds = {v: int(frame[frame["variant"] == v]["seed"].nunique()) for v in variants}

    tables = []
    for section in SECTIONS:
        metrics = [m for m in info if sections.get(m, "quality") == section and m in set(summary["metric"])
                   and summary.loc[summary["metric"] == m, "mean"].notna().any()]
        metrics += sorted(m for m in set(summary["metric"]) if m not in info and section == "quality")
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
        columns = [info.get(m, (m, None))[0] + {True: " ↑", False: " ↓", None: ""}[info.get(m, (m, None))[1]]
                   for m in metrics]
        tables.append({"name": section, "columns": columns, "rows": rows})

    pairwise = [{
        "metric": info.get(r["metric"], (r["metric"], None))[0], "a": r["a"], "b": r["b"],
        "n": f"{r['n_a']} vs {r['n_b']}", "welch_p": _p(r["welch_p"]),
        "mann_whitney_p": _p(r["mann_whitney_p"]), "verdict": r["verdict"],
    } for _, r in tests.iterrows()]

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
    return {"name": dataset, "tables": tables, "pairwise": pairwise, "seeds": seeds,
            "seed_warning": seed_warning(seeds), "claims": _claims(summary, tests, info),
            "plots": plots, "samples": samples, "notes": notes, "summary": summary}


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
    long = load_results(results_dir)
    image_dir = out_dir / "images"
    done = [r for r in runs if r.status != "failed"]
    datasets = [_dataset_section(d, done, long, catalog, image_dir)
                for d in sorted({r.dataset for r in done})]
    failed = [{"run_id": r.run_id, "error": (r.summary.get("error") or "").strip().splitlines()[-1:] or [""]}
              for r in runs if r.status == "failed"]
    stamp = (generated_at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z")
    context = {"title": f"ganbench report: {results_dir.resolve().name}", "generated": stamp,
               "source": str(results_dir), "setup": _setup(runs), "datasets": datasets,
               "failed": [{"run_id": f["run_id"], "error": f["error"][0]} for f in failed]}

    image_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for section in datasets:
        for item in section["plots"] + section["samples"]:
            with atomic_path(item["path"]) as tmp:
                tmp.write_bytes(item["png"])
            written.append(item["path"])
    files = ReportFiles(out_dir / "report.html", out_dir / "report.md", written)
    for template, path in (("report.html.j2", files.html), ("report.md.j2", files.markdown)):
        with atomic_path(path) as tmp:
            tmp.write_text(TEMPLATES.get_template(template).render(**context), encoding="utf-8")
    return files


__all__ = ["ReportFiles", "build_report"]
