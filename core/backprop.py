"""The chain rule by hand on a 2-2-1 network, checked against autograd and finite differences.

Everything is float64 numpy, written out one local derivative at a time, so the page can
show every number that goes into every weight's gradient.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

WEIGHTS = ("w1_11", "w1_12", "w1_21", "w1_22", "b1_1", "b1_2", "w2_1", "w2_2", "b2")


def _act(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activation and its derivative at z."""
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    s = 1.0 / (1.0 + np.exp(-z))
    return s, s * (1.0 - s)


def tiny_params(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {name: float(v) for name, v in zip(WEIGHTS, rng.normal(0.0, 0.8, len(WEIGHTS)))}


def _unpack(p: dict[str, float]):
    w1 = np.array([[p["w1_11"], p["w1_12"]], [p["w1_21"], p["w1_22"]]])
    return w1, np.array([p["b1_1"], p["b1_2"]]), np.array([p["w2_1"], p["w2_2"]]), p["b2"]


def loss_of(p: dict[str, float], x: np.ndarray, y: float, activation: str, loss: str) -> float:
    w1, b1, w2, b2 = _unpack(p)
    h, _ = _act(activation, w1 @ x + b1)
    z2 = float(w2 @ h + b2)
    out = 1.0 / (1.0 + np.exp(-z2))
    if loss == "mse":
        return (out - y) ** 2
    return float(np.logaddexp(0.0, z2) - y * z2)  # binary cross-entropy with logits


def _autograd(p: dict[str, float], x: np.ndarray, y: float, activation: str,
              loss: str) -> dict[str, float]:
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    xt = torch.tensor(x, dtype=torch.float64)
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    h1 = act(t["w1_11"] * xt[0] + t["w1_12"] * xt[1] + t["b1_1"])
    h2 = act(t["w1_21"] * xt[0] + t["w1_22"] * xt[1] + t["b1_2"])
    z2 = t["w2_1"] * h1 + t["w2_2"] * h2 + t["b2"]
    target = torch.tensor(float(y), dtype=torch.float64)
    if loss == "mse":
        value = (torch.sigmoid(z2) - target) ** 2
    else:
        value = torch.nn.functional.binary_cross_entropy_with_logits(z2, target)
    value.backward()
    return {k: float(v.grad) for k, v in t.items()}


def _finite_difference(p: dict[str, float], x: np.ndarray, y: float, activation: str,
                       loss: str, eps: float = 1e-6) -> dict[str, float]:
    out = {}
    for k in p:
        up, down = dict(p), dict(p)
        up[k] += eps
        down[k] -= eps
        out[k] = (loss_of(up, x, y, activation, loss) - loss_of(down, x, y, activation, loss)) \
            / (2 * eps)
    return out


def rel_error(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def chain_rule(p: dict[str, float], x: np.ndarray, y: float, activation: str,
               loss: str) -> dict[str, Any]:
    """Forward values, local derivatives and each weight's gradient as their product."""
    x = np.asarray(x, dtype=float)
    w1, b1, w2, b2 = _unpack(p)
    z1 = w1 @ x + b1
    h, dh_dz1 = _act(activation, z1)
    z2 = float(w2 @ h + b2)
    out = 1.0 / (1.0 + np.exp(-z2))
    if loss == "mse":
        value = (out - y) ** 2
        dl_dz2 = 2.0 * (out - y) * out * (1.0 - out)
        dl_dz2_text = "2(ŷ−y)·ŷ(1−ŷ)"
    else:
        value = float(np.logaddexp(0.0, z2) - y * z2)
        dl_dz2 = out - y
        dl_dz2_text = "ŷ−y"
    forward = [
        {"quantity": "input x", "formula": "given", "value": f"({x[0]:.4f}, {x[1]:.4f})"},
        {"quantity": "z1_1", "formula": "w1_11·x1 + w1_12·x2 + b1_1", "value": f"{z1[0]:.6f}"},
        {"quantity": "z1_2", "formula": "w1_21·x1 + w1_22·x2 + b1_2", "value": f"{z1[1]:.6f}"},
        {"quantity": "h1", "formula": f"{activation}(z1_1)", "value": f"{h[0]:.6f}"},
        {"quantity": "h2", "formula": f"{activation}(z1_2)", "value": f"{h[1]:.6f}"},
        {"quantity": "z2", "formula": "w2_1·h1 + w2_2·h2 + b2", "value": f"{z2:.6f}"},
        {"quantity": "ŷ", "formula": "sigmoid(z2)", "value": f"{out:.6f}"},
        {"quantity": "loss", "formula": "(ŷ−y)²" if loss == "mse" else "−y·log ŷ − (1−y)·log(1−ŷ)",
         "value": f"{value:.6f}"},
    ]
    chains = {
        "w2_1": ([("∂L/∂z2", dl_dz2_text, dl_dz2), ("∂z2/∂w2_1", "h1", h[0])]),
        "w2_2": ([("∂L/∂z2", dl_dz2_text, dl_dz2), ("∂z2/∂w2_2", "h2", h[1])]),
        "b2": ([("∂L/∂z2", dl_dz2_text, dl_dz2), ("∂z2/∂b2", "1", 1.0)]),
    }
    for j in range(2):
        n = j + 1
        up = [("∂L/∂z2", dl_dz2_text, dl_dz2), (f"∂z2/∂h{n}", f"w2_{n}", w2[j]),
              (f"∂h{n}/∂z1_{n}", f"{activation}′(z1_{n})", dh_dz1[j])]
        chains[f"w1_{n}1"] = up + [(f"∂z1_{n}/∂w1_{n}1", "x1", x[0])]
        chains[f"w1_{n}2"] = up + [(f"∂z1_{n}/∂w1_{n}2", "x2", x[1])]
        chains[f"b1_{n}"] = up + [(f"∂z1_{n}/∂b1_{n}", "1", 1.0)]
    manual = {k: float(np.prod([f[2] for f in chains[k]])) for k in WEIGHTS}
    auto = _autograd(p, x, y, activation, loss)
    numeric = _finite_difference(p, x, y, activation, loss)
    rows = []
    for k in WEIGHTS:
        rows.append({
            "weight": k, "value": p[k],
            "chain": " × ".join(f"{name} [{formula}]" for name, formula, _ in chains[k]),
            "factors": " × ".join(f"{v:.5f}" for _, _, v in chains[k]),
            "by hand": manual[k], "autograd": auto[k], "finite difference": numeric[k],
        })
    # by hand vs autograd, and autograd vs float64 central differences
    errors = [rel_error(manual[k], auto[k]) for k in WEIGHTS] + \
             [rel_error(auto[k], numeric[k]) for k in WEIGHTS]
    return {"loss": value, "prediction": out, "forward": forward, "gradients": rows,
            "grads": manual, "max_rel_error": max(errors)}


def take_step(p: dict[str, float], grads: dict[str, float], lr: float) -> dict[str, float]:
    """Gradient descent: every weight moves by −lr × its gradient."""
    return {k: p[k] - lr * grads[k] for k in p}
