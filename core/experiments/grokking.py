"""Grokking: modular addition memorized first, understood much later (Power et al. 2022;
Nanda et al. 2023).

a + b mod p from a fraction of all p² pairs. Each operand gets a learned embedding (one
table, d numbers per operand, the two concatenated), one hidden layer with a quadratic
activation, and a linear read-out to p classes; full-batch AdamW with strong weight
decay. The training set is memorized within a few dozen steps; the test accuracy stays
at (or below) chance for a long time and then jumps to 100% while the weights shrink.
Without weight decay the jump does not come in the same budget.
"""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

REACHED = 0.99  # accuracy that counts as "memorized" (train) and "generalized" (test)


@dataclass(frozen=True)
class Config:
    modulus: int = param(67, "p: the task is (a + b) mod p (p ≤ 47 tends to oscillate).",
                         low=5, high=200, label="Modulus p")
    train_fraction: float = param(0.3, "Share of all p² pairs used for training (0.5 groks "
                                  "almost at once).", low=0.05, high=0.95)
    weight_decay: float = param(1.0, "AdamW weight decay: what drives the model from "
                                "memorizing to the rule.", low=0.0, high=5.0)
    lr: float = param(1e-2, "AdamW learning rate (betas 0.9, 0.98).", low=1e-4, high=0.1,
                      log=True, label="Learning rate")
    steps: int = param(4000, "Full-batch steps.", low=10, high=50000)
    width: int = param(128, "Hidden units (quadratic activation).", low=8, high=1024)
    embed_dim: int = param(32, "Embedding size per operand.", low=4, high=256)
    seed: int = param(0, "Seed for the split and the initial weights.", low=0,
                      high=2**31 - 1)


