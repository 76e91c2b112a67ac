"""The plugin manager and the catalog of everything plugins registered.

Built-in plugins are the modules in :data:`DEFAULT_PLUGINS`; they register through the same
hooks as third-party packages, which are loaded from the ``ganbench`` entry-point group.
Set ``GANBENCH_LOAD_PLUGINS`` to a comma-separated list of entry-point names to load only
those, or to an empty string to load no third-party plugin at all. Set ``GANBENCH_PLUGINS``
to a comma-separated list of module names or ``.py`` files to load local plugins that are
not installed as packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import warnings
from functools import lru_cache
from importlib.metadata import Distribution, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from ganbench import hookspecs
from ganbench.catalog import Catalog  # defined below the plugin manager; ganbench.plugins.Catalog still works
from ganbench.errors import describe_hook_failure, did_you_mean  # likewise
from ganbench.registry import Registry
from ganbench.storage import file_record

ENTRY_POINT_GROUP = "ganbench"
LOAD_PLUGINS_ENV = "GANBENCH_LOAD_PLUGINS"
LOCAL_PLUGINS_ENV = "GANBENCH_PLUGINS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "ganbench.variants.vanilla",
    "ganbench.variants.wgan",
    "ganbench.variants.wgan_gp",
    "ganbench.variants.dcgan",
    "ganbench.variants.lsgan",
    "ganbench.variants.hinge",
    "ganbench.variants.r1",
    "ganbench.variants.rsgan",
    "ganbench.variants.ragan",
    "ganbench.variants.ebgan",
    "ganbench.variants.cgan",
    "ganbench.variants.cyclegan",
    "ganbench.datasets.toy",
    "ganbench.datasets.images",
    "ganbench.datasets.two_domain",
    "ganbench.datasets.user",
    "ganbench.architectures.mlp",
    "ganbench.architectures.dcgan",
    "ganbench.architectures.resnet",
    "ganbench.architectures.standard_cnn",
    "ganbench.architectures.stylegan",
    "ganbench.architectures.translation",
    "ganbench.metrics.volatility",
    "ganbench.metrics.fid",
    "ganbench.metrics.domain",
    "ganbench.metrics.toy",
    "ganbench.metrics.translation",
    "ganbench.executors.local",
    "ganbench.executors.ray",
    "ganbench.loggers.tensorboard",
)


class PluginLoadWarning(UserWarning):
    """A third-party plugin could not be loaded; ganbench goes on without it."""


class PluginHookWarning(UserWarning):
    """A plugin's hook raised, exited, returned instead of calling ``register``, or registered
    something invalid; what that hook contributed is dropped and ganbench goes on without it."""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering the distribution each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__("ganbench")
        self.distributions: dict[str, Distribution] = {}


def _warn_load_failure(name: str, where: str, exc: Exception) -> None:
    warnings.warn(
        f"ganbench plugin {name!r} ({where}) failed to load and is skipped: {type(exc).__name__}: {exc}",
        PluginLoadWarning,
        stacklevel=3,
    )


class UnknownHookError(Exception):
    """A plugin implements a hook that ganbench does not define (usually a misspelt name)."""


def _register_foreign(pm: PluginManager, plugin: object, name: str) -> None:
    """Register a third-party plugin, refusing it whole if it implements an unknown hook."""
    pm.register(plugin, name=name)
    known = [name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None) is not None]
    unknown = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [] if caller.spec is None)
    if unknown:
        pm.unregister(plugin)
        hints = [f"{hook!r} ({hint})" if (hint := did_you_mean(hook, known)) else repr(hook) for hook in unknown]
        raise UnknownHookError(f"it implements unknown hook(s) {', '.join(hints)}; "
                               "see `ganbench plugins` or docs/writing-plugins.md for the hook names")


LOCAL_PLUGIN_MODULE_PREFIX = "ganbench_local_plugin_"  # module name of a GANBENCH_PLUGINS .py file, before its stem


def local_plugin_modules() -> list[ModuleType]:
    """The modules loaded from ``GANBENCH_PLUGINS`` ``.py`` files: no other process can import
    them by name, so executors that pickle the catalog ship them by value (Ray workers)."""
    return [module for name, module in list(sys.modules.items()) if name.startswith(LOCAL_PLUGIN_MODULE_PREFIX)]


def _import_local_plugin(spec: str) -> ModuleType:
    if spec.endswith(".py"):
        path = Path(spec).expanduser().resolve()
        module_spec = importlib.util.spec_from_file_location(f"{LOCAL_PLUGIN_MODULE_PREFIX}{path.stem}", path)
        if module_spec is None or module_spec.loader is None or not path.is_file():
            raise FileNotFoundError(f"no such plugin file: {path}")
        module = importlib.util.module_from_spec(module_spec)
        # Registered while it runs, as an import would be: dataclasses (and pickling) look the
        # module up by name, e.g. for a plugin using `from __future__ import annotations`.
        sys.modules[module_spec.name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_spec.name]
            raise
        return module
    return importlib.import_module(spec)


def _load_local_plugins(pm: PluginManager) -> None:
    for spec in (s.strip() for s in os.environ.get(LOCAL_PLUGINS_ENV, "").split(",")):
        if not spec or pm.get_plugin(spec) is not None:
            continue
        try:
            _register_foreign(pm, _import_local_plugin(spec), spec)
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code is reported, not raised
            _warn_load_failure(spec, LOCAL_PLUGINS_ENV, exc)


def _load_entry_point_plugins(pm: PluginManager) -> None:
    allowed_env = os.environ.get(LOAD_PLUGINS_ENV)
    allowed = None if allowed_env is None else {n.strip() for n in allowed_env.split(",") if n.strip()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            _register_foreign(pm, ep.load(), ep.name)
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code is reported, not raised
            _warn_load_failure(ep.name, ep.value, exc)
            continue
        if ep.dist is not None:
            pm.distributions[ep.name] = ep.dist


def create_plugin_manager(load_entry_points: bool = True) -> PluginManager:
    """A fresh plugin manager with the built-in plugins and, unless ``load_entry_points`` is
    false, the installed (entry-point) and local (``GANBENCH_PLUGINS``) ones."""
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        _load_entry_point_plugins(pm)
        _load_local_plugins(pm)
    pm.check_pending()
    return pm


@lru_cache(maxsize=1)
def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use."""
    return create_plugin_manager()


