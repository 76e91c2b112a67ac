"""The ``ray`` executor: each run a Ray task, on a local Ray instance or an existing cluster.

With ``--ray-address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``) ganbench joins that
cluster; without it, it starts a Ray instance on this machine and stops it at the end. Each
task asks Ray for ``--cpus-per-run`` CPUs (default 1) and uses that many torch threads, and
for one GPU when the run's device is CUDA, so Ray runs as many at once as the cluster holds.
A run that raises comes back as a failed record with its traceback; a worker that dies (a
segfault, ``os._exit``, the out-of-memory killer, a lost node) is recorded as failed with
Ray's error. Ray itself never retries a run (``max_retries=0``): ``--retries`` does.
Workers report their progress (steps done, latest losses) through a Ray queue that the driver
reads while it waits for results; progress is best effort and never fails a run. Ray runs with
``log_to_driver`` off (its worker logs would bury the progress), so the warnings a run raises (a
logger plugin that raised and was dropped, a metric that failed) and the warnings ganbench logs
go through the same queue, and the driver raises and logs them again, as the local executor
shows them. Classes of ``GANBENCH_PLUGINS`` ``.py`` files, which workers cannot import by name,
travel by value with the catalog.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ganbench.errors import GanbenchError, UsageError
from ganbench.executors import Executor, NoProgress, SweepProgress
from ganbench.hookspecs import hookimpl
from ganbench.plugins import local_plugin_modules
from ganbench.storage import run_lock
from ganbench.tasks import RunRecord, RunTask, record_failure

if TYPE_CHECKING:
    from ganbench.catalog import Catalog

CONNECT_TIMEOUT_S = 10.0  # how long --ray-address may take to answer
PROGRESS_POLL_S = 0.5  # how often the driver reads the workers' progress reports
INSTALL_HINT = "install it with: pip install 'ganbench[ray]' (or pip install 'ray>=2.9')"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"--executor ray needs Ray, which is not installed; {INSTALL_HINT}, "
                         "or use --executor local.") from None
    return ray


class _ForwardLogs(logging.Handler):
    """Sends the ``ganbench`` logger's records (WARNING and above) of a worker to the driver."""

    def __init__(self, send: Any) -> None:
        super().__init__(logging.WARNING)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        self.send("log", (record.name, record.levelno, record.getMessage()))


@contextmanager
def _forwarded_warnings(send: Any) -> Iterator[None]:
    """While a run trains in a worker: each warning it shows (as the worker's filters decide)
    and each WARNING record of the ``ganbench`` logger goes to ``send`` instead of the worker's
    log file, which the driver does not show."""
    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        send("warning", (category.__module__, category.__qualname__, str(message)))

    handler = _ForwardLogs(send)
    ganbench_logger = logging.getLogger("ganbench")
    with warnings.catch_warnings():  # restores showwarning; each run starts with a fresh once-registry
        warnings.showwarning = show
        ganbench_logger.addHandler(handler)
        try:
            yield
        finally:
            ganbench_logger.removeHandler(handler)


def _run_in_worker(task: RunTask, catalog: Catalog, threads: int, events: Any) -> RunRecord | GanbenchError:
    """The Ray task: one run with ``threads`` torch threads. A user error is returned, not raised,
    so that the driver can raise it as it is. What the run reports goes to the queue ``events`` as
    ``(kind, run_id, payload)``: ``("started", id, None)``, ``("step", id, (done, latest losses))``,
    ``("warning", id, (category module, category name, message))``, ``("log", id, (logger,
    level, message))``."""
    import torch

    from ganbench import runner  # here, not at the top: loading the plugin does not load the training stack

    def send(kind: str, payload: Any) -> None:
        try:
            events.put_nowait((kind, task.config.run_id, payload))
        except Exception:  # noqa: BLE001 - reports are best effort: a lost one must not fail the run
            pass

    torch.set_num_threads(threads)
    send("started", None)
    with _forwarded_warnings(send):
        try:
            return runner.execute(task, catalog, on_step=lambda done, latest: send("step", (done, latest)))
        except GanbenchError as exc:
            return exc


def _warning_category(module: str, name: str) -> type[Warning]:
    """The warning class ``module.name`` as this process knows it, else ``UserWarning``."""
    try:
        found: Any = importlib.import_module(module) if module not in sys.modules else sys.modules[module]
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return UserWarning
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


