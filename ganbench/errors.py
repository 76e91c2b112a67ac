"""Exceptions that ganbench reports to the user as clear messages, how a plugin failed, in
words, and the one wording of "unknown name; did you mean ...?"."""

from __future__ import annotations

import difflib
from typing import Iterable


class GanbenchError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class UsageError(GanbenchError):
    """A name or value given by the user is wrong (the CLI exits with code 2)."""


class UnknownNameError(UsageError, LookupError):
    """A variant, data set, metric or architecture name that no plugin registered."""


class PluginConflictError(GanbenchError):
    """Two plugins registered the same name, or a plugin registered something invalid."""


class InvalidRegistrationError(PluginConflictError):
    """A plugin registered something that is not a class of the right kind, or has an invalid name."""


class PluginFailureError(GanbenchError):
    """A plugin's own code failed where ganbench cannot go on without it, e.g. the chosen
    executor could not start (the CLI exits with code 1: a fault of the plugin, not of the input)."""


class DatasetUnavailableError(GanbenchError):
    """A data set's files could not be found or downloaded."""


class WeightsUnavailableError(GanbenchError):
    """A feature network's weight file could not be found, verified or downloaded."""


def describe_hook_failure(exc: BaseException) -> str:
    """How a plugin's code failed, in words that follow its name: ``exited (SystemExit 3)``,
    ``registered something invalid (...)`` or ``raised ValueError: ...``."""
    if isinstance(exc, SystemExit):
        return f"exited (SystemExit {exc.code!r})"
    if isinstance(exc, InvalidRegistrationError):
        return f"registered something invalid ({str(exc).rstrip('.')})"
    return f"raised {type(exc).__name__}: {exc}"


def nearest_name(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The name of ``known`` that ``name`` most likely meant: the one that differs only in case
    or ``_`` for ``-``, else the closest spelling (:func:`difflib.get_close_matches` with
    ``cutoff``); ``None`` when none is close."""
    known = list(known)
    normalised = {candidate.replace("_", "-").lower(): candidate for candidate in known}
    exact = normalised.get(name.replace("_", "-").lower())
    close = [exact] if exact else difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``did you mean 'NEAREST'?`` (see :func:`nearest_name`), or ``""`` when none is close."""
    nearest = nearest_name(name, known, cutoff=cutoff)
    return f"did you mean {nearest!r}?" if nearest is not None else ""


def unknown_name_message(what: str, name: str, known: Iterable[str], *, cutoff: float = 0.6, then: str = "") -> str:
    """``unknown WHAT 'NAME'; did you mean 'X'? Available: A, B.`` and ``then`` (what else to do).

    The same words wherever ganbench refuses a name: the bad name, the nearest ones, every
    name it accepts (in the order given)."""
    known = list(known)
    hint = did_you_mean(name, known, cutoff=cutoff)
    message = f"unknown {what} {name!r}{'; ' + hint if hint else '.'} Available: {', '.join(known) or 'none'}."
    return f"{message} {then}" if then else message
