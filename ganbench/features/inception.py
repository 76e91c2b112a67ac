"""The FID Inception network (TensorFlow's 2015-12-05 Inception graph) as a feature extractor.

The network is the one pytorch-fid and torch-fidelity use: torchvision's Inception-v3 blocks
with TensorFlow's pooling (average pools that ignore the zero padding, a max pool in the last
block) and a 1008-way classifier. Its ``state_dict`` matches the file
``pt_inception-2015-12-05-6726825d.pth`` key for key.

Two input pipelines turn images into the network's 299×299 input; both first quantise the
images to uint8 pixels with :func:`ganbench.features.quantize`:

* ``"tf"`` (torch-fidelity's): TensorFlow-1 bilinear resize of the 0..255 pixels, then
  ``(x - 128) / 128``;
* ``"pytorch-fid"`` (pytorch-fid's): ``x / 255``, PyTorch's bilinear resize
  (``align_corners=False``, no antialiasing), then ``2x - 1``.

Where the weight file is looked for, in order (:func:`find_inception_weights`):

1. an explicit path (``--inception-weights PATH``);
2. ``$GANBENCH_INCEPTION_WEIGHTS``;
3. torch hub's checkpoint cache, ``<torch.hub.get_dir()>/checkpoints/<FILE_NAME>``;
4. a download from pytorch-fid's release into that cache.

Every file's SHA-256 must start with the prefix in its name (``6726825d``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.inception import (
    BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE,
)

from ganbench.errors import UsageError, WeightsUnavailableError
from ganbench.fast import full_float32
from ganbench.features import FeatureExtractor, quantize

FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FILE_NAME}"
SHA256_PREFIX = "6726825d"  # read at call time, so tests can monkeypatch it
ENV_VAR = "GANBENCH_INCEPTION_WEIGHTS"
PIPELINES = ("tf", "pytorch-fid")
INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048


# --- the network ---------------------------------------------------------------------------

def _avg_pool_tf(x: Tensor) -> Tensor:
    """3×3 stride-1 average pool that, like TensorFlow's, leaves the zero padding out."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: Tensor) -> Tensor:
    """3×3 stride-1 max pool keeping the spatial size."""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _TFInceptionA(InceptionA):
    """torchvision's InceptionA with TensorFlow's average pool in the pool branch."""

    def _forward(self, x: Tensor) -> list[Tensor]:
        return [
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool_tf(x)),
        ]


class _TFInceptionC(InceptionC):
    """torchvision's InceptionC with TensorFlow's average pool in the pool branch."""

    def _forward(self, x: Tensor) -> list[Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d7 = layer(d7)
        return [self.branch1x1(x), b7, d7, self.branch_pool(_avg_pool_tf(x))]


class _TFInceptionE(InceptionE):
    """torchvision's InceptionE with the FID graph's pool: TF average (Mixed_7b) or max (Mixed_7c)."""

    def __init__(self, in_channels: int, max_pool: bool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: Tensor) -> list[Tensor]:
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _max_pool_same(x) if self.max_pool else _avg_pool_tf(x)
        return [
            self.branch1x1(x),
            torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
            torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1),
            self.branch_pool(pooled),
        ]


class FIDInceptionV3(nn.Module):
    """The FID Inception network; input N×3×299×299 scaled to [-1, 1].

    :meth:`forward` returns ``"pool"`` (N×2048, the global average pool), ``"logits"``
    (N×1008) and ``"logits_unbiased"`` (the classifier without its bias, as torch-fidelity
    computes it for the Inception Score).
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = _TFInceptionA(192, pool_features=32)
        self.Mixed_5c = _TFInceptionA(256, pool_features=64)
        self.Mixed_5d = _TFInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = _TFInceptionC(768, channels_7x7=128)
        self.Mixed_6c = _TFInceptionC(768, channels_7x7=160)
        self.Mixed_6d = _TFInceptionC(768, channels_7x7=160)
        self.Mixed_6e = _TFInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = _TFInceptionE(1280, max_pool=False)
        self.Mixed_7c = _TFInceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        unbiased = pool.mm(self.fc.weight.t())
        return {"pool": pool, "logits": unbiased + self.fc.bias, "logits_unbiased": unbiased}


def fold_batch_norms(network: nn.Module) -> None:
    """Fold each convolution's batch norm into the convolution, for inference (in place).

    In eval mode a batch norm is an affine map per channel, so ``bn(conv(x))`` is one
    convolution with scaled weights and a bias: one pass over the activations instead of two.
    The function is the same; the features change only by float rounding (≤ 1e-5 here).
    """
    for module in network.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv.eval(), module.bn.eval())
            module.bn = nn.Identity()


# --- input pipelines -----------------------------------------------------------------------

def _lerp_along(x: Tensor, dim: int, out_len: int) -> Tensor:
    """TF1 bilinear interpolation (no half-pixel centres) of ``x`` along one dimension."""
    in_len = x.shape[dim]
    # Source positions out_idx * (in/out), the scale rounded to float32 as TensorFlow does.
    scale = torch.tensor(in_len / out_len, dtype=torch.float32, device=x.device)
    pos = torch.arange(out_len, dtype=x.dtype, device=x.device) * scale
    lo = pos.long()
    hi = (lo + 1).clamp_max(in_len - 1)
    frac = (pos - lo.to(pos.dtype)).view([out_len if d == dim else 1 for d in range(x.dim())])
    before = (slice(None),) * dim  # indexing, not index_select: that is ~50× slower on CPU here
    start = x[before + (lo,)]
    return start + (x[before + (hi,)] - start) * frac


def resize_bilinear_tf1(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize N×C×H×W float images like TensorFlow 1's ``resize_bilinear(align_corners=False)``.

    Output pixel ``i`` samples the input at ``i * in/out`` (no half-pixel offset: the grid
    is anchored at the top-left corner, and positions past the last pixel repeat it).
    Interpolates along the width, then along the height, which gives the same floats as
    interpolating each output pixel from its four neighbours. Same size: the identity.
    """
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"resize_bilinear_tf1 expects a float N×C×H×W tensor, got "
                         f"{images.dtype} of shape {tuple(images.shape)}.")
    height, width = size
    if (images.shape[2], images.shape[3]) == (height, width):
        return images
    return _lerp_along(_lerp_along(images, 3, width), 2, height)


