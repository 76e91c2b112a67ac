"""The package's imports go one way: no import cycles, and every module imports only from its
own layer or the layers below it.

The import graph is read from the source with :mod:`ast`, so it holds every import: at module
level, inside functions and under ``if TYPE_CHECKING:`` alike (an import inside a function that
goes up is a cycle in disguise). Importing ``ganbench.a.b`` also runs ``ganbench/__init__.py``
and ``ganbench/a/__init__.py``; those implicit parent imports are left out, as every module has
them. Built-in plugins are loaded by name (``ganbench.plugins.DEFAULT_PLUGINS``), as installed
plugins are, which is not an import of the module that loads them.
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ganbench"

# Module (or package: it covers its submodules) → layer. The longest matching name wins; the
# root package ``ganbench`` covers only its own __init__. A module may import from its own
# layer and the layers below it; the README's "Layout" section shows the same order.
LAYERS: dict[str, int] = {
    # 1. the plugin machinery and leaf helpers: they import nothing above them
    "ganbench.hookspecs": 1, "ganbench.registry": 1, "ganbench.storage": 1, "ganbench.errors": 1,
    "ganbench.values": 1, "ganbench.seeding": 1, "ganbench.timing": 1, "ganbench.memory": 1,
    "ganbench.threads": 1,
    "ganbench.spaces": 1,
    "ganbench.lazy": 1,
    "ganbench.checkpoints": 1,
    "ganbench.fast": 1,
    "ganbench.markdown": 1,
    # 2. the kinds of things plugins provide, and the catalog of them
    "ganbench.datasets": 2, "ganbench.variants": 2, "ganbench.architectures": 2,
    "ganbench.features": 2, "ganbench.metrics": 2, "ganbench.loggers": 2, "ganbench.catalog": 2,
    "ganbench": 2,  # the package root re-exports the base classes
    # 3. settings: they take a catalog, never the plugin manager
    "ganbench.options": 3, "ganbench.recipes": 3, "ganbench.config": 3, "ganbench.cache": 3,
    # 4. what the runner and the executors share: a run task, a run record, the executor base
    "ganbench.tasks": 4, "ganbench.executors": 4,
    # 5. the plugin manager, which builds the catalog
    "ganbench.plugins": 5,
    # 6. the training loops
    "ganbench.training": 6, "ganbench.translation": 6, "ganbench.samples": 6, "ganbench.double_backward": 6,
    "ganbench.step_graph": 6,
    # 7. runs, evaluations and reproductions
    "ganbench.runner": 7, "ganbench.evaluation": 7, "ganbench.reproduce": 7, "ganbench.search": 7,
    # 8. the built-in executors
    "ganbench.executors.local": 8, "ganbench.executors.ray": 8,
    # 9. results and the command line
    "ganbench.tables": 9, "ganbench.report": 9, "ganbench.docs": 9, "ganbench.cli": 9,
    "ganbench.__main__": 9,
}


@dataclass(frozen=True)
class Import:
    """``importer`` imports ``imported`` at ``line`` of ``path`` (relative to the package's parent)."""

    importer: str
    imported: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}"


def find_modules(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted module name: (file, is a package)}`` for every ``.py`` file of the package."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def import_graph(package_dir: Path) -> list[Import]:
    """Every import of a module of the package by another module of it, wherever it is written."""
    modules = find_modules(package_dir)
    root = package_dir.name

    def resolve(name: str) -> str | None:  # the module that ``import name`` runs last
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    imports = []
    for importer, (path, is_package) in modules.items():
        package = importer if is_package else importer.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: ``from ..x import y``
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # ``from a import b`` imports the module a.b when there is one, else a name of a
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target == root or target.startswith(root + "."):
                    imported = resolve(target)
                    if imported is not None and imported != importer:
                        imports.append(Import(importer, imported,
                                              path.relative_to(package_dir.parent).as_posix(), node.lineno))
    return list(dict.fromkeys(imports))


def find_cycles(imports: list[Import]) -> list[list[str]]:
    """Import cycles, each as ``[a, b, ..., a]``; breaking one edge of each found cycle and
    searching again, until none is left, lists every strongly connected tangle at least once."""
    edges = {(i.importer, i.imported) for i in imports}
    cycles = []
    while True:
        graph: dict[str, set[str]] = {}
        for importer, imported in edges:
            graph.setdefault(importer, set()).add(imported)
        try:
            tuple(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))  # graphlib lists it against the import direction
            cycles.append(cycle)
            edges.discard((cycle[0], cycle[1]))
        else:
            return cycles


def layer_of(module: str) -> int | None:
    """The layer of ``module`` in :data:`LAYERS`: its own entry, else its longest listed package."""
    if module in LAYERS:
        return LAYERS[module]
    prefixes = [p for p in LAYERS if "." in p and module.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def test_the_package_has_no_import_cycle():
    imports = import_graph(PACKAGE)
    cycles = find_cycles(imports)
    described = []
    for cycle in cycles:
        steps = [next(i for i in imports if (i.importer, i.imported) == pair) for pair in zip(cycle, cycle[1:])]
        described.append(" -> ".join(cycle) + "\n      " + "\n      ".join(map(str, steps)))
    assert not cycles, f"{len(cycles)} import cycle(s) in ganbench:\n  " + "\n  ".join(described)


def test_every_module_imports_only_its_own_layer_or_below():
    upward = [f"{i} (layer {layer_of(i.importer)} imports layer {layer_of(i.imported)})"
              for i in import_graph(PACKAGE)
              if None not in (layer_of(i.importer), layer_of(i.imported)) and layer_of(i.imported) > layer_of(i.importer)]
    assert not upward, "imports that go up a layer:\n  " + "\n  ".join(upward)


def test_every_module_has_a_layer_and_every_entry_a_module():
    modules = find_modules(PACKAGE)
    assert not [m for m in modules if layer_of(m) is None], "add these modules to LAYERS"
    assert not [p for p in LAYERS if p not in modules], "these LAYERS entries name no module"


def test_the_graph_sees_imports_in_functions_and_under_type_checking(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.b import B\n")
    (package / "sub" / "b.py").write_text("class B:\n    def f(self):\n        from .. import c\n")
    (package / "c.py").write_text("import pkg.a\nfrom pkg import sub\n")

    imports = import_graph(package)
    assert {(i.importer, i.imported, i.line) for i in imports} == {
        ("pkg.a", "pkg.sub.b", 3), ("pkg.sub.b", "pkg.c", 3), ("pkg.c", "pkg.a", 1), ("pkg.c", "pkg.sub", 2)}
    [cycle] = find_cycles(imports)
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    assert "pkg.a pkg.sub.b pkg.c" in " ".join(cycle[:-1] * 2)  # in the import direction, from any start


def test_moved_names_are_still_importable_where_plugins_import_them():
    import ganbench
    from ganbench import catalog, errors, executors, plugins, runner, tasks

    assert plugins.Catalog is catalog.Catalog
    assert plugins.describe_hook_failure is errors.describe_hook_failure
    assert (runner.RunTask, runner.RunRecord, runner.record_failure) == (tasks.RunTask, tasks.RunRecord,
                                                                         tasks.record_failure)
    assert callable(runner.execute) and issubclass(executors.Executor, object)
    assert all(hasattr(ganbench, name) for name in ganbench.__all__)
