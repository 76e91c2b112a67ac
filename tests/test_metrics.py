"""Built-in metrics on inputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from ganbench.datasets.toy import GaussianMixture1D, Ring8
from ganbench.metrics import EvaluationContext
from ganbench.metrics.toy import ModeCoverage, Wasserstein1D, mode_statistics
from ganbench.metrics.volatility import Volatility, loss_std, roughness


def test_loss_std_is_the_sample_std():
    values = np.array([1.0, 2.0, 4.0])
    assert loss_std(values) == pytest.approx(np.sqrt(((values - 7 / 3) ** 2).sum() / 2))
    assert math.isnan(loss_std(np.array([1.0])))


def test_roughness_is_scale_and_shift_free():
    rng = np.random.default_rng(0)
    series = rng.normal(size=2000)
    assert roughness(series) == pytest.approx(1.0, abs=0.05)  # white noise
    assert roughness(37.0 * series - 5.0) == pytest.approx(roughness(series), rel=1e-12)
    smooth = np.sin(np.linspace(0, 3, 2000))
    assert roughness(smooth) < 0.01
    alternating = np.tile([1.0, -1.0], 500)
    assert roughness(alternating) == pytest.approx(math.sqrt(2), rel=0.01)  # the maximum
    assert math.isnan(roughness(np.ones(10)))


def test_volatility_metric_uses_whole_run_and_second_half():
    g = np.concatenate([np.full(50, 5.0), np.tile([1.0, 3.0], 25)])
    history = pd.DataFrame({"step": range(100), "g_loss": g, "d_loss": np.linspace(0, 1, 100)})
    context = EvaluationContext(None, None, None, 1, history, 10, torch.device("cpu"), 0)
    values = Volatility().compute(context)
    assert values["g_std"] == pytest.approx(np.std(g, ddof=1))
    assert values["g_std_late"] == pytest.approx(np.std(g[50:], ddof=1))
    assert values["g_roughness"] == pytest.approx(math.sqrt(2), rel=0.05)
    assert values["d_roughness"] < 0.05
    assert set(values) == set(Volatility.higher_is_better)


def test_one_mode_generator_covers_one_mode_of_ring8():
    centres = Ring8.centres()
    torch.manual_seed(0)
    collapsed = centres[3] + 0.02 * torch.randn(2500, 2)
    stats = mode_statistics(collapsed, centres, 0.02)
    # P(|x - centre| < 3 sigma) = 1 - exp(-4.5) = 0.989 for a 2-D Gaussian
    assert stats["modes_covered"] == 1.0 and stats["high_quality"] > 0.98
    perfect = centres[torch.arange(2500) % 8] + 0.02 * torch.randn(2500, 2)
    assert mode_statistics(perfect, centres, 0.02)["modes_covered"] == 8.0
    far = torch.zeros(2500, 2)
    assert mode_statistics(far, centres, 0.02) == {"modes_covered": 0.0, "high_quality": 0.0}


class FixedSampler(nn.Module):
    """A 'generator' that ignores its noise and emits samples from a given mixture."""

    def __init__(self, centres: torch.Tensor, sigma: float):
        super().__init__()
        self.register_buffer("centres", centres)
        self.sigma = sigma
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        modes = torch.arange(z.shape[0]) % len(self.centres)
        return self.centres[modes] + self.sigma * torch.randn(z.shape[0], self.centres.shape[1])


def _context(dataset, generator, n=4000):
    return EvaluationContext(dataset, dataset.load(device=torch.device("cpu"), seed=0), generator,
                             2, pd.DataFrame(), n, torch.device("cpu"), 0)


def test_mode_coverage_metric_on_the_real_distribution():
    torch.manual_seed(0)
    values = ModeCoverage().compute(_context(Ring8(), FixedSampler(Ring8.centres(), 0.02)))
    assert values["modes_covered"] == 8 and values["high_quality"] > 0.98
    assert ModeCoverage.applies_to(Ring8) and not ModeCoverage.applies_to(type("X", (), {}))


def test_w1_is_small_for_the_real_distribution_and_large_for_a_shifted_one():
    torch.manual_seed(0)
    good = Wasserstein1D().compute(_context(GaussianMixture1D(), FixedSampler(GaussianMixture1D.centres(), 0.35)))
    shifted = Wasserstein1D().compute(_context(GaussianMixture1D(), FixedSampler(GaussianMixture1D.centres() + 1, 0.35)))
    assert good["w1"] < 0.05
    assert shifted["w1"] == pytest.approx(1.0, abs=0.05)
    assert Wasserstein1D.applies_to(GaussianMixture1D) and not Wasserstein1D.applies_to(Ring8)
