"""Name registries filled by the ``register_*`` hooks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, Iterator, TypeVar

from ganbench.errors import InvalidRegistrationError, PluginConflictError, UnknownNameError, unknown_name_message

T = TypeVar("T")

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
RESERVED_NAMES = frozenset({"train", "arch", "auto", "all"})


@dataclass
class Entry(Generic[T]):
    """One registered class and the plugin that supplied it."""

    name: str
    obj: T
    plugin: str


@dataclass
class Registry(Generic[T]):
    """Registered classes of one kind (``variant``, ``dataset``, ...), by name."""

    kind: str
    base: type | None = None
    entries: dict[str, Entry[T]] = field(default_factory=dict)

    def check(self, obj: object, plugin: str) -> None:
        """Raise :class:`InvalidRegistrationError` unless ``obj`` is a class of this kind with a valid name."""
        if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise InvalidRegistrationError(
                f"plugin {plugin!r} registered {obj!r} as a {self.kind}, but a {self.kind} must be a "
                f"subclass of {self.base.__module__}.{self.base.__qualname__}."
            )
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
            raise InvalidRegistrationError(
                f"plugin {plugin!r} registered a {self.kind} with the invalid name {name!r}: "
                "expected lower-case letters, digits, '-' or '.', not one of "
                f"{sorted(RESERVED_NAMES)}; set the class attribute 'name'."
            )

    def add(self, obj: T, plugin: str) -> None:
        """Register ``obj`` (a class with ``name`` and ``description``) from ``plugin``.

        :raises InvalidRegistrationError: ``obj`` is not a class of this kind with a valid name.
        :raises PluginConflictError: another plugin registered the same name.
        """
        self.check(obj, plugin)
        name = obj.name  # type: ignore[attr-defined]
        if name in self.entries:
            other = self.entries[name].plugin
            raise PluginConflictError(
                f"{self.kind} {name!r} is registered twice: by plugin {other!r} and by "
                f"plugin {plugin!r}. Uninstall one of them or rename its {self.kind}."
            )
        self.entries[name] = Entry(name, obj, plugin)

    def get(self, name: str) -> T:
        """The class registered as ``name``; :class:`UnknownNameError` with suggestions if none."""
        try:
            return self.entries[name].obj
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """``unknown variant 'wgan_gp'; did you mean 'wgan-gp'? Available: ...``."""
        return unknown_name_message(self.kind, name, sorted(self.entries))

    def plugin_of(self, name: str) -> str:
        return self.entries[name].plugin

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self.entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self.entries)
