"""The networks of :mod:`ganbench.architectures.resnet` (defining them imports torch, so
they are imported when a pair is built, not when the plugin is registered)."""

from __future__ import annotations

import math
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn


def _xavier(layer: nn.Conv2d | nn.Linear, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    """BN, ReLU, 2× up-sampling, 3×3 conv, BN, ReLU, 3×3 conv, plus an up-sampled 1×1-conv shortcut."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels_in)
        self.conv1 = _xavier(nn.Conv2d(channels_in, channels_out, 3, 1, 1), math.sqrt(2))
        self.norm2 = nn.BatchNorm2d(channels_out)
        self.conv2 = _xavier(nn.Conv2d(channels_out, channels_out, 3, 1, 1), math.sqrt(2))
        self.shortcut = _xavier(nn.Conv2d(channels_in, channels_out, 1, 1, 0), 1.0)

    @staticmethod
    def _up(x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(self._up(F.relu(self.norm1(x))))
        h = self.conv2(F.relu(self.norm2(h)))
        return h + self.shortcut(self._up(x))


class CriticBlock(nn.Module):
    """ReLU, 3×3 conv, ReLU, 3×3 conv (then 2×2 average pooling if ``downsample``); the shortcut
    is a 1×1 conv (then pooling) when the block down-samples or changes width, else identity.
    ``first``: the optimised input block, without the leading ReLU and pooling before the
    shortcut's conv."""

    def __init__(self, channels_in: int, channels_out: int, *, downsample: bool, first: bool = False):
        super().__init__()
        self.first = first
        self.downsample = downsample
        self.conv1 = _xavier(nn.Conv2d(channels_in, channels_out, 3, 1, 1), math.sqrt(2))
        self.conv2 = _xavier(nn.Conv2d(channels_out, channels_out, 3, 1, 1), math.sqrt(2))
        learnable = first or downsample or channels_in != channels_out
        self.shortcut = _xavier(nn.Conv2d(channels_in, channels_out, 1, 1, 0), 1.0) if learnable else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        if self.shortcut is None:
            return h + x
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        skip = self.shortcut(x)
        return h + (F.avg_pool2d(skip, 2) if self.downsample else skip)


class GlobalPool(nn.Module):
    """``(N, C, H, W)`` → ``(N, C)``: the sum or the mean over positions."""

    def __init__(self, mode: Literal["sum", "mean"]):
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3)) if self.mode == "sum" else x.mean(dim=(2, 3))
