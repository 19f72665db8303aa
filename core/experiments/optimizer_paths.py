"""Five optimizers on three 2-D surfaces (Goh 2017, Why Momentum Really Works).

Each optimizer is torch.optim itself stepping one 2-parameter tensor (float64):

- quadratic ½(x² + 100 y²): curvature 1 along x and L = 100 along y. Plain gradient
  descent multiplies the y-error by (1 − lr·100) each step, so it converges only for
  lr < 2/L = 0.02; beyond that the zig-zag across the valley grows. Heavy-ball momentum
  is stable up to 2(1 + β)/L, and moves along the flat x-direction far faster;
- Rosenbrock (1 − x)² + 100 (y − x²)²: a curved, narrow valley;
- a saddle ½x² + ¼y⁴ − ½y² (minima at (0, ±1), a saddle point at the origin): started
  almost on the ridge, gradient descent leaves it slowly, while Adam and RMSProp divide
  each coordinate's step by its own gradient scale and leave it at once.

The summary holds every optimizer's path, the steps it needed to come within `tolerance`
of the minimum value, and for the linear methods (GD, momentum, Nesterov) the largest
stable learning rate at the minimum's curvature, computed from the spectral radius of
their update on a quadratic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

OPTIMIZERS = ("gd", "momentum", "nesterov", "rmsprop", "adam")
NAMES = {"gd": "GD", "momentum": "Momentum", "nesterov": "Nesterov", "rmsprop": "RMSProp",
         "adam": "Adam"}
LINEAR = ("gd", "momentum", "nesterov")  # their update is linear on a quadratic
ESCAPED = 1e6  # |x| or |y| beyond this: the path has left for good (diverged)
OFF_RIDGE = 0.5  # saddle: |y| this far from the ridge y = 0 counts as having left it
GRID = 81  # contour grid points per side


@dataclass(frozen=True)
class Surface:
    name: str
    start: tuple[float, float]
    minimum: tuple[float, float]
    f_min: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def f(self, x, y):
        if self.name == "quadratic":
            return 0.5 * (x ** 2 + 100.0 * y ** 2)
        if self.name == "rosenbrock":
            return (1.0 - x) ** 2 + 100.0 * (y - x ** 2) ** 2
        return 0.5 * x ** 2 + 0.25 * y ** 4 - 0.5 * y ** 2


SURFACES = {
    "quadratic": Surface("quadratic", (-1.5, 0.4), (0.0, 0.0), 0.0, (-1.75, 1.75),
                         (-0.6, 0.6)),
    "rosenbrock": Surface("rosenbrock", (-1.2, 1.0), (1.0, 1.0), 0.0, (-2.0, 2.0),
                          (-1.0, 3.0)),
    "saddle": Surface("saddle", (1.5, 1e-3), (0.0, 1.0), -0.25, (-1.75, 1.75), (-1.6, 1.6)),
}


@dataclass(frozen=True)
class Config:
    function: str = param("quadratic", "The surface: an ill-conditioned quadratic, "
                          "Rosenbrock's valley, or a saddle.", choices=list(SURFACES))
    lr: float = param(0.012, "Learning rate of GD, momentum and Nesterov (on the "
                      "quadratic GD needs lr < 2/100 = 0.02).", low=1e-5, high=1.0,
                      log=True, label="Learning rate (GD, momentum, Nesterov)")
    adaptive_lr: float = param(0.05, "Learning rate of RMSProp and Adam (about the "
                               "size of their first steps in each coordinate).",
                               low=1e-4, high=1.0, log=True,
                               label="Learning rate (RMSProp, Adam)")
    momentum: float = param(0.9, "β of momentum and Nesterov.", low=0.0, high=0.99)
    steps: int = param(400, "Steps of every optimizer.", low=10, high=3000)
    tolerance: float = param(1e-3, "Reached when f − f_min is below this.", low=1e-10,
                             high=1.0, log=True)


def make_optimizer(name: str, p: torch.Tensor, config: Config) -> torch.optim.Optimizer:
    if name == "gd":
        return torch.optim.SGD([p], lr=config.lr)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD([p], lr=config.lr, momentum=config.momentum,
                               nesterov=name == "nesterov" and config.momentum > 0)
    if name == "rmsprop":
        return torch.optim.RMSprop([p], lr=config.adaptive_lr)
    return torch.optim.Adam([p], lr=config.adaptive_lr)


def hessian_eigenvalues(surface: Surface, point: tuple[float, float]) -> list[float]:
    h = torch.autograd.functional.hessian(
        lambda v: surface.f(v[0], v[1]), torch.tensor(point, dtype=torch.float64))
    return sorted(float(e) for e in torch.linalg.eigvalsh(h))


def linear_rate(name: str, h: float, beta: float) -> float:
    """Spectral radius of one step of GD / heavy ball / Nesterov (torch's forms) on a
    1-D quadratic with curvature λ, as a function of h = lr·λ: the error shrinks by this
    factor per step (above 1 it grows)."""
    if name == "gd":
        return abs(1.0 - h)
    # state (p, buf): buf' = β buf + λ p ; p' = p − lr·buf' (heavy ball), or
    # p' = p − lr (λ p + β buf') (Nesterov), written per unit of λ
    if name == "momentum":
        m = np.array([[1.0 - h, -beta], [h, beta]])  # (p, lr·buf) coordinates
    else:
        m = np.array([[1.0 - h - beta * h, -beta * beta], [h, beta]])
    return float(max(abs(np.linalg.eigvals(m))))


def stable_edge(name: str, curvature: float, beta: float) -> float:
    """The largest lr with spectral radius ≤ 1 at this curvature (bisection on h)."""
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if linear_rate(name, mid, beta) <= 1.0 + 1e-12 else (lo, mid)
    return lo / curvature


def off_ridge(path: list[list[float]]) -> int | None:
    """The first step at which a saddle path is OFF_RIDGE away from the ridge y = 0."""
    return next((t for t, (_, y) in enumerate(path) if abs(y) >= OFF_RIDGE), None)


def contour_grid(surface: Surface) -> dict:
    xs = np.linspace(*surface.x_range, GRID)
    ys = np.linspace(*surface.y_range, GRID)
    gx, gy = np.meshgrid(xs, ys)
    gap = surface.f(gx, gy) - surface.f_min
    return {"xs": xs, "ys": ys, "level": np.log10(np.maximum(gap, 0.0) + 1e-3)}


def run(config: Config, report) -> dict:
    surface = SURFACES[config.function]
    report.set_total(config.steps)
    report.snapshot("surface", {**contour_grid(surface), "name": surface.name,
                                "start": np.array(surface.start),
                                "minimum": np.array(surface.minimum)})
    points = {n: torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
              for n in OPTIMIZERS}
    opts = {n: make_optimizer(n, p, config) for n, p in points.items()}
    paths = {n: [list(surface.start)] for n in OPTIMIZERS}
    gaps = {n: [] for n in OPTIMIZERS}
    reached = {n: None for n in OPTIMIZERS}
    diverged_at = {n: None for n in OPTIMIZERS}
    draw_every = max(1, config.steps // 30)
    for step in range(config.steps + 1):
        logged = {}
        for n in OPTIMIZERS:
            if diverged_at[n] is not None:
                continue
            p = points[n]
            f = surface.f(p[0], p[1])
            gap = float(f.detach()) - surface.f_min
            if not math.isfinite(gap) or float(p.detach().abs().max()) > ESCAPED:
                diverged_at[n] = step
                paths[n].pop()  # the last point is off in the distance: keep the way there
                continue
            gaps[n].append(max(gap, 0.0))
            logged[f"gap_{n}"] = max(gap, 0.0)
            if reached[n] is None and gap < config.tolerance:
                reached[n] = step
            if step == config.steps:
                continue
            opts[n].zero_grad()
            f.backward()
            opts[n].step()
            paths[n].append(p.detach().tolist())
        if logged:
            report.log(step, **logged)
        if step % draw_every == 0 or step == config.steps:
            report.snapshot("paths", {n: np.array(paths[n]) for n in OPTIMIZERS})
    at_min = hessian_eigenvalues(surface, surface.minimum)
    at_start = hessian_eigenvalues(surface, surface.start)
    curvature = at_min[-1]
    edges = {n: stable_edge(n, curvature, config.momentum) for n in LINEAR}
    lrs = np.geomspace(1e-4, 1.0, 121) / curvature * 100.0
    rates = {n: [max(linear_rate(n, lr * lam, config.momentum) for lam in at_min
                     if lam > 0) for lr in lrs] for n in LINEAR}
    table = []
    for n in OPTIMIZERS:
        lr = config.lr if n in LINEAR else config.adaptive_lr
        table.append({"optimizer": n, "name": NAMES[n], "lr": lr,
                      "steps_to_tolerance": reached[n], "diverged_at_step": diverged_at[n],
                      "final_gap": gaps[n][-1] if gaps[n] else None,
                      "final_point": paths[n][-1],
                      "steps_off_ridge": off_ridge(paths[n]) if surface.name == "saddle"
                      else None,
                      "stable_below_lr": edges.get(n)})
    return {
        "function": surface.name, "start": list(surface.start),
        "minimum": list(surface.minimum), "f_min": surface.f_min,
        "curvature_at_minimum": at_min, "curvature_at_start": at_start,
        "largest_curvature": curvature, "gd_edge_lr": edges["gd"],
        "momentum_edge_lr": edges["momentum"], "nesterov_edge_lr": edges["nesterov"],
        "gd_stable": config.lr < edges["gd"], "optimizers": table,
        "tolerance": config.tolerance,
        "rate_curve": {"lr": lrs.tolist(), **rates},
        "steps_done": config.steps,
    }


def receipt(config: Config, summary: dict) -> Receipt:
    """The computed stability edges of GD (2/L) and momentum (2(1+β)/L) against what
    the two did at this run's learning rate: it holds when each diverged exactly when its
    rate was past its edge; on the other surfaces (no single curvature) it cannot tell."""
    rows = {o["optimizer"]: o for o in summary["optimizers"]}

    def did(name: str) -> str:
        o = rows[name]
        if o["diverged_at_step"] is not None:
            return f"diverged at step {o['diverged_at_step']:,}"
        if o["steps_to_tolerance"] is not None:
            return f"came within {summary['tolerance']:g} in {o['steps_to_tolerance']:,} steps"
        return f"stayed bounded but short of {summary['tolerance']:g} in {summary['steps_done']:,} steps"

    edges = {"gd": summary["gd_edge_lr"], "momentum": summary["momentum_edge_lr"]}
    live = (f"at lr {config.lr:g}, GD (edge {edges['gd']:.3g}) {did('gd')}, momentum "
            f"(β = {config.momentum:g}, edge {edges['momentum']:.3g}) {did('momentum')}")
    if summary["function"] != "quadratic":
        holds = None
        live += (f"; on the {summary['function']} surface the curvature changes along the "
                 "path, so the edges at the minimum do not bound it")
    else:
        wrong = [name for name in ("gd", "momentum")
                 if (rows[name]["diverged_at_step"] is not None) != (config.lr >= edges[name])]
        holds = not wrong
        for name in wrong:
            live += f"; {NAMES[name]} did not do what its edge predicts"
    return Receipt(
        claim="On a quadratic, gradient descent is stable only below lr = 2/L, and "
              "momentum up to 2(1 + β)/L",
        paper="GD converges exactly when 0 < lr·λ < 2 for every curvature λ, heavy-ball "
              "momentum when 0 < lr·λ < 2(1 + β), and a well-chosen momentum needs far "
              "fewer steps on an ill-conditioned valley",
        live=live,
        source="Goh 2017, Why Momentum Really Works (Distill)",
        smaller=f"a 2-D surface, {summary['steps_done']:,} steps and one learning rate at a "
                "time (the presets step across the edge); Goh's analysis holds in any "
                "dimension, for the largest curvature L.",
        holds=holds)


PRESETS = (
    Preset("Just below 2/L",
           "lr 0.019: GD zig-zags across the valley but settles.",
           {"lr": 0.019}),
    Preset("Just above 2/L",
           "lr 0.021: GD's zig-zag grows every step and it diverges.",
           {"lr": 0.021}),
    Preset("Rosenbrock",
           "A curved valley: momentum and Adam follow the bend, GD barely moves.",
           {"function": "rosenbrock", "lr": 0.0015, "adaptive_lr": 0.1, "steps": 1000}),
    Preset("Saddle",
           "Started almost on a ridge: GD takes ages to roll off, RMSProp and Adam leave "
           "at once.",
           {"function": "saddle", "lr": 0.03, "adaptive_lr": 0.03}),
)

EXPERIMENT = Experiment(
    name="optimizer_paths",
    title="Optimizer paths on a valley, a banana and a saddle",
    Config=Config,
    run=run,
    cost=Cost(0.7, lambda c: c.steps),
    diverge_hint="Lower the learning rate (lr).",
    small={"steps": 20},
    presets=PRESETS,
    receipt=receipt,
)
