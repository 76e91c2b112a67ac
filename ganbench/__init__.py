"""ganbench: a plugin-based benchmarking harness for GANs.

A plugin needs only ``import ganbench`` and :data:`ganbench.hookimpl`; the base classes it
subclasses, :class:`MetricSkipped`, which a metric raises to skip itself with a reason,
:func:`lazy_import`, which keeps torch out of a plugin's import, and the search-space types a
``Params`` field declares are re-exported here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ganbench.threads import request_passive_waits

request_passive_waits()  # before anything below loads torch (and OpenMP): see ganbench.threads

from ganbench.hookspecs import hookimpl  # noqa: E402
from ganbench.lazy import lazy_import  # noqa: E402

try:
    __version__ = version("ganbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from ganbench.architectures import ArchSpec, Architecture  # noqa: E402
from ganbench.datasets import DataSource, Dataset, TensorSource  # noqa: E402
from ganbench.metrics import EvaluationContext, Metric, MetricSkipped  # noqa: E402
from ganbench.spaces import Choice, IntRange, LogUniform, Uniform, searched  # noqa: E402
from ganbench.variants import Variant, VariantParams  # noqa: E402

__all__ = [
    "ArchSpec", "Architecture", "DataSource", "Dataset", "EvaluationContext", "Metric",
    "MetricSkipped", "TensorSource", "Variant", "VariantParams", "__version__", "hookimpl", "lazy_import",
    "Choice", "IntRange", "LogUniform", "Uniform", "searched",  # search spaces (ganbench search)
]
