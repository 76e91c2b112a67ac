"""A whole training step captured once as a CUDA graph and replayed: fast mode's GPU path.

A GAN step on small networks is hundreds of tiny kernels; launched one by one from Python the
GPU waits on the launches. :class:`GraphedStep` runs a step function eagerly for a few warm-up
steps (on a side stream, as CUDA graphs require), then captures one call of it (every kernel of
the critic steps, the generator step, the penalty's double backward, the optimiser updates, the
noise and the data indices drawn on the device) and from then on replays that graph: one launch
per step. The step function must do the same work on every call with no host synchronisation
(no ``.item()``, no Python decision on a tensor's value); what it returns is written into one
static tensor that each replay refills.

Whether a run's step may be captured is declared by what makes it: the variant, the data source
and the architecture each set ``capturable`` (:func:`ganbench.training.capturable_run`).
Optimisers are switched to their ``capturable`` implementation (:func:`make_capturable`). A capture that fails falls
back, with one warning, to eager steps.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from ganbench.lazy import lazy_import

torch = lazy_import("torch")

WARMUP_STEPS = 3  # eager steps on a side stream before the capture (cuDNN's benchmark, lazy state)


def make_capturable(optimizer: Any) -> None:
    """Switch ``optimizer``'s parameter groups to their CUDA-graph-safe implementation (the step
    counter kept on the device), where the optimiser has one (torch's Adam, AdamW, RMSprop,
    ...); step counters already made are moved to their parameter's device."""
    for group in optimizer.param_groups:
        if "capturable" not in group:
            continue
        group["capturable"] = True
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            if isinstance(state.get("step"), torch.Tensor) and state["step"].device != parameter.device:
                state["step"] = state["step"].to(parameter.device, torch.get_default_dtype())


class GraphedStep:
    """``step_fn(step) -> Tensor`` run eagerly for :data:`WARMUP_STEPS` calls, then captured as a
    CUDA graph and replayed.

    Calling the object returns the step's output: a tensor that the next call overwrites, so
    copy it before then (the training loop writes it into its loss buffer at once).
    ``new_graph`` and ``graph_context`` default to torch's ``CUDAGraph`` and ``graph``; tests
    give stand-ins.
    """

    def __init__(self, step_fn: Callable[[int], Any], *, warmup: int = WARMUP_STEPS,
                 new_graph: Callable[[], Any] | None = None,
                 graph_context: Callable[[Any], Any] | None = None) -> None:
        self.step_fn = step_fn
        self.warmup = warmup
        self._new_graph = new_graph or (lambda: torch.cuda.CUDAGraph())
        self._graph_context = graph_context or (lambda graph: torch.cuda.graph(graph))
        self.graph: Any = None
        self.output: Any = None
        self.eager_steps = 0
        self.failure: str | None = None  # why the step runs eagerly, once a capture failed
        self._stream: Any = None

    @property
    def captured(self) -> bool:
        """Whether the step now replays a captured graph."""
        return self.graph is not None

    def __call__(self, step: int) -> Any:
        if self.graph is not None:
            self.graph.replay()
            return self.output
        if self.failure is not None:
            return self._eager(step)
        if self.eager_steps < self.warmup:
            self.eager_steps += 1
            return self._on_side_stream(step)
        if self._capture(step):
            self.graph.replay()
            return self.output
        return self._eager(step)

    def _eager(self, step: int) -> Any:
        """One eager step; torch's warning that capturable optimisers run uncaptured is expected here."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            return self.step_fn(step)

    def _on_side_stream(self, step: int) -> Any:
        """One eager step on a side stream, ordered after and before the current stream's work."""
        current = _current_stream()
        if current is None:  # no CUDA (the tests' stand-in graphs): no streams to order
            return self._eager(step)
        if self._stream is None:
            self._stream = torch.cuda.Stream()
        self._stream.wait_stream(current)
        with torch.cuda.stream(self._stream):
            output = self._eager(step)
        current.wait_stream(self._stream)
        return output

    def _capture(self, step: int) -> bool:
        """Capture one call of the step (nothing runs until a replay); False, with a warning, if
        the capture failed: the step then runs eagerly from now on."""
        graph = self._new_graph()
        restore = _save_cuda_state()
        try:
            with self._graph_context(graph):
                output = self.step_fn(step)
        except Exception as exc:  # noqa: BLE001 - any capture failure: run eagerly, do not lose the run
            restore()
            message = " ".join(str(exc).split())[:200]
            self.failure = f"{type(exc).__name__}: {message}"
            warnings.warn(f"fast mode could not capture the training step as a CUDA graph ({self.failure}); "
                          "the steps run eagerly. A variant, data source or architecture that declares "
                          "capturable = True must not synchronise with the host inside a step.", stacklevel=2)
            return False
        self.graph, self.output = graph, output
        return True


def _save_cuda_state() -> Callable[[], None]:
    """What a failed capture leaves behind, to undo: torch's ``graph`` context does not leave its
    capture stream, and the device's random generator stays in capture mode (every later draw
    raises "Offset increment outside graph capture"), when the capture ends in an error."""
    if not torch.cuda.is_available():
        return lambda: None
    stream = torch.cuda.current_stream()
    generator = torch.cuda.default_generators[torch.cuda.current_device()]
    saved = generator.clone_state()  # a copy taken outside capture mode, at the same offset

    def restore() -> None:
        torch.cuda.set_stream(stream)
        generator.graphsafe_set_state(saved)

    return restore


def _current_stream() -> Any:
    return torch.cuda.current_stream() if torch.cuda.is_available() else None


__all__ = ["GraphedStep", "WARMUP_STEPS", "make_capturable"]
