"""The 32×32 benchmark networks: parameter counts against public reference code, shapes,
gradients, spectral norm and how ``--arch auto`` treats them."""

from __future__ import annotations

import pytest
import torch

from ganbench import config as cfg
from ganbench.architectures import ArchSpec, apply_spectral_norm
from ganbench.plugins import build_catalog

# Reference counts, for 3×32×32 images and a 128-dimensional z, counted from the source:
# - Mimicry (kwotsin/mimicry, commit 3f60827a7dabd428df4471120f5f61b5b3489cb1):
#   torch_mimicry/nets/sngan/sngan_32.py and wgan_gp/wgan_gp_32.py with
#   nets/modules/resblocks.py: ResNetGenerator32(nz=128, ngf=256) has 4,276,739 parameters,
#   ResNetDiscriminator32(ndf=128) 1,053,825 (the WGAN-GP critic's layer norms are created
#   lazily inside forward, so they are not in its count at construction).
# - StudioGAN (POSTECH-CVLab/PyTorch-StudioGAN, commit 947b35e9835b67860fdce44d337f6d7fee7c8db3):
#   src/models/deep_conv.py: Generator 3,812,355; Discriminator 2,928,193 with apply_d_sn
#   (no batch norm) and 2,931,009 without (batch norm after every convolution, the DCGAN config).
REFERENCE_COUNTS = {
    ("resnet-sngan", "none"): (4_276_739, 1_053_825),
    ("resnet-wgangp", "layer"): (4_276_739, 1_053_825),
    ("sngan-cnn", "none"): (3_812_355, 2_928_193),
    ("sngan-cnn", "batch"): (3_812_355, 2_931_009),
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def catalog():
    return build_catalog()


@pytest.mark.parametrize(("arch", "norm"), list(REFERENCE_COUNTS))
def test_parameter_counts_equal_the_reference_implementations(catalog, arch, norm):
    generator, critic = catalog.architectures.get(arch)().build(ArchSpec((3, 32, 32), "image", 128, critic_norm=norm))
    assert (count(generator), count(critic)) == REFERENCE_COUNTS[(arch, norm)]
    # spectral norm re-parametrises the weights without adding trainable parameters
    assert count(apply_spectral_norm(critic)) == REFERENCE_COUNTS[(arch, norm)][1]


@pytest.mark.parametrize("arch", ["resnet-sngan", "resnet-wgangp", "sngan-cnn"])
def test_forward_and_backward_shapes(catalog, arch):
    torch.manual_seed(0)
    generator, critic = catalog.architectures.get(arch)().build(ArchSpec((3, 32, 32), "image", 16))
    images = generator(torch.randn(2, 16))
    assert images.shape == (2, 3, 32, 32) and images.abs().max() <= 1
    scores = critic(images)
    assert scores.shape == (2,)
    scores.sum().backward()
    for model in (generator, critic):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_sngan_and_wgangp_critics_differ_only_in_pooling(catalog):
    """Same weights: the sum over the 8×8 positions is 64 times their mean before the read-out."""
    spec = ArchSpec((3, 32, 32), "image", 16)
    torch.manual_seed(0)
    _, summed = catalog.architectures.get("resnet-sngan")().build(spec)
    _, averaged = catalog.architectures.get("resnet-wgangp")().build(spec)
    averaged.load_state_dict(summed.state_dict())
    x = torch.randn(3, 3, 32, 32)
    bias = summed[-2].bias  # the read-out's bias, added once in both
    torch.testing.assert_close(summed(x) - bias, 64 * (averaged(x) - bias), rtol=1e-4, atol=1e-4)


def test_conditional_pair_projects_labels(catalog):
    generator, critic = catalog.architectures.get("resnet-sngan")().build(
        ArchSpec((3, 32, 32), "image", 16, num_classes=10))
    images = generator(torch.randn(4, 16), torch.tensor([0, 1, 2, 3]))
    assert critic(images, torch.tensor([0, 1, 2, 3])).shape == (4,)
    assert count(critic) == 1_053_825 + 10 * 128  # plus the projection's class embedding


def test_auto_keeps_dcgan_for_32px_and_names_work(catalog):
    cifar = catalog.datasets.get("cifar10")
    assert cfg.choose_architecture(cifar, "auto", catalog, catalog.variants.get("hinge")) == "dcgan"
    for arch in ("resnet-sngan", "resnet-wgangp", "sngan-cnn"):
        assert cfg.choose_architecture(cifar, arch, catalog, catalog.variants.get("wgan-gp")) == arch
    with pytest.raises(cfg.UsageError, match="cannot model"):
        cfg.choose_architecture(catalog.datasets.get("fashion-mnist"), "resnet-sngan", catalog)
    with pytest.raises(cfg.UsageError, match="autoencoder"):
        cfg.choose_architecture(cifar, "sngan-cnn", catalog, catalog.variants.get("ebgan"))


def test_wgan_gp_penalty_backpropagates_through_the_resnet_critic(catalog):
    """The gradient penalty needs a double backward through every critic layer (pooling included)."""
    from ganbench.variants.wgan_gp import gradient_penalty

    torch.manual_seed(0)
    _, critic = catalog.architectures.get("resnet-wgangp")().build(ArchSpec((3, 32, 32), "image", 16))
    penalty = gradient_penalty(critic, torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    penalty.backward()
    assert torch.isfinite(penalty) and penalty > 0
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight")]  # a bias shifts
    assert len(weights) == 11 and all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)  # no input gradient
