"""Published figures beside measured ones, for runs made from a recipe (``--recipe`` or a config
file with a ``[published]`` block).

Everything comes from what the runs recorded: the recipe's published block in ``config.json``,
the measured figures and how they were obtained (``metric_details``: sample counts, split) in
``metrics.json``. The protocol differences are the keys of :data:`ganbench.recipes.PROTOCOL`
on which the runs differ from the publication, then the publication's own notes.
"""

from __future__ import annotations

import statistics
from typing import Any

from ganbench.recipes import protocol_differences
from ganbench.report.runs import RunData
from ganbench.values import ValueInfo


def _one_or_all(values: list[Any]) -> Any:
    """The value when every run has the same one, else the sorted distinct values."""
    distinct = sorted({v for v in values if v is not None}, key=str)
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else distinct


def measured_protocol(runs: list[RunData], figures: list[str]) -> dict[str, Any]:
    """What ``runs`` did, under the keys of :data:`ganbench.recipes.PROTOCOL`, read from their
    recorded config and from the ``metric_details`` of the published ``figures`` they measured."""
    configs = [run.config["config"] for run in runs]
    details = [detail for run in runs for name in figures
               if isinstance(detail := (run.summary.get("metric_details") or {}).get(name), dict)]
    return {
        "steps": _one_or_all([c.get("steps") for c in configs]),
        "batch_size": _one_or_all([c.get("batch_size") for c in configs]),
        "n_critic": _one_or_all([(c.get("variant_params") or {}).get("n_critic") for c in configs]),
        "generated_samples": _one_or_all([d.get("generated_samples") for d in details]
                                         or [c.get("eval_samples") for c in configs]),
        "real_samples": _one_or_all([d.get("real_samples") for d in details]),
        "reference_split": _one_or_all([d.get("real_split") for d in details]),
        "feature_pipeline": _one_or_all([c.get("fid_pipeline") for c in configs]),
        "seeds": len({run.seed for run in runs}),
    }


def _format(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.4g}"


def published_comparisons(runs: list[RunData], info: dict[str, ValueInfo]) -> list[dict[str, Any]]:
    """One comparison per recipe and variant among ``runs`` (those of one data set): its source,
    a row per published figure (published value ± spread; the measured mean over seeds, with
    its range when there are several), and the protocol differences."""
    groups: dict[tuple[str, str], list[RunData]] = {}
    for run in runs:
        recipe = run.config.get("config", {}).get("recipe")
        if isinstance(recipe, dict) and isinstance(recipe.get("published"), dict):
            groups.setdefault((str(recipe.get("name")), run.variant), []).append(run)
    comparisons = []
    for (name, variant), members in sorted(groups.items()):
        published = members[0].config["config"]["recipe"]["published"]
        figures = list(published.get("figures", {}))
        rows = []
        for figure in figures:
            spec = published["figures"][figure]
            values = [run.summary.get("metrics", {}).get(figure) for run in members]
            values = [float(v) for v in values if isinstance(v, (int, float))]
            measured = _format(statistics.fmean(values) if values else None)
            if len(values) > 1:
                measured += f" (seeds: {_format(min(values))} to {_format(max(values))})"
            spread = f" ± {spec['spread']:g}" if spec.get("spread") is not None else ""
            label = info[figure].label if figure in info else figure
            rows.append({"figure": label, "published": f"{spec['value']:g}{spread}", "measured": measured,
                         "seeds": len(values)})
        differences = protocol_differences(published, measured_protocol(members, figures))
        url = str(published.get("url", ""))
        comparisons.append({"recipe": name, "variant": variant, "source": published.get("source", ""),
                            "url": url, "link": url.startswith(("https://", "http://")),  # never javascript:
                            "rows": rows, "differences": differences})
    return comparisons


__all__ = ["measured_protocol", "published_comparisons"]