def warn_hook_failure(plugin: str, hook_name: str, reason: str) -> None:
    """One :class:`PluginHookWarning` naming the plugin, the hook and what went wrong."""
    warnings.warn(f"ganbench plugin {plugin!r}: its {hook_name} hook {reason}; what it registered "
                  "is ignored and ganbench goes on without it.", PluginHookWarning, stacklevel=3)


class _ReturnedInsteadOfRegistering(Exception):
    pass


def _collect(pm: pluggy.PluginManager, hook_name: str, registry: Registry) -> Registry:
    """Call each implementation of ``hook_name`` with its own ``register`` callback, so that the
    registry knows who registered what. An implementation that raises, exits, returns something
    instead of calling ``register``, or registers an invalid class gets one
    :class:`PluginHookWarning` and none of its registrations is kept; two plugins registering
    the same name still raise :class:`PluginConflictError`."""
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        staged: list[object] = []

        def register(obj: object, _staged: list[object] = staged) -> None:
            _staged.append(obj)

        try:
            returned = impl.function(register=register)
            if returned is not None:
                raise _ReturnedInsteadOfRegistering(type(returned).__name__)
            for obj in staged:
                registry.check(obj, impl.plugin_name)
        except _ReturnedInsteadOfRegistering as exc:
            warn_hook_failure(impl.plugin_name, hook_name, f"returned a {exc} instead of calling "
                              "register(cls) once per class")
            continue
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - foreign code must not stop every command
            warn_hook_failure(impl.plugin_name, hook_name, describe_hook_failure(exc))
            continue
        for obj in staged:
            registry.add(obj, plugin=impl.plugin_name)
    return registry


def build_catalog(pm: pluggy.PluginManager | None = None) -> Catalog:
    """Ask every plugin of ``pm`` (default: :func:`get_plugin_manager`) to register."""
    from ganbench.architectures import Architecture
    from ganbench.datasets import Dataset
    from ganbench.executors import Executor
    from ganbench.loggers import Logger
    from ganbench.metrics import Metric
    from ganbench.variants import Variant

    pm = pm or get_plugin_manager()
    return Catalog(
        variants=_collect(pm, "register_variants", Registry("variant", Variant)),
        datasets=_collect(pm, "register_datasets", Registry("dataset", Dataset)),
        metrics=_collect(pm, "register_metrics", Registry("metric", Metric)),
        architectures=_collect(pm, "register_architectures", Registry("architecture", Architecture)),
        executors=_collect(pm, "register_executors", Registry("executor", Executor)),
        loggers=_collect(pm, "register_loggers", Registry("logger", Logger)),
    )


