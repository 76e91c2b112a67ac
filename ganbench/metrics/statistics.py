"""The formulas behind the quality metrics, on feature arrays (float64 throughout).

- Fréchet distance (FID) through a Cholesky factor and a symmetric eigenvalue problem, and the ``scipy.linalg.sqrtm``
  form of pytorch-fid for reference;
- Inception Score over splits (torch-fidelity's definition);
- Kernel Inception Distance: unbiased MMD² with the cubic polynomial kernel over random subsets
  (torch-fidelity's and Bińkowski et al.'s definition);
- improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage
  (Naeem et al. 2020) from k-nearest-neighbour balls;
- class coverage and the KL divergence between class histograms.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from ganbench.lazy import lazy_import

np = lazy_import("numpy")
torch = lazy_import("torch")
linalg = lazy_import("scipy.linalg")
stats = lazy_import("scipy.stats")

log = logging.getLogger(__name__)

FID_OFFSET = 1e-6  # added to the diagonals when a covariance product is singular, as the references do


@dataclass(frozen=True)
class GaussianStatistics:
    """Mean and covariance of a feature set, and how many samples they came from."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int

    @classmethod
    def of(cls, features: np.ndarray | torch.Tensor) -> GaussianStatistics:
        """Statistics of N×D features, in float64; warns when N ≤ D (a singular covariance)."""
        array = _as_float64(features)
        count, dim = array.shape
        if count < 2:
            raise ValueError(f"need at least 2 samples for a covariance, got {count}.")
        if count <= dim:
            warnings.warn(
                f"{count} samples for {dim}-dimensional features: the covariance is singular and "
                f"the Fréchet distance is biased upwards; use more samples than dimensions "
                f"(10,000 or more for a comparable FID).", stacklevel=2)
        return cls(array.mean(axis=0), np.cov(array, rowvar=False), count)


def _as_float64(features: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"features must be a 2-D array (samples × dimensions), got shape {array.shape}.")
    return array


def _half_factor(matrix: np.ndarray) -> np.ndarray:
    """A factor ``F`` with ``F F^T = matrix`` for a symmetric positive semi-definite matrix.

    Cholesky when the matrix is positive definite (fast); otherwise the eigendecomposition
    ``V diag(√λ)``, with round-off negative eigenvalues set to zero.
    """
    try:
        return linalg.cholesky(matrix, lower=True)
    except linalg.LinAlgError:
        eigenvalues, eigenvectors = linalg.eigh(matrix, driver="evd")
        return eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((Σ1 Σ2)^½)`` without a non-symmetric matrix square root.

    With ``Σ1 = F F^T``, ``Σ1 Σ2`` is similar to the symmetric positive semi-definite
    ``F^T Σ2 F``, so the trace of its square root is the sum of the square roots of that
    matrix's eigenvalues (one ``eigvalsh``). Round-off can make tiny eigenvalues negative;
    they are set to zero (and logged when not tiny).
    """
    factor = _half_factor(sigma1)
    middle = factor.T @ sigma2 @ factor
    eigenvalues = linalg.eigvalsh((middle + middle.T) / 2, driver="evd")
    scale = max(float(np.abs(eigenvalues).max(initial=0.0)), 1e-300)
    if eigenvalues.min(initial=0.0) < -1e-8 * scale:
        log.warning("Fréchet distance: negative eigenvalue %.3g (largest %.3g) set to zero",
                 eigenvalues.min(), scale)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(a: GaussianStatistics, b: GaussianStatistics) -> float:
    """``|μa − μb|² + tr(Σa) + tr(Σb) − 2 tr((Σa Σb)^½)``, in float64, symmetric linear algebra.

    Non-finite statistics raise; a decomposition that fails to converge is retried with
    ``FID_OFFSET`` added to both diagonals, as pytorch-fid does for a singular product.
    """
    for stat, which in ((a, "first"), (b, "second")):
        if not (np.isfinite(stat.mu).all() and np.isfinite(stat.sigma).all()):
            raise ValueError(f"the {which} feature statistics contain NaN or infinity; "
                             "check the generator's samples for NaN.")
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature dimensions differ: {a.mu.shape[0]} and {b.mu.shape[0]}.")
    diff = a.mu - b.mu
    try:
        tr_covmean = trace_sqrt_product(a.sigma, b.sigma)
    except linalg.LinAlgError:
        log.warning("Fréchet distance: eigendecomposition failed; adding %g to the covariance "
                    "diagonals", FID_OFFSET)
        offset = np.eye(a.sigma.shape[0]) * FID_OFFSET
        tr_covmean = trace_sqrt_product(a.sigma + offset, b.sigma + offset)
    value = float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * tr_covmean)
    return max(value, 0.0)


def frechet_distance_sqrtm(a: GaussianStatistics, b: GaussianStatistics) -> float:
    """The same distance through ``scipy.linalg.sqrtm`` of the non-symmetric product (slow).

    The classic computation (pytorch-fid's): a non-finite square root is retried with
    ``FID_OFFSET`` on the diagonals; an imaginary part above 1e-3 on the diagonal raises,
    a smaller one is dropped. Kept as the reference for tests and benchmarks.
    """
    diff = a.mu - b.mu
    covmean = linalg.sqrtm(a.sigma @ b.sigma)
    if not np.isfinite(covmean).all():
        log.warning("Fréchet distance (sqrtm): singular product; adding %g to the diagonals", FID_OFFSET)
        offset = np.eye(a.sigma.shape[0]) * FID_OFFSET
        covmean = linalg.sqrtm((a.sigma + offset) @ (b.sigma + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.abs(covmean.imag).max():.3g} in the matrix square root")
        log.warning("Fréchet distance (sqrtm): dropped imaginary part %.3g", np.abs(covmean.imag).max())
        covmean = covmean.real
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.trace(covmean))


def inception_score(logits: np.ndarray | torch.Tensor, splits: int = 10, seed: int = 2020,
                    shuffle: bool = True) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) ‖ p(y)))`` per split: (mean, population std) over ``splits``.

    As torch-fidelity computes it: the samples are shuffled with NumPy's ``RandomState(seed)``,
    split into ``splits`` consecutive chunks, and ``p(y)`` is each chunk's mean prediction.
    Pass the logits without the classifier's bias to reproduce torch-fidelity's Inception Score.
    """
    logits_t = torch.as_tensor(_as_float64(logits))
    count = logits_t.shape[0]
    if count < splits:
        raise ValueError(f"Inception Score over {splits} splits needs at least {splits} samples, got {count}.")
    if shuffle:
        logits_t = logits_t[np.random.RandomState(seed).permutation(count)]
    log_p = logits_t.log_softmax(dim=1)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        chunk = slice(i * count // splits, (i + 1) * count // splits)
        marginal = p[chunk].mean(dim=0, keepdim=True)
        kl = (p[chunk] * (log_p[chunk] - marginal.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))


def _unbiased_mmd2(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor,
                              subsets: int = 100, subset_size: int = 1000, degree: int = 3,
                              coef0: float = 1.0, gamma: float | None = None,
                              seed: int = 2020) -> tuple[float, float]:
    """Unbiased MMD² with the kernel ``(γ x·y + coef0)^degree``, γ = 1/D by default.

    Mean and population std over ``subsets`` pairs of random subsets drawn without
    replacement with NumPy's ``RandomState(seed)``, first from ``real`` then from ``fake``
    (torch-fidelity's order, so its KID is reproduced with ``real`` as its first input).
    """
    x, y = _as_float64(real), _as_float64(fake)
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {x.shape[0]} and {y.shape[0]}.")
    if size < subset_size:
        warnings.warn(f"KID subset size reduced from {subset_size} to {size} (the number of samples).",
                      stacklevel=2)
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(x.shape[0], size, replace=False)]
        b = y[rng.choice(y.shape[0], size, replace=False)]
        kernel = lambda u, v: (u @ v.T * gamma + coef0) ** degree  # noqa: E731
        values[i] = _unbiased_mmd2(kernel(a, a), kernel(a, b), kernel(b, b))
    return float(values.mean()), float(values.std())


def _distances(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i:i + chunk], b) for i in range(0, a.shape[0], chunk)])


