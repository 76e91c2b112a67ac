"""Search spaces for hyperparameters, declared on a variant's ``Params`` dataclass fields::

    lr_g: float = field(default=2e-4, metadata={"search": LogUniform(1e-5, 1e-3)})

Four kinds: :class:`LogUniform`, :class:`Uniform`, :class:`IntRange` and :class:`Choice`.
Each has a text form that :func:`parse_space` reads back (``loguniform(1e-05, 0.001)``,
``uniform(0, 0.9)``, ``int(1, 5)``, ``choice(1, 2, 5)``): ``--space VARIANT.FIELD=TEXT`` and a
config file's ``[search.VARIANT]`` table use it. ``ganbench search`` turns them into Optuna
distributions (:meth:`Space.distribution`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ganbench.errors import UsageError

SEARCH_KEY = "search"  # the field-metadata key that holds a field's space


class Space:
    """A set of values one hyperparameter may take during a search."""

    kind: ClassVar[str]

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is wrong when the space is empty or invalid."""

    def distribution(self) -> Any:
        """The equivalent ``optuna.distributions.BaseDistribution``."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in the space."""
        raise NotImplementedError


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Uniform(Space):
    """Floats drawn uniformly from ``[low, high]``."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def validate(self) -> None:
        low, high = _number(self.low, "low"), _number(self.high, "high")
        if not low < high:
            raise ValueError(f"{self.kind}({self.low:g}, {self.high:g}) is empty: low must be below high")

    def distribution(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high))

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.kind}({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class LogUniform(Uniform):
    """Positive floats whose logarithm is uniform on ``[log low, log high]`` (learning rates)."""

    kind: ClassVar[str] = "loguniform"

    def validate(self) -> None:
        super().validate()
        if not self.low > 0:
            raise ValueError(f"{self} needs a positive low end, got {self.low:g}; use uniform(...) for ranges "
                             "that include 0")

    def distribution(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high), log=True)


@dataclass(frozen=True)
class IntRange(Space):
    """Integers from ``low`` to ``high``, both included (``log``: drawn on a log scale)."""

    low: int
    high: int
    log: bool = False
    kind: ClassVar[str] = "int"

    def validate(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"int(...) needs integer ends, got {name} {value!r}")
        if not self.low < self.high:
            raise ValueError(f"{self} is a single value or empty: low must be below high (fix the value "
                             "with --set instead)")
        if self.log and self.low < 1:
            raise ValueError(f"{self} on a log scale needs low >= 1")

    def distribution(self) -> Any:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{'logint' if self.log else 'int'}({self.low}, {self.high})"


@dataclass(frozen=True)
class Choice(Space):
    """One of a few values (numbers, strings or booleans)."""

    choices: tuple[Any, ...]
    kind: ClassVar[str] = "choice"

    def __init__(self, *choices: Any) -> None:
        object.__setattr__(self, "choices", tuple(choices))

    def validate(self) -> None:
        if len(self.choices) < 2:
            raise ValueError(f"{self} needs at least two values (fix a single value with --set instead)")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise ValueError(f"{self} lists a value twice")
        for value in self.choices:
            if not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"{self}: choices must be numbers, strings or booleans, got {value!r}")

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)

    def contains(self, value: Any) -> bool:
        return value in self.choices

    def __str__(self) -> str:
        return f"choice({', '.join(str(c) if not isinstance(c, str) else c for c in self.choices)})"


def searched(default: Any, space: Space | None) -> Any:
    """A dataclass field with ``default`` and the search ``space`` (``None``: not searched)::

        lr_g: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    """
    return dataclasses.field(default=default, metadata={SEARCH_KEY: space})


def declared_spaces(params_cls: type) -> dict[str, Space]:
    """``{field: space}`` for the fields of a ``Params`` dataclass that declare a space.

    A field redeclared in a subclass without metadata (``lr_g: float = 1e-4``, a new default)
    keeps the space its parent declared; ``searched(default, None)`` takes it away.
    """
    spaces = {}
    for f in dataclasses.fields(params_cls):
        for klass in params_cls.__mro__:
            own = vars(klass).get("__dataclass_fields__", {}).get(f.name)
            if own is not None and SEARCH_KEY in own.metadata:
                if own.metadata[SEARCH_KEY] is not None:
                    spaces[f.name] = own.metadata[SEARCH_KEY]
                break
    return spaces


_SPACE_TEXT = re.compile(r"\s*([a-z]+)\s*\((.*)\)\s*", re.DOTALL)
_FORMS = "loguniform(LOW, HIGH), uniform(LOW, HIGH), int(LOW, HIGH), logint(LOW, HIGH) or choice(A, B, ...)"


def _literal(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text.strip("'\"")


def parse_space(text: str, where: str = "space") -> Space:
    """Read a space from its text form (see the module's docstring); validated.

    :raises UsageError: the text is not one of the forms, or the space is empty or invalid.
    """
    match = _SPACE_TEXT.fullmatch(text)
    kind = match.group(1) if match else None
    args = [_literal(a) for a in match.group(2).split(",") if a.strip()] if match else []
    try:
        if kind == "loguniform" and len(args) == 2:
            space: Space = LogUniform(*args)
        elif kind == "uniform" and len(args) == 2:
            space = Uniform(*args)
        elif kind in ("int", "logint") and len(args) == 2:
            space = IntRange(*args, log=kind == "logint")
        elif kind == "choice":
            space = Choice(*args)
        else:
            raise UsageError(f"{where}: cannot read {text!r} as a search space; write {_FORMS}.")
        space.validate()
    except ValueError as exc:
        raise UsageError(f"{where}: invalid search space {text!r}: {exc}.") from None
    return space


def check_space_fits(space: Space, annotation: Any, where: str) -> None:
    """Refuse a space whose values a field of type ``annotation`` cannot take (floats for an int)."""
    if annotation is int and not (isinstance(space, IntRange)
                                  or (isinstance(space, Choice) and all(type(c) is int for c in space.choices))):
        raise UsageError(f"{where} is an integer; give it int(LOW, HIGH) or choice(...) of integers, not {space}.")
    if annotation is float and isinstance(space, Choice) and not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in space.choices):
        raise UsageError(f"{where} is a number; its choices must be numbers, not {space}.")


__all__ = ["Choice", "IntRange", "LogUniform", "SEARCH_KEY", "Space", "Uniform", "check_space_fits",
           "declared_spaces", "parse_space", "searched"]
