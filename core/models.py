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


class ToyModel(nn.Module):
    """Many toy models of superposition trained as one (Elhage et al. 2022):
    h = W x, out = ReLU(Wᵀh + b), for every instance at once.

    W is [instances, n_hidden, n_features] (column W[k, :, i] is feature i's direction in
    instance k's hidden space), b is [instances, n_features]; inputs are
    [batch, instances, n_features]. Instances share nothing but the forward call, so K
    models cost one einsum instead of K Python loops.
    """

    def __init__(self, instances: int, n_features: int, n_hidden: int,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu"):
        super().__init__()
        std = (2.0 / (n_features + n_hidden)) ** 0.5  # Xavier-normal per instance
        w = torch.randn(instances, n_hidden, n_features, generator=generator) * std
        self.W = nn.Parameter(w.to(device))
        self.b = nn.Parameter(torch.zeros(instances, n_features, device=device))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bif,ihf->bih", x, self.W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bih,ihf->bif", self.hidden(x), self.W)
        return torch.relu(out + self.b)
