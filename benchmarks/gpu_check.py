"""Checks and timings for a lent CUDA GPU, in one call that fits a short lease.

Run from the repository root on a machine with a CUDA GPU and torch ≥ 2.11 (nothing to
install: ``PYTHONPATH=.``; torch-fidelity and pytorch-fid are used when importable)::

    PYTHONPATH=. python -m benchmarks.gpu_check OUT_DIR [--budget SECONDS]

(``--device cpu`` with small ``--seconds`` and ``--images`` tries the script itself on a CPU.)

Each section appends JSON lines to ``OUT_DIR/results.jsonl`` and prints one line; a section
that fails is recorded with its error and the next one runs; a section that would start after
``--budget`` seconds is skipped. Sections, most important first:

1. ``training``: steps/s of the course's MLP (Fashion-MNIST-shaped data, batch 128) for
   ``vanilla`` and ``wgan-gp``: the hand-written loop of ``test_training_speed.py`` and
   ganbench in the default, ``--fast`` and ``--fast --precision bf16`` modes, all on the GPU in
   one process (a short warm-up run of each first; each timed run lasts about
   ``--seconds``), then the same for DCGAN 32×32 (batch 64) and the 32×32 ResNets of the
   Mimicry recipes (``hinge`` on ``resnet-sngan``, ``wgan-gp`` on ``resnet-wgangp``).
2. ``tests``: ``tests/test_step_graph.py`` (the CUDA-graph capture of every built-in variant,
   the fall-back of one that synchronises).
3. ``inception``: FID Inception features (random weights, the same state dict in each) of
   ganbench and torch-fidelity (its default batch of 64): img/s and the largest feature
   difference, with TF32 convolutions on (torch's default) and off.
4. ``cli``: ``ganbench run --fast --device cuda`` on ``ring-8`` through the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from ganbench.config import RunConfig, variant_params
from ganbench.training import train

from benchmarks.bench_data import catalog_with, random_images
from benchmarks.test_training_speed import hand_written_loop

MODES: dict[str, dict[str, Any]] = {"default": {}, "fast": {"fast": True},
                                    "fast+bf16": {"fast": True, "precision": "bf16"}}


class Check:
    """Device, results file, budget and one-line reports."""

    def __init__(self, out: Path, budget: float, device: str):
        self.out, self.budget, self.started = out, budget, time.perf_counter()
        self.device = torch.device(device)
        self.scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))  # large and many files stay out of OUT_DIR
        out.mkdir(parents=True, exist_ok=True)
        self.results = out / "results.jsonl"

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record(self, **fields: Any) -> None:
        fields["elapsed_s"] = round(self.elapsed(), 1)
        with self.results.open("a") as handle:
            handle.write(json.dumps(fields, default=str) + "\n")
        print(" ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                       for key, value in fields.items()), flush=True)

    def section(self, name: str, function: Callable[[], None]) -> None:
        if self.elapsed() > self.budget:
            self.record(section=name, skipped=f"over the budget of {self.budget:.0f} s")
            return
        try:
            function()
        except Exception as exc:  # noqa: BLE001 - record it and go on with the next section
            self.record(section=name, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-3000:])


def training_plan() -> list[tuple[str, str, str, int, int, dict[str, Any], bool]]:
    """(label, arch, dataset, batch, latent, variant overrides, with hand loop) per variant."""
    return [
        ("vanilla", "mlp", "bench-28", 128, 64, {}, True),
        ("wgan-gp", "mlp", "bench-28", 128, 64, {}, True),
        ("vanilla", "dcgan", "bench-32", 64, 100, {}, True),
        ("wgan-gp", "dcgan", "bench-32", 64, 100, {}, True),
        ("hinge", "resnet-sngan", "bench-32", 64, 128, {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9,
                                                        "n_critic": 5}, False),
        ("wgan-gp", "resnet-wgangp", "bench-32", 64, 128, {}, False),
    ]


MIN_STEPS = 30  # the fewest steps of a timed run


def timed_steps(rate: float, seconds: float, min_steps: int = MIN_STEPS) -> int:
    return int(min(20_000, max(min_steps, rate * seconds)))


def training(check: Check, seconds: float, repeats: int, archs: set[str], warmup_steps: int,
             min_steps: int = MIN_STEPS) -> None:
    catalog = catalog_with(random_images("bench-28", (1, 28, 28), 10_000),
                           random_images("bench-32", (3, 32, 32), 10_000))
    for variant, arch, dataset, batch, latent, overrides, with_hand in training_plan():
        if arch not in archs:
            continue
        if check.elapsed() > check.budget:
            check.record(section="training", variant=variant, arch=arch, skipped="over the budget")
            continue
        base = RunConfig(variant=variant, dataset=dataset, seed=0, arch=arch, steps=warmup_steps, batch_size=batch,
                         latent_dim=latent, device=check.device.type,
                         variant_params=variant_params(catalog, variant, overrides))
        rates: dict[str, list[float]] = {}
        extra: dict[str, Any] = {}

        def measure(mode: str) -> None:
            """A warm-up run, then runs of about ``seconds`` each (steps from the last rate; a run
            much shorter, the warm-up's capture and eager steps weighing in, is run again longer)."""
            config = dataclasses.replace(base, **MODES.get(mode, {}))
            if mode == "hand":
                def run(steps: int) -> tuple[float, int]:
                    return hand_written_loop(variant, dataclasses.replace(config, steps=steps), catalog), steps
            else:
                def run(steps: int) -> tuple[float, int]:
                    outcome = train(dataclasses.replace(config, steps=steps), catalog)
                    extra.update({f"{mode}_step": outcome.execution["step"],
                                  f"{mode}_finite": bool(outcome.history[["g_loss", "d_loss"]].notna().all().all()),
                                  f"{mode}_gp_share": outcome.timings["gp_share"]})
                    return outcome.timings["steps_per_s"], len(outcome.history)
            rate, steps = run(warmup_steps)
            for _ in range(3):
                rate, steps = run(timed_steps(rate, seconds, min_steps))
                if steps / rate > seconds / 2 or steps >= 20_000:
                    break
            extra[f"{mode}_steps"] = steps
            rates.setdefault(mode, []).append(rate)

        order = (["hand"] if with_hand else []) + list(MODES)
        for repeat in range(repeats if arch == "mlp" else 1):
            for mode in order if repeat % 2 == 0 else reversed(order):
                try:
                    measure(mode)
                except Exception as exc:  # noqa: BLE001 - one mode failing must not hide the others
                    extra[f"{mode}_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        medians = {mode: statistics.median(values) for mode, values in rates.items()}
        baseline = medians.get("hand", medians.get("default"))
        ratios = {f"ratio_{mode}": value / baseline for mode, value in medians.items() if baseline}
        check.record(section="training", variant=variant, arch=arch, batch=batch,
                     **{f"{mode}_steps_per_s": round(value, 1) for mode, value in medians.items()},
                     **{key: round(value, 2) for key, value in ratios.items()}, all_rates=rates, **extra)
        if check.device.type == "cuda":
            torch.cuda.empty_cache()


def tests(check: Check) -> None:
    command = [sys.executable, "-m", "pytest", "tests/test_step_graph.py", "-q", "-p", "no:cacheprovider",
               "-o", "addopts="]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    (check.out / "tests.txt").write_text(result.stdout + result.stderr)
    check.record(section="tests", returncode=result.returncode, seconds=round(time.perf_counter() - started, 1),
                 summary=(result.stdout.strip().splitlines() or [""])[-1])


def inception(check: Check, images: int) -> None:
    from ganbench.features.inception import InceptionFeatures

    from benchmarks.test_metrics_speed import _random_inception

    device = check.device
    state_dict = _random_inception().state_dict()
    weights = check.scratch / "random-inception.pth"
    torch.save(state_dict, weights)
    pixels = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(device)
    extractors: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    ours = InceptionFeatures.from_state_dict(state_dict, pipeline="tf", device=device)
    extractors["ganbench"] = lambda batch: ours.extract(batch)["features"]
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                             feature_extractor_weights_path=str(weights)).to(device).eval()

        def torch_fidelity(batch: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():  # torch-fidelity's own batch size, 64
                return torch.cat([theirs(batch[i:i + 64])[0] for i in range(0, len(batch), 64)])

        extractors["torch-fidelity"] = torch_fidelity
    except ImportError as exc:
        check.record(section="inception", note=f"torch-fidelity not importable: {exc}")
    for tf32 in (True, False):
        torch.backends.cudnn.allow_tf32 = tf32
        times: dict[str, list[float]] = {name: [] for name in extractors}
        features: dict[str, torch.Tensor] = {}
        for round_ in range(4):  # the first round warms up
            for name, extract in extractors.items():
                check.synchronize()
                start = time.perf_counter()
                features[name] = extract(pixels).double().cpu()
                check.synchronize()
                if round_:
                    times[name].append(time.perf_counter() - start)
        rates = {f"{name}_img_per_s": round(images / statistics.median(seconds), 1) for name, seconds in times.items()}
        difference = {}
        if "torch-fidelity" in features:
            diff = (features["ganbench"] - features["torch-fidelity"]).abs().max().item()
            scale = features["torch-fidelity"].abs().max().item()
            difference = {"max_abs_difference": diff, "max_abs_feature": scale}
        check.record(section="inception", images=images, cudnn_tf32=tf32, **rates, **difference)
    torch.backends.cudnn.allow_tf32 = True


def cli(check: Check, steps: int) -> None:
    out = check.scratch / "cli-results"
    command = [sys.executable, "-m", "ganbench", "run", "--variants", "vanilla,wgan-gp", "--datasets", "ring-8",
               "--steps", str(steps), "--device", check.device.type, "--fast", "--out", str(out), "--quiet"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "GANBENCH_CACHE_DIR": str(check.scratch / "cache")})
    (check.out / "cli.txt").write_text(result.stdout[-20000:] + result.stderr[-20000:])
    summaries = {path.parent.name: json.loads(path.read_text()) for path in out.rglob("metrics.json")}
    check.record(section="cli", returncode=result.returncode, seconds=round(time.perf_counter() - started, 1),
                 runs={name: {"steps_per_s": summary.get("timings", {}).get("steps_per_s"),
                              "execution": summary.get("execution")} for name, summary in summaries.items()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--budget", type=float, default=360.0, help="seconds after which sections are skipped")
    parser.add_argument("--seconds", type=float, default=2.5, help="length of each timed training run")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each mode for the MLP")
    parser.add_argument("--images", type=int, default=2048, help="images for the Inception timing")
    parser.add_argument("--sections", default="training,tests,inception,cli")
    parser.add_argument("--device", default="cuda", help="cuda; cpu only to try the script")
    parser.add_argument("--archs", default="mlp,dcgan,resnet-sngan,resnet-wgangp")
    parser.add_argument("--warmup-steps", type=int, default=30, help="steps of each untimed warm-up run")
    parser.add_argument("--cli-steps", type=int, default=400, help="steps of each run of the cli section")
    parser.add_argument("--min-steps", type=int, default=MIN_STEPS, help="the fewest steps of a timed run")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("benchmarks.gpu_check needs a CUDA GPU; torch.cuda.is_available() is False here.")
    check = Check(args.out, args.budget, args.device)
    check.record(section="device", name=torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
                 torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    sections = {"training": lambda: training(check, args.seconds, args.repeats, set(args.archs.split(",")),
                                             args.warmup_steps, args.min_steps), "tests": lambda: tests(check),
                "inception": lambda: inception(check, args.images), "cli": lambda: cli(check, args.cli_steps)}
    for name in args.sections.split(","):
        check.section(name, sections[name])
    check.record(section="done")


if __name__ == "__main__":
    main()
