"""Many small MLPs trained as one: weights shaped [instances, fan_in, fan_out], one
learning rate per instance, and the digits data they learn.

The optimization pages sweep learning rates: every (learning rate, seed) pair is an
instance of one batched model, so a sweep of 16 rates costs about one forward call per
step instead of 16. torch.optim takes one learning rate per parameter group, so the
three update rules are written out here with a learning rate per instance; a test checks
each against torch.optim instance by instance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.params import rule

UPDATE_RULES = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class Digits:
    x: torch.Tensor  # [n, 64] pixels scaled to [0, 1]
    y: torch.Tensor  # [n] labels 0..9


def digits(n_train: int, seed: int, device: torch.device | str = "cpu") -> Digits:
    """`n_train` of scikit-learn's 1,797 8×8 digits, chosen with `seed`, pixels / 16."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng([seed, 7]).permutation(len(y))[:n_train]
    return Digits(torch.tensor(x[order] / 16.0, dtype=torch.float32, device=device),
                  torch.tensor(y[order], dtype=torch.long, device=device))


def linear_init(instances: int, fan_in: int, fan_out: int, generator: torch.Generator,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear init, per instance: weight and bias U(±1/√fan_in)."""
    bound = fan_in ** -0.5
    w = (torch.rand(instances, fan_in, fan_out, generator=generator) * 2 - 1) * bound
    b = (torch.rand(instances, 1, fan_out, generator=generator) * 2 - 1) * bound
    return w.to(device), b.to(device)


class InstanceMLP:
    """in -> [Linear -> ReLU] x (len(sizes) - 2) -> Linear, for every instance at once.

    `weights[k]` is [instances, sizes[k], sizes[k+1]], `biases[k]` [instances, 1, ...].
    `multipliers[k]` scales layer k's input in the forward pass (1, except for muP's
    readout; a float, or a tensor [instances]). Inputs are [instances, batch, sizes[0]]
    (or [batch, sizes[0]], shared by every instance).
    """

    def __init__(self, instances: int, sizes: list[int], generator: torch.Generator,
                 device: torch.device | str = "cpu"):
        self.sizes = list(sizes)
        self.weights, self.biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w, b = linear_init(instances, fan_in, fan_out, generator, device)
            self.weights.append(w.requires_grad_())
            self.biases.append(b.requires_grad_())
        self.multipliers = [1.0] * len(self.weights)

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (pre-activation), the last one being the logits."""
        outs = []
        h = x if x.dim() == 3 else x.expand(self.weights[0].shape[0], *x.shape)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            mult = self.multipliers[k]
            if isinstance(mult, torch.Tensor):
                h = h * mult.view(-1, 1, 1)
            elif mult != 1.0:
                h = h * mult
            z = torch.baddbmm(b, h, w)
            outs.append(z)
            h = torch.relu(z)
        return outs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[-1]


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each instance, [instances]; `y` is [batch] or [instances, batch]."""
    logp = torch.log_softmax(logits, -1)
    y = y if y.dim() == 2 else y.expand(logits.shape[0], -1)
    return -logp.gather(-1, y[..., None]).squeeze(-1).mean(-1)


class InstanceOptimizer:
    """SGD, SGD with momentum (torch's form: buf = μ·buf + g, step lr·buf) or Adam, with
    a learning rate per instance: `lrs` is [instances]; `scales` (one per parameter, a
    float or a tensor [instances]; default 1) multiplies a parameter's learning rate, as
    muP does for its hidden weights."""

    def __init__(self, params: list[torch.Tensor], rule: str, lrs: torch.Tensor,
                 momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, scales: list[float] | None = None):
        if rule not in UPDATE_RULES:
            raise ValueError(f"rule must be one of {UPDATE_RULES}; got {rule!r}")
        self.params, self.rule, self.momentum, self.betas, self.eps = params, rule, \
            momentum, betas, eps
        self.lrs = lrs
        self.scales = scales or [1.0] * len(params)
        self.state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        self.t = 0

    def _lr(self, p: torch.Tensor, scale) -> torch.Tensor:
        return (self.lrs * scale).view(-1, *([1] * (p.dim() - 1)))

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, (m, v), scale in zip(self.params, self.state, self.scales):
            g = p.grad
            if g is None:
                continue
            if self.rule == "sgd":
                p.sub_(self._lr(p, scale) * g)
            elif self.rule == "momentum":
                m.copy_(g if self.t == 1 else m * self.momentum + g)
                p.sub_(self._lr(p, scale) * m)
            else:
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v / (1 - b2 ** self.t)).sqrt_().add_(self.eps)
                p.sub_(self._lr(p, scale) * (m / (1 - b1 ** self.t)) / denom)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def reset(self, mask: torch.Tensor) -> None:
        """Stop the instances in `mask` for good: zero weights, state and learning rate,
        so that a diverged instance stays finite and leaves the others alone."""
        self.lrs = torch.where(mask, torch.zeros_like(self.lrs), self.lrs)
        for p, (m, v) in zip(self.params, self.state):
            for t in (p, m, v):
                t[mask] = 0.0


# --- what the learning-rate sweeps share (lr_sweep, mup_transfer) ----------------------

EVAL_CHUNK = 400  # training images per forward call when measuring the full-set loss

SWEEP_RULES = (
    rule(("lr_max", "lr_min"), lambda c: c.lr_max > c.lr_min,
         "'lr_max' must be larger than 'lr_min'"),
    rule(("batch_size", "n_train"), lambda c: c.batch_size <= c.n_train,
         "'batch_size' must be at most 'n_train'"),
)


def lr_grid(config) -> list[float]:
    """`n_lrs` learning rates from `lr_min` to `lr_max`, evenly spaced in log."""
    return [float(f"{v:.6g}") for v in np.geomspace(config.lr_min, config.lr_max,
                                                    config.n_lrs)]


def batch_orders(n_train: int, batch: int, steps: int, seed: int) -> np.ndarray:
    """[steps, batch] indices: shuffled epochs, the same order at every width and lr."""
    rng = np.random.default_rng([seed, 11])
    per_epoch = n_train // batch
    epochs = -(-steps // per_epoch)
    order = np.concatenate([rng.permutation(n_train)[:per_epoch * batch]
                            for _ in range(epochs)])
    return order[:steps * batch].reshape(steps, batch)


@torch.no_grad()
def full_losses(model: InstanceMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(model.weights[0].shape[0], device=x.device)
    for start in range(0, len(y), EVAL_CHUNK):
        xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
        total += cross_entropy(model(xb), yb) * len(yb)
    return total / len(y)
