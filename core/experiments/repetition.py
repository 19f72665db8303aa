"""Repeated data is memorized, and at equal compute it costs more than it brings.

Hernandez et al. (2022, *Scaling Laws and Interpretability of Learning from Repeated
Data*) trained language models on data where a small slice was repeated many times
and found that test loss suffered most at a middle range of repeat counts. The toy here
(measured in SCIENCE.md): a fixed random teacher network labels Gaussian inputs by
sampling from its softmax (so labels are noisy and a Bayes floor exists), and students
train for a fixed number of Adam steps. A share of every batch comes from a repeated
subset of R examples with frozen labels, so each of them is seen k = (steps × that
share) / R times; the rest of the batch is fresh. Two controls at the same steps:
"fresh" (the repeated share is fresh too: the deduplicated run) and "drop" (the repeated
share is simply left out). Every condition and seed is one instance of a batched MLP.
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
from core.instance_mlp import InstanceMLP
from core.params import param, rule
from core.receipts import Receipt

INPUTS, TEACHER_HIDDEN, CLASSES = 16, 64, 10
TEST_POINTS = 2048  # per seed: the excess loss is an average over these inputs
PROBE = 512  # repeated / unique training examples whose loss is measured
EVALS = 16  # points on the live curves
CONTROLS = ("fresh", "drop")

DEFAULT_STEPS, DEFAULT_BATCH, DEFAULT_SEEDS, DEFAULT_WIDTH = 2048, 64, 3, 64
MAX_DRAWN = 8 * DEFAULT_STEPS * DEFAULT_BATCH * DEFAULT_SEEDS  # examples in one run


def _layer_work(width: int) -> int:
    return INPUTS * width + width * width + width * CLASSES


def _work(c) -> float:
    """Multiply-adds of a run, relative to the default run's."""
    conditions = len(set(c.repeats)) + len(CONTROLS)
    return (c.steps * c.batch_size * c.seeds * conditions * _layer_work(c.width)) / (
        DEFAULT_STEPS * DEFAULT_BATCH * DEFAULT_SEEDS * 8 * _layer_work(DEFAULT_WIDTH))


@dataclass(frozen=True)
class Config:
    repeats: tuple[int, ...] = param(
        [1, 16, 64, 256, 1024, 16384], "Times k each repeated example is seen; the "
        "repeated subset holds (steps × repeated share of a batch) / k examples.",
        low=1, high=65536, max_items=12, label="Repeats k")
    repeated_share: float = param(0.5, "Share of every batch drawn from the repeated "
                                  "subset (the rest is fresh).", low=0.1, high=0.9)
    steps: int = param(DEFAULT_STEPS, "Adam steps, the same for every condition (equal "
                       "compute).", low=16, high=8192)
    batch_size: int = param(DEFAULT_BATCH, "Examples per step.", low=8, high=256,
                            label="Batch size")
    width: int = param(DEFAULT_WIDTH, "Units in each of the student's two hidden layers.",
                       low=8, high=256)
    lr: float = param(1e-3, "Adam learning rate.", low=1e-4, high=0.1, log=True,
                      label="Learning rate")
    teacher_sharpness: float = param(4.0, "Scale of the teacher's logits: small means "
                                     "noisy labels (a high Bayes floor), large means "
                                     "nearly certain ones.", low=0.5, high=16.0)
    seeds: int = param(DEFAULT_SEEDS, "Independent repetitions (new teacher, data and "
                       "initial weights each).", low=1, high=8)
    seed: int = param(0, "Seed of the first repetition.", low=0, high=2**31 - 1)

    RULES = (
        rule(("steps", "batch_size", "seeds"),
             lambda c: c.steps * c.batch_size * c.seeds <= MAX_DRAWN,
             f"'steps' × 'batch_size' × 'seeds' must be at most {MAX_DRAWN:,} examples "
             "(8× the default run), so that the repeated subsets fit in memory"),
        rule(("steps", "width", "seeds", "batch_size", "repeats"), lambda c: _work(c) <= 8,
             "the run must be at most 8× the default run's work (steps × batch size × "
             "seeds × (k values + 2) × the width's layer sizes), about two minutes on "
             "2 cores"),
    )


