"""The learning-rate sweep: final training loss against the learning rate, for SGD,
SGD with momentum and Adam on a small MLP learning scikit-learn's digits.

Too small a learning rate barely moves in the budget, too large a one blows up: the
curve is a U with a cliff on its right. Every (learning rate, seed) pair is an instance
of one batched model per optimizer (`core.instance_mlp`), so the whole sweep costs
about three forward calls per step. A run whose loss becomes NaN/infinite or passes
BLOWUP is stopped on its own and counted as diverged; the others go on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.instance_mlp import (SWEEP_RULES, InstanceMLP, InstanceOptimizer, batch_orders,
                               cross_entropy, digits, full_losses, lr_grid)
from core.params import param
from core.receipts import Receipt

OPTIMIZERS = ("sgd", "momentum", "adam")
NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
BLOWUP = 100.0  # a cross-entropy this large (it starts near ln 10 ≈ 2.3) has blown up


@dataclass(frozen=True)
class Config:
    lr_min: float = param(1e-4, "Smallest learning rate of the grid.", low=1e-6, high=1.0,
                          log=True, label="Smallest learning rate")
    lr_max: float = param(10.0, "Largest learning rate of the grid.", low=1e-4, high=100.0,
                          log=True, label="Largest learning rate")
    n_lrs: int = param(11, "Learning rates on the log grid (11: two per decade from "
                       "1e-4 to 10).", low=3, high=24,
                       label="Learning rates")
    seeds: int = param(3, "Starts per learning rate: the band shows their spread.",
                       low=1, high=5)
    steps: int = param(300, "Training steps of every run.", low=5, high=3000)
    batch_size: int = param(128, "Training images per step.", low=8, high=512)
    width: int = param(64, "Hidden units per layer.", low=4, high=256)
    hidden_layers: int = param(2, "Hidden ReLU layers.", low=1, high=4)
    momentum: float = param(0.9, "β of SGD + momentum (Adam keeps β₁ = 0.9, β₂ = 0.999).",
                            low=0.0, high=0.99)
    n_train: int = param(1200, "Digits in the training set (of 1,797).", low=100,
                         high=1797, label="Training digits")
    seed: int = param(0, "Seed for the data, the batches and the initial weights.", low=0,
                      high=2**31 - 1)

    RULES = SWEEP_RULES


def make_models(config: Config, lrs: list[float], device: torch.device):
    """One batched model per optimizer, instances ordered [seed, lr]; seed s starts
    from the same weights under every optimizer and learning rate."""
    n_lr, seeds = len(lrs), config.seeds
    sizes = [64] + [config.width] * config.hidden_layers + [10]
    gen = torch.Generator().manual_seed(config.seed)
    start = InstanceMLP(seeds, sizes, gen, device="cpu")
    lr = torch.tensor(lrs * seeds, device=device)
    models, opts = {}, {}
    for name in OPTIMIZERS:
        model = InstanceMLP(1, sizes, gen, device="cpu")
        model.weights = [w.detach().repeat_interleave(n_lr, 0).to(device).requires_grad_()
                         for w in start.weights]
        model.biases = [b.detach().repeat_interleave(n_lr, 0).to(device).requires_grad_()
                        for b in start.biases]
        models[name] = model
        opts[name] = InstanceOptimizer(model.parameters(), name, lr.clone(),
                                       momentum=config.momentum)
    return models, opts


def run(config: Config, report) -> dict:
    device = choose_device()
    lrs = lr_grid(config)
    n_lr, seeds = len(lrs), config.seeds
    instances = n_lr * seeds
    data = digits(config.n_train, config.seed, device)
    models, opts = make_models(config, lrs, device)
    orders = torch.as_tensor(np.stack(
        [batch_orders(config.n_train, config.batch_size, config.steps, config.seed + s)
         for s in range(seeds)], 1), device=device)  # [steps, seeds, batch]
    diverged = {n: torch.zeros(instances, dtype=torch.bool, device=device)
                for n in OPTIMIZERS}
    diverged_step = {n: torch.zeros(instances, dtype=torch.long, device=device)
                     for n in OPTIMIZERS}
    start_loss = float(full_losses(models["sgd"], data.x, data.y)[0])
    report.set_total(config.steps)
    log_every = max(1, config.steps // 100)
    running = {n: torch.zeros(instances, device=device) for n in OPTIMIZERS}
    for step in range(1, config.steps + 1):
        idx = orders[step - 1].repeat_interleave(n_lr, 0)  # [instances, batch]
        xb, yb = data.x[idx], data.y[idx]
        logged = {}
        for name in OPTIMIZERS:
            losses = cross_entropy(models[name](xb), yb)
            bad = ~torch.isfinite(losses) | (losses > BLOWUP)
            new = bad & ~diverged[name]
            opts[name].zero_grad()
            torch.where(diverged[name] | bad, torch.zeros_like(losses), losses).sum() \
                .backward()
            opts[name].step()
            if new.any():
                diverged[name] |= new
                diverged_step[name][new] = step
                opts[name].reset(diverged[name])
            running[name] = losses.detach().masked_fill(diverged[name], float("inf"))
            if step % log_every == 0 or step == config.steps:
                by_lr = running[name].view(seeds, n_lr).mean(0)
                best = float(by_lr.min())
                if math.isfinite(best):
                    logged[f"best_loss_{name}"] = best
                logged[f"diverged_{name}"] = float(diverged[name].sum())
        if logged:
            report.log(step, **logged)
        if step % max(1, config.steps // 10) == 0 or step == config.steps:
            report.snapshot("sweep", {"lrs": np.array(lrs), "step": step, **{
                f"loss_{n}": running[n].view(seeds, n_lr).cpu().numpy()
                for n in OPTIMIZERS}})

    per_optimizer = {}
    for name in OPTIMIZERS:
        final = full_losses(models[name], data.x, data.y)
        bad = diverged[name] | ~torch.isfinite(final) | (final > BLOWUP)
        final = final.masked_fill(bad, float("nan")).view(seeds, n_lr).cpu().numpy()
        bad = bad.view(seeds, n_lr).cpu().numpy()
        per_optimizer[name] = summarize_optimizer(lrs, final, bad,
                                                  diverged_step[name].view(seeds, n_lr)
                                                  .cpu().numpy())
    sgd, adam = per_optimizer["sgd"]["best_lr"], per_optimizer["adam"]["best_lr"]
    return {"lrs": lrs, "optimizers": list(OPTIMIZERS), "names": NAMES,
            "start_loss": start_loss, "blowup": BLOWUP, "per_optimizer": per_optimizer,
            "sgd_over_adam_best_lr": sgd / adam if sgd and adam else None,
            "steps_done": config.steps}


def summarize_optimizer(lrs: list[float], final: np.ndarray, bad: np.ndarray,
                        step: np.ndarray) -> dict:
    """`final` [seeds, lrs] training losses, NaN where that run diverged."""
    rows = []
    for j, lr in enumerate(lrs):
        ok = final[~bad[:, j], j]
        rows.append({"lr": lr, "mean": float(ok.mean()) if len(ok) else None,
                     "low": float(ok.min()) if len(ok) else None,
                     "high": float(ok.max()) if len(ok) else None,
                     "diverged": int(bad[:, j].sum()),
                     "first_diverged_step": int(step[bad[:, j], j].min())
                     if bad[:, j].any() and step[bad[:, j], j].min() > 0 else None,
                     "seed_losses": [None if b else float(v)
                                     for v, b in zip(final[:, j], bad[:, j])]})
    clean = [j for j, r in enumerate(rows) if r["diverged"] == 0 and r["mean"] is not None]
    best = min(clean, key=lambda j: rows[j]["mean"]) if clean else None
    edge = next((j for j, r in enumerate(rows) if r["diverged"] > 0
                 and (best is None or j > best)), None)
    return {"rows": rows, "best_index": best,
            "best_lr": lrs[best] if best is not None else None,
            "best_loss": rows[best]["mean"] if best is not None else None,
            "interior_best": best is not None and 0 < best < len(lrs) - 1,
            "first_diverged_lr": lrs[edge] if edge is not None else None,
            "diverged_runs": int(bad.sum())}


def receipt(config: Config, summary: dict) -> Receipt:
    """Each optimizer's best rate and the first rate where a seed diverged: it holds
    when every optimizer's best rate lies inside the grid and some larger rate diverged
    (a U with a cliff on its right); it cannot tell when no rate diverged and the best
    is the largest (the grid ends before the cliff)."""
    per = summary["per_optimizer"]
    parts, missing = [], []
    for key, res in per.items():
        name = summary["names"][key]
        cliff = res["first_diverged_lr"]
        best = "none" if res["best_lr"] is None else f"{res['best_lr']:.2g}"
        parts.append(f"{name} best at {best}, diverging from "
                     + ("–" if cliff is None else f"{cliff:.2g}"))
        if not (res["interior_best"] and cliff is not None):
            missing.append(name)
    live = "; ".join(parts)
    if summary["sgd_over_adam_best_lr"] is not None:
        live += f" (Adam's best rate {summary['sgd_over_adam_best_lr']:.0f}× below SGD's)"
    short = [summary["names"][k] for k, r in per.items()
             if r["first_diverged_lr"] is None and r["best_index"] == len(summary["lrs"]) - 1]
    if short:
        holds = None
        live += f"; the grid ends before {', '.join(short)} diverged: raise lr_max"
    else:
        holds = not missing
        if missing:
            live += f"; no U with a cliff for {', '.join(missing)}"
    return Receipt(
        claim="Final loss against the learning rate is a U, with a cliff just past the "
              "best rate",
        paper="training error is U-shaped in the learning rate: too small a rate learns "
              "slowly, too large a one makes the error grow instead of fall",
        live=live,
        source="Goodfellow, Bengio & Courville 2016, Deep Learning, §11.4.1",
        smaller=f"an MLP with {config.hidden_layers} hidden "
                f"layer{'' if config.hidden_layers == 1 else 's'} of {config.width} on "
                f"{config.n_train:,} of scikit-learn's 8×8 digits, {config.steps} steps, "
                f"{config.n_lrs} rates and {config.seeds} seeds per optimizer.",
        holds=holds)


PRESETS = (
    Preset("Finer grid",
           "Four rates per decade instead of two: the bottom of each U and its cliff come "
           "out sharper.",
           {"n_lrs": 21}),
    Preset("Longer training",
           "Three times the steps: the left arm falls, the cliff stays.",
           {"steps": 900}),
    Preset("No momentum (β = 0)",
           "With β = 0 the momentum curve lies on the SGD one.",
           {"momentum": 0.0}),
    Preset("Deeper net",
           "Four hidden layers: the cliff comes earlier.",
           {"hidden_layers": 4}),
)

EXPERIMENT = Experiment(
    name="lr_sweep",
    title="Learning-rate sweep: the U and its cliff",
    Config=Config,
    run=run,
    # three optimizers x n_lrs x seeds models, each step on a batch; ~12 full-set losses
    cost=Cost(8, lambda c: (c.n_lrs * c.seeds * work.mlp([64] + [c.width] * c.hidden_layers + [10])
                            * (9 * c.batch_size * c.steps + 36 * c.n_train)
                            + c.steps * work.STEP_OVERHEAD)),
    diverge_hint="Lower the largest learning rate (lr_max).",
    small={"n_lrs": 4, "seeds": 1, "steps": 5, "n_train": 200, "batch_size": 32,
           "width": 16},
    presets=PRESETS,
    receipt=receipt,
)
