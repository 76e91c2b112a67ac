"""The built-in variants beyond vanilla/WGAN: losses on hand-computed inputs, the mechanisms
they use (preferred architecture, weight init, spectral norm, auto-encoder critic) and a short
training run of each through the real loop."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench import config as cfg
from ganbench.architectures import ArchSpec, Architecture, ReconstructionEnergy, apply_spectral_norm
from ganbench.architectures.dcgan import DCGAN
from ganbench.architectures.mlp import MLP
from ganbench.config import RunConfig, variant_params
from ganbench.errors import UsageError
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.training import build_models, train
from ganbench.variants.dcgan import DCGANRecipe
from ganbench.variants.ebgan import EBGAN, EBGANParams
from ganbench.variants.hinge import Hinge
from ganbench.variants.lsgan import LSGAN, LSGANParams
from ganbench.variants.r1 import R1, R1Params, r1_penalty
from ganbench.variants.ragan import RaGAN
from ganbench.variants.rsgan import RSGAN

NEW_VARIANTS = ("dcgan", "lsgan", "hinge", "r1", "rsgan", "ragan", "ebgan")
REAL, FAKE = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


# --- losses on known inputs -------------------------------------------------------------------

def test_lsgan_losses():
    # D: 0.5·mean((2-1)², (-1-1)²) + 0.5·mean(0.5², 3²) = 0.5·2.5 + 0.5·4.625
    assert LSGAN().discriminator_loss(REAL, FAKE).item() == pytest.approx(1.25 + 2.3125)
    # G: 0.5·mean((0.5-1)², (-3-1)²) = 0.5·8.125
    assert LSGAN().generator_loss(FAKE).item() == pytest.approx(4.0625)
    shifted = LSGAN(LSGANParams(a=-1.0, b=1.0, c=0.0))
    assert shifted.generator_loss(FAKE).item() == pytest.approx(0.5 * (0.25 + 9) / 2)
    with pytest.raises(ValueError, match="a and b"):
        LSGAN(LSGANParams(a=1.0, b=1.0))


def test_hinge_losses():
    # D: mean(relu(1-2), relu(1+1)) + mean(relu(1+0.5), relu(1-3)) = 1 + 0.75
    assert Hinge().discriminator_loss(REAL, FAKE).item() == pytest.approx(1.75)
    assert Hinge().generator_loss(FAKE).item() == pytest.approx(1.25)


def test_dcgan_recipe_losses_are_bce_on_logits():
    expected_d = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    assert DCGANRecipe().discriminator_loss(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    assert DCGANRecipe().generator_loss(FAKE).item() == pytest.approx((softplus(-0.5) + softplus(3.0)) / 2, rel=1e-6)


def test_r1_losses_and_penalty_on_a_linear_critic():
    expected_d = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    assert R1().discriminator_loss(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    assert R1().generator_loss(FAKE).item() == pytest.approx((softplus(-0.5) + softplus(3.0)) / 2, rel=1e-6)
    critic = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([[3.0, 4.0]]))  # ∇ₓD = (3, 4) everywhere, ‖·‖² = 25
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    assert r1_penalty(critic, real).item() == pytest.approx(25.0)
    assert R1().penalty(critic, real, fake).item() == pytest.approx(125.0)  # gamma/2 = 5
    assert R1(R1Params(gamma=1.0)).penalty(critic, real, fake).item() == pytest.approx(12.5)
    assert R1.has_penalty()


def test_r1_penalty_uses_only_real_data_and_trains_the_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real = torch.randn(6, 2)
    first = R1().penalty(critic, real, torch.randn(6, 2))
    second = R1().penalty(critic, real, torch.randn(6, 2) * 100)
    assert first.item() == pytest.approx(second.item())
    first.backward()
    assert critic[0].weight.grad is not None and critic[0].weight.grad.abs().sum() > 0
    assert real.grad is None  # the caller's batch is not turned into a leaf that collects grads


def test_rsgan_losses():
    # pairs (2, 0.5) and (-1, -3): D = mean(softplus(-(1.5)), softplus(-(2)))
    assert RSGAN().discriminator_loss(REAL, FAKE).item() == pytest.approx((softplus(-1.5) + softplus(-2.0)) / 2)
    assert RSGAN().generator_loss(FAKE, REAL).item() == pytest.approx((softplus(1.5) + softplus(2.0)) / 2)
    with pytest.raises(ValueError, match="needs the critic's scores on a real batch"):
        RSGAN().generator_loss(FAKE)


def test_ragan_losses():
    # mean real 0.5, mean fake -1.25
    d = (softplus(-(2 + 1.25)) + softplus(-(-1 + 1.25))) / 2 + (softplus(0.5 - 0.5) + softplus(-3 - 0.5)) / 2
    g = (softplus(-(0.5 - 0.5)) + softplus(-(-3 - 0.5))) / 2 + (softplus(2 + 1.25) + softplus(-1 + 1.25)) / 2
    assert RaGAN().discriminator_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert RaGAN().generator_loss(FAKE, REAL).item() == pytest.approx(g, rel=1e-6)
    assert RaGAN.generator_uses_real and RSGAN.generator_uses_real


def test_ebgan_losses_with_the_margin():
    real_energy, fake_energy = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 3.0])
    # D: mean(0.2, 0.4) + mean(max(0, 1-0.5), max(0, 1-3)) = 0.3 + 0.25
    assert EBGAN().discriminator_loss(real_energy, fake_energy).item() == pytest.approx(0.55)
    assert EBGAN(EBGANParams(margin=4.0)).discriminator_loss(real_energy, fake_energy).item() == pytest.approx(0.3 + 2.25)
    assert EBGAN().generator_loss(fake_energy).item() == pytest.approx(1.75)
    with pytest.raises(ValueError, match="margin must be a positive number"):
        EBGAN(EBGANParams(margin=0.0))


def test_optimiser_defaults(catalog):
    expected = {"dcgan": (2e-4, 0.5, 0.999, 1), "lsgan": (2e-4, 0.5, 0.999, 1), "hinge": (2e-4, 0.0, 0.9, 1),
                "r1": (2e-4, 0.5, 0.999, 1), "rsgan": (2e-4, 0.5, 0.999, 1), "ragan": (2e-4, 0.5, 0.999, 1),
                "ebgan": (2e-4, 0.5, 0.999, 1)}
    for name, values in expected.items():
        p = catalog.variants.get(name).Params()
        assert (p.lr_d, p.beta1, p.beta2, p.n_critic) == values, name
        assert catalog.variants.get(name).description
    assert R1Params().gamma == 10.0 and EBGANParams().margin == 1.0


# --- mechanisms --------------------------------------------------------------------------------

def test_auto_architecture_follows_the_variants_preference(catalog):
    fashion, cifar, ring = (catalog.datasets.get(n) for n in ("fashion-mnist", "cifar10", "ring-8"))
    assert cfg.choose_architecture(fashion, "auto", catalog, catalog.variants.get("vanilla")) == "mlp"
    assert cfg.choose_architecture(fashion, "auto", catalog, catalog.variants.get("dcgan")) == "dcgan"
    assert cfg.choose_architecture(cifar, "auto", catalog, catalog.variants.get("dcgan")) == "dcgan"
    # the preferred architecture cannot model 2-D points: fall back to the most suitable one
    assert cfg.choose_architecture(ring, "auto", catalog, catalog.variants.get("dcgan")) == "mlp"
    assert cfg.choose_architecture(fashion, "mlp", catalog, catalog.variants.get("dcgan")) == "mlp"


def test_sweep_resolves_the_architecture_per_variant(catalog):
    sweep = cfg.SweepConfig(variants=["vanilla", "dcgan"], datasets=["fashion-mnist"])
    sweep.train.device = "cpu"
    runs = {run.variant: run for run in cfg.resolve_runs(sweep, catalog)}
    assert (runs["vanilla"].arch, runs["vanilla"].latent_dim) == ("mlp", 64)
    assert (runs["dcgan"].arch, runs["dcgan"].latent_dim) == ("dcgan", 100)


def make_config(catalog, variant, dataset="ring-8", arch="mlp", steps=8, latent_dim=4) -> RunConfig:
    return RunConfig(variant=variant, dataset=dataset, seed=0, arch=arch, steps=steps, batch_size=16,
                     latent_dim=latent_dim, device="cpu", variant_params=variant_params(catalog, variant, {}))


def test_dcgan_recipe_reinitialises_any_architecture(catalog):
    torch.manual_seed(0)
    dataset = catalog.datasets.get("fashion-mnist")
    models = build_models(make_config(catalog, "dcgan", "fashion-mnist", latent_dim=64), catalog,
                          DCGANRecipe(), dataset, torch.device("cpu"))
    linears = [m for m in models.generator.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    assert all(torch.all(m.bias == 0) for m in linears)
    gains = torch.cat([m.weight for m in models.generator.modules() if isinstance(m, nn.BatchNorm1d)])
    assert gains.mean().item() == pytest.approx(1.0, abs=0.01) and gains.std().item() == pytest.approx(0.02, rel=0.1)


def test_spectral_norm_on_every_critic_layer(catalog):
    dataset = catalog.datasets.get("ring-8")
    models = build_models(make_config(catalog, "hinge"), catalog, Hinge(), dataset, torch.device("cpu"))
    layers = [m for m in models.critic.modules() if isinstance(m, nn.Linear)]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in models.generator.modules())
    plain = build_models(make_config(catalog, "lsgan"), catalog, LSGAN(), dataset, torch.device("cpu"))
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.critic.modules())


def test_apply_spectral_norm_bounds_the_largest_singular_value_and_is_idempotent():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    with torch.no_grad():
        critic[2].weight.mul_(50)
    apply_spectral_norm(critic)
    apply_spectral_norm(critic)
    assert len(critic[2].parametrizations.weight) == 1
    critic.train()
    for _ in range(20):  # power iterations run in training-mode forward passes
        critic(torch.randn(2, 1, 6, 6))
    critic.eval()
    sigma = torch.linalg.matrix_norm(critic[2].weight, ord=2).item()
    assert sigma == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("arch,shape,kind", [
    (MLP, (2,), "vector"), (MLP, (1, 28, 28), "image"), (DCGAN, (1, 28, 28), "image"),
    (DCGAN, (3, 32, 32), "image"), (DCGAN, (3, 64, 64), "image"),
])
def test_autoencoder_critic_returns_per_sample_reconstruction_error(arch, shape, kind):
    torch.manual_seed(0)
    _, critic = arch().build(ArchSpec(shape, kind, 8, "batch", "autoencoder"))
    assert isinstance(critic, ReconstructionEnergy)
    x = torch.rand(3, *shape) * 2 - 1
    energy = critic(x)
    assert energy.shape == (3,) and (energy >= 0).all()
    reconstruction = critic.decoder(critic.encoder(x)).reshape(x.shape)
    assert torch.allclose(energy, ((reconstruction - x) ** 2).flatten(1).mean(1))


def test_an_architecture_without_autoencoder_refuses_clearly():
    class ScalarOnly(Architecture):
        name = "scalar-only"

        @classmethod
        def suitability(cls, data_shape, data_kind):
            return 100

    with pytest.raises(ValueError, match="cannot build a 'autoencoder' critic"):
        ScalarOnly.check_critic_kind("autoencoder")
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))  # private: modified below
    catalog.architectures.add(ScalarOnly, plugin="test")
    ring = catalog.datasets.get("ring-8")
    with pytest.raises(UsageError, match="cannot build the 'autoencoder' critic that variant 'ebgan' needs"):
        cfg.choose_architecture(ring, "scalar-only", catalog, EBGAN)
    # auto skips it for ebgan even though it scores highest, and takes it for the others
    assert cfg.choose_architecture(ring, "auto", catalog, EBGAN) == "mlp"
    assert cfg.choose_architecture(ring, "auto", catalog, LSGAN) == "scalar-only"


# --- end to end --------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", NEW_VARIANTS)
def test_trains_a_few_steps_on_ring_8(catalog, variant):
    outcome = train(make_config(catalog, variant, steps=10), catalog)
    history = outcome.history
    assert outcome.status == "finished" and len(history) == 10
    assert history[["g_loss", "d_loss"]].notna().all().all()
    assert torch.isfinite(torch.tensor(history[["g_loss", "d_loss"]].to_numpy())).all()
    cls = catalog.variants.get(variant)
    if cls.critic_output == "raw":
        assert {"critic_real", "critic_fake"} <= set(history) and "wasserstein" not in history
    else:
        assert history[["d_real", "d_fake"]].stack().between(0, 1).all() and "wasserstein" not in history
    if variant == "ebgan":
        assert (history[["critic_real", "critic_fake"]] >= 0).all().all()  # energies
    if variant == "r1":
        assert (history["penalty"] >= 0).all() and outcome.timings["gp_share"] > 0
    else:
        assert "penalty" not in history


def test_dcgan_recipe_trains_on_images_with_the_dcgan_architecture(catalog, idx_dir):
    outcome = train(make_config(catalog, "dcgan", "fashion-mnist", arch="dcgan", steps=2, latent_dim=16),
                    catalog, data_root=idx_dir)
    assert outcome.status == "finished"
    assert any(isinstance(m, nn.ConvTranspose2d) for m in outcome.generator.modules())