class Net(nn.Module):
    def __init__(self, p: int, d: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(p, d)
        self.hidden = nn.Linear(2 * d, width)
        self.out = nn.Linear(width, p)

    def forward(self, ab: torch.Tensor) -> torch.Tensor:
        e = self.embed(ab).flatten(1)  # [batch, 2d]: both operands' embeddings side by side
        return self.out(self.hidden(e) ** 2)

    def norms(self) -> dict[str, float]:
        return {name: float(torch.cat([p.detach().flatten() for p in mod.parameters()]).norm())
                for name, mod in (("embed", self.embed), ("hidden", self.hidden),
                                  ("out", self.out))}


def log_steps(steps: int, points: int = 150) -> set[int]:
    """Steps to log: every step at first, then evenly spaced on a log axis."""
    return set(np.unique(np.geomspace(1, steps, points).round().astype(int)).tolist())


def run(config: Config, report) -> dict:
    device = choose_device()
    p = config.modulus
    gen = torch.Generator().manual_seed(config.seed)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    pairs = torch.stack([a.flatten(), b.flatten()], 1)
    labels = (pairs[:, 0] + pairs[:, 1]) % p
    order = torch.randperm(p * p, generator=gen)
    n_train = max(1, int(round(config.train_fraction * p * p)))
    tr, te = order[:n_train], order[n_train:]
    x_tr, y_tr = pairs[tr].to(device), labels[tr].to(device)
    x_te, y_te = pairs[te].to(device), labels[te].to(device)
    torch.manual_seed(config.seed + 1)  # nn defaults draw from the global generator
    model = Net(p, config.embed_dim, config.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr,
                            weight_decay=config.weight_decay, betas=(0.9, 0.98))
    report.set_total(config.steps)
    marks = log_steps(config.steps)
    first = {"train": None, "test": None}
    curve = []
    train_acc = test_acc = 0.0
    for step in range(1, config.steps + 1):
        logits = model(x_tr)
        loss = nn.functional.cross_entropy(logits, y_tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        watch = first["test"] is None or step in marks or step == config.steps
        if not watch and step % 10:
            continue
        with torch.no_grad():
            train_acc = float((logits.argmax(1) == y_tr).float().mean())
            test_logits = model(x_te)
            test_acc = float((test_logits.argmax(1) == y_te).float().mean()) if len(te) else 1.0
        for name, acc in (("train", train_acc), ("test", test_acc)):
            if first[name] is None and acc >= REACHED:
                first[name] = step
                report.snapshot("reached", {f"step_{k}_accuracy_99": v
                                            for k, v in first.items() if v is not None})
        if step in marks or step == config.steps:
            norms = model.norms()
            test_loss = float(nn.functional.cross_entropy(test_logits, y_te)) if len(te) else 0.0
            report.log(step, train_accuracy=train_acc, test_accuracy=test_acc,
                       train_loss=float(loss.detach()), test_loss=min(test_loss, 1e6),
                       **{f"norm_{k}": v for k, v in norms.items()},
                       norm_total=float(np.sqrt(sum(v ** 2 for v in norms.values()))))
            curve.append({"step": step, **norms})
        elif report.cancelled:
            break
    delay = first["test"] - first["train"] if first["test"] and first["train"] else None
    return {"step_train_accuracy_99": first["train"], "step_test_accuracy_99": first["test"],
            "grokking_delay_steps": delay,
            "grokking_delay_ratio": first["test"] / first["train"] if delay is not None
            else None,
            "final_train_accuracy": train_acc, "final_test_accuracy": test_acc,
            "weight_norm_curve": curve, "train_pairs": int(n_train),
            "test_pairs": int(len(te)), "steps_done": config.steps}


GROK_RATIO = 10  # test must reach 99 % at least this many times later than train


def receipt(config: Config, summary: dict) -> Receipt:
    """The wait between memorizing and generalizing: it holds when test accuracy reaches
    99 % at least ten times as many steps after the start as train accuracy did; it does
    not when test never gets there or follows train almost at once."""
    train, test = summary["step_train_accuracy_99"], summary["step_test_accuracy_99"]
    steps = summary["steps_done"]
    if train is None:
        live, holds = f"train accuracy never reached 99 % in {steps:,} steps", None
    elif test is None:
        live = (f"train 99 % at step {train:,}; test never reached 99 % in {steps:,} steps "
                f"(final test accuracy {summary['final_test_accuracy']:.1%})")
        holds = False
    else:
        ratio = test / train
        live = (f"train 99 % at step {train:,}, test 99 % at step {test:,}: "
                f"{test - train:,} steps later ({ratio:.0f}× the time)")
        holds = ratio >= GROK_RATIO
    return Receipt(
        claim="Test accuracy jumps long after train accuracy is perfect",
        paper="train accuracy ~100 % within ~10³ steps, validation ~100 % only near 10⁵ "
              "steps: about 100× later (x/y mod 97, half the pairs for training)",
        live=live,
        source="Power et al. 2022, Grokking (Figure 1); Nanda et al. 2023 for the "
               "weight-decay account",
        smaller=f"p = {config.modulus} with {config.train_fraction:.0%} of the pairs, an "
                f"MLP (2×{config.embed_dim}-d embeddings, {config.width} quadratic units) "
                f"instead of a 2-layer transformer, {config.steps:,} full-batch steps at "
                f"lr {config.lr:g} and weight decay {config.weight_decay:g}; "
                f"the paper's runs last up to 10⁵ steps.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _grokking_work(c) -> float:
    return work.steps(
        c.steps,
        (3 * c.train_fraction + 1)
        * c.modulus**2
        * work.mlp([2 * c.embed_dim, c.width, c.modulus]),
    )


def page_runs(config: Config) -> list[tuple[str, Config]]:
    """The page shows each run beside the same run without weight decay."""
    return [("grokking", config),
            ("grokking", dataclasses.replace(config, weight_decay=0.0))]


PRESETS = (
    Preset("Grok (p = 67)",
           "The default: memorized by step ~30, understood near step 1,500.",
           {}),
    Preset("No weight decay",
           "Weight decay 0: training accuracy is perfect, test accuracy stays at chance.",
           {"weight_decay": 0.0}),
    Preset("More data, no drama",
           "Half of the pairs for training: the rule comes almost at once, there is hardly "
           "a gap.",
           {"train_fraction": 0.5}),
    Preset("Less data",
           "20% of the pairs: the wait for the rule gets longer.",
           {"train_fraction": 0.2, "steps": 8000}),
    Preset("Weaker decay",
           "Weight decay 0.3: it still groks, later.",
           {"weight_decay": 0.3, "steps": 8000}),
)

EXPERIMENT = Experiment(
    name="grokking",
    title="Grokking: memorize first, find the rule later",
    Config=Config,
    run=run,
    cost=Cost(25.83, _grokking_work),
    version=2,
    small={"modulus": 11, "steps": 10, "width": 16, "embed_dim": 8},
    diverge_hint="Lower the learning rate (lr).",
    presets=PRESETS,
    page_runs=page_runs,
    receipt=receipt,
)
