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


class LazyModule:
    """A stand-in for the module ``name``: imports it on first attribute access, then forwards
    every read, write and deletion to it. It has no ``__dict__`` of its own (``__slots__``), so
    tools that look there, such as pytest's ``monkeypatch``, see the real module's attributes."""

    __slots__ = ("_lazy_name", "_lazy_target")

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)
        object.__setattr__(self, "_lazy_target", None)

    def _load(self) -> ModuleType:
        module = object.__getattribute__(self, "_lazy_target")
        if module is None:
            module = importlib.import_module(object.__getattribute__(self, "_lazy_name"))
            object.__setattr__(self, "_lazy_target", module)
        return module

    def __getattr__(self, attribute: str) -> Any:  # called for every name but the two slots
        return getattr(self._load(), attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(self._load(), attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(self._load(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def __repr__(self) -> str:
        loaded = object.__getattribute__(self, "_lazy_target") is not None
        return f"<lazy module {self._lazy_name!r} ({'imported' if loaded else 'not imported yet'})>"


def lazy_import(name: str) -> Any:
    """The module ``name``, or a :class:`LazyModule` that imports it on first use if it has not
    been imported yet (then ``sys.modules`` does not hold it until that first use)."""
    module = sys.modules.get(name)
    return module if module is not None else LazyModule(name)
