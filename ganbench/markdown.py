"""Escaping text that comes from results or plugins for Markdown: ``report.md`` and the
``table-<dataset>.md`` comparison tables.

``report.html`` relies on jinja2's autoescaping; Markdown has no such switch, so the Markdown
template passes every value through these filters: ``md`` for running text and table cells,
``md_code`` for an inline code span, ``md_fence`` for the fence of a code block. The
comparison tables, also read raw in a terminal, escape only what changes their structure or
injects HTML: :func:`escape_table_cell`.
"""

from __future__ import annotations

import re

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters that act anywhere in a line: code spans, emphasis, links and images, table cells,
# escapes and strikethrough. Those that act only at the start of a line (#, -, +, 1.) never
# start one here: the template puts every value after other text.
_ACTIVE = re.compile(r"[\\`*\[\]|~]")
# An underscore delimits emphasis only where it is not between two letters or digits.
_LONE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def escape_markdown(value: object) -> str:
    """``value`` as Markdown text that renders literally: HTML special characters become
    entities, Markdown-active characters are backslash-escaped, newlines become spaces."""
    text = " ".join(str(value).splitlines())
    text = "".join(_HTML.get(char, char) for char in text)
    text = _ACTIVE.sub(lambda match: "\\" + match.group(), text)
    return _LONE_UNDERSCORE.sub(r"\\_", text)


def escape_table_cell(value: object) -> str:
    """``value`` as one cell of a Markdown pipe table that stays readable as plain text: HTML
    special characters become entities, ``|`` is backslash-escaped (it would split the cell),
    newlines become spaces."""
    text = " ".join(str(value).splitlines())
    return "".join(_HTML.get(char, char) for char in text).replace("|", "\\|")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def code_span(value: object) -> str:
    """``value`` as an inline code span (fenced by more backticks than it contains), with
    ``|`` escaped for table cells; code spans show HTML literally."""
    text = " ".join(str(value).splitlines()).replace("|", "\\|")
    fence = "`" * (_longest_backtick_run(text) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def code_fence(value: object) -> str:
    """A fence for a code block holding ``value``: longer than any backtick run in it."""
    return "`" * max(3, _longest_backtick_run(str(value)) + 1)
