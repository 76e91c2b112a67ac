"""Recipes: config files shipped with ganbench that set up a published run, with its figures.

A recipe is a ``--config`` TOML file (see :func:`ganbench.config.load_config_file`) with a
``[published]`` block: where the figures come from (``source``, ``url``), the protocol that
produced them (the keys of :data:`PROTOCOL`), what ganbench cannot express (``notes``) and the
figures themselves (``[published.figures]``: ``NAME = { value = V, spread = S }``, NAME being the
value a ganbench metric reports, e.g. ``fid``). ``ganbench recipes`` lists the shipped ones;
``ganbench run --recipe NAME`` runs one, every setting overridable on the command line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import UsageError, unknown_name_message

RECIPE_DIR = Path(__file__).resolve().parent

# The protocol keys of a [published] block: key → (what it is, its type).
PROTOCOL: dict[str, tuple[str, type]] = {
    "steps": ("generator steps", int),
    "batch_size": ("batch size", int),
    "n_critic": ("critic steps per generator step", int),
    "generated_samples": ("generated samples per metric", int),
    "real_samples": ("real samples per metric", int),
    "reference_split": ("real-data split", str),
    "feature_pipeline": ("Inception input pipeline", str),
    "seeds": ("seeds (training runs)", int),
}
PUBLISHED_KEYS = ("source", "url", "description", "notes", "figures", *PROTOCOL)


@dataclass(frozen=True)
class Recipe:
    """A shipped recipe file and what ``ganbench recipes`` shows of it."""

    name: str
    path: Path
    variants: tuple[str, ...]
    datasets: tuple[str, ...]
    arch: str
    steps: int | None
    published: dict[str, Any]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where} must be a number, got {value!r}.")
    return float(value)


def check_published(block: Any, where: str) -> dict[str, Any]:
    """The ``[published]`` block of the config file ``where``, checked and normalised: each
    figure becomes ``{"value": V}`` or ``{"value": V, "spread": S}``. Raises :class:`UsageError`
    naming the key that is wrong and what it should be."""
    if not isinstance(block, dict):
        raise UsageError(f"{where}: [published] must be a table (source = ..., [published.figures]), got {block!r}.")
    for key in block:
        if key not in PUBLISHED_KEYS:
            raise UsageError(f"{where}: {unknown_name_message('[published] key', key, PUBLISHED_KEYS)}")
    if not isinstance(block.get("source"), str) or not block["source"].strip():
        raise UsageError(f'{where}: [published] needs source = "PAPER OR REPOSITORY, TABLE" naming where the figures are from.')
    for key in ("url", "description"):
        if key in block and not isinstance(block[key], str):
            raise UsageError(f"{where}: published.{key} must be a string, got {block[key]!r}.")
    notes = block.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise UsageError(f"{where}: published.notes must be a list of strings, got {notes!r}.")
    for key, (_, kind) in PROTOCOL.items():
        value = block.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise UsageError(f"{where}: published.{key} must be {'an integer' if kind is int else 'a string'}, "
                             f"got {value!r}.")
    figures = block.get("figures")
    if not isinstance(figures, dict) or not figures:
        raise UsageError(f"{where}: [published.figures] must list at least one figure, e.g. fid = {{ value = 16.77 }}.")
    checked = {}
    for name, figure in figures.items():
        spec = figure if isinstance(figure, dict) else {"value": figure}
        unknown = set(spec) - {"value", "spread"}
        if unknown or "value" not in spec:
            raise UsageError(f"{where}: published.figures.{name} must be a number or {{ value = V, spread = S }}, "
                             f"got {figure!r}.")
        where_figure = f"{where}: published.figures.{name}"
        checked[name] = {k: _number(v, f"{where_figure}.{k}") for k, v in spec.items()}
    return {**block, "notes": list(notes), "figures": checked}


def _read(path: Path) -> Recipe:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    train = data.get("train", {})
    return Recipe(name=path.stem, path=path, variants=tuple(data.get("variants", ())),
                  datasets=tuple(data.get("datasets", ())), arch=train.get("arch", "auto"),
                  steps=train.get("steps"), published=check_published(data.get("published"), str(path)))


def available_recipes(folder: Path = RECIPE_DIR) -> list[Recipe]:
    """Every recipe shipped in ``folder`` (``*.toml``), sorted by name."""
    return [_read(path) for path in sorted(folder.glob("*.toml"))]


def find_recipe(name: str, folder: Path = RECIPE_DIR) -> Recipe:
    """The recipe called ``name``; a :class:`UsageError` suggesting the nearest name otherwise."""
    recipes = {recipe.name: recipe for recipe in available_recipes(folder)}
    if name in recipes:
        return recipes[name]
    raise UsageError(unknown_name_message("recipe", name, recipes, cutoff=0.4, then="See `ganbench recipes`."))


def protocol_differences(published: dict[str, Any], measured: dict[str, Any]) -> list[str]:
    """One line per protocol key on which ``measured`` (what the runs did, same keys as
    :data:`PROTOCOL`) differs from ``published``; a key the publication does not state is
    listed as such, then the publication's ``notes`` (what ganbench does not reproduce)."""
    lines = []
    for key, (label, _) in PROTOCOL.items():
        ours = measured.get(key)
        theirs = published.get(key)
        if ours is None:
            continue
        if theirs is None:
            lines.append(f"{label}: here {_show(ours)}; not stated by the source")
        elif ours != theirs:
            lines.append(f"{label}: here {_show(ours)}, published {_show(theirs)}")
    return lines + list(published.get("notes", []))


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return " / ".join(_show(v) for v in sorted(value, key=str))
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


__all__ = ["PROTOCOL", "RECIPE_DIR", "Recipe", "available_recipes", "check_published", "find_recipe",
           "protocol_differences"]
