"""Initialization: how the spread of the signal changes through a deep MLP at its
initial weights (He et al. 2015; Glorot & Bengio 2010; Understanding Deep Learning,
notebook 7.3).

A plain MLP, `depth` layers of `width` units, no biases, weights N(0, σ²) with σ² a
multiple of 1/fan_in, fed a batch of standard normal inputs. Per layer: the standard
deviation of the pre-activations on the way forward, and after one backward pass of a
linear read-out the norm of the gradient with respect to each layer's
pre-activations (per example, RMS over the batch): the signal that reaches that layer's
weights. Small weights shrink it on its way back to the first layer, large ones blow it
up, by the same factor per layer as the forward spread. With ReLU, which zeroes half
of its input, the variance is kept only at σ² = 2/fan_in (He); at 1/fan_in (LeCun,
and Xavier's 2/(fan_in + fan_out) for square layers) it halves at every layer; at half
or double He's σ it shrinks or grows by 2 per layer. tanh is about linear near zero, so
for it 1/fan_in is the keeping scale (Xavier). Every scheme is an instance of one
batched model (the same weight draw, scaled per scheme), in float64 so that 2^depth
stays representable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

# name: (variance × fan_in, activation, label)
SCHEMES = {
    "he": (2.0, "relu", "He (2/fan_in), ReLU"),
    "lecun": (1.0, "relu", "LeCun / Xavier (1/fan_in), ReLU"),
    "he_half": (0.5, "relu", "½ × He's σ, ReLU"),
    "he_double": (8.0, "relu", "2 × He's σ, ReLU"),
    "xavier_tanh": (1.0, "tanh", "Xavier (1/fan_in), tanh"),
}
KEPT = (0.5, 2.0)  # a last/first spread ratio in here counts as "kept"
TELLS = 8  # from this depth on, 1/fan_in and ½σ should lose the spread by far more than 2×


@dataclass(frozen=True)
class Config:
    depth: int = param(50, "Layers of the MLP.", low=2, high=100)
    width: int = param(128, "Units per layer.", low=4, high=256)
    batch_size: int = param(256, "Standard normal inputs pushed through at once.",
                            low=8, high=512)
    seeds: int = param(3, "Independent draws of the weights; the spreads are averaged "
                       "(geometric mean).", low=1, high=8)
    seed: int = param(0, "Seed for the inputs and the weights.", low=0, high=2**31 - 1)


def forward_backward(x: torch.Tensor, weights: list[torch.Tensor], std: torch.Tensor,
                     tanh: torch.Tensor, readout: torch.Tensor) -> tuple[list, list]:
    """Push `x` [schemes, batch, n] through the layers (scheme k uses std[k] × the shared
    standard normal draw), back-propagate a linear read-out, and return per layer the
    pre-activations' std and the gradient's norm there, each [schemes]."""
    h = x.requires_grad_()
    outputs, spreads = [], []
    for w in weights:
        z = (h @ w) * std  # the same draw for every scheme, scaled
        z.retain_grad()
        outputs.append(z)
        spreads.append(z.detach().std(dim=(1, 2)))
        h = torch.where(tanh, torch.tanh(z), torch.relu(z))
    (h @ readout).mean(1).sum().backward()
    # the backward signal δ = dL/dz at each layer, per example (RMS over the batch); it
    # is what reaches a layer's weights: dL/dW = Σ_b h_b δ_bᵀ
    grads = [z.grad.norm(dim=2).pow(2).mean(1).sqrt() for z in outputs]
    return spreads, grads


def run(config: Config, report) -> dict:
    device = choose_device()
    names = list(SCHEMES)
    n, d = config.width, config.depth
    std = torch.tensor([SCHEMES[m][0] / n for m in names], dtype=torch.float64,
                       device=device).sqrt().view(-1, 1, 1)
    tanh = torch.tensor([SCHEMES[m][1] == "tanh" for m in names], device=device)
    tanh = tanh.view(-1, 1, 1)
    report.set_total(config.seeds * d)  # progress in layers pushed through
    spread, grads = [], []
    for s in range(config.seeds):  # one seed at a time: the backward keeps every layer
        gen = torch.Generator().manual_seed(config.seed * 1009 + s)
        x = torch.randn(config.batch_size, n, generator=gen, dtype=torch.float64)
        weights = [torch.randn(n, n, generator=gen, dtype=torch.float64).to(device)
                   for _ in range(d)]
        readout = (torch.randn(n, generator=gen, dtype=torch.float64) / n ** 0.5).to(device)
        sp, gr = forward_backward(x.to(device).expand(len(names), -1, -1).clone(), weights,
                                  std, tanh, readout)
        spread.append(torch.stack(sp, 1).cpu().numpy())  # [schemes, layers]
        grads.append(torch.stack(gr, 1).cpu().numpy())
        ratio = spread[-1][:, -1] / np.maximum(spread[-1][:, 0], 1e-300)
        report.log((s + 1) * d, **{f"log10_ratio_{m}": float(np.log10(max(r, 1e-300)))
                             for m, r in zip(names, ratio)})
        if report.cancelled:
            break
    return summarize(names, np.stack(spread, 1), np.stack(grads, 1), config)


def _geomean(a: np.ndarray) -> np.ndarray:
    """Geometric mean over the seeds (axis 0); zeros (dead ReLU nets) stay 0."""
    a = np.asarray(a, dtype=np.float64)
    return np.where((a > 0).all(0), np.exp(np.log(np.maximum(a, 1e-300)).mean(0)), 0.0)


def _ratio(last: float, first: float) -> float | None:
    return float(last / first) if first > 0 else None


def summarize(names: list[str], spread: np.ndarray, grads: np.ndarray,
              config: Config) -> dict:
    """`spread`, `grads` are [scheme, seed, layer]."""
    out = {"layers": list(range(1, spread.shape[2] + 1)), "schemes": {},
           "kept_range": list(KEPT), "depth": config.depth, "width": config.width}
    for i, name in enumerate(names):
        std = _geomean(spread[i])
        g = _geomean(grads[i])
        ratio = _ratio(std[-1], std[0])
        grad_ratio = _ratio(g[0], g[-1])  # the first layer's gradient over the last's
        per_layer = float(ratio ** (1 / (len(std) - 1))) if ratio and len(std) > 1 else None
        out["schemes"][name] = {
            "label": SCHEMES[name][2], "variance_times_fan_in": SCHEMES[name][0],
            "activation": SCHEMES[name][1], "std_per_layer": std.tolist(),
            "grad_norm_per_layer": g.tolist(), "last_over_first_std": ratio,
            "factor_per_layer": per_layer, "first_over_last_grad": grad_ratio,
            "kept": ratio is not None and KEPT[0] <= ratio <= KEPT[1]}
    return out


# the work of a run, for core.cost: it grows as the run's compute does
def _initialization_work(c) -> float:
    return c.seeds * c.depth * (work.STEP_OVERHEAD + 3 * c.batch_size * c.width**2)


def receipt(config: Config, summary: dict) -> Receipt:
    """The last layer's spread over the first's for He and for the ReLU schemes around
    it: it holds when He keeps it within 0.5–2× and 1/fan_in, ½σ and 2σ all leave that
    range; it cannot tell below 8 layers, where the wrong scales have not drifted far."""
    s = summary["schemes"]

    def ratio(name: str) -> str:
        r = s[name]["last_over_first_std"]
        return "–" if r is None else f"{r:.2g}"

    live = (f"last layer's spread over the first's after {summary['depth']} layers: He "
            f"{ratio('he')}, 1/fan_in {ratio('lecun')}, ½ × He's σ {ratio('he_half')}, 2 × "
            f"He's σ {ratio('he_double')}")
    others = ("lecun", "he_half", "he_double")
    if summary["depth"] < TELLS:
        holds = None
        live += f"; with fewer than {TELLS} layers the wrong scales have not drifted far"
    else:
        holds = s["he"]["kept"] and not any(s[n]["kept"] for n in others)
        if not s["he"]["kept"]:
            live += (f"; He's spread left {KEPT[0]:g}–{KEPT[1]:g}× (at width "
                     f"{summary['width']} the per-layer factor is noisy)")
        for n in others:
            if s[n]["kept"]:
                live += f"; {s[n]['label']} kept it too"
    return Receipt(
        claim="Only He's variance 2/fan_in keeps the signal's spread through a deep ReLU "
              "network",
        paper="Var(w) = 2/fan_in keeps the variance of every ReLU layer equal; a 30-layer "
              "ReLU network trained from this init and stalled from Xavier's",
        live=live,
        source="He et al. 2015, Delving Deep into Rectifiers",
        smaller=f"one forward and backward pass at initialization through {config.depth} "
                f"layers of {config.width} on Gaussian inputs, {config.seeds} draws of the "
                "weights; no training, unlike the paper's ImageNet networks.",
        holds=holds)


PRESETS = (
    Preset("50 layers",
           "The textbook case: 50 layers of 128 units.",
           {}),
    Preset("100 layers",
           "Twice as deep: the bad schemes go twice as far off.",
           {"depth": 100}),
    Preset("Narrow layers",
           "16 units: even He drifts, the per-layer factor is noisy at this width.",
           {"width": 16}),
)

EXPERIMENT = Experiment(
    name="initialization",
    title="Initialization: keep the signal's spread through 50 layers",
    Config=Config,
    run=run,
    cost=Cost(1.31, _initialization_work),
    diverge_hint="Lower the depth.",
    small={"depth": 5, "width": 16, "batch_size": 16, "seeds": 1},
    presets=PRESETS,
    receipt=receipt,
)
