"""ganbench: a plugin-based benchmarking harness for GANs.

A plugin needs only ``import ganbench`` and :data:`ganbench.hookimpl`; the base classes it
subclasses, :class:`MetricSkipped`, which a metric raises to skip itself with a reason, and
:func:`lazy_import`, which keeps torch out of a plugin's import, are re-exported here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

try:
    __version__ = version("ganbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from ganbench.architectures import ArchSpec, Architecture  # noqa: E402
from ganbench.datasets import DataSource, Dataset, TensorSource  # noqa: E402
from ganbench.metrics import EvaluationContext, Metric, MetricSkipped  # noqa: E402
from ganbench.variants import Variant, VariantParams  # noqa: E402

__all__ = [
    "ArchSpec", "Architecture", "DataSource", "Dataset", "EvaluationContext", "Metric",
    "MetricSkipped", "TensorSource", "Variant", "VariantParams", "__version__", "hookimpl", "lazy_import",
]