def preprocess(images: Tensor, pipeline: str = "tf") -> Tensor:
    """Images (float in [-1, 1] or uint8, 1 or 3 channels) to the network's float32 input.

    :returns: N×3×299×299 float32 in [-1, 1], on the images' device.
    """
    _check_pipeline(pipeline)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape N×1×H×W or N×3×H×W, got {tuple(images.shape)}.")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ValueError(f"expected float images in [-1, 1] or uint8 pixels, got {images.dtype}.")
    pixels = quantize(images).float()
    size = (INPUT_SIZE, INPUT_SIZE)
    if pipeline == "tf":
        x = (resize_bilinear_tf1(pixels, size) - 128) / 128
    else:
        x = F.interpolate(pixels / 255, size=size, mode="bilinear", align_corners=False)
        x = 2 * x - 1
    # Grey images: resizing is per channel, so repeat after it (three times less work).
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def _check_pipeline(pipeline: str) -> None:
    if pipeline not in PIPELINES:
        raise UsageError(f"unknown Inception input pipeline {pipeline!r}; expected one of "
                         f"{', '.join(map(repr, PIPELINES))}.")


# --- weights -------------------------------------------------------------------------------

def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(state_dict: Mapping[str, Tensor]) -> str:
    """Hex SHA-256 of a state dict: every tensor's name, dtype, shape and bytes, by name."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _verified_sha256(path: Path, origin: str) -> str:
    """The file's SHA-256, after checking that it starts with :data:`SHA256_PREFIX`."""
    found = file_sha256(path)
    if not found.startswith(SHA256_PREFIX):
        raise WeightsUnavailableError(
            f"the Inception weight file {path} ({origin}) has SHA-256 starting {found[:8]!r}, "
            f"expected {SHA256_PREFIX!r}: it is not {FILE_NAME} or it is damaged. Replace it with "
            f"the file from {WEIGHTS_URL} (or delete it, if it is in torch hub's cache, so that "
            f"it is downloaded again)."
        )
    return found


def _locate_weights(explicit: str | Path | None) -> tuple[Path, str]:
    """The weight file (see :func:`find_inception_weights`) and its full SHA-256."""
    given = [("--inception-weights", explicit), (f"${ENV_VAR}", os.environ.get(ENV_VAR) or None)]
    for origin, value in given:
        if value is None:
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"the Inception weight file given by {origin}, {path}, does not exist or is not a "
                f"file; point it to {FILE_NAME} (from {WEIGHTS_URL}) or leave it unset to use "
                f"torch hub's cache."
            )
        return path, _verified_sha256(path, origin)

    cached = Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME
    tried = ["--inception-weights: not given", f"${ENV_VAR}: not set"]
    if cached.is_file():
        return cached, _verified_sha256(cached, "torch hub cache")
    tried.append(f"torch hub cache {cached}: no such file")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(WEIGHTS_URL, str(cached), hash_prefix=SHA256_PREFIX)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a bad hash a RuntimeError
        tried.append(f"download {WEIGHTS_URL}: {type(exc).__name__}: {exc}")
    else:
        if cached.is_file():
            return cached, _verified_sha256(cached, "downloaded")
        tried.append(f"download {WEIGHTS_URL}: finished but wrote no file at {cached}")
    remedies = (
        f"pass --inception-weights PATH with PATH the file {FILE_NAME}",
        f"set {ENV_VAR}=PATH",
        f"put the file in torch hub's cache folder: {cached.parent}",
        f"connect to the internet so that it can be downloaded from {WEIGHTS_URL}",
    )
    raise WeightsUnavailableError(
        "the FID Inception weights are not available. Tried:\n"
        + "\n".join(f"  * {t}" for t in tried)
        + "\nRemedies:\n" + "\n".join(f"  - {r}" for r in remedies)
    )


