"""``sliced-wasserstein``: the sliced Wasserstein-1 distance between generated and real samples.

Both sets are flattened and projected onto the same random unit directions (seeded, so every
run of a sweep uses the same ones); along each direction the Wasserstein-1 distance of two
equal-sized 1-D samples is the mean absolute difference of their sorted values. The metric is
the mean over directions. It applies to every data set, but is computed only when named in
``--metrics``: an example plugin should not change everyone's default tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ganbench

torch = ganbench.lazy_import("torch")  # imported on first use: see wgan_lp.py

if TYPE_CHECKING:
    from torch import Tensor

PROJECTION_SEED = 0


def random_directions(count: int, dim: int, seed: int = PROJECTION_SEED) -> Tensor:
    """``count`` unit vectors of ``dim`` dimensions, uniform on the sphere, from ``seed``."""
    rng = torch.Generator(device="cpu").manual_seed(seed)
    directions = torch.randn(count, dim, generator=rng, dtype=torch.float64)
    return directions / directions.norm(dim=1, keepdim=True)


def sliced_wasserstein(a: Tensor, b: Tensor, projections: int = 128, seed: int = PROJECTION_SEED) -> float:
    """The mean over ``projections`` random directions of the 1-D Wasserstein-1 distance.

    ``a`` and ``b`` hold the same number of samples (first dimension); the rest is flattened.
    """
    if a.shape[0] != b.shape[0] or a[0].numel() != b[0].numel():
        raise ValueError(f"sliced_wasserstein needs samples of equal count and size, got {tuple(a.shape)} and {tuple(b.shape)}")
    a = a.flatten(start_dim=1).double().cpu()
    b = b.flatten(start_dim=1).double().cpu()
    directions = random_directions(projections, a.shape[1], seed)
    projected_a = torch.sort(a @ directions.T, dim=0).values
    projected_b = torch.sort(b @ directions.T, dim=0).values
    return float((projected_a - projected_b).abs().mean())


class SlicedWasserstein(ganbench.Metric):
    name = "sliced-wasserstein"
    description = "Sliced Wasserstein-1 distance to the real data over 128 seeded random directions."
    requires = frozenset({"samples", "real"})
    higher_is_better = {"sliced_w1": False}
    labels = {"sliced_w1": "sliced W1"}
    headline = frozenset({"sliced_w1"})  # "What this sweep says" names the best variant by it
    over_training = True
    projections = 128

    @classmethod
    def default_for(cls, dataset: type[ganbench.Dataset]) -> bool:
        return False

    def compute(self, context: ganbench.EvaluationContext) -> dict[str, float]:
        fake, real = context.generated(), context.real()
        context.describe(self.name, projections=self.projections, seed=PROJECTION_SEED,
                         samples=fake.shape[0])
        return {"sliced_w1": sliced_wasserstein(fake, real, self.projections)}
