"""The catalog: everything the plugins registered, one registry per kind.

It sits below the plugin manager (:func:`ganbench.plugins.build_catalog` fills it), so that
the code that only reads a catalog (settings, training loops, runner, executors) never imports
the plugin manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ganbench.registry import Registry


@dataclass
class Catalog:
    """Everything the plugins registered, one :class:`Registry` per kind."""

    variants: Registry
    datasets: Registry
    metrics: Registry
    architectures: Registry
    executors: Registry
    loggers: Registry = field(default_factory=lambda: Registry("logger"))
