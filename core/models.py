"""Reusable torch modules."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    """in -> [Linear -> activation] x hidden_layers -> Linear -> out.

    `hidden(x)` returns the last hidden layer's activations (the embeddings); with no
    hidden layer the model is linear and the embeddings are the inputs themselves.
    """

    def __init__(self, n_in: int, n_out: int, hidden_layers: int, width: int,
                 activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        size = n_in
        for _ in range(hidden_layers):
            layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
            size = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(size, n_out)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.modules() if isinstance(m, nn.Linear)]
