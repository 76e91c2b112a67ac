"""How a reported value is declared: its label, its direction, its section, whether (and how
strongly) it is a headline.

Every figure in ``metrics.json`` (a metric's value or a timing the core measures) has one
:class:`ValueInfo`. Tables and reports take everything from these declarations: the column
label and arrow, the section it is shown in, which value of a column is marked best, and which
values "What this sweep says" draws conclusions from. Nothing there names a metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Section = Literal["cost", "stability", "quality"]
SECTIONS: tuple[Section, ...] = ("cost", "stability", "quality")


@dataclass(frozen=True)
class ValueInfo:
    """What the tables and reports need to know about one reported value.

    :param label: readable column name.
    :param higher_is_better: True or False ranks the value (and marks the best); None for
        values that do not rank (a spread such as ``is_std``, a one-off setup time).
    :param section: ``cost``, ``stability`` or ``quality``: where the value is shown.
    :param headline: whether "What this sweep says" names the best variant by this value.
    :param note: a caveat printed once with the conclusions when a headline value is among
        them (e.g. that raw loss spreads depend on each loss's scale).
    :param headline_priority: of a headline value, how well it stands for the samples' quality
        as a whole: where one value must be picked (the report's curve over training), the
        headline value of the highest priority is (0 for every other value).
    """

    label: str
    higher_is_better: bool | None
    section: Section = "quality"
    headline: bool = False
    note: str | None = None
    headline_priority: int = 0

    @property
    def arrow(self) -> str:
        """`` ↑`` (higher is better), `` ↓`` (lower is better) or nothing."""
        return {True: " ↑", False: " ↓", None: ""}[self.higher_is_better]

    @property
    def direction_text(self) -> str:
        return {True: "higher is better", False: "lower is better", None: "not ranked"}[self.higher_is_better]


def unknown_value(key: str) -> ValueInfo:
    """The declaration assumed for a value no metric declares: shown under its key, never ranked."""
    return ValueInfo(key, None, "quality")


__all__ = ["SECTIONS", "Section", "ValueInfo", "unknown_value"]