def per_batch(config: Config) -> tuple[int, int]:
    """(repeated, fresh) examples in each batch; at least one of each."""
    rep = min(config.batch_size - 1, max(1, round(config.repeated_share * config.batch_size)))
    return rep, config.batch_size - rep


def subset_sizes(config: Config) -> tuple[list[int], list[int], list[float]]:
    """The k values asked for (sorted, distinct), the subset size R of each, and the
    k it gives: R = round(repeated slots / k), at least 1, so k is exact when it divides
    the slots and a k above them means one example seen in every batch."""
    slots = config.steps * per_batch(config)[0]
    ks = sorted(set(config.repeats))
    sizes = [max(1, round(slots / k)) for k in ks]
    return ks, sizes, [slots / r for r in sizes]


class Teacher:
    """A fixed random ReLU net 16→64→10 per seed; labels are sampled from its softmax."""

    def __init__(self, seeds: int, sharpness: float, gen: torch.Generator, device):
        self.w1 = (torch.randn(seeds, INPUTS, TEACHER_HIDDEN, generator=gen)
                   / math.sqrt(INPUTS)).to(device)
        self.b1 = (0.1 * torch.randn(seeds, 1, TEACHER_HIDDEN, generator=gen)).to(device)
        self.w2 = (torch.randn(seeds, TEACHER_HIDDEN, CLASSES, generator=gen)
                   * sharpness / math.sqrt(TEACHER_HIDDEN)).to(device)

    def log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """x [seeds, n, 16] -> log p(y | x) [seeds, n, 10]."""
        return torch.log_softmax(torch.relu(torch.baddbmm(self.b1, x, self.w1)) @ self.w2, -1)

    def sample(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        p = self.log_probs(x).exp().reshape(-1, CLASSES)
        return torch.multinomial(p.cpu(), 1, generator=gen).reshape(x.shape[:2]).to(x.device)


def _per_example_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             y.reshape(-1), reduction="none").reshape(y.shape)


def _forward(model: InstanceMLP, x: torch.Tensor, rows: slice) -> torch.Tensor:
    """The logits of the instances in `rows` only (x: [len(rows), n, in])."""
    h = x
    for k, (w, b) in enumerate(zip(model.weights, model.biases)):
        h = torch.baddbmm(b[rows], h, w[rows])
        if k < len(model.weights) - 1:
            h = torch.relu(h)
    return h


