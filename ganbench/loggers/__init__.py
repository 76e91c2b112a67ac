"""Loggers: where a run sends what it records while it trains (TensorBoard, W&B, MLflow, ...).

Subclass :class:`Logger`, set ``name`` and ``description``, implement the methods you need and
register the class from a ``register_loggers`` hook; ``ganbench run --log NAME`` then uses it
for every run. The built-in ``tensorboard`` logger is such a plugin. :class:`RunLoggers` is what
the runner talks to: it opens the named loggers for one run and shields the run from them.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

if TYPE_CHECKING:
    from torch import Tensor

    from ganbench.registry import Registry


class LoggerWarning(UserWarning):
    """A logger raised; it is dropped for the rest of the run, and the run goes on."""


class Logger:
    """A logger plugin: one instance per run, told what the run records as it trains.

    It sets ``name`` and a one-line ``description``. ganbench calls, in this order:
    :meth:`open` once, before training, with the run's folder and configuration; then, while
    the run trains, :meth:`log_scalars` (the losses of each step, after each read-back of the
    loss buffer, every 50 steps; metrics over training with ``--eval-every``; the final
    metrics), :meth:`log_images` (the sample grids of ``--sample-every`` and the final one)
    and :meth:`log_text`; :meth:`close` once at the end, however the run ended.
    :meth:`check_available` is called once before the sweep starts.

    A method that raises gets one warning naming the logger and its plugin, and the logger is
    dropped for the rest of that run: the run goes on and its results are those it would have
    without the logger. Logging time is not counted as training time. Nothing a logger does
    may draw random numbers from torch's global generator.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`ganbench.errors.UsageError` (saying what to install) when this logger
        cannot work here, e.g. its package is missing; called before any run starts."""

    def open(self, run_dir: Path, config: Mapping[str, Any]) -> None:
        """Start logging one run: ``run_dir`` is its folder (write files under it), ``config``
        its configuration as JSON-ready data (``run_id``, ``digest``, ``variant``, ``dataset``,
        ``seed``, ``steps``, ... as in ``config.json``)."""

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Scalars at generator step ``step``, keyed by tag: ``loss/g_loss``, ``loss/d_loss``, ...
        (one call per training step, the columns of ``history.csv``), ``eval/KEY`` (metrics
        over training) and ``metrics/KEY`` (the final metrics). Values are finite floats or
        infinities; values that do not apply (NaN) are left out."""

    def log_images(self, step: int, tag: str, image: Tensor) -> None:
        """An image at ``step``: ``image`` is a ``(3, H, W)`` uint8 tensor on the CPU, e.g. the
        sample grid saved as ``samples-stepNNNNNN.png`` (tag ``samples``)."""

    def log_text(self, tag: str, text: str) -> None:
        """A piece of text, e.g. the run's configuration as JSON (tag ``config``)."""

    def close(self) -> None:
        """Finish: flush and release what :meth:`open` acquired."""


class RunLoggers:
    """The loggers of one run, each called in turn; one that raises is warned about once and
    dropped, so that a broken logger plugin never stops or changes a run."""

    def __init__(self, loggers: Sequence[tuple[str, str, Logger]], run_id: str = "") -> None:
        self._loggers = list(loggers)  # (name, plugin, instance)
        self.run_id = run_id

    @classmethod
    def open(cls, names: Sequence[str], registry: Registry, run_dir: Path,
             config: Mapping[str, Any]) -> RunLoggers:
        """Make and open the loggers ``names`` of ``registry`` for the run in ``run_dir``.

        :raises ganbench.errors.UnknownNameError: a name that no plugin registered.
        """
        run_loggers = cls([], str(config.get("run_id", "")))
        for name in names:
            logger_cls, plugin = registry.get(name), registry.plugin_of(name)
            try:
                logger = logger_cls()
                logger.open(run_dir, config)
            except Exception as exc:  # noqa: BLE001 - a broken logger plugin must not lose the run
                run_loggers._warn(name, plugin, "open", exc)
                continue
            run_loggers._loggers.append((name, plugin, logger))
        return run_loggers

    @property
    def names(self) -> list[str]:
        """The loggers still in use."""
        return [name for name, _, _ in self._loggers]

    def __bool__(self) -> bool:
        return bool(self._loggers)

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Every logger's :meth:`Logger.log_scalars`, without the NaN values."""
        kept = {tag: float(value) for tag, value in values.items() if not math.isnan(value)}
        if kept:
            self._call("log_scalars", step, kept)

    def log_images(self, step: int, tag: str, image: Tensor) -> None:
        self._call("log_images", step, tag, image)

    def log_text(self, tag: str, text: str) -> None:
        self._call("log_text", tag, text)

    def close(self) -> None:
        self._call("close")
        self._loggers = []

    def _call(self, method: str, *args: Any) -> None:
        for entry in list(self._loggers):
            name, plugin, logger = entry
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a broken logger plugin must not lose the run
                self._loggers.remove(entry)
                self._warn(name, plugin, method, exc)
                if method != "close":
                    try:
                        logger.close()
                    except Exception:  # noqa: BLE001 - already warned about this logger
                        pass

    def _warn(self, name: str, plugin: str, method: str, exc: Exception) -> None:
        where = f" of run {self.run_id}" if self.run_id else ""
        warnings.warn(f"logger {name!r} (plugin {plugin!r}) raised {type(exc).__name__} in {method}(): {exc}; "
                      f"it is dropped for the rest{where}, and training goes on.", LoggerWarning, stacklevel=3)
