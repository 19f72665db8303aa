"""muP: tune the learning rate on a narrow network, reuse it on a wide one (Yang et al.
2022, Tensor Programs V).

An MLP 64 -> w -> w -> 10 on scikit-learn's digits (pixels / 16), trained with Adam at a
log grid of learning rates and several widths, twice: in the standard parametrization
(SP: PyTorch's default init, one learning rate for every weight) and in muP, written out
here as the `mup` package does it for Adam with base width B and m = w / B:

- the input layer and every bias keep the learning rate (and the init) of SP;
- a hidden w×w matrix gets the learning rate / m: Adam moves every entry by about the
  learning rate, and a w-wide sum of such moves grows like w;
- the readout multiplies its input by 1 / m (mup's MuReadout, its weights and biases
  drawn √m larger, so they start as large as at width B), which with Adam is the same as
  a readout learning rate / m and an init √m smaller;
- biases of layers whose input is w wide are drawn √m larger (mup's rescale).

At w = B the two are the same network. Each (learning rate, parametrization) pair is an
instance of one batched model per width and seed. The coordinate check trains a few
steps at one learning rate and measures the mean |output| of each layer against width:
under SP the hidden layer and the readout grow with w, under muP they stay put (except
the readout right after the first step, a known effect: it starts 1/√m smaller and has
had only one update to catch up).
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

PARAMETRIZATIONS = ("sp", "mup")
BLOWUP = 1e3  # a cross-entropy this large (from ln 10 ≈ 2.3 at the start) has blown up
GROWS = 0.25  # a log-log slope above this counts as growing with width
STAYS = 1  # muP's best lr "stays put" when it moves by at most this many grid steps
SLIDES = 2.0  # SP's curves "move" when they lie at least this many times further apart
WIDTH_RANGE = 4  # the claim needs the widest width at least this many times the narrowest


@dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = param([32, 64, 128, 256], "Hidden widths w to train (each "
                                    "at every learning rate, SP and muP).", low=8,
                                    high=1024, max_items=8)
    base_width: int = param(32, "muP's base width B: at w = B muP and SP are the same "
                            "network.", low=8, high=1024)
    hidden_layers: int = param(2, "Hidden layers of width w (64 -> w -> ... -> 10).",
                               low=1, high=4)
    lr_min: float = param(1e-4, "Smallest Adam learning rate of the grid.", low=1e-5,
                          high=1.0, log=True, label="Smallest learning rate")
    lr_max: float = param(1e-1, "Largest Adam learning rate of the grid.", low=1e-4,
                          high=10.0, log=True, label="Largest learning rate")
    n_lrs: int = param(9, "Learning rates on the log grid.", low=3, high=17,
                       label="Learning rates")
    seeds: int = param(1, "Starts per (width, learning rate); the losses are averaged.",
                       low=1, high=5)
    steps: int = param(200, "Adam steps per run.", low=5, high=2000)
    batch_size: int = param(128, "Training images per step.", low=8, high=512)
    n_train: int = param(1200, "Digits in the training set (of 1,797).", low=100,
                         high=1797, label="Training digits")
    coord_lr: float = param(1e-2, "Adam learning rate of the coordinate check.",
                            low=1e-4, high=1.0, log=True, label="Coordinate-check lr")
    coord_steps: int = param(3, "Steps of the coordinate check.", low=1, high=10,
                             label="Coordinate-check steps")
    seed: int = param(0, "Seed for the data order and the initial weights.", low=0,
                      high=2**31 - 1)

    RULES = SWEEP_RULES


def build_model(width: int, config: Config, lrs: list[float], seed: int,
                device: torch.device) -> tuple[InstanceMLP, InstanceOptimizer, torch.Tensor]:
    """One batched model for one width and seed: instances ordered [parametrization, lr];
    every instance starts from the same SP draw, muP's rescaled. Returns the model, its
    optimizer and the muP mask [instances]."""
    n = len(lrs)
    sizes = [64] + [width] * config.hidden_layers + [10]
    gen = torch.Generator().manual_seed(seed * 7919 + width)
    model = InstanceMLP(1, sizes, gen, device="cpu")
    mup = torch.tensor([False] * n + [True] * n)
    m = width / config.base_width
    up = torch.where(mup, math.sqrt(m), 1.0).view(-1, 1, 1)
    last = len(sizes) - 2
    with torch.no_grad():
        for k in range(len(model.weights)):
            w = model.weights[k].detach().expand(2 * n, -1, -1)
            b = model.biases[k].detach().expand(2 * n, -1, -1)
            if k == last:  # MuReadout: weights and bias √m larger, input / m
                w = w * up
            if k > 0:  # fan_in is w: mup's bias rescale
                b = b * up
            model.weights[k] = w.contiguous().to(device).requires_grad_()
            model.biases[k] = b.contiguous().to(device).requires_grad_()
    model.multipliers[last] = torch.where(mup, 1.0 / m, 1.0).to(device)
    hidden = torch.where(mup, 1.0 / m, 1.0).to(device)
    scales = [hidden if 0 < k < last else 1.0 for k in range(len(model.weights))]
    scales += [1.0] * len(model.biases)
    lr = torch.tensor(lrs * 2, device=device)
    return model, InstanceOptimizer(model.parameters(), "adam", lr, scales=scales), \
        mup.to(device)


def train_width(width: int, seed: int, config: Config, data, lrs: list[float],
                device: torch.device, report, step0: int) -> tuple[np.ndarray, np.ndarray]:
    """Final training loss [2 * n_lrs] (NaN where diverged) and the diverged mask."""
    model, opt, mup = build_model(width, config, lrs, seed, device)
    order = torch.as_tensor(batch_orders(len(data.y), config.batch_size, config.steps,
                                         seed), device=device)
    diverged = torch.zeros(2 * len(lrs), dtype=torch.bool, device=device)
    log_every = max(1, config.steps // 20)
    for step in range(1, config.steps + 1):
        idx = order[step - 1]
        losses = cross_entropy(model(data.x[idx]), data.y[idx])
        bad = ~torch.isfinite(losses) | (losses > BLOWUP)
        new = bad & ~diverged
        opt.zero_grad()
        torch.where(diverged | bad, torch.zeros_like(losses), losses).sum().backward()
        opt.step()
        if new.any():
            diverged |= new
            opt.reset(diverged)
        if step % log_every == 0 or step == config.steps:
            alive = losses.detach().masked_fill(diverged, float("inf"))
            best = {p: float(alive[mup == (p == "mup")].min()) for p in PARAMETRIZATIONS}
            report.log(step0 + step, **{f"best_{p}_w{width}": v for p, v in best.items()
                                        if math.isfinite(v)})
    final = full_losses(model, data.x, data.y)
    final = torch.where(diverged | ~torch.isfinite(final) | (final > BLOWUP),
                        torch.full_like(final, float("nan")), final)
    return final.cpu().numpy(), diverged.cpu().numpy()


@torch.no_grad()
def _mean_abs(model: InstanceMLP, x: torch.Tensor) -> np.ndarray:
    """Mean |output| of every layer, [layers, instances]."""
    return np.array([z.abs().mean((1, 2)).cpu().numpy() for z in model.layers(x)])


def coordinate_check(width: int, config: Config, data, device: torch.device,
                     seeds: int = 3) -> np.ndarray:
    """Mean |layer output| after 0..coord_steps Adam steps at coord_lr, averaged over a
    few seeds: [parametrization, step, layer]."""
    out = np.zeros((2, config.coord_steps + 1, config.hidden_layers + 1))
    probe = data.x[:256]
    for s in range(seeds):
        seed = config.seed + 1000 + s
        model, opt, _ = build_model(width, config, [config.coord_lr], seed, device)
        order = torch.as_tensor(batch_orders(len(data.y), config.batch_size,
                                             config.coord_steps, seed), device=device)
        for step in range(config.coord_steps + 1):
            out[:, step] += _mean_abs(model, probe).T / seeds
            if step == config.coord_steps:
                break
            idx = order[step]
            opt.zero_grad()
            cross_entropy(model(data.x[idx]), data.y[idx]).sum().backward()
            opt.step()
    return out


def slope(widths: list[int], values: np.ndarray) -> float:
    """Least-squares slope of log(value) against log(width)."""
    if len(set(widths)) < 2:
        return 0.0
    v = np.maximum(np.asarray(values, dtype=np.float64), 1e-30)
    return float(np.polyfit(np.log(widths), np.log(v), 1)[0])


def _nan_to_none(a) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


def summarize(widths: list[int], lrs: list[float], loss: np.ndarray, diverged: np.ndarray,
              coord: np.ndarray, config: Config) -> dict:
    """`loss` [param, width, lr] mean over seeds (NaN where a seed diverged),
    `diverged` [param, width, lr] counts, `coord` [param, width, step, layer]."""
    out: dict = {"widths": widths, "lrs": lrs, "parametrizations": list(PARAMETRIZATIONS),
                 "loss": {}, "diverged_runs": {}, "best_lr": {}, "best_lr_index": {},
                 "best_loss": {}, "argmin_shift_steps": {}, "spread_per_lr": {},
                 "mean_spread": {}, "transfer": {}, "lowest_lr_loss": {},
                 "wider_is_never_worse": {}}
    for p_i, p in enumerate(PARAMETRIZATIONS):
        grid = loss[p_i]
        out["loss"][p] = [_nan_to_none(row) for row in grid]
        out["diverged_runs"][p] = diverged[p_i].astype(int).tolist()
        filled = np.where(np.isfinite(grid), grid, np.inf)
        idx = [int(np.argmin(row)) if np.isfinite(row).any() else None for row in filled]
        out["best_lr_index"][p] = idx
        out["best_lr"][p] = [lrs[i] if i is not None else None for i in idx]
        out["best_loss"][p] = [float(filled[w, i]) if i is not None else None
                               for w, i in enumerate(idx)]
        found = [i for i in idx if i is not None]
        out["argmin_shift_steps"][p] = int(max(found) - min(found)) if found else None
        # how far apart the loss-vs-lr curves of the widths lie, at each lr: max - min
        spread = [float(np.ptp(grid[:, j])) if np.isfinite(grid[:, j]).all() else None
                  for j in range(len(lrs))]
        out["spread_per_lr"][p] = spread
        usable = [s for s in spread if s is not None]
        out["mean_spread"][p] = float(np.mean(usable)) if usable else None
        out["lowest_lr_loss"][p] = _nan_to_none(grid[:, 0])
        best = [b for b in out["best_loss"][p] if b is not None]
        out["wider_is_never_worse"][p] = bool(len(best) == len(widths) and all(
            b2 <= b1 + 1e-3 for b1, b2 in zip(best, best[1:])))
        tuned = idx[0]
        if tuned is not None and idx[-1] is not None:
            at_largest = grid[-1, tuned]
            out["transfer"][p] = {
                "tuned_at_width": widths[0], "tuned_lr": lrs[tuned],
                "trained_width": widths[-1],
                "loss_with_tuned_lr": float(at_largest) if np.isfinite(at_largest) else None,
                "best_lr_at_largest": lrs[idx[-1]],
                "best_loss_at_largest": float(grid[-1, idx[-1]]),
                "steps_off": int(idx[-1] - tuned)}
        else:
            out["transfer"][p] = None
    sp, mp = out["mean_spread"]["sp"], out["mean_spread"]["mup"]
    out["spread_ratio_sp_over_mup"] = float(sp / mp) if sp is not None and mp else None
    layers = ["input layer"] + [f"hidden {k}" for k in range(1, config.hidden_layers)] + \
        ["readout"]
    slopes = {p: [[slope(widths, coord[p_i, :, t, k]) for k in range(len(layers))]
                  for t in range(coord.shape[2])] for p_i, p in enumerate(PARAMETRIZATIONS)}
    out["coord"] = {
        "lr": config.coord_lr, "steps": list(range(coord.shape[2])), "layers": layers,
        "mean_abs": {p: coord[p_i].transpose(1, 2, 0).tolist()  # [step][layer][width]
                     for p_i, p in enumerate(PARAMETRIZATIONS)},
        "slopes": slopes,
        "growing": {p: [[layers[k] for k, s in enumerate(row) if s > GROWS]
                        for row in slopes[p]] for p in PARAMETRIZATIONS},
        "grows_above": GROWS}
    return out


def run(config: Config, report) -> dict:
    device = choose_device()
    widths = sorted(set(config.widths))
    lrs = lr_grid(config)
    data = digits(config.n_train, config.seed, device)
    report.set_total(len(widths) * config.seeds * config.steps)
    sums = np.zeros((2, len(widths), len(lrs)))
    diverged = np.zeros((2, len(widths), len(lrs)), dtype=int)
    coord = np.zeros((2, len(widths), config.coord_steps + 1, config.hidden_layers + 1))
    done = 0
    for w_i, width in enumerate(widths):
        coord[:, w_i] = coordinate_check(width, config, data, device)
        for s in range(config.seeds):
            final, bad = train_width(width, config.seed + s, config, data, lrs, device,
                                     report, done)
            done += config.steps
            sums[:, w_i] += final.reshape(2, len(lrs))  # NaN stays NaN: a diverged seed
            diverged[:, w_i] += bad.reshape(2, len(lrs))
        report.snapshot("grid", {"widths": np.array(widths[:w_i + 1]),
                                 "lrs": np.array(lrs),
                                 "loss": sums[:, :w_i + 1] / config.seeds,
                                 "diverged": diverged[:, :w_i + 1]})
    summary = summarize(widths, lrs, sums / config.seeds, diverged, coord, config)
    summary["steps_done"] = config.steps
    return summary


def receipt(config: Config, summary: dict) -> Receipt:
    """muP's best learning rate across widths, and how far apart the loss-vs-lr curves
    of the widths lie under SP against muP: it holds when muP's best rate moves by at most
    one grid step and SP's curves lie at least twice as far apart as muP's; it cannot
    tell over less than a 4× range of widths."""
    widths, lrs = summary["widths"], summary["lrs"]
    shift, ratio = summary["argmin_shift_steps"], summary["spread_ratio_sp_over_mup"]
    best = summary["best_lr"]

    def rates(p: str) -> str:
        return ", ".join("–" if b is None else f"{b:.2g}" for b in best[p])

    def steps(p: str) -> str:
        if shift[p] is None:
            return "–"
        return f"{shift[p]} grid step{'' if shift[p] == 1 else 's'}"

    live = (f"best learning rate at widths {', '.join(map(str, widths))}: muP {rates('mup')} "
            f"(moves {steps('mup')}), SP {rates('sp')} (moves {steps('sp')}); SP's curves "
            f"lie " + (f"{ratio:.1f}×" if ratio is not None else "–")
            + " as far apart as muP's")
    edge = [b for b in summary["best_lr_index"]["mup"] if b is not None and
            b in (0, len(lrs) - 1)]
    if edge:
        live += (". At some width muP's best rate sits at an end of the grid, so its "
                 "optimum may lie beyond it")
    if widths[-1] < WIDTH_RANGE * widths[0] or shift["mup"] is None or ratio is None:
        holds = None
        live += (f". The claim needs widths at least {WIDTH_RANGE}× apart, and some rate "
                 "that no width diverges at")
    else:
        holds = shift["mup"] <= STAYS and ratio >= SLIDES
        if shift["sp"] is not None and shift["sp"] <= shift["mup"]:
            live += (". SP's best rate moves no further than muP's: on this task it is the "
                     "slide of SP's curves, not the optimum, that sets the two apart")
    return Receipt(
        claim="Under muP the best learning rate stays put as the network widens; under "
              "the standard parametrization it moves",
        paper="under SP the best Adam learning rate drifts (smaller for wider networks), "
              "under muP it stays put across widths 8× apart and more, and the wider "
              "network is never worse",
        live=live,
        source="Yang et al. 2022, Tensor Programs V: Tuning Large Neural Networks via "
               "Zero-Shot Hyperparameter Transfer",
        smaller=f"an MLP 64 → w → w → 10 on scikit-learn's 8×8 digits ({config.n_train:,} "
                f"images), {config.steps} Adam steps, {config.seeds} "
                f"seed{'' if config.seeds == 1 else 's'} and "
                f"{config.n_lrs} rates (one grid step is a factor "
                f"{(lrs[-1] / lrs[0]) ** (1 / max(1, len(lrs) - 1)):.1f}), instead of "
                f"Transformers and ResNets trained to convergence; widths "
                f"{widths[-1] // max(1, widths[0])}× apart.",
        holds=holds)


PRESETS = (
    Preset("Widths 32–256",
           "One seed, four widths, 9 rates: about a quarter of a minute.",
           {}),
    Preset("Widths 32–1024, 3 seeds (slow)",
           "The full grid: several minutes on two CPU cores.",
           {"widths": [32, 64, 128, 256, 512, 1024], "seeds": 3}),
    Preset("Coordinate check at lr 0.1",
           "A ten times larger step makes SP's growth steeper.",
           {"coord_lr": 0.1}),
    Preset("Three hidden layers",
           "Two w×w matrices instead of one.",
           {"hidden_layers": 3}),
)

EXPERIMENT = Experiment(
    name="mup_transfer",
    title="muP: the best learning rate stays put as the network widens",
    Config=Config,
    run=run,
    # per width: both parametrizations x n_lrs x seeds models; ~12 full-set losses
    cost=Cost(12.16, lambda c: sum(
        c.n_lrs * c.seeds * work.mlp([64] + [w] * c.hidden_layers + [10])
        * (6 * c.batch_size * (c.steps + c.coord_steps) + 24 * c.n_train)
        + (c.steps + c.coord_steps) * work.STEP_OVERHEAD for w in c.widths)),
    diverge_hint="Lower the largest learning rate (lr_max).",
    small={"widths": [16, 32], "base_width": 16, "n_lrs": 3, "steps": 5, "n_train": 200,
           "batch_size": 32, "coord_steps": 1},
    presets=PRESETS,
    receipt=receipt,
)
