"""The quality formulas on inputs with known answers, and against pytorch-fid / torch-fidelity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy
import torch
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from ganbench.metrics.statistics import (
    GaussianStatistics, class_statistics, frechet_distance, frechet_distance_sqrtm,
    inception_score, kernel_inception_distance, precision_recall_density_coverage,
)


def correlated_features(n: int, dim: int, seed: int, shift: float = 0.0,
                        noise_seed: int | None = None) -> np.ndarray:
    """Samples of a correlated Gaussian defined by ``seed``; ``noise_seed`` draws other samples."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / math.sqrt(dim)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
    return rng.normal(size=(n, dim)) @ mixing + shift


def test_identical_sets_have_zero_fid_and_kid_near_zero():
    features = correlated_features(600, 16, seed=0)
    stats = GaussianStatistics.of(features)
    assert frechet_distance(stats, stats) == pytest.approx(0.0, abs=1e-9)
    shifted, _ = kernel_inception_distance(features, features + 0.5, subsets=20, subset_size=300)
    same, _ = kernel_inception_distance(features, features, subsets=20, subset_size=300)
    fresh_draw = correlated_features(600, 16, seed=0, noise_seed=99)
    fresh, _ = kernel_inception_distance(features, fresh_draw, subsets=20, subset_size=300)
    assert abs(same) < 0.05 * shifted
    assert abs(fresh) < 0.05 * shifted


def test_fid_of_gaussians_with_known_answer():
    # N(0, I) and N(m, 4I) in d dims: |m|^2 + d + 4d - 2 * 2d = |m|^2 + d
    dim = 8
    a = GaussianStatistics(np.zeros(dim), np.eye(dim), 1000)
    b = GaussianStatistics(np.full(dim, 0.5), 4 * np.eye(dim), 1000)
    assert frechet_distance(a, b) == pytest.approx(dim * 0.25 + dim, rel=1e-12)


def test_eigh_fid_equals_sqrtm_and_the_references():
    a = GaussianStatistics.of(correlated_features(2000, 64, seed=1))
    b = GaussianStatistics.of(correlated_features(2000, 64, seed=2, shift=0.3))
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(frechet_distance_sqrtm(a, b), rel=1e-6)
    reference = fid_statistics_to_metric({"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma},
                                         verbose=False)["frechet_inception_distance"]
    assert ours == pytest.approx(reference, rel=1e-6)


def test_eigh_fid_equals_pytorch_fid():
    a = GaussianStatistics.of(correlated_features(2000, 64, seed=1))
    b = GaussianStatistics.of(correlated_features(2000, 64, seed=2, shift=0.3))
    try:
        reference = calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    except TypeError as exc:  # pytorch-fid 0.3.0 passes sqrtm(..., disp=False), which newer SciPy removed
        if "disp" not in str(exc):
            raise
        pytest.skip(f"pytorch-fid's calculate_frechet_distance does not run with SciPy {scipy.__version__} "
                    f"({exc}); ganbench is compared with SciPy's sqrtm and torch-fidelity instead")
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)


def test_fid_with_fewer_samples_than_dimensions_warns_but_is_finite():
    with pytest.warns(UserWarning, match="singular"):
        a = GaussianStatistics.of(correlated_features(20, 64, seed=3))
    with pytest.warns(UserWarning, match="singular"):
        b = GaussianStatistics.of(correlated_features(20, 64, seed=4))
    value = frechet_distance(a, b)
    assert math.isfinite(value) and value > 0
    assert value == pytest.approx(frechet_distance_sqrtm(a, b), rel=1e-5)


def test_fid_rejects_non_finite_statistics():
    a = GaussianStatistics(np.array([0.0, np.nan]), np.eye(2), 10)
    b = GaussianStatistics(np.zeros(2), np.eye(2), 10)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(a, b)


def test_inception_score_matches_torch_fidelity():
    logits = torch.as_tensor(correlated_features(1000, 1008, seed=5) * 3)
    ours = inception_score(logits, splits=10)
    reference = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    assert ours[0] == pytest.approx(reference["inception_score_mean"], rel=1e-6)
    assert ours[1] == pytest.approx(reference["inception_score_std"], rel=1e-6)


