"""Generated toy data: a 1-D two-mode mixture and the 2-D mode-collapse benchmarks.

Each is a Gaussian mixture with equally weighted modes, sampled afresh for every batch from
torch's seeded RNG, so no files are involved.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganbench.datasets import DataSource, Dataset
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor


class MixtureSource(DataSource):
    """Samples of an equally weighted isotropic Gaussian mixture."""

    capturable = True  # drawn on the device: a CUDA graph may capture the sampling

    def __init__(self, centres: Tensor, sigma: float):
        self.centres = centres
        self.sigma = sigma
        self.shape = (centres.shape[1],)

    def sample(self, batch_size: int) -> Tensor:
        return self.sample_with_labels(batch_size)[0]

    def sample_with_labels(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Samples and the index of the mode each was drawn from (their class label)."""
        modes = torch.randint(0, self.centres.shape[0], (batch_size,), device=self.centres.device)
        noise = torch.randn(batch_size, self.centres.shape[1], device=self.centres.device)
        return self.centres[modes] + self.sigma * noise, modes

    def describe(self) -> dict[str, Any]:
        return {"storage": "generated", "modes": self.centres.shape[0], "sigma": self.sigma}


class GaussianMixture(Dataset):
    """Base class of the toy mixtures: subclasses define :meth:`centres`, ``sigma`` and
    ``num_classes`` (the number of modes: a sample's label is its mode's index)."""

    kind = "vector"
    sigma: ClassVar[float]
    default_batch_size = 256

    @classmethod
    def centres(cls) -> Tensor:
        raise NotImplementedError

    def load(self, *, device: torch.device, seed: int, data_root: Path | None = None,
             train: bool = True) -> MixtureSource:
        return MixtureSource(self.centres().to(device), self.sigma)


class GaussianMixture1D(GaussianMixture):
    name = "gaussian-1d"
    num_classes = 2
    description = "1-D mixture of 2 Gaussians at -2 and 2, sigma 0.35."
    shape = (1,)
    sigma = 0.35

    @classmethod
    def centres(cls) -> Tensor:
        return torch.linspace(-2.0, 2.0, 2).unsqueeze(1)


class Ring8(GaussianMixture):
    name = "ring-8"
    num_classes = 8
    description = "2-D: 8 Gaussians on a circle of radius 2, sigma 0.02."
    shape = (2,)
    sigma = 0.02

    @classmethod
    def centres(cls) -> Tensor:
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


class Grid25(GaussianMixture):
    name = "grid-25"
    num_classes = 25
    description = "2-D: 5x5 grid of Gaussians at {-2,-1,0,1,2}^2, sigma 0.05."
    shape = (2,)
    sigma = 0.05

    @classmethod
    def centres(cls) -> Tensor:
        axis = torch.arange(-2.0, 3.0)
        return torch.cartesian_prod(axis, axis)


@hookimpl
def register_datasets(register):
    register(GaussianMixture1D)
    register(Ring8)
    register(Grid25)
