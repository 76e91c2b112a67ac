"""Exceptions that ganbench reports to the user as clear messages."""

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


class DatasetUnavailableError(GanbenchError):
    """A data set's files could not be found or downloaded."""


class WeightsUnavailableError(GanbenchError):
    """A feature network's weight file could not be found, verified or downloaded."""
