"""The ``local`` executor: every run in this process, one after another (the default).

Runs share the process, so a run that raises is recorded as failed and the sweep goes on,
but a run that kills the process (a segfault, ``os._exit``, the out-of-memory killer) ends
the sweep; run the same command again to resume, or use the ``ray`` executor, which isolates
each run in a worker process, even on one machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

from ganbench.executors import Executor, NoProgress, SweepProgress
from ganbench.hookspecs import hookimpl
from ganbench.seeding import torch_threads
from ganbench.threads import ThreadChoice, choose_threads

if TYPE_CHECKING:
    from ganbench.catalog import Catalog
    from ganbench.tasks import RunRecord, RunTask


class LocalExecutor(Executor):
    """Runs in this process with the torch thread count of :mod:`ganbench.threads`' policy
    (chosen once per executor, i.e. per sweep: its runs are comparable), or ``--cpus-per-run``."""

    name = "local"
    description = ("In this process, one run after another (default); torch threads from the free CPUs, "
                   "or --cpus-per-run.")

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self._threads: ThreadChoice | None = None

    @property
    def thread_choice(self) -> ThreadChoice:
        """The torch thread count of every run, chosen on first use."""
        if self._threads is None:
            import torch

            self._threads = choose_threads(self.options.cpus_per_run, torch.get_num_threads())
        return self._threads

    def describe_setup(self) -> str:
        return self.thread_choice.describe()

    def run(self, tasks: Sequence[RunTask], catalog: Catalog,
            progress: SweepProgress | None = None) -> Iterator[RunRecord]:
        from ganbench import runner  # here, not at the top: loading the plugin does not load the training stack

        progress = progress or NoProgress()
        for task in tasks:
            progress.started(task.config)
            try:
                with torch_threads(self.thread_choice.count):
                    record = runner.execute(task, catalog,
                                            on_step=lambda done, latest, c=task.config: progress.step(c, done, latest))
            finally:
                progress.stopped(task.config)
            yield record


@hookimpl
def register_executors(register) -> None:
    register(LocalExecutor)
