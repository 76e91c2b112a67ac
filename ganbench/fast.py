"""Fast mode and training precision: what a run may give up of bit-for-bit repeatability for speed.

The default mode is deterministic (:func:`ganbench.seeding.seed_everything`): on the CPU the
same command and seed give bit-identical losses. ``--fast`` (``fast = true`` under
``[train]``) gives that up for speed:

* on CUDA: cuDNN's benchmark (it times the convolution algorithms and keeps the fastest),
  TF32 matrix products and convolutions, deterministic algorithms off, and the whole training
  step (critic steps, penalty, generator step, optimiser updates, sampling) captured once as
  a CUDA graph and replayed, one launch per step (:mod:`ganbench.step_graph`), when the
  variant, the data source and the architecture declare ``capturable`` and no option changes
  the step from step to step. Otherwise the generator and critic are compiled with
  ``torch.compile(mode="reduce-overhead")`` where that applies: not for variants with a
  penalty (its double backward cannot run through a compiled graph) nor with
  ``unrolled_steps`` (the unrolled critic is a copy). A capture or compilation that fails
  falls back, with a warning, to eager steps;
* on every device: convolutional networks in channels-last memory format, deterministic
  algorithms off. On the CPU nothing is compiled: compiling costs tens of seconds, more than
  it saves in runs of a few thousand steps of these small networks.

``--precision bf16`` (any mode) runs the networks' forward passes under bfloat16 autocast;
their outputs are float32 again, so losses, penalties and optimiser steps stay float32.

Noise is drawn on the training device, and in-memory data sets sample there too
(:class:`ganbench.datasets.TensorSource`), so no mode copies batches from the host.
Both settings are part of the run's configuration and of its digest when not the default.
Evaluation always runs with the default backend settings, so a fast run's metrics are
measured the same way as any other run's; the feature networks of the metrics run in full
float32 on every device (:func:`full_float32`).
"""

from __future__ import annotations

import types
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ganbench.errors import UsageError
from ganbench.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: the CLI's start-up checks a mode only
nn = lazy_import("torch.nn")

PRECISIONS = ("fp32", "bf16")
COMPILE_MODE = "reduce-overhead"  # CUDA graphs on CUDA


@dataclass(frozen=True)
class ComputeMode:
    """How a run computes: ``fast`` (see the module's docstring) and ``precision``."""

    fast: bool = False
    precision: str = "fp32"

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}; "
                             "fp32 is the default, bf16 runs the networks under bfloat16 autocast.")

    def is_default(self) -> bool:
        return self == ComputeMode()

    def label(self) -> str:
        """``""`` for the default mode, else e.g. ``"fast mode, bf16"``."""
        return ", ".join((["fast mode"] if self.fast else []) + ([self.precision] if self.precision != "fp32" else []))


@dataclass(frozen=True)
class BackendFlags:
    """torch's process-wide settings that a mode decides (see :func:`backend_flags`)."""

    deterministic: bool
    cudnn_benchmark: bool
    matmul_tf32: bool
    cudnn_tf32: bool


def backend_flags(mode: ComputeMode, device: torch.device) -> BackendFlags:
    """The backend settings of ``mode`` on ``device``.

    The default mode's are those :func:`~ganbench.seeding.seed_everything` sets, with torch's
    own TF32 defaults (matrix products in full float32; cuDNN convolutions may use TF32).
    Fast mode turns deterministic algorithms off everywhere, and on CUDA turns cuDNN's
    benchmark and TF32 on; on the CPU those have no effect and stay off.
    """
    if not mode.fast:
        return BackendFlags(deterministic=True, cudnn_benchmark=False, matmul_tf32=False, cudnn_tf32=True)
    cuda = device.type == "cuda"
    return BackendFlags(deterministic=False, cudnn_benchmark=cuda, matmul_tf32=cuda, cudnn_tf32=True)


def apply_backend_flags(flags: BackendFlags, device: torch.device) -> None:
    """Set ``flags`` process-wide (CUDA kernels without a deterministic version only warn)."""
    torch.use_deterministic_algorithms(flags.deterministic, warn_only=device.type == "cuda")
    torch.backends.cudnn.benchmark = flags.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = flags.matmul_tf32
    torch.backends.cudnn.allow_tf32 = flags.cudnn_tf32