def test_inception_score_bounds():
    # confident and uniform over 10 classes: IS = 10; one class only: IS = 1
    confident = torch.full((1000, 10), -50.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 50.0
    assert inception_score(confident, splits=10, shuffle=False)[0] == pytest.approx(10.0, rel=1e-6)
    collapsed = torch.full((1000, 10), -50.0)
    collapsed[:, 3] = 50.0
    assert inception_score(collapsed, splits=10)[0] == pytest.approx(1.0, rel=1e-6)


def test_kid_matches_torch_fidelity():
    real = correlated_features(300, 32, seed=6)
    fake = correlated_features(300, 32, seed=7, shift=0.2)
    ours = kernel_inception_distance(real, fake, subsets=20, subset_size=100)
    reference = kid_features_to_metric(
        torch.as_tensor(real), torch.as_tensor(fake), kid_subsets=20, kid_subset_size=100,
        kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1, rng_seed=2020, verbose=False)
    assert ours[0] == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-6)
    assert ours[1] == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-6)


def test_precision_recall_density_coverage():
    real = correlated_features(500, 8, seed=8)
    same = precision_recall_density_coverage(real, real, k=3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    # a generator that reproduces only a tight cluster of the real data: precise, no recall
    centre = real[np.argmin(np.linalg.norm(real, axis=1))]
    cluster = centre + 1e-3 * np.random.default_rng(9).normal(size=(500, 8))
    narrow = precision_recall_density_coverage(real, cluster, k=3)
    assert narrow["precision"] == 1.0
    assert narrow["recall"] < 0.05
    assert narrow["coverage"] < 0.05
    far = precision_recall_density_coverage(real, real + 100.0, k=3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_density_counts_open_balls_over_k():
    # real points 0, 1, 2, 10 (k=1: radii 1, 1, 1, 8); fake points at 1 lie strictly inside only
    # the ball of 1 (on the boundary of those of 0 and 2, as Naeem et al.'s code counts with <)
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[1.0], [1.0]])
    values = precision_recall_density_coverage(real, fake, k=1)
    assert values["density"] == pytest.approx(1.0)
    assert values["coverage"] == pytest.approx(1 / 4)
    assert values["precision"] == 1.0  # precision counts the boundary, as torch-fidelity does


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_of_identical_and_disjoint_sets(k):
    real = correlated_features(300, 8, seed=10)
    same = precision_recall_density_coverage(real, real.copy(), k=k)
    assert same == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    disjoint = precision_recall_density_coverage(real, real + 1e3, k=k)
    assert disjoint == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_precision_recall_match_torch_fidelity():
    from torch_fidelity.metric_prc import prc_features_to_metric

    real = correlated_features(400, 16, seed=11)
    fake = correlated_features(300, 16, seed=11, shift=0.3, noise_seed=12)
    ours = precision_recall_density_coverage(real, fake, k=3)
    reference = prc_features_to_metric(torch.as_tensor(fake), torch.as_tensor(real), prc_neighborhood=3,
                                       prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    assert 0.05 < ours["precision"] < 0.95 and 0.05 < ours["recall"] < 0.95  # a case that tells
    # torch-fidelity takes the mean in float32; one sample is 1/300 or 1/400
    assert ours["precision"] == pytest.approx(reference["precision"], abs=1e-6)
    assert ours["recall"] == pytest.approx(reference["recall"], abs=1e-6)


def test_class_statistics():
    labels = torch.arange(1000) % 10
    perfect = torch.nn.functional.one_hot(labels, 10).double() * 10
    result = class_statistics(perfect, labels, 10)
    assert result == {"classes_covered": 10.0, "class_kl": pytest.approx(0.0, abs=1e-12)}
    one_class = torch.zeros(1000, 10)
    one_class[:, 4] = 1.0
    result = class_statistics(one_class, labels, 10)
    assert result["classes_covered"] == 1.0
    assert result["class_kl"] == pytest.approx(math.log(10))
