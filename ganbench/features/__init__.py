"""Feature extractors: the networks whose features quality metrics compare.

A feature extractor turns images in [-1, 1] into float64 features (for Fréchet distances,
KID, precision/recall) and class logits (for Inception-Score-like measures). Two kinds are
built in: the FID Inception network (:mod:`ganbench.features.inception`) and a small domain
classifier trained on the data set itself (:mod:`ganbench.features.classifier`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganbench.lazy import lazy_import

torch = lazy_import("torch")

if TYPE_CHECKING:
    from torch import Tensor


def quantize(images: Tensor) -> Tensor:
    """Samples in [-1, 1] to uint8 pixels, the same way for real and generated images.

    ``round((x + 1) * 127.5)`` clamped to [0, 255]: exactly the inverse of
    :func:`ganbench.datasets.to_unit_range` for real images, so real pixels come back unchanged.
    """
    if images.dtype == torch.uint8:
        return images
    return ((images.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


class FeatureExtractor:
    """What a metric needs from a feature network.

    ``name`` names the extractor in tables and cache keys; :meth:`cache_key` lists everything
    that changes the features (network, weights' hash, input pipeline, code version), so that
    cached real-data statistics are recomputed when any of it changes, and so that a
    statistics file records which features made it.
    """

    name: str = ""
    # True for the FID Inception network: a statistics file without a record of its features
    # (pytorch-fid's --save-stats) is taken to be of these features.
    accepts_pytorch_fid_statistics: bool = False

    def cache_key(self) -> dict[str, Any]:
        """JSON-serialisable facts that identify the features this extractor computes."""
        raise NotImplementedError

    def extract(self, images: Tensor) -> dict[str, Tensor]:
        """Features of a batch of images (N×C×H×W, float in [-1, 1] or uint8, any device).

        :returns: float64 CPU tensors: ``"features"`` (N×D) and ``"logits"`` (N×K);
            extractors may add more (the Inception network adds ``"logits_unbiased"``).
        """
        raise NotImplementedError


__all__ = ["FeatureExtractor", "quantize"]
