"""Modules imported on first use, so that commands which never compute (``--help``, ``list``,
``plugins``) start without importing torch, pandas or scipy.

``torch = lazy_import("torch")`` at the top of a module gives a stand-in that imports torch
the first time one of its attributes is read (``torch.zeros``, ``torch.Tensor``) and forwards
every attribute to the real module from then on. Nothing is put in ``sys.modules`` until the
real import happens, so ``"torch" in sys.modules`` stays a true statement about what was
imported. Module-level code must not read an attribute of a stand-in (a base class
``nn.Module``, a decorator ``@torch.no_grad()``, a default argument ``torch.float32``): that
imports the module at once. Networks (``nn.Module`` subclasses) therefore live in modules that
are imported where they are built; type hints use ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


# Read on the stand-in itself, never forwarded: isinstance() checks (pluggy looks at every name
# of a plugin module) and pickling must not import the module.
_OWN_ATTRIBUTES = frozenset({"__class__", "__reduce__", "__reduce_ex__"})


class LazyModule:
    """A stand-in for the module ``name``: imports it on first attribute access, then forwards
    every read, write and deletion to it (``__dict__`` included, so tools such as pytest's
    ``monkeypatch`` see and restore the real module's attributes)."""

    __slots__ = ("_lazy_name", "_lazy_target")

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)
        object.__setattr__(self, "_lazy_target", None)

    def _lazy_load(self) -> ModuleType:
        module = object.__getattribute__(self, "_lazy_target")
        if module is None:
            module = importlib.import_module(object.__getattribute__(self, "_lazy_name"))
            object.__setattr__(self, "_lazy_target", module)
        return module

    def __getattribute__(self, attribute: str) -> Any:  # every read: one slot read once imported
        if attribute in _OWN_ATTRIBUTES:
            return object.__getattribute__(self, attribute)
        module = object.__getattribute__(self, "_lazy_target")
        if module is None:
            module = LazyModule._lazy_load(self)
        return getattr(module, attribute)

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # pickled by name, as a module is
        return lazy_import, (object.__getattribute__(self, "_lazy_name"),)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(LazyModule._lazy_load(self), attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(LazyModule._lazy_load(self), attribute)

    def __dir__(self) -> list[str]:
        return dir(LazyModule._lazy_load(self))

    def __repr__(self) -> str:
        name, loaded = (object.__getattribute__(self, slot) for slot in LazyModule.__slots__)
        return f"<lazy module {name!r} ({'imported' if loaded is not None else 'not imported yet'})>"


def lazy_import(name: str) -> Any:
    """The module ``name``, or a :class:`LazyModule` that imports it on first use if it has not
    been imported yet (then ``sys.modules`` does not hold it until that first use)."""
    module = sys.modules.get(name)
    return module if module is not None else LazyModule(name)