def find_inception_weights(explicit: str | Path | None = None) -> Path:
    """Path of the verified weight file: ``explicit``, ``$GANBENCH_INCEPTION_WEIGHTS``, torch
    hub's cache, else a download into that cache.

    :raises WeightsUnavailableError: a given file is missing or has the wrong hash, or no file
        was found and the download failed.
    """
    return _locate_weights(explicit)[0]


# --- the extractor -------------------------------------------------------------------------

class InceptionFeatures(FeatureExtractor):
    """FID Inception features: ``"features"`` (pool, N×2048), ``"logits"`` and
    ``"logits_unbiased"`` (N×1008), all float64 on the CPU.

    :param pipeline: ``"tf"`` (torch-fidelity's input pipeline) or ``"pytorch-fid"``.
    :param weights: the weight file; None looks it up (:func:`find_inception_weights`).
    :param device: where the network runs (it stays float32).
    :param batch_size: images per forward pass.
    """

    accepts_pytorch_fid_statistics = True  # pytorch-fid's statistics files hold these pool features

    def __init__(self, pipeline: str = "tf", weights: str | Path | None = None,
                 device: str | torch.device = "cpu", batch_size: int = 200):
        _check_pipeline(pipeline)
        path, sha256 = _locate_weights(weights)
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        self._setup(state_dict, sha256, pipeline, device, batch_size)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Tensor], pipeline: str = "tf",
                        device: str | torch.device = "cpu",
                        batch_size: int = 200) -> InceptionFeatures:
        """An extractor with the given weights, unchecked (for tests and converted weights);
        ``cache_key()["weights_sha256"]`` is then the hash of the tensors."""
        _check_pipeline(pipeline)
        extractor = cls.__new__(cls)
        extractor._setup(state_dict, state_dict_sha256(state_dict), pipeline, device, batch_size)
        return extractor

    def _setup(self, state_dict: Mapping[str, Tensor], sha256: str, pipeline: str,
               device: str | torch.device, batch_size: int) -> None:
        if batch_size < 1:
            raise UsageError(f"the Inception batch size must be at least 1, got {batch_size}.")
        self.pipeline = pipeline
        self.name = f"inception-{pipeline}"
        self.weights_sha256 = sha256
        self.device = torch.device(device)
        self.batch_size = batch_size
        # oneDNN's CPU convolutions run ~1.5× faster on channels-last tensors; the features
        # then differ from the NCHW references' by ~1e-5 instead of not at all.
        self.memory_format = (torch.channels_last if self.device.type == "cpu"
                              else torch.contiguous_format)
        self.network = FIDInceptionV3()
        self.network.load_state_dict(state_dict)
        fold_batch_norms(self.network)
        self.network.to(device=self.device, dtype=torch.float32, memory_format=self.memory_format)
        self.network.eval().requires_grad_(False)

    def cache_key(self) -> dict[str, Any]:
        return {"network": "fid-inception-2015-12-05", "weights_sha256": self.weights_sha256,
                "pipeline": self.pipeline, "version": 3}  # 2: batch norms folded; 3: no TF32 on CUDA

    def extract(self, images: Tensor) -> dict[str, Tensor]:
        """Features of N×C×H×W images (float in [-1, 1] or uint8, 1 or 3 channels)."""
        outputs: dict[str, list[Tensor]] = {"features": [], "logits": [], "logits_unbiased": []}
        self.network.eval()
        with torch.inference_mode(), full_float32():  # TF32 would move GPU features off the reference's
            for start in range(0, len(images), self.batch_size):
                batch = images[start:start + self.batch_size].to(self.device)
                inputs = preprocess(batch, self.pipeline)
                result = self.network(inputs.contiguous(memory_format=self.memory_format))
                outputs["features"].append(result["pool"].double().cpu())
                outputs["logits"].append(result["logits"].double().cpu())
                outputs["logits_unbiased"].append(result["logits_unbiased"].double().cpu())
        widths = {"features": FEATURE_DIM, "logits": NUM_CLASSES, "logits_unbiased": NUM_CLASSES}
        return {key: torch.cat(parts) if parts else torch.empty(0, widths[key], dtype=torch.float64)
                for key, parts in outputs.items()}


__all__ = [
    "ENV_VAR", "FILE_NAME", "FIDInceptionV3", "InceptionFeatures", "PIPELINES", "SHA256_PREFIX",
    "WEIGHTS_URL", "file_sha256", "find_inception_weights", "fold_batch_norms", "preprocess",
    "resize_bilinear_tf1", "state_dict_sha256",
]