def current_backend_flags() -> BackendFlags:
    """torch's backend settings now."""
    return BackendFlags(torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
                        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


@contextmanager
def default_backends(device: torch.device) -> Iterator[None]:
    """The default mode's backend settings inside the block (evaluations of a fast run), the
    settings from before after it."""
    before = current_backend_flags()
    apply_backend_flags(backend_flags(ComputeMode(), device), device)
    try:
        yield
    finally:
        apply_backend_flags(before, device)


@contextmanager
def full_float32() -> Iterator[None]:
    """Matrix products and cuDNN convolutions in full float32 inside the block (no TF32: on CUDA
    torch lets convolutions round their inputs to 10-bit mantissas by default), the settings
    from before after it. The feature networks of the metrics run in it, so that features on a
    GPU match torch-fidelity's and pytorch-fid's float32 features, as on the CPU; it changes
    nothing on the CPU."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def is_convolutional(module: nn.Module) -> bool:
    """Whether ``module`` holds a convolution (then channels-last memory can speed it up)."""
    return any(isinstance(child, nn.modules.conv._ConvNd) for child in module.modules())


def should_compile(mode: ComputeMode, device: torch.device, *, has_penalty: bool, unrolled_steps: int) -> bool:
    """Whether fast mode compiles the networks: on CUDA, without a penalty or unrolled steps."""
    return mode.fast and device.type == "cuda" and not has_penalty and unrolled_steps == 0


def _autocast_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    # no cast cache: a CUDA graph capture must record every cast (torch's advice for autocast in graphs)
    with torch.autocast(self._ganbench_autocast_device, dtype=torch.bfloat16, cache_enabled=False):
        output = type(self).forward(self, *args, **kwargs)
    return output.float() if isinstance(output, torch.Tensor) else output


def autocast_bf16(module: nn.Module, device: torch.device) -> None:
    """Run ``module``'s forward under bfloat16 autocast and return float32 outputs.

    The module is changed in place (its ``state_dict`` keeps its keys; a deep copy keeps the
    behaviour), so backward passes and optimiser steps run outside autocast.
    """
    module._ganbench_autocast_device = device.type
    module.forward = types.MethodType(_autocast_forward, module)


def compile_with_fallback(module: nn.Module, mode: str = COMPILE_MODE, **options: Any) -> None:
    """Compile ``module`` in place (:meth:`torch.nn.Module.compile`); if a call of the compiled
    network fails, warn once and run it eagerly from then on. ``options`` go to ``torch.compile``
    (e.g. ``backend``)."""
    module.compile(mode=mode, **options)
    compiled = module._compiled_call_impl

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return compiled(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back, do not lose the run
            warnings.warn(f"torch.compile failed for {type(module).__name__} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); it runs uncompiled.", stacklevel=2)
            module._compiled_call_impl = None
            return module._call_impl(*args, **kwargs)

    module._compiled_call_impl = guarded


def uncompile(module: nn.Module) -> None:
    """Run ``module`` eagerly again (after training: evaluation and sample pictures do not
    recompile for their batch sizes)."""
    module._compiled_call_impl = None


def prepare_models(models: tuple[nn.Module, ...], mode: ComputeMode, device: torch.device, *,
                   compile_networks: bool, **compile_options: Any) -> list[str]:
    """Apply ``mode`` to the networks in place before training; returns what was done, e.g.
    ``["channels-last", "compiled"]``. Parameters keep their identity, so optimisers made
    before still hold them."""
    done: list[str] = []
    for module in models:
        if mode.fast and is_convolutional(module):
            module.to(memory_format=torch.channels_last)
            done.append(f"{type(module).__name__}: channels-last")
        if mode.precision == "bf16":
            autocast_bf16(module, device)
            done.append(f"{type(module).__name__}: bf16 autocast")
        if compile_networks:
            compile_with_fallback(module, **compile_options)
            done.append(f"{type(module).__name__}: compiled")
    return done


__all__ = [
    "BackendFlags", "COMPILE_MODE", "ComputeMode", "PRECISIONS", "apply_backend_flags", "autocast_bf16",
    "backend_flags", "compile_with_fallback", "current_backend_flags", "default_backends", "full_float32",
    "is_convolutional",
    "prepare_models", "should_compile", "uncompile",
]
