"""``mlp``: fully connected pairs.

For images, the course's Fashion-MNIST pair: G 64 → 256 → 512 → 1024 → D with LeakyReLU(0.2)
and BatchNorm1d, Tanh out; critic D → 512 → 256 → 1 with LeakyReLU(0.2) and no sigmoid.
For 1-D/2-D data, a small pair: G z → 64 → 64 → D (ReLU), critic D → 64 → 64 → 1
(LeakyReLU(0.2)). Neither critic uses normalisation, so every variant may use them.
An ``"autoencoder"`` critic mirrors the critic's hidden layers (images D → 512 → 256 → 512 →
D; small data D → 64 → 64 → 64 → D) and returns each sample's reconstruction error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.architectures import (
    ArchSpec, Architecture, conditional_generator, critic_with_head, generator_input_dim,
)
from ganbench.hookspecs import hookimpl
from ganbench.lazy import lazy_import

nn = lazy_import("torch.nn")

if TYPE_CHECKING:
    from ganbench.architectures.layers import ReconstructionEnergy


def _generator_image(latent_dim: int, out_dim: int, shape: tuple[int, ...]) -> nn.Sequential:
    from ganbench.architectures.layers import Reshape

    layers: list[nn.Module] = []
    width_in = latent_dim
    for width in (256, 512, 1024):
        layers += [nn.Linear(width_in, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2)]
        width_in = width
    return nn.Sequential(*layers, nn.Linear(width_in, out_dim), nn.Tanh(), Reshape(*shape))


def _autoencoder(in_dim: int, hidden: tuple[int, ...]) -> ReconstructionEnergy:
    """Encoder ``in_dim → hidden...`` and its mirror back to ``in_dim``, LeakyReLU(0.2) between."""
    from ganbench.architectures.layers import ReconstructionEnergy

    widths = (in_dim, *hidden)
    encoder: list[nn.Module] = [nn.Flatten()]
    for width_in, width in zip(widths, widths[1:]):
        encoder += [nn.Linear(width_in, width), nn.LeakyReLU(0.2)]
    decoder: list[nn.Module] = []
    for width_in, width in zip(widths[::-1], widths[-2::-1]):
        decoder += [nn.Linear(width_in, width), nn.LeakyReLU(0.2)]
    return ReconstructionEnergy(nn.Sequential(*encoder), nn.Sequential(*decoder[:-1]))


def _critic_image(in_dim: int, spec: ArchSpec) -> nn.Module:
    body = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                         nn.LeakyReLU(0.2))
    return critic_with_head(body, nn.Sequential(nn.Linear(256 + spec.minibatch_std, 1)), spec)


class MLP(Architecture):
    name = "mlp"
    capturable = True  # no host synchronisation in training mode
    description = "Fully connected pair: the course's 784-d MLP for images, a small one for 1-D/2-D."
    critic_kinds = ("scalar", "autoencoder")
    supports_minibatch_std = True
    supports_conditional = True

    @classmethod
    def suitability(cls, data_shape, data_kind) -> int:
        if data_kind == "vector":
            return 10
        if data_kind != "image":
            return 0  # e.g. two-domain data for translation variants
        # The course's reference architecture for 28x28; possible but weak for larger images.
        return 10 if data_shape[-2:] == (28, 28) else 1

    @classmethod
    def default_latent_dim(cls, data_shape, data_kind) -> int:
        if data_kind == "image":
            return 64
        return 6 if data_shape == (1,) else 8

    def build(self, spec: ArchSpec) -> tuple[nn.Module, nn.Module]:
        from ganbench.architectures.layers import Reshape

        # G is built before the critic: their initial weights come from the seeded generator in
        # this order, and changing it would change every recorded run's results.
        self.check_critic_kind(spec.critic_kind)
        in_dim = generator_input_dim(spec)
        image = spec.data_kind == "image"
        if image:
            generator = _generator_image(in_dim, spec.data_dim, spec.data_shape)
        else:
            generator = nn.Sequential(
                nn.Linear(in_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                nn.Linear(64, spec.data_dim), Reshape(*spec.data_shape),
            )
        generator = conditional_generator(generator, spec)
        if spec.critic_kind == "autoencoder":
            critic = _autoencoder(spec.data_dim, (512, 256) if image else (64, 64))
        elif image:
            critic = _critic_image(spec.data_dim, spec)
        else:
            body = nn.Sequential(nn.Flatten(), nn.Linear(spec.data_dim, 64), nn.LeakyReLU(0.2),
                                 nn.Linear(64, 64), nn.LeakyReLU(0.2))
            critic = critic_with_head(body, nn.Sequential(nn.Linear(64 + spec.minibatch_std, 1)), spec)
        return generator, critic


@hookimpl
def register_architectures(register):
    register(MLP)
