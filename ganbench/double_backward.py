"""Backpropagating a gradient penalty without the branches PyTorch fills with zeros.

A gradient penalty (WGAN-GP, R1, DRAGAN, …) is a function of the critic's input gradient, so
training on it differentiates the critic's backward pass (the "double backward"). For
piecewise-linear layers (ReLU, leaky ReLU, hard tanh, max and average pooling) the derivative of
the layer's backward with respect to the layer's forward input is, by PyTorch's derivative
formulas, ``zeros_like(...)``: a tensor of exact zeros, which autograd then carries down the
forward graph as if it were a gradient — a matrix product of zeros for every weight below, and a
sum with the weight's real gradient. On the course's MLP critic that is half the double
backward's time.

:func:`backward_skipping_zeros` drops those branches (a hook on each such node turns its zero
output into "no gradient", so the nodes below are not evaluated for it) and gives every weight
exactly the gradient a plain ``backward`` gives: the real contributions are the same and the
dropped ones were zeros. A weight that only the dropped branches reached gets a zero gradient, as
it would have.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import torch
from torch import Tensor

# Double-backward nodes of piecewise-linear layers, and the position of the input whose gradient
# PyTorch's formula makes zeros_like(...): the layer's forward input (``self``). Checked against
# the installed torch by tests/test_double_backward.py, which fails if a node is renamed.
ZERO_GRADIENT_INPUTS: dict[str, int] = {
    "LeakyReluBackwardBackward0": 1,
    "ThresholdBackwardBackward0": 1,  # ReLU
    "HardtanhBackwardBackward0": 1,  # hard tanh, ReLU6
    "MaxPool2DWithIndicesBackwardBackward0": 1,
    "AvgPool2DBackwardBackward0": 1,
}


def graph_nodes(loss: Tensor) -> Iterator[torch.autograd.graph.Node]:
    """Every node of ``loss``'s autograd graph, each once."""
    return _nodes_from([loss.grad_fn])


def _nodes_from(starts: Iterable[torch.autograd.graph.Node | None]) -> Iterator[torch.autograd.graph.Node]:
    seen: set[torch.autograd.graph.Node] = set()
    pending = list(starts)
    while pending:
        node = pending.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        yield node
        pending.extend(next_node for next_node, _ in node.next_functions)


def _drop_input(position: int):
    def hook(grad_inputs: tuple[Tensor | None, ...], _grad_outputs: tuple[Tensor | None, ...]):
        return tuple(None if i == position else grad for i, grad in enumerate(grad_inputs))
    return hook


def backward_skipping_zeros(loss: Tensor, inputs: Sequence[Tensor]) -> int:
    """``loss.backward(inputs=inputs)`` without the branches of exact zeros; returns how many
    branches were dropped. The gradients accumulated into ``inputs`` are those of the plain call."""
    below_dropped: list[torch.autograd.graph.Node | None] = []
    for node in graph_nodes(loss):
        position = ZERO_GRADIENT_INPUTS.get(node.name())
        if position is not None:
            node.register_hook(_drop_input(position))
            below_dropped.append(node.next_functions[position][0])
    wanted = {id(tensor) for tensor in inputs}
    # the plain call carries the zeros down to every leaf below a dropped branch
    zero_leaves = [node.variable for node in _nodes_from(below_dropped)
                   if hasattr(node, "variable") and id(node.variable) in wanted]  # AccumulateGrad nodes
    loss.backward(inputs=list(inputs))
    for leaf in zero_leaves:
        if leaf.grad is None:
            leaf.grad = torch.zeros_like(leaf)
    return len(below_dropped)
