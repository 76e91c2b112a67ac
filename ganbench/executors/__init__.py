"""Executors: what does the runs of a sweep, in this process or on a cluster.

An executor receives the runs still to do (:class:`ganbench.tasks.RunTask`) and yields one
:class:`ganbench.tasks.RunRecord` per run as each completes, in any order. Every run writes
its own folder with the atomic files of :mod:`ganbench.storage`, wherever it executes, so the
driver only collects records and shows progress. Executors register through the
``register_executors`` hook; the built-in ones are ``local`` and ``ray``.

This module (the base class and what it needs) sits below the runner; the built-in executors,
which call the runner, sit above it.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator, Mapping, Protocol, Sequence

from ganbench.catalog import Catalog
from ganbench.errors import GanbenchError, PluginFailureError, UsageError, describe_hook_failure
from ganbench.tasks import RunRecord, RunTask, record_failure

if TYPE_CHECKING:
    from ganbench.config import RunConfig

DEFAULT_EXECUTOR = "local"  # what runs a sweep when no executor is named


class SweepProgress(Protocol):
    """What an executor may report while runs execute; every method is optional to call."""

    def started(self, config: RunConfig) -> None:
        """A run began (executors that cannot tell when a remote run begins need not call it)."""

    def step(self, config: RunConfig, done: int, latest: Mapping[str, float] | None = None) -> None:
        """A started run finished ``done`` generator steps; ``latest`` holds the losses of its
        latest step (``g_loss``, ``d_loss``, ...) when the executor knows them."""

    def stopped(self, config: RunConfig) -> None:
        """A started run ended, however it ended."""


class NoProgress:
    """A :class:`SweepProgress` that shows nothing."""

    def started(self, config: RunConfig) -> None:
        pass

    def step(self, config: RunConfig, done: int, latest: Mapping[str, float] | None = None) -> None:
        pass

    def stopped(self, config: RunConfig) -> None:
        pass


@dataclass
class ExecutorOptions:
    """Settings given on the command line; an executor uses those that apply to it."""

    cpus_per_run: int | None = None  # torch threads per run (None: the executor's default)
    ray_address: str | None = None  # a Ray cluster to join (None: start a local Ray instance)

    def validate(self) -> None:
        if self.cpus_per_run is not None and self.cpus_per_run < 1:
            raise UsageError(f"--cpus-per-run must be a positive integer, got {self.cpus_per_run}.")


class Executor:
    """Base class of executors. Use as a context manager: ``with executor: executor.run(...)``.

    Subclasses set ``name`` and ``description`` and implement :meth:`run`; they override
    :meth:`open` and :meth:`close` when they hold resources (a cluster connection).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, options: ExecutorOptions | None = None) -> None:
        self.options = options or ExecutorOptions()
        self.options.validate()

    def open(self) -> None:
        """Acquire what :meth:`run` needs; raise :class:`ganbench.errors.UsageError` if unusable."""

    def close(self) -> None:
        """Release what :meth:`open` acquired."""

    def describe_setup(self) -> str | None:
        """One line that the sweep prints once, after :meth:`open` and before the runs, when it
        has runs to do: a choice the executor made for all of them (``local``: the torch thread
        count), or ``None``."""
        return None

    def setup_line_once(self) -> str | None:
        """:meth:`describe_setup` the first time it is asked after :meth:`open`, then ``None``,
        so that a search, one sweep per wave of trials, prints it once."""
        if getattr(self, "_setup_told", False):
            return None
        self._setup_told = True
        return self.describe_setup()

    def run(self, tasks: Sequence[RunTask], catalog: Catalog,
            progress: SweepProgress | None = None) -> Iterator[RunRecord]:
        """Do every task; yield each run's record as it completes.

        A run that raises or crashes must come back as a ``failed`` record (written to its
        ``metrics.json`` with :func:`ganbench.tasks.record_failure`) rather than end the
        iteration; a :class:`ganbench.errors.GanbenchError` from a run is raised.
        """
        raise NotImplementedError(f"executor {self.name!r} does not implement run()")

    def __enter__(self) -> Executor:
        """:meth:`open` on the outermost ``with`` only: a caller that does several sweeps with one
        executor (``ganbench search``, one sweep per wave of trials) holds it open around them,
        and the sweeps' own ``with`` then neither opens nor closes it again."""
        depth = getattr(self, "_open_depth", 0)
        if depth == 0:
            self.open()
            self._setup_told = False
        self._open_depth = depth + 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._open_depth = getattr(self, "_open_depth", 1) - 1
        if self._open_depth == 0:
            self.close()