def plugin_report(pm: PluginManager | None = None) -> list[dict[str, Any]]:
    """``[{name, version, package, hooks}]`` for every registered plugin, built-ins included."""
    pm = pm or get_plugin_manager()
    dists = getattr(pm, "distributions", {})
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        dist = dists.get(name)
        if dist is not None:
            package, version = dist.metadata["Name"], dist.version
        elif name in DEFAULT_PLUGINS:
            package, version = "ganbench (built-in)", _own_version()
        else:
            package, version = "(registered at run time)", ""
        rows.append(
            {
                "name": name,
                "package": package,
                "version": version,
                "hooks": sorted(caller.name for caller in pm.get_hookcallers(plugin) or []),
            }
        )
    return rows


def _own_version() -> str:
    from ganbench import __version__

    return __version__


def plugin_record(name: str, pm: PluginManager | None = None) -> dict[str, Any]:
    """What identifies the plugin registered as ``name`` (see :meth:`Registry.plugin_of`), as
    recorded with each run: ``{"plugin": name}`` plus ``package`` and ``version`` for a built-in
    or installed plugin, and ``path`` and ``sha256`` of the source file for a local one (a
    ``.py`` file or a module named in ``GANBENCH_PLUGINS``). ganbench's own files are not hashed."""
    pm = pm or get_plugin_manager()
    record: dict[str, Any] = {"plugin": name}
    if name in DEFAULT_PLUGINS:
        return {**record, "package": "ganbench", "version": _own_version()}
    dist = getattr(pm, "distributions", {}).get(name)
    if dist is not None:
        return {**record, "package": dist.metadata["Name"], "version": dist.version}
    source = _source_file(name, pm)
    if source is not None:
        record.update(path=str(source), sha256=file_record(source)["sha256"])
    return record


def _source_file(name: str, pm: PluginManager) -> Path | None:
    """The file a local plugin was loaded from, if it has one."""
    if name.endswith(".py"):
        path = Path(name).expanduser().resolve()
        return path if path.is_file() else None
    plugin = pm.get_plugin(name)
    if plugin is None:
        return None
    try:
        source = inspect.getsourcefile(plugin if isinstance(plugin, ModuleType) else type(plugin))
    except TypeError:  # built into the interpreter: no source file
        return None
    return Path(source).resolve() if source and Path(source).is_file() else None


def plugin_source(record: dict[str, Any]) -> str:
    """How a recorded plugin is named to the user: its file, else its package, else its name."""
    if record.get("path"):
        return str(record["path"])
    if record.get("package") and record["package"] != "ganbench":
        return f"{record['plugin']} (package {record['package']} {record.get('version', '')})".replace(" )", ")")
    return str(record.get("plugin", "?"))


def plugin_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per plugin whose file or version differs between two ``plugins`` records of
    ``config.json`` (``{kind: {name: plugin_record}}``), or that now provides another plugin's
    name. Built-in plugins are left out: ganbench's version is compared with the environment."""
    lines: dict[str, str] = {}
    for kind, names in (recorded or {}).items():
        for name, old in (names or {}).items():
            new = (current.get(kind) or {}).get(name)
            if not isinstance(old, dict) or not isinstance(new, dict):
                continue
            if old.get("plugin") != new.get("plugin"):
                lines.setdefault(f"{kind} {name}", f"{kind} {name!r} came from plugin {plugin_source(old)} "
                                 f"when the run was recorded, and comes from {plugin_source(new)} now")
            elif old.get("package") == "ganbench":
                continue
            elif old.get("sha256") != new.get("sha256"):
                lines.setdefault(old["plugin"], f"plugin {plugin_source(new)} changed since the run was recorded "
                                 f"(sha256 {_short(old.get('sha256'))} → {_short(new.get('sha256'))})")
            elif old.get("version") != new.get("version"):
                lines.setdefault(old["plugin"], f"plugin {plugin_source(new)} changed since the run was recorded "
                                 f"(version {old.get('version')} → {new.get('version')})")
    return list(lines.values())


def _short(digest: Any) -> str:
    return f"{digest[:8]}…" if isinstance(digest, str) else "none"
