"""``hinge``: the hinge loss with a spectrally normalised critic (SNGAN, Miyato et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import
from ganbench.spaces import IntRange, LogUniform, Uniform, searched
from ganbench.variants import Variant, VariantParams

F = lazy_import("torch.nn.functional")

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class HingeParams(VariantParams):
    """Adam 2e-4, betas (0.0, 0.9), n_critic 1.

    Betas (0.0, 0.9) and lr 2e-4 are the settings the SNGAN authors used with the hinge loss
    in their ResNet experiments (Miyato et al. 2018, appendix; Miyato & Koyama 2018); those
    used n_critic 5, the one-step update is the cheaper choice also used by SAGAN
    (Zhang et al. 2019). The SNGAN paper's standard-CNN sweeps include β1 0.5 settings too.
    """

    # Search spaces: the "wide" ranges of Lucic et al. (2018), compare_gan's gan_lib ranges: learning
    # rate log-uniform on [1e-5, 1e-2], beta1 uniform on [0, 1) (capped at 0.99: Adam needs < 1),
    # discriminator steps 1 to 5.
    lr_g: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    beta1: float = searched(0.0, Uniform(0.0, 0.99))
    beta2: float = 0.9
    n_critic: int = searched(1, IntRange(1, 5))


class Hinge(Variant):
    name = "hinge"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "SNGAN: hinge loss, spectral norm on every critic layer, Adam 2e-4 (0.0, 0.9), n_critic 1."
    Params = HingeParams
    critic_output = "raw"  # a hinge margin score, not a Wasserstein estimate
    critic_norm = "none"
    spectral_norm = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return -fake_scores.mean()


@hookimpl
def register_variants(register):
    register(Hinge)
