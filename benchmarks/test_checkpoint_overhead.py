"""Checkpoint overhead: the time of one checkpoint save against the training time between two
checkpoints at the default interval (``--checkpoint-every 10m``: 600 s of training).

Run with ``python -m pytest benchmarks/test_checkpoint_overhead.py --benchmark-enable -s``. It
trains ``vanilla`` (Adam) on the ``dcgan`` pair for 64×64 RGB images (random uint8 images held in
memory, batch 64; the largest built-in convolutional pair, with both Adam states) through
:func:`ganbench.training.train` with a checkpoint every few steps, and reads the seconds the
checkpoints took from the :class:`~ganbench.checkpoints.Checkpointer`. It prints the save
time, the file size, the steps/s, and the overhead share at the default interval
(save time / 600 s), which must be at most 2 %; and, for step intervals, the fewest steps
between checkpoints that keep the share at 2 % on this machine. Quick mode: the ``mlp`` pair
on 28×28 grey images, a few steps.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.checkpoints import DEFAULT_CHECKPOINT_EVERY, CheckpointInterval, Checkpointer, checkpoint_files
from ganbench.config import RunConfig, resolve_device, variant_params
from ganbench.training import train

from benchmarks.bench_data import catalog_with, random_images
from benchmarks.bench_sizes import quick_mode, size

STEPS = size(12, 4)
EVERY = size(4, 2)  # checkpoints at EVERY, 2 x EVERY, ... (none after the last step)
BATCH = size(64, 16)
# vanilla: Adam (two state tensors per weight, as most published recipes) and no gradient
# penalty, whose timing probe at the end of training would dominate a short benchmark
SIDE, CHANNELS, ARCH = (28, 1, "mlp") if quick_mode() else (64, 3, "dcgan")
VARIANT = "vanilla"
TARGET_SHARE = 0.02


RandomImages = random_images("bench-checkpoint-images", (CHANNELS, SIDE, SIDE), 512)


def test_checkpoint_overhead_at_the_default_interval(benchmark, tmp_path):
    catalog = catalog_with(RandomImages)
    device = resolve_device("auto")
    config = RunConfig(variant=VARIANT, dataset=RandomImages.name, seed=0, arch=ARCH, steps=STEPS,
                       batch_size=BATCH, latent_dim=100, device=device,
                       variant_params=variant_params(catalog, VARIANT, {}))
    checkpointer = Checkpointer(tmp_path, config.digest(), CheckpointInterval(steps=EVERY), keep_every=1)
    outcome = benchmark.pedantic(train, args=(config, catalog), kwargs={"checkpointer": checkpointer},
                                 rounds=1, iterations=1)
    saves = (STEPS - 1) // EVERY
    files = checkpoint_files(tmp_path)
    assert outcome.status == "finished" and len(files) == saves
    save_s = checkpointer.save_seconds / saves
    megabytes = files[0].stat().st_size / 2**20
    steps_per_s = outcome.timings["steps_per_s"]
    interval_s = CheckpointInterval.parse(DEFAULT_CHECKPOINT_EVERY).seconds
    share = save_s / interval_s
    fewest_steps = save_s / TARGET_SHARE * steps_per_s  # step interval whose share is the target
    benchmark.extra_info.update({"device": device, "threads": torch.get_num_threads(), "save_s": round(save_s, 4),
                                 "checkpoint_mb": round(megabytes, 2), "steps_per_s": round(steps_per_s, 3),
                                 "share_at_default": share, "fewest_steps_for_2pc": round(fewest_steps, 1)})
    print(f"\ncheckpoint of {VARIANT}/{ARCH} {CHANNELS}x{SIDE}x{SIDE} on {device}, {torch.get_num_threads()} threads: "
          f"{save_s * 1000:.1f} ms per save ({megabytes:.1f} MiB); training {steps_per_s:.2f} steps/s; "
          f"default interval {DEFAULT_CHECKPOINT_EVERY} = {interval_s:.0f} s of training "
          f"(~{interval_s * steps_per_s:.0f} steps): overhead {100 * share:.4f} %; a step interval keeps "
          f"the overhead at {100 * TARGET_SHARE:.0f} % from --checkpoint-every {max(1, round(fewest_steps))}")
    assert share <= TARGET_SHARE, (f"one checkpoint save takes {save_s:.2f} s, {100 * share:.2f} % of the "
                                   f"default interval ({interval_s:.0f} s); the target is {100 * TARGET_SHARE:.0f} %")
