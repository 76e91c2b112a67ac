"""Sample pictures: an image grid for image data, a scatter or histogram for vector data."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from ganbench.architectures import cyclic_labels  # noqa: E402
from ganbench.storage import atomic_path  # noqa: E402

GRID_SAMPLES = 64
GRID_COLUMNS = 8
POINT_SAMPLES = 2000


def fixed_noise(seed: int, kind: str, latent_dim: int, num_classes: int | None = None) -> Tensor:
    """The run's fixed noise (CPU, from its own generator, so training's RNG is untouched).

    For a conditional image generator, ``GRID_COLUMNS`` noise vectors per class (one grid row each).
    """
    if kind == "image":
        count = GRID_COLUMNS * num_classes if num_classes else GRID_SAMPLES
    else:
        count = POINT_SAMPLES
    return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))


def sample_labels(count: int, kind: str, num_classes: int) -> Tensor:
    """The classes asked of a conditional generator for the sample picture: one grid row per
    class for images (``GRID_COLUMNS`` each), classes in turn for points."""
    if kind == "image":
        return torch.arange(num_classes).repeat_interleave(count // num_classes)
    return cyclic_labels(count, num_classes)


@torch.no_grad()
def save_samples(generator: nn.Module, noise: Tensor, kind: str, path: Path,
                 real: Tensor | None = None, title: str = "", labels: Tensor | None = None) -> None:
    """Render ``generator(noise)`` (``generator(noise, labels)`` for a conditional one) to a
    PNG at ``path`` (atomically). Points are coloured by their requested class."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    if labels is None:
        samples = generator(noise.to(device)).float().cpu()
    else:
        samples = generator(noise.to(device), labels.to(device)).float().cpu()
    generator.train(was_training)
    with atomic_path(path) as tmp:
        if kind == "image":
            save_image(samples, tmp, nrow=GRID_COLUMNS, normalize=True, value_range=(-1, 1), format="png")
            return
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        flat = samples.flatten(start_dim=1)
        if flat.shape[1] == 1:
            if real is not None:
                ax.hist(real.flatten().cpu().numpy(), bins=80, density=True, alpha=0.5, label="real")
            ax.hist(flat[:, 0].numpy(), bins=80, density=True, alpha=0.5, label="generated")
            ax.legend()
        else:
            if real is not None:
                r = real.flatten(start_dim=1).cpu().numpy()
                ax.scatter(r[:, 0], r[:, 1], s=2, alpha=0.3, label="real")
            colours = {} if labels is None else {"c": labels.numpy() % 10, "cmap": "tab10"}
            ax.scatter(flat[:, 0].numpy(), flat[:, 1].numpy(), s=2, alpha=0.5, label="generated", **colours)
            ax.set_aspect("equal")
            ax.legend(loc="upper right", markerscale=4)
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(tmp, format="png")
        plt.close(fig)
