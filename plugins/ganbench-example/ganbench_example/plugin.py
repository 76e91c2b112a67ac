"""The module the ``ganbench`` entry point names: one ``@ganbench.hookimpl`` per hook used."""

from __future__ import annotations

from typing import Callable

import ganbench
from ganbench_example.sliced_wasserstein import SlicedWasserstein
from ganbench_example.wgan_lp import WGANLP


@ganbench.hookimpl
def register_variants(register: Callable[[type], None]) -> None:
    register(WGANLP)


@ganbench.hookimpl
def register_metrics(register: Callable[[type], None]) -> None:
    register(SlicedWasserstein)
