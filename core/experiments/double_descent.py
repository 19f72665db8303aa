"""Memorization → generalization: double descent and repeated data (Henighan et al. 2023).

The toy model of superposition (`core.models.ToyModel`, h = W x, x̂ = ReLU(Wᵀh + b)),
trained on a FIXED set of T sparse, unit-norm examples with full-batch AdamW:

- `double_descent`: one training set per T in `train_sizes`, trained one after another
  so that each T's result lands (and is drawn) as soon as it is done. Small T: the
  hidden vectors of the training examples W x_t spread out into a polygon (the data is
  memorized); large T: the feature columns W_i do (the features are learned); in
  between the test loss peaks.
- `repeated_data`: a generalizing run in which a few examples are copied many times:
  the copies get memorized (they take over hidden dimensions) and the test loss rises.

Dimensionality of vector i among vectors v_j (`core.geometry`): D_i = ‖v_i‖² / Σ_j
(v̂_i·v_j)². The SUM of D over all vectors is ≈ m at every T, so it cannot tell the regimes
apart; the per-vector measure used here is the sum of the 10 largest D
(`top_dimensionality`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core import data, fanout
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.geometry import dimensionality, top_sum
from core.models import ToyModel
from core import params
from core.params import param
from core.receipts import Receipt

TOP = 10  # dimensionality measure: the sum of the TOP largest per-vector D
TEST_EXAMPLES = 4096


@dataclass(frozen=True)
class Config:
    n_features: int = param(100, "Input features n (each is also an output).", low=5,
                            high=2000, label="Features")
    n_hidden: int = param(2, "Hidden units m.", low=1, high=10, label="Hidden units")
    sparsity: float = param(0.9, "A feature is zero with probability S.", low=0.5,
                            high=0.999)
    train_sizes: tuple[int, ...] = param(
        [3, 5, 10, 20, 30, 50, 100, 200, 500],
        "Training-set sizes T: one model is trained on each fixed set.",
        low=1, high=5000, max_items=16)
    steps: int = param(3000, "Full-batch AdamW steps per training set.", low=10,
                       high=20000)
    lr: float = param(6e-3, "Peak learning rate (5% warmup, then cosine decay).",
                      low=1e-4, high=1.0, log=True, label="Learning rate")
    weight_decay: float = param(1e-2, "AdamW weight decay.", low=0.0, high=1.0)
    seed: int = param(0, "Seed for the data and the initial weights.", low=0,
                      high=2**31 - 1)


def examples(count: int, n_features: int, sparsity: float, gen: torch.Generator) -> torch.Tensor:
    """`count` sparse non-negative examples of unit norm, [count, n_features] (an example
    that came out empty gets one random feature switched on)."""
    x = data.sparse_features(count, n_features, torch.tensor([1.0 - sparsity]), gen)[:, 0]
    empty = x.sum(1) == 0
    where = torch.randint(0, n_features, (count,), generator=gen)
    x[empty, where[empty]] = 1.0
    return x / x.norm(dim=1, keepdim=True)


def schedule(step: int, steps: int) -> float:
    """Learning-rate factor: linear warmup over the first 5%, then cosine decay to 0."""
    warm = max(1, int(0.05 * steps))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def _loss(model: ToyModel, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error per example, summed over features (x is [batch, 1, n])."""
    return ((model(x) - x) ** 2).sum(-1).mean()


