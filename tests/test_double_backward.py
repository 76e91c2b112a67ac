"""The gradient penalty's double backward without PyTorch's branches of exact zeros."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ganbench.double_backward as double_backward
from ganbench.double_backward import ZERO_GRADIENT_INPUTS, backward_skipping_zeros, graph_nodes
from ganbench.variants.wgan_gp import gradient_penalty


def _critic(kind: str, activation: nn.Module) -> tuple[nn.Module, tuple[int, ...]]:
    if kind == "conv":
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), activation, nn.MaxPool2d(2),
                             nn.Conv2d(4, 4, 3, padding=1), nn.LayerNorm([4, 4, 4]), activation,
                             nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 1)), (3, 8, 8)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), activation, nn.Linear(16, 8), activation,
                         nn.Linear(8, 1)), (12,)


ACTIVATIONS = {
    "leaky-relu": lambda: nn.LeakyReLU(0.2), "leaky-relu-inplace": lambda: nn.LeakyReLU(0.2, inplace=True),
    "relu": nn.ReLU, "relu-inplace": lambda: nn.ReLU(inplace=True), "hardtanh": nn.Hardtanh, "relu6": nn.ReLU6,
    "elu": nn.ELU, "tanh": nn.Tanh, "silu": nn.SiLU,
}


def _penalty_gradients(kind: str, activation: str, skip: bool) -> tuple[list[torch.Tensor | None], int]:
    torch.manual_seed(0)
    critic, shape = _critic(kind, ACTIVATIONS[activation]())
    real, fake = torch.randn(6, *shape), torch.randn(6, *shape)
    weights = list(critic.parameters())
    penalty = gradient_penalty(critic, real, fake)
    dropped = 0
    if skip:
        dropped = backward_skipping_zeros(penalty, weights)
    else:
        penalty.backward(inputs=weights)
    return [None if w.grad is None else w.grad.clone() for w in weights], dropped


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradients_equal_those_of_a_plain_backward(kind, activation):
    plain, _ = _penalty_gradients(kind, activation, skip=False)
    skipped, dropped = _penalty_gradients(kind, activation, skip=True)
    for before, after in zip(plain, skipped):
        # bit for bit, and a weight reached only through the zeros gets zeros, not None
        assert (before is None and after is None) or (after is not None and torch.equal(before, after))
    piecewise_linear = activation not in ("elu", "tanh", "silu")
    assert dropped > 0 if (piecewise_linear or kind == "conv") else dropped == 0


@pytest.mark.parametrize("name, layer", [
    ("LeakyReluBackwardBackward0", lambda: nn.LeakyReLU(0.2)), ("ThresholdBackwardBackward0", nn.ReLU),
    ("HardtanhBackwardBackward0", nn.Hardtanh), ("MaxPool2DWithIndicesBackwardBackward0", lambda: nn.MaxPool2d(2)),
    ("AvgPool2DBackwardBackward0", lambda: nn.AvgPool2d(2)),
])
def test_each_listed_node_exists_and_its_dropped_gradient_is_zeros(name, layer):
    """Fails if the installed torch renames a node (the saving would silently stop) or if a
    listed input's gradient is ever anything but zeros (skipping it would change results)."""
    assert set(ZERO_GRADIENT_INPUTS) == {"LeakyReluBackwardBackward0", "ThresholdBackwardBackward0",
                                         "HardtanhBackwardBackward0", "MaxPool2DWithIndicesBackwardBackward0",
                                         "AvgPool2DBackwardBackward0"}
    torch.manual_seed(1)
    critic = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), layer(), nn.Flatten(), nn.Linear(3 * 16, 1))
    if "Pool" in name:
        critic = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), layer(), nn.Flatten(), nn.Linear(3 * 4, 1))
    penalty = gradient_penalty(critic, torch.randn(5, 2, 4, 4), torch.randn(5, 2, 4, 4))
    nodes = [node for node in graph_nodes(penalty) if node.name() == name]
    assert nodes, f"torch {torch.__version__} has no {name} node in a gradient penalty's graph"
    seen: list[torch.Tensor] = []
    nodes[0].register_hook(lambda grad_inputs, _: seen.append(grad_inputs[ZERO_GRADIENT_INPUTS[name]]))
    penalty.backward()
    assert len(seen) == 1 and seen[0] is not None and seen[0].numel() > 0 and not seen[0].any()


def test_the_skipped_work_is_not_done():
    """On the course's MLP critic the zeros cost a matrix product per weight below each
    activation: skipping them removes those products."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                           nn.LeakyReLU(0.2), nn.Linear(256, 1))
    real, fake = torch.randn(16, 1, 28, 28), torch.randn(16, 1, 28, 28)
    weights = list(critic.parameters())

    def products(skip: bool) -> int:
        penalty = gradient_penalty(critic, real, fake)
        with torch.profiler.profile() as profile:
            backward_skipping_zeros(penalty, weights) if skip else penalty.backward(inputs=weights)
        return sum(event.count for event in profile.key_averages() if event.key in ("aten::mm", "aten::addmm"))

    plain, skipped = products(False), products(True)
    assert skipped <= plain - 2, (plain, skipped)  # at least W1's and W2's products of zeros


@pytest.mark.parametrize("variant", ["wgan-gp", "r1"])
def test_training_is_bit_for_bit_the_same(monkeypatch, variant):
    """A penalised run gives the same history and weights with and without the skipping."""
    from ganbench.config import RunConfig, variant_params
    from ganbench.plugins import build_catalog, create_plugin_manager
    from ganbench.training import train

    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    config = RunConfig(variant=variant, dataset="ring-8", seed=0, arch="mlp", steps=12, batch_size=16,
                       latent_dim=4, device="cpu", variant_params=variant_params(catalog, variant, {}))
    skipping = train(config, catalog)
    monkeypatch.setattr(double_backward, "ZERO_GRADIENT_INPUTS", {})
    plain = train(config, catalog)
    assert skipping.history.equals(plain.history)
    for a, b in zip(skipping.critic.state_dict().values(), plain.critic.state_dict().values()):
        assert torch.equal(a, b)