def run(config: Config, report) -> dict:
    device = choose_device()
    gen = torch.Generator().manual_seed(config.seed)
    S = config.seeds
    ks, sizes, k_eff = subset_sizes(config)
    names = [f"k={k:g}" for k in ks] + list(CONTROLS)
    C = len(names)
    n_rep, n_fresh = per_batch(config)
    batch = config.batch_size
    report.set_total(config.steps)

    teacher = Teacher(S, config.teacher_sharpness, gen, device)
    x_test = torch.randn(S, TEST_POINTS, INPUTS, generator=gen).to(device)
    logp_test = teacher.log_probs(x_test)
    bayes = float(-(logp_test.exp() * logp_test).sum(-1).mean())

    # The repeated subsets, their labels drawn once and frozen, and the order in which
    # their examples are drawn: every example k times (±1), shuffled.
    slots = config.steps * n_rep
    subsets, orders = [], []
    for r in sizes:
        x = torch.randn(S, r, INPUTS, generator=gen).to(device)
        subsets.append((x, teacher.sample(x, gen)))
        reps = math.ceil(slots / r)
        orders.append(torch.stack([torch.randperm(r * reps, generator=gen)[:slots] % r
                                   for _ in range(S)]).to(device))

    # instance c * S + s: condition c, seed s; one initial student per seed, shared
    student = InstanceMLP(S, [INPUTS, config.width, config.width, CLASSES], gen, device)
    params = [p.detach().repeat(C, 1, 1).requires_grad_() for p in student.parameters()]
    model = InstanceMLP(C * S, student.sizes, torch.Generator(), device)  # weights set below
    half = len(params) // 2
    model.weights, model.biases = params[:half], params[half:]
    optimizer = torch.optim.Adam(params, lr=config.lr, fused=device.type == "cpu")
    weights = torch.ones(C, 1, batch, device=device)
    weights[names.index("drop"), :, n_fresh:] = 0.0  # the repeated share left out
    weights = (weights / weights.sum(-1, keepdim=True)).repeat_interleave(S, 0).reshape(-1)
    seeds_idx = torch.arange(S, device=device)[:, None]

    chunk = max(1, math.ceil(config.steps / EVALS))
    probe_x, probe_y = [], []
    per_chunk = max(1, PROBE // math.ceil(config.steps / chunk))
    curve = {name: [] for name in names}
    eval_steps: list[int] = []
    for start in range(0, config.steps, chunk):
        if report.cancelled:
            break
        n = min(chunk, config.steps - start)
        xf = torch.randn(S, n * n_fresh, INPUTS, generator=gen).to(device)
        yf = teacher.sample(xf, gen)
        xf2 = torch.randn(S, n * n_rep, INPUTS, generator=gen).to(device)
        yf2 = teacher.sample(xf2, gen)
        probe_x.append(xf[:, :min(per_chunk, n_fresh * n)])
        probe_y.append(yf[:, :min(per_chunk, n_fresh * n)])
        xr, yr = [], []
        for (x, y), order in zip(subsets, orders):
            j = order[:, start * n_rep:(start + n) * n_rep]
            xr.append(x[seeds_idx, j])
            yr.append(y[seeds_idx, j])
        xr += [xf2, xf2]  # "fresh": more fresh data; "drop": weighted 0 in the loss
        yr += [yf2, yf2]
        x_rep = torch.stack(xr).reshape(C, S, n, n_rep, INPUTS)
        y_rep = torch.stack(yr).reshape(C, S, n, n_rep)
        x_all = torch.cat([xf.reshape(1, S, n, n_fresh, INPUTS).expand(C, -1, -1, -1, -1),
                           x_rep], -2)
        y_all = torch.cat([yf.reshape(1, S, n, n_fresh).expand(C, -1, -1, -1), y_rep], -1)
        x_all = x_all.reshape(C * S, n, batch, INPUTS).transpose(0, 1).contiguous()
        y_all = y_all.reshape(C * S, n, batch).transpose(0, 1).contiguous()
        for t in range(n):
            loss = _per_example_ce(model(x_all[t]), y_all[t]).reshape(-1) @ weights
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        excess = _excess(model, x_test, logp_test, C, S)
        eval_steps.append(start + n)
        scalars = {}
        for c, name in enumerate(names):
            curve[name].append(float(excess[c].mean()))
            scalars[metric_name(name)] = curve[name][-1]
        report.log(start + n, **scalars)
        losses = _train_losses(model, subsets, torch.cat(probe_x, 1), torch.cat(probe_y, 1),
                               C, S)
        report.snapshot("sweep", _sweep(names, ks, k_eff, excess, losses, eval_steps, curve))

    excess = _excess(model, x_test, logp_test, C, S)
    losses = _train_losses(model, subsets, torch.cat(probe_x, 1), torch.cat(probe_y, 1), C, S)
    report.snapshot("sweep", _sweep(names, ks, k_eff, excess, losses, eval_steps, curve))
    report.snapshot("example_losses", _example_losses(model, subsets, probe_x, probe_y,
                                                      ks, C, S, excess))
    return summarize(config, ks, sizes, k_eff, excess, losses, bayes)


def metric_name(name: str) -> str:
    """The logged metric of a condition's excess loss: 'k=256' -> 'excess_k256'."""
    return "excess_" + name.replace("k=", "k").replace(".", "_")


@torch.no_grad()
def _excess(model, x_test, logp_test, C: int, S: int) -> np.ndarray:
    """KL(teacher ‖ student) on the test inputs, [conditions, seeds]."""
    logq = torch.log_softmax(model(x_test.repeat(C, 1, 1)), -1)
    p = logp_test.repeat(C, 1, 1)
    return (p.exp() * (p - logq)).sum(-1).mean(-1).reshape(C, S).cpu().numpy().astype(float)


@torch.no_grad()
def _train_losses(model, subsets, probe_x, probe_y, C: int, S: int) -> dict:
    """Mean training loss of the repeated examples (each k) and of unique examples that
    every condition saw once, [conditions, seeds] (NaN where a control has no subset)."""
    unique = _per_example_ce(model(probe_x.repeat(C, 1, 1)), probe_y.repeat(C, 1))
    unique = unique.mean(-1).reshape(C, S).cpu().numpy().astype(float)
    repeated = np.full((C, S), np.nan)
    for c, (x, y) in enumerate(subsets):
        n = min(PROBE, x.shape[1])
        logits = _forward(model, x[:, :n], slice(c * S, (c + 1) * S))
        repeated[c] = _per_example_ce(logits, y[:, :n]).mean(-1).cpu().numpy()
    return {"repeated": repeated, "unique": unique}


def _sweep(names, ks, k_eff, excess, losses, eval_steps, curve) -> dict:
    return {"names": names, "k": np.array(k_eff, float), "k_asked": np.array(ks, float),
            "excess_mean": excess.mean(1), "excess_std": excess.std(1),
            "excess": excess, "repeated_loss": losses["repeated"][:len(ks)].mean(1),
            "unique_loss": losses["unique"].mean(1),
            "eval_steps": np.array(eval_steps), "curves": np.array(
                [curve[n] for n in names], float)}


@torch.no_grad()
def _example_losses(model, subsets, probe_x, probe_y, ks, C, S, excess) -> dict:
    """Per-example training losses of the first seed at the worst k: repeated vs unique."""
    if not ks:
        return {}
    c = int(np.argmax(excess[:len(ks)].mean(1)))
    x, y = subsets[c]
    n = min(PROBE, x.shape[1])
    rows = slice(c * S, c * S + 1)
    rep = _per_example_ce(_forward(model, x[:1, :n], rows), y[:1, :n])[0]
    px, py = torch.cat(probe_x, 1), torch.cat(probe_y, 1)
    uni = _per_example_ce(_forward(model, px[:1], rows), py[:1])[0]
    return {"k": float(ks[c]), "repeated": rep.cpu().numpy(), "unique": uni.cpu().numpy()}


def summarize(config: Config, ks, sizes, k_eff, excess, losses, bayes) -> dict:
    n = len(ks)
    mean = excess.mean(1)
    fresh, drop = excess[n], excess[n + 1]
    peak = int(np.argmax(mean[:n]))
    rep_loss = losses["repeated"][:n].mean(1)
    uni_loss = losses["unique"][:n].mean(1)
    worse_than_drop = (excess[:n] > drop[None, :]).sum(1)
    return {
        "repeats": [float(k) for k in ks],
        "repeats_effective": [round(k, 4) for k in k_eff],
        "subset_sizes": sizes,
        "seeds": config.seeds,
        "bayes_loss": bayes,
        "excess": {f"{k:g}": float(m) for k, m in zip(ks, mean[:n])},
        "excess_std": {f"{k:g}": float(s) for k, s in zip(ks, excess[:n].std(1))},
        "excess_per_seed": {f"{k:g}": excess[i].tolist() for i, k in enumerate(ks)},
        "excess_fresh": float(fresh.mean()), "excess_fresh_std": float(fresh.std()),
        "excess_drop": float(drop.mean()), "excess_drop_std": float(drop.std()),
        "excess_fresh_per_seed": fresh.tolist(), "excess_drop_per_seed": drop.tolist(),
        "train_loss_repeated": {f"{k:g}": float(v) for k, v in zip(ks, rep_loss)},
        "train_loss_unique": {f"{k:g}": float(v) for k, v in zip(ks, uni_loss)},
        "train_loss_unique_fresh": float(losses["unique"][n].mean()),
        "peak_k": float(ks[peak]),
        "peak_excess": float(mean[peak]),
        "peak_interior": bool(0 < peak < n - 1),
        "peak_over_fresh": float(mean[peak] - fresh.mean()),
        "peak_over_drop": float(mean[peak] - drop.mean()),
        "seeds_worse_than_drop": {f"{k:g}": int(w) for k, w in zip(ks, worse_than_drop)},
        "peak_seeds_worse_than_fresh": int((excess[peak] > fresh).sum()),
        "peak_seeds_worse_than_drop": int(worse_than_drop[peak]),
    }


def receipt(config: Config, summary: dict) -> Receipt:
    """Excess test loss against k: it holds when the worst k lies inside the sweep (a
    hump) and is worse than dropping the repeated share in most seeds; it cannot tell
    with fewer than three k values."""
    ks = summary["repeats"]
    peak, n = summary["peak_k"], summary["seeds"]
    worse = summary["peak_seeds_worse_than_drop"]
    at = f"{peak:g}"
    live = (f"excess test loss worst at k = {peak:,.0f} ({summary['peak_excess']:.3f}), "
            f"against {summary['excess_fresh']:.3f} all fresh and "
            f"{summary['excess_drop']:.3f} with the repeated share dropped; worse than "
            f"dropping it in {worse} of {n} seed{'' if n == 1 else 's'}, while the repeated "
            f"examples' training loss there is {summary['train_loss_repeated'][at]:.3f} "
            f"(Bayes floor {summary['bayes_loss']:.3f})")
    if len(ks) < 3:
        holds = None
        live += "; three or more values of k are needed to see a hump"
    else:
        holds = summary["peak_interior"] and summary["peak_over_drop"] > 0 and 2 * worse > n
        if not summary["peak_interior"]:
            live += "; the worst k is at an end of the sweep: no hump"
        elif not holds:
            live += "; at its worst, repetition is not clearly worse than dropping the data"
    return Receipt(
        claim="Repeating a small subset hurts most at a middle number of repeats, more "
              "than leaving that compute out",
        paper="repeating 0.1 % of the data 100 times degraded an 800M-parameter model to "
              "the level of one half its size, and the harm peaked at a middle range of "
              "repeat counts",
        live=live,
        source="Hernandez et al. 2022, Scaling Laws and Interpretability of Learning from "
               "Repeated Data",
        smaller=f"a student MLP 16 → {config.width} → {config.width} → 10 learning a random "
                f"teacher's noisy labels, {config.steps:,} Adam steps with "
                f"{config.repeated_share:.0%} of each batch repeated, {n} "
                f"seed{'' if n == 1 else 's'}, instead of language models of up to 800M "
                "parameters: the shape of the finding, not its scale.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _repetition_work(c) -> float:
    return work.steps(
        c.steps,
        3
        * (len(c.repeats) + len(CONTROLS))
        * c.seeds
        * c.batch_size
        * work.mlp([INPUTS, c.width, c.width, CLASSES]),
    )


PRESETS = (
    Preset("Default: sweep k",
           "Six values of k from all fresh to four examples, 3 seeds.",
           {}),
    Preset("Cleaner labels",
           "A sharper teacher: less noise to memorize, a smaller hump above the fresh run.",
           {"teacher_sharpness": 8.0}),
    Preset("A tenth repeated",
           "Only 10 % of each batch repeated: the same k values, a smaller share of the "
           "compute wasted.",
           {"repeated_share": 0.1}),
    Preset("Wider student",
           "Width 128, as measured in the Lab's notes (about 3× slower).",
           {"width": 128, "seeds": 2}),
    Preset("Quick look",
           "A quarter of the steps and one seed.",
           {"steps": 512, "seeds": 1, "repeats": [1, 16, 64, 256, 4096]}),
)

EXPERIMENT = Experiment(
    name="repetition",
    title="Repeated data: memorized, and worse than fresh data at equal compute",
    Config=Config,
    run=run,
    cost=Cost(7.2, _repetition_work),
    diverge_hint="Lower the learning rate (lr).",
    small={"steps": 64, "batch_size": 16, "width": 16, "seeds": 1,
           "repeats": [1, 64]},
    presets=PRESETS,
    receipt=receipt,
)
