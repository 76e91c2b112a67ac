"""The metric on distributions whose distance is known, alone and through ganbench."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

import ganbench

pytest.importorskip("ganbench_example", reason="the example plugin is not installed: pip install -e plugins/ganbench-example")

from ganbench_example.sliced_wasserstein import SlicedWasserstein, random_directions, sliced_wasserstein  # noqa: E402


def test_identical_samples_are_at_distance_zero():
    samples = torch.randn(500, 3, 4, 4)
    assert sliced_wasserstein(samples, samples.clone()) == 0.0


def test_a_shifted_copy_is_at_the_mean_projected_shift():
    samples, shift = torch.randn(500, 2), torch.tensor([3.0, -1.0])
    # Every projection moves by <direction, shift>, so the distance is its mean absolute value.
    expected = float((random_directions(128, 2).float() @ shift).abs().mean())
    assert sliced_wasserstein(samples, samples + shift) == pytest.approx(expected, rel=1e-6)


def test_shifted_gaussians_in_one_dimension_are_the_shift_apart():
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(20_000, 1, generator=generator)
    b = torch.randn(20_000, 1, generator=generator) + 2.0
    assert sliced_wasserstein(a, b) == pytest.approx(2.0, abs=0.05)


def test_directions_are_seeded():
    a, b = torch.randn(200, 5), torch.randn(200, 5)
    assert sliced_wasserstein(a, b, seed=3) == sliced_wasserstein(a, b, seed=3)
    assert sliced_wasserstein(a, b, seed=3) != sliced_wasserstein(a, b, seed=4)


def test_samples_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="equal count and size"):
        sliced_wasserstein(torch.randn(10, 2), torch.randn(11, 2))


class StandardNormalSource(ganbench.DataSource):
    shape = (1,)

    def sample(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, 1)


class StandardNormal(ganbench.Dataset):
    name = "standard-normal"
    kind = "vector"
    shape = (1,)

    def load(self, *, device, seed, data_root=None, train=True) -> ganbench.DataSource:
        return StandardNormalSource()


class Shift(nn.Module):
    """A "generator" that shifts its N(0, 1) noise: the generated distribution is N(shift, 1)."""

    def __init__(self, shift: float):
        super().__init__()
        self.shift = shift

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.shift


def test_it_applies_to_every_data_set_but_runs_only_when_named():
    assert SlicedWasserstein.applies_to(StandardNormal)
    assert not SlicedWasserstein.default_for(StandardNormal)


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_metric_through_an_evaluation_context(shift):
    context = ganbench.EvaluationContext(
        dataset=StandardNormal(), source=StandardNormalSource(), generator=Shift(shift), latent_dim=1,
        history=pd.DataFrame(), eval_samples=5_000, device=torch.device("cpu"), seed=0,
    )
    values = SlicedWasserstein().compute(context)
    assert set(values) == set(SlicedWasserstein.higher_is_better) == {"sliced_w1"}
    assert values["sliced_w1"] == pytest.approx(shift, abs=0.05)
    assert context.details["sliced-wasserstein"]["projections"] == 128