def fit_group(xs: list[torch.Tensor], config, seed: int, report=None) -> list[ToyModel]:
    """Train one toy model per fixed set in `xs` ([T_k, n] each) with full-batch AdamW,
    all of them as ONE instance-batched ToyModel: the sets are padded to the largest T
    and the padding is masked out of the loss. Each instance starts from the weights a
    ToyModel of its own would get from `seed`, so a T's result does not depend on which
    other sizes share its batch. Returns one single-instance ToyModel per set."""
    k, n, device = len(xs), xs[0].shape[1], xs[0].device
    longest = max(len(x) for x in xs)
    model = ToyModel(k, n, config.n_hidden, device=device)
    with torch.no_grad():
        model.W.copy_(torch.cat([ToyModel(1, n, config.n_hidden,
                                          generator=torch.Generator().manual_seed(seed)).W
                                 for _ in xs]).to(device))
    batch = torch.zeros(longest, k, n, device=device)
    mask = torch.zeros(longest, k, device=device)
    for i, x in enumerate(xs):
        batch[:len(x), i] = x
        mask[:len(x), i] = 1.0 / len(x)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr,
                            weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s, config.steps))
    for step in range(config.steps):
        # each instance's mean over its own examples, summed over instances (they share
        # no weights, so each gets exactly its own gradient)
        loss = (mask * ((model(batch) - batch) ** 2).sum(-1)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if report is not None and step % 200 == 0 and report.cancelled:
            break
    out = []
    for i in range(k):
        one = ToyModel(1, n, config.n_hidden, device=device)
        with torch.no_grad():
            one.W.copy_(model.W[i:i + 1])
            one.b.copy_(model.b[i:i + 1])
        out.append(one)
    return out


def fit(x: torch.Tensor, config, seed: int, report=None) -> ToyModel:
    """Train one toy model on the fixed set `x` [T, n]."""
    return fit_group([x], config, seed, report)[0]


def groups(sizes: list[int], budget: int = 512) -> list[list[int]]:
    """Indices of `sizes` trained together: neighbours share a batch while the padded
    batch stays small (≤ `budget` rows) or wastes under a third of it; the rest run one
    after another, so the curve fills in as each group lands."""
    out: list[list[int]] = []
    for i, t in enumerate(sizes):
        if out:
            group = out[-1] + [i]
            padded = len(group) * max(sizes[j] for j in group)
            if padded <= max(budget, 1.5 * sum(sizes[j] for j in group)):
                out[-1] = group
                continue
        out.append([i])
    return out


def evaluate(model: ToyModel, x: torch.Tensor, test: torch.Tensor) -> dict:
    """Train and test loss (÷ the loss of an all-zero output), and the geometry."""
    with torch.no_grad():
        zero_test = (test ** 2).sum(-1).mean()
        zero_train = (x ** 2).sum(-1).mean()
        train = float(_loss(model, x[:, None]) / zero_train)
        test_loss = float(_loss(model, test[:, None]) / zero_test)
        w = model.W[0].cpu().numpy().astype(np.float64)
        hidden = (x @ model.W[0].T).cpu().numpy().astype(np.float64)  # [T, m]
    d_data, d_feat = dimensionality(hidden.T), dimensionality(w)
    return {"train_loss": train, "test_loss": test_loss, "W": w, "hidden": hidden,
            "data_dims": d_data, "feature_dims": d_feat,
            "data_top": top_sum(d_data, TOP), "feature_top": top_sum(d_feat, TOP),
            "data_sum": float(d_data.sum()), "feature_sum": float(d_feat.sum())}


def peak_index(test_loss: list[float]) -> int | None:
    """Where the test loss peaks: the highest of the interior sizes (the ends are the two
    regimes, not a peak between them); with fewer than three sizes, the highest of all."""
    interior = list(range(1, len(test_loss) - 1)) or list(range(len(test_loss)))
    return max(interior, key=lambda i: test_loss[i]) if interior else None


def _training_set(t: int, config) -> torch.Tensor:
    """The fixed set of T = t examples (its own seed: the same whichever sizes share a run)."""
    return examples(t, config.n_features, config.sparsity,
                    torch.Generator().manual_seed(config.seed * 1000 + 7 + t))


def fit_sizes(part: tuple, report=None) -> list[dict]:
    """One part of the sweep: train the sizes of one group (see `groups`) together and
    evaluate each. A part needs nothing from the others, so parts can train anywhere
    (`core.fanout`: one after another here, as Ray tasks on a cluster)."""
    config, sizes = part
    device = choose_device()
    test = examples(TEST_EXAMPLES, config.n_features, config.sparsity,
                    torch.Generator().manual_seed(config.seed)).to(device)
    sets = [_training_set(t, config).to(device) for t in sizes]
    models = fit_group(sets, config, config.seed + 1, report)
    return [evaluate(model, x, test) for model, x in zip(models, sets)]


def run(config: Config, report) -> dict:
    sizes = sorted(set(config.train_sizes))  # smallest first: the curve fills left to right
    report.set_total(len(sizes))
    out = {k: [] for k in ("train_loss", "test_loss", "data_dimensionality",
                           "feature_dimensionality", "data_top_dimensionality",
                           "feature_top_dimensionality")}
    per_t = {}
    done = []
    parts = [(config, [sizes[i] for i in group]) for group in groups(sizes)]
    for (_, group), results in zip(parts, fanout.in_order(fit_sizes, parts, report)):
        for t, r in zip(group, results):
            done.append(t)
            out["train_loss"].append(r["train_loss"])
            out["test_loss"].append(r["test_loss"])
            out["data_dimensionality"].append(r["data_sum"])
            out["feature_dimensionality"].append(r["feature_sum"])
            out["data_top_dimensionality"].append(r["data_top"])
            out["feature_top_dimensionality"].append(r["feature_top"])
            per_t[str(t)] = {"W": r["W"], "hidden": r["hidden"], "data_dims": r["data_dims"],
                             "feature_dims": r["feature_dims"], "data_top": r["data_top"],
                             "feature_top": r["feature_top"]}
            report.log(len(done), train_size=t, train_loss=r["train_loss"],
                       test_loss=r["test_loss"], data_top=r["data_top"],
                       feature_top=r["feature_top"])
        report.snapshot("geometry", per_t)
        report.snapshot("sweep", {"train_sizes": list(done), **out})
    peak = peak_index(out["test_loss"])
    return {"train_sizes": done, **out,
            "peak_train_size": done[peak] if peak is not None else None,
            "n_features": config.n_features, "n_hidden": config.n_hidden}


PEAK_RATIO = 1.2  # the peak must stand this much above the higher of the two ends
PAPER_SETUP = {"n_features": 1000, "sparsity": 0.99}
PAPER_PEAK = (100, 500)  # where the peak lies in that setup (200–300 measured here)


def receipt(config: Config, summary: dict) -> Receipt:
    """A test-loss peak between memorizing and generalizing: it holds when the interior
    peak stands at least 1.2× above the higher of the smallest and the largest T (and, in
    the paper's setup of 1,000 features at S = 0.99, lies between T = 100 and 500); it
    cannot tell with fewer than three sizes."""
    sizes, test, peak = summary["train_sizes"], summary["test_loss"], summary["peak_train_size"]
    paper_setup = all(getattr(config, k) == v for k, v in PAPER_SETUP.items())
    if len(sizes) < 3 or peak is None:
        live, holds = f"only {len(sizes)} training-set size(s): no interior peak to find", None
    else:
        top = test[sizes.index(peak)]
        ratio = top / max(test[0], test[-1])
        live = (f"test loss highest at T = {peak:,} ({top:.2f} of a zero output's loss), "
                f"{ratio:.1f}× the higher end (T = {sizes[0]:,}: {test[0]:.2f}, "
                f"T = {sizes[-1]:,}: {test[-1]:.2f})")
        holds = ratio >= PEAK_RATIO
        if holds and paper_setup and not PAPER_PEAK[0] <= peak <= PAPER_PEAK[1]:
            holds = False
            live += f"; the peak is outside T = {PAPER_PEAK[0]}–{PAPER_PEAK[1]}"
        elif not holds:
            live += "; no clear peak"
    where = ("the paper's feature count and sparsity" if paper_setup else
             f"{config.n_features} features at S = {config.sparsity:g}, not the paper's "
             f"1,000 at S = 0.99, so the peak comes at a smaller T and only its existence "
             f"is compared")
    return Receipt(
        claim="Test loss peaks between memorizing the data and learning the features",
        paper="a test-loss bump between small T (data memorized) and large T (features "
              "learned); at 1,000 features, S = 0.99, m = 2 it sits near T = 200–300",
        live=live,
        source="Henighan et al. 2023, Superposition, Memorization, and Double Descent",
        smaller=f"{where}; m = {config.n_hidden}, {config.steps:,} full-batch steps per T, "
                f"one seed (the height varies with the seed and the learning rate).",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _double_descent_work(c) -> float:
    return work.steps(
        c.steps,
        6
        * c.n_features
        * c.n_hidden
        * (sum(c.train_sizes) + len(c.train_sizes) * TEST_EXAMPLES / 10),
    )


DOUBLE_DESCENT_PRESETS = (
    Preset("Quick sweep",
           "100 features, T from 3 to 500: the test-loss peak sits near T = 30.",
           {}),
    Preset("Fewer T values",
           "Three sizes only: memorizing, the peak, generalizing.",
           {"train_sizes": [3, 30, 500]}),
    Preset("Stronger training",
           "Learning rate 0.02 fits the small sets harder: the peak grows several times "
           "taller. Its height depends on how much training happens.",
           {"lr": 0.02}),
    Preset("Henighan's setup (slow on a CPU)",
           "1,000 features at sparsity 0.99 and T up to 2,000, as in the paper: peak at T "
           "= 200–300. About 3 minutes on a busy 2-core CPU; a GPU is faster.",
           {"n_features": 1000, "sparsity": 0.99, "lr": 0.005,
            "train_sizes": [3, 10, 30, 100, 200, 300, 500, 1000, 2000]}),
)

EXPERIMENT = Experiment(
    name="double_descent",
    title="Double descent: memorizing data, then learning features",
    Config=Config,
    run=run,
    cost=Cost(8.08, _double_descent_work),
    version=2,
    small={"n_features": 20, "train_sizes": [3, 10], "steps": 20},
    diverge_hint="Lower the learning rate (lr).",
    presets=DOUBLE_DESCENT_PRESETS,
    receipt=receipt,
)


# --- repeated data --------------------------------------------------------------------

@dataclass(frozen=True)
class RepeatConfig:
    n_features: int = param(100, "Input features n.", low=5, high=2000, label="Features")
    n_hidden: int = param(2, "Hidden units m.", low=1, high=10, label="Hidden units")
    sparsity: float = param(0.9, "A feature is zero with probability S.", low=0.5,
                            high=0.999)
    train_size: int = param(1000, "Training examples T in total (copies included): large "
                            "enough to generalize.", low=10, high=5000)
    n_repeated: int = param(5, "Examples that are repeated.", low=1, high=50)
    repeat_count: int = param(100, "Copies of each repeated example.", low=2, high=1000)
    steps: int = param(3000, "Full-batch AdamW steps.", low=10, high=20000)
    lr: float = param(6e-3, "Peak learning rate (5% warmup, then cosine decay).",
                      low=1e-4, high=1.0, log=True, label="Learning rate")
    weight_decay: float = param(1e-2, "AdamW weight decay.", low=0.0, high=1.0)
    seed: int = param(0, "Seed for the data and the initial weights.", low=0,
                      high=2**31 - 1)
    RULES = (params.rule(("train_size", "n_repeated", "repeat_count"),
                         lambda c: c.n_repeated * c.repeat_count < c.train_size,
                         "'train_size' must be larger than n_repeated × repeat_count "
                         "(the copies are part of the training set)"),)


def run_repeated(config: RepeatConfig, report) -> dict:
    device = choose_device()
    copies = config.n_repeated * config.repeat_count
    report.set_total(2)
    gen = torch.Generator().manual_seed(config.seed)
    test = examples(TEST_EXAMPLES, config.n_features, config.sparsity, gen).to(device)
    pool = examples(config.train_size, config.n_features, config.sparsity,
                    torch.Generator().manual_seed(config.seed * 1000 + 11)).to(device)
    unique = config.train_size - copies
    # the same total T: the first n_repeated examples copied, then fresh ones
    repeated = torch.cat([pool[:config.n_repeated].repeat_interleave(config.repeat_count, 0),
                          pool[config.n_repeated:config.n_repeated + unique]])
    is_copy = np.r_[np.ones(copies, bool), np.zeros(unique, bool)]
    group = np.r_[np.repeat(np.arange(config.n_repeated), config.repeat_count),
                  -np.ones(unique, int)]
    results = {}
    for k, (name, x) in enumerate((("baseline", pool), ("repeated", repeated))):
        model = fit(x, config, config.seed + 1, report)
        results[name] = evaluate(model, x, test)
        report.log(k + 1, **{f"test_loss_{name}": results[name]["test_loss"]})
    rep = results["repeated"]
    d = rep["data_dims"]
    # copies of one example share its dimensionality: sum over the copies
    per_repeated = [float(d[group == g].sum()) for g in range(config.n_repeated)]
    per_unique = d[~is_copy]
    base_d = results["baseline"]["data_dims"]
    # one point per distinct example (the copies of one sit on the same point), repeated
    # ones first, with the dimensionality summed over its copies
    first_copies = np.arange(config.n_repeated) * config.repeat_count
    report.snapshot("repeat", {
        "hidden": rep["hidden"], "W": rep["W"], "is_copy": is_copy.astype(np.int64),
        "data_dims": d, "feature_dims": rep["feature_dims"],
        "example_hidden": np.r_[rep["hidden"][first_copies], rep["hidden"][~is_copy]],
        "example_dims": np.r_[per_repeated, per_unique],
        "example_repeated": np.r_[np.ones(config.n_repeated, np.int64),
                                  np.zeros(unique, np.int64)],
        "baseline_hidden": results["baseline"]["hidden"], "baseline_W": results["baseline"]["W"],
        "baseline_feature_dims": results["baseline"]["feature_dims"]})
    return {
        "test_loss": {"with_repetition": rep["test_loss"],
                      "without_repetition": results["baseline"]["test_loss"]},
        "train_loss": {"with_repetition": rep["train_loss"],
                       "without_repetition": results["baseline"]["train_loss"]},
        "repeated_dimensionality": per_repeated,
        "repeated_dimensionality_mean": float(np.mean(per_repeated)),
        "unique_dimensionality_mean": float(per_unique.mean()) if len(per_unique) else 0.0,
        "unique_dimensionality_max": float(per_unique.max()) if len(per_unique) else 0.0,
        "repeated_dimensionality_total": float(sum(per_repeated)),
        "baseline_same_examples_dimensionality": [float(v) for v in
                                                  base_d[:config.n_repeated]],
        "feature_top_dimensionality": {"with_repetition": rep["feature_top"],
                                       "without_repetition": results["baseline"]["feature_top"]},
        "n_hidden": config.n_hidden,
    }


# the work of a run, for core.cost: it grows as the run's compute does
def _repeated_data_work(c) -> float:
    return work.steps(
        c.steps,
        6
        * c.n_features
        * c.n_hidden
        * (c.train_size + c.n_repeated * c.repeat_count + TEST_EXAMPLES / 10),
    )


REPEATED_DATA_PRESETS = (
    Preset("5 examples × 100",
           "Half the training set is five examples: they take over the hidden plane.",
           {}),
    Preset("1 example × 300",
           "A single heavily repeated example.",
           {"n_repeated": 1, "repeat_count": 300}),
    Preset("20 examples × 10",
           "Many lightly repeated examples: do they still get memorized?",
           {"n_repeated": 20, "repeat_count": 10}),
)

REPEATED = Experiment(
    name="repeated_data",
    title="Repeated examples are memorized",
    Config=RepeatConfig,
    run=run_repeated,
    cost=Cost(7.08, _repeated_data_work),
    version=2,
    small={"n_features": 20, "train_size": 300, "n_repeated": 2, "repeat_count": 5, "steps": 20},
    diverge_hint="Lower the learning rate (lr).",
    presets=REPEATED_DATA_PRESETS,
)

EXPERIMENTS = [EXPERIMENT, REPEATED]
