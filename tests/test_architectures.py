"""Architectures: output shapes, the critic's normalisation, DCGAN initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.architectures import ArchSpec
from ganbench.architectures.dcgan import DCGAN
from ganbench.architectures.mlp import MLP


@pytest.mark.parametrize("arch,shape,kind", [
    (MLP, (1,), "vector"), (MLP, (2,), "vector"), (MLP, (1, 28, 28), "image"),
    (DCGAN, (1, 28, 28), "image"), (DCGAN, (3, 32, 32), "image"), (DCGAN, (3, 64, 64), "image"),
])
def test_shapes(arch, shape, kind):
    torch.manual_seed(0)
    latent = arch.default_latent_dim(shape, kind)
    generator, critic = arch().build(ArchSpec(shape, kind, latent))
    samples = generator(torch.randn(4, latent))
    assert samples.shape == (4, *shape)
    assert critic(samples).shape == (4,)
    if kind == "image":
        assert samples.abs().max() <= 1


def _norms(module: nn.Module) -> set[type]:
    return {type(m) for m in module.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.BatchNorm1d, nn.LayerNorm))}


@pytest.mark.parametrize("norm,expected", [("batch", {nn.BatchNorm2d}), ("layer", {nn.GroupNorm}), ("none", set())])
def test_dcgan_critic_follows_the_variants_normalisation(norm, expected):
    _, critic = DCGAN().build(ArchSpec((3, 32, 32), "image", 100, norm))
    assert _norms(critic) == expected
    first = next(m for m in critic.modules() if isinstance(m, nn.Conv2d))
    assert first.bias is not None  # no normalisation on the input layer, so it keeps its bias


def test_mlp_critic_has_no_normalisation():
    _, critic = MLP().build(ArchSpec((1, 28, 28), "image", 64, "batch"))
    assert _norms(critic) == set()


def test_dcgan_initialisation():
    torch.manual_seed(0)
    generator, critic = DCGAN().build(ArchSpec((3, 64, 64), "image", 100))
    convs = [m.weight for m in critic.modules() if isinstance(m, nn.Conv2d)]
    weights = torch.cat([w.flatten() for w in convs])
    assert abs(weights.mean().item()) < 0.002 and weights.std().item() == pytest.approx(0.02, rel=0.05)
    gains = torch.cat([m.weight for m in generator.modules() if isinstance(m, nn.BatchNorm2d)])
    assert gains.mean().item() == pytest.approx(1.0, abs=0.01)
    normed_convs = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)][:-1]
    assert all(m.bias is None for m in normed_convs)


def test_unsupported_shapes():
    assert DCGAN.suitability((2,), "vector") == 0
    assert DCGAN.suitability((3, 48, 48), "image") == 0
    assert MLP.suitability((2,), "vector") > 0
