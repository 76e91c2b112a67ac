"""The generated parts of the documentation: the hook reference and quoted example files.

A Markdown document marks what is generated, and ``python -m ganbench.docs FILE`` rewrites it:

* between ``<!-- hooks -->`` and ``<!-- /hooks -->``: one section per hook specification in
  :mod:`ganbench.hookspecs` (signature and docstring), so a new hook appears on the next run;
* a fenced code block right after ``<!-- include: PATH -->``: the file at ``PATH``, relative
  to the document's folder.

``python -m ganbench.docs --check FILE`` changes nothing and exits with 1 when ``FILE`` is out
of date.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

from ganbench import hookspecs

HOOKS_START, HOOKS_END = "<!-- hooks -->", "<!-- /hooks -->"
HOOKS_BLOCK = re.compile(re.escape(HOOKS_START) + r"\n.*?" + re.escape(HOOKS_END), re.S)
INCLUDE_BLOCK = re.compile(r"(?P<marker><!-- include: (?P<path>\S+) -->\n)(?P<fence>```+)(?P<lang>\w*)\n.*?(?P=fence)\n", re.S)
ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc):`~?([^`]+)`")
FIELD = re.compile(r"^:(param|raises)\s+([\w.]+):\s*(.*)$")


def hook_specs(module: ModuleType = hookspecs) -> list[Callable]:
    """Every hook specification in ``module``, in the order it defines them."""
    return [obj for obj in vars(module).values() if callable(obj) and hasattr(obj, "ganbench_spec")]


def rest_to_markdown(text: str) -> str:
    """The little reStructuredText that hook docstrings use (roles, ``literals``, fields) as Markdown."""
    text = ROLE.sub(r"`\1`", text).replace("``", "`")
    lines: list[str] = []
    for line in text.splitlines():
        field = FIELD.match(line)
        if field:
            kind, name, rest = field.groups()
            lines.append(f"- `{name}`: {rest}" if kind == "param" else f"- raises `{name}`: {rest}")
        elif line.startswith("    ") and lines and lines[-1].startswith("- "):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines).strip()


def render_hook(spec: Callable) -> str:
    """One hook's section: a heading with its signature, then its docstring."""
    signature = str(inspect.signature(spec)).replace("'", "")
    doc = inspect.getdoc(spec)
    if not doc:
        raise ValueError(f"hook {spec.__name__} has no docstring; every hook must document itself")
    return f"### `{spec.__name__}`\n\n```python\ndef {spec.__name__}{signature}\n```\n\n{rest_to_markdown(doc)}\n"


def render_hook_reference(module: ModuleType = hookspecs) -> str:
    """The hook reference: every hook of ``module`` (default :mod:`ganbench.hookspecs`)."""
    return "\n".join(render_hook(spec) for spec in hook_specs(module))


def update_document(text: str, folder: Path, module: ModuleType = hookspecs) -> str:
    """``text`` with its generated parts regenerated; included paths are relative to ``folder``."""
    if not HOOKS_BLOCK.search(text) and not INCLUDE_BLOCK.search(text):
        raise ValueError(f"nothing to generate: no {HOOKS_START} ... {HOOKS_END} block and no include marker")
    reference = f"{HOOKS_START}\n{render_hook_reference(module)}\n{HOOKS_END}"
    text = HOOKS_BLOCK.sub(lambda _: reference, text)

    def include(match: re.Match) -> str:
        path = folder / match["path"]
        if not path.is_file():
            raise FileNotFoundError(f"included file not found: {path}")
        body = path.read_text()
        return f"{match['marker']}{match['fence']}{match['lang']}\n{body.rstrip()}\n{match['fence']}\n"

    return INCLUDE_BLOCK.sub(include, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganbench.docs", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="Markdown files to regenerate.")
    parser.add_argument("--check", action="store_true", help="Change nothing; exit 1 when a file is out of date.")
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text()
        updated = update_document(text, path.parent)
        if updated == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(updated)
    verb = "out of date (run python -m ganbench.docs to update)" if args.check else "updated"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
