"""Exceptions that ganbench reports to the user as clear messages, and how a plugin failed, in words."""

from __future__ import annotations


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