def _relay_events(events: Any, tasks: dict[str, RunTask], started: set[str], progress: SweepProgress) -> None:
    """Pass the workers' reports waiting in ``events`` on: progress to ``progress``, warnings
    raised again here, log records logged again here."""
    try:
        reports = events.get_nowait_batch(events.qsize())
    except Exception:  # noqa: BLE001 - reports are best effort: the runs go on without them
        return
    for kind, run_id, payload in reports:
        task = tasks.get(run_id)
        if task is None:
            continue
        if kind == "started":
            started.add(run_id)
            progress.started(task.config)
        elif kind == "step" and run_id in started:
            progress.step(task.config, *payload)
        elif kind == "warning":
            module, name, message = payload
            warnings.warn(message, _warning_category(module, name), stacklevel=2)
        elif kind == "log":
            name, level, message = payload
            logging.getLogger(name).log(level, "%s", message)


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a ``HOST:PORT`` or ``ray://HOST:PORT`` address that nothing answers at within
    ``timeout_s`` (``ray.init`` would wait for it without end); ``auto`` is left to Ray."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--ray-address {address!r} is not an address: expected auto, HOST:PORT "
                         "or ray://HOST:10001.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise UsageError(f"could not join the Ray cluster at --ray-address {address!r}: nothing answers "
                         f"there ({reason}). Start one with `ray start --head`, or check the address.") from None


class RayExecutor(Executor):
    name = "ray"
    description = ("Each run a Ray task (one GPU per CUDA run); --ray-address joins a cluster, "
                   "otherwise a local Ray instance is started.")

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self._ray: Any = None
        self._owns_ray = False

    @property
    def threads_per_run(self) -> int:
        return self.options.cpus_per_run or 1

    def open(self) -> None:
        ray = _import_ray()
        self._ray = ray
        if ray.is_initialized():  # a caller (a test, a notebook) connected already
            return
        address = self.options.ray_address
        try:
            if address is None:
                # Workers import ganbench from where this driver did, not from another install.
                source = str(Path(__file__).resolve().parents[2])
                python_path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
                ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": {"PYTHONPATH": python_path}})
            else:
                check_reachable(address)
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise UsageError(f"could not join the Ray cluster at --ray-address {address!r}: {exc}. "
                             "Start one with `ray start --head`, or check the address.") from None
        self._owns_ray = True

    def close(self) -> None:
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    def run(self, tasks: Sequence[RunTask], catalog: Catalog,
            progress: SweepProgress | None = None) -> Iterator[RunRecord]:
        if not tasks:
            return
        if self._ray is None:
            raise RuntimeError("RayExecutor.run() called before open(); use `with executor:`.")
        ray = self._ray
        from ray.util.queue import Queue

        progress = progress or NoProgress()
        for module in local_plugin_modules():  # workers cannot import these by name
            ray.cloudpickle.register_pickle_by_value(module)
        remote = ray.remote(_run_in_worker)
        catalog_ref = ray.put(catalog)
        events = Queue(actor_options={"num_cpus": 0})
        by_id = {task.config.run_id: task for task in tasks}
        started: set[str] = set()
        pending = {}
        for task in tasks:
            gpus = 1 if task.config.device.startswith("cuda") else 0
            ref = remote.options(num_cpus=self.threads_per_run, num_gpus=gpus, max_retries=0,
                                 name=f"ganbench:{task.config.run_id}").remote(
                task, catalog_ref, self.threads_per_run, events)
            pending[ref] = task
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_POLL_S)
                _relay_events(events, by_id, started, progress)
                if not ready:
                    continue
                ref = ready[0]
                task = pending.pop(ref)
                if task.config.run_id in started:
                    started.discard(task.config.run_id)
                    progress.stopped(task.config)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died, or Ray lost the task
                    with run_lock(task.run_dir):  # not while another process trains this run
                        record = record_failure(task, f"{type(exc).__name__}: {exc}")
                    yield record
                    continue
                if isinstance(outcome, GanbenchError):
                    raise outcome
                yield outcome
        finally:
            for ref in pending:  # an error or an interrupted driver: stop what is still running
                ray.cancel(ref, force=True)
            events.shutdown()


@hookimpl
def register_executors(register) -> None:
    register(RayExecutor)