class ExecutorWarning(UserWarning):
    """An executor's ``close()`` raised after its runs; their results are kept."""


def _plugin_of(executor: Executor | type[Executor], catalog: Catalog) -> str:
    """The plugin that registered ``executor``'s class (its module when the catalog lacks it)."""
    cls = executor if isinstance(executor, type) else type(executor)
    if cls.name in catalog.executors and catalog.executors.get(cls.name) is cls:
        return catalog.executors.plugin_of(cls.name)
    return cls.__module__


def _could_not_start(executor: Executor | type[Executor], catalog: Catalog, where: str,
                     exc: BaseException) -> PluginFailureError:
    name = executor.name
    return PluginFailureError(
        f"executor {name!r} (plugin {_plugin_of(executor, catalog)!r}) could not start: its {where} "
        f"{describe_hook_failure(exc).rstrip('.')}. Nothing was run; fix or update the plugin, or choose "
        f"another executor (`ganbench list executors`; --executor {DEFAULT_EXECUTOR} runs in this process).")


def make_executor(catalog: Catalog, name: str, options: ExecutorOptions | None = None) -> Executor:
    """The executor ``name`` of ``catalog``, constructed with ``options``.

    :raises ganbench.errors.UnknownNameError: no plugin registered ``name``.
    :raises ganbench.errors.UsageError: the options do not suit it (as its constructor says).
    :raises ganbench.errors.PluginFailureError: its constructor raised anything else, or exited.
    """
    executor_cls = catalog.executors.get(name)
    try:
        return executor_cls(options or ExecutorOptions())
    except GanbenchError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken executor plugin gets one clear line
        raise _could_not_start(executor_cls, catalog, "constructor", exc) from None


@contextmanager
def opened(executor: Executor, catalog: Catalog) -> Iterator[Executor]:
    """``with executor:``, where an ``open()`` that raises (other than a
    :class:`ganbench.errors.GanbenchError`, which passes as it is) or exits becomes a
    :class:`ganbench.errors.PluginFailureError` naming the executor and its plugin, and a
    ``close()`` that raises becomes one :class:`ExecutorWarning`: the runs are done by then."""
    try:
        executor.__enter__()
    except GanbenchError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken executor plugin gets one clear line
        raise _could_not_start(executor, catalog, "open()", exc) from None
    try:
        yield executor
    finally:
        try:
            executor.__exit__(None, None, None)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the results are saved; say so and go on
            warnings.warn(f"executor {executor.name!r} (plugin {_plugin_of(executor, catalog)!r}): its close() "
                          f"{describe_hook_failure(exc).rstrip('.')}; the runs' results are kept.",
                          ExecutorWarning, stacklevel=3)


def run_guarded(executor: Executor, tasks: Sequence[RunTask], catalog: Catalog,
                progress: SweepProgress | None = None) -> Iterator[RunRecord]:
    """``executor.run(...)``, where a fault of the executor itself (its ``run`` raises or exits)
    becomes a ``failed`` record, with the reason, for every run it had not returned yet, so that
    the sweep ends normally. A :class:`ganbench.errors.GanbenchError` and ``KeyboardInterrupt``
    pass through."""
    returned: set[str] = set()
    try:
        for record in executor.run(tasks, catalog, progress):
            returned.add(record.config.run_id)
            yield record
    except GanbenchError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken executor plugin must not lose the sweep
        reason = f"executor {executor.name!r} {describe_hook_failure(exc)}"
        for task in tasks:
            if task.config.run_id not in returned:
                yield record_failure(task, reason)
