"""``lsgan``: Mao et al. (2017), least-squares losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.hookspecs import hookimpl
from ganbench.spaces import IntRange, LogUniform, Uniform, searched
from ganbench.variants import Variant, VariantParams

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class LSGANParams(VariantParams):
    """Targets a (fake for D), b (real for D), c (fake for G); Adam 2e-4, betas (0.5, 0.999).

    The defaults a, b, c = 0, 1, 1 are the paper's "0-1 coding" scheme.
    """

    # Search spaces: the "wide" ranges of Lucic et al. (2018), compare_gan's gan_lib ranges: learning
    # rate log-uniform on [1e-5, 1e-2], beta1 uniform on [0, 1) (capped at 0.99: Adam needs < 1),
    # discriminator steps 1 to 5.
    lr_g: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    lr_d: float = searched(2e-4, LogUniform(1e-5, 1e-2))
    beta1: float = searched(0.5, Uniform(0.0, 0.99))
    n_critic: int = searched(1, IntRange(1, 5))
    a: float = 0.0
    b: float = 1.0
    c: float = 1.0

    def validate(self) -> None:
        super().validate()
        if self.a == self.b:
            raise ValueError(f"a and b (the fake and real targets) must differ, both are {self.a!r}")


class LSGAN(Variant):
    name = "lsgan"
    capturable = True  # pure tensor losses: fast mode may capture the step as a CUDA graph
    description = "Least-squares GAN: D regresses real to b=1 and fake to a=0, G pushes fakes to c=1."
    Params = LSGANParams
    critic_output = "raw"  # mean D(x) and D(G(z)) read against the targets b and a

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        p = self.params
        return 0.5 * (real_scores - p.b).pow(2).mean() + 0.5 * (fake_scores - p.a).pow(2).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return 0.5 * (fake_scores - self.params.c).pow(2).mean()


@hookimpl
def register_variants(register):
    register(LSGAN)