def _kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest other point of the same set."""
    distances = _distances(features, features)
    return distances.kthvalue(k + 1, dim=1).values  # the point itself is at distance 0


def precision_recall_density_coverage(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor,
                                      k: int = 3) -> dict[str, float]:
    """Improved precision/recall (k-NN manifolds) and density/coverage of ``fake`` against ``real``.

    Each sample's ball has the distance to its k-th nearest other sample of its own set as radius.

    - precision: share of fake samples inside some real sample's ball, boundary included;
    - recall: share of real samples inside some fake sample's ball, boundary included
      (both as torch-fidelity computes them, Kynkäänniemi et al. 2019);
    - density: the number of (real ball, fake sample) pairs with the sample strictly inside the
      ball, over ``k`` times the number of fake samples;
    - coverage: share of real samples whose ball strictly contains a fake sample
      (both as Naeem et al. 2020 and their ``prdc`` code define them: open balls, so a real ball
      holds k samples of its own set, itself included, and identical sets give density 1 and
      coverage 1).
    """
    x = torch.as_tensor(_as_float64(real))
    y = torch.as_tensor(_as_float64(fake))
    if min(x.shape[0], y.shape[0]) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set.")
    real_radii = _kth_neighbour_radii(x, k)
    fake_radii = _kth_neighbour_radii(y, k)
    real_to_fake = _distances(x, y)  # real × fake
    strictly_inside_real_balls = real_to_fake < real_radii[:, None]
    return {
        "precision": float((real_to_fake <= real_radii[:, None]).any(dim=0).double().mean()),
        "recall": float((real_to_fake <= fake_radii[None, :]).any(dim=1).double().mean()),
        "density": float(strictly_inside_real_balls.double().sum(dim=0).mean() / k),
        "coverage": float(strictly_inside_real_balls.any(dim=1).double().mean()),
    }


def class_statistics(fake_logits: np.ndarray | torch.Tensor, real_labels: np.ndarray | torch.Tensor,
                     num_classes: int, min_share: float = 0.2) -> dict[str, float]:
    """Classes covered by generated samples and ``KL(generated ‖ real)`` of the class histograms.

    A generated sample's class is the classifier's arg-max. A class is covered when it receives
    at least ``min_share`` (20%) of the generated samples it would receive if the generated
    class histogram matched the real one (the rule used for toy mixture modes).
    """
    predicted = torch.as_tensor(_as_float64(fake_logits)).argmax(dim=1)
    labels = torch.as_tensor(np.asarray(real_labels)).long().flatten()
    fake_hist = torch.bincount(predicted, minlength=num_classes).double()
    real_hist = torch.bincount(labels, minlength=num_classes).double()
    fake_p, real_p = fake_hist / fake_hist.sum(), real_hist / real_hist.sum()
    covered = (fake_p >= min_share * real_p) & (real_p > 0)
    return {
        "classes_covered": float(covered.sum()),
        "class_kl": float(stats.entropy(fake_p.numpy(), real_p.numpy())),
    }
