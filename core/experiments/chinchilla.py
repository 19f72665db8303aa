"""Compute-optimal model size (Hoffmann et al. 2022, *Training Compute-Optimal Large
Language Models*, "Chinchilla").

Two experiments. `chinchilla_law` evaluates the paper's fitted loss
L(N, D) = E + A/N^α + B/D^β with C ≈ 6·N·D: for a budget C the loss along D = C/(6N)
is an isoFLOP curve with one minimum, at N_opt = G·(C/6)^a, D_opt = (C/6)^b / G with
a = β/(α+β), b = α/(α+β), G = (αA/(βB))^(1/(α+β)). Nothing is trained; every number is
computed from the five constants.

`isoflop` trains the idea live on a toy: a fixed random tanh teacher with noisy outputs,
ReLU students 8→w→w→1 (N parameters), each trained once on D = C/(6N) fresh samples
for a few budgets C and several widths. Per budget, a parabola in log N through the
best width and its neighbours gives the best size; a line through those in log-log
gives N_opt ∝ C^a, and from it a predicted best size for a larger budget, which the run
can then train to check.
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

# --- the fitted law -------------------------------------------------------------------

PAPER = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHINCHILLA_N, CHINCHILLA_D = 70e9, 1.4e12  # the model the paper trained
RULE_OF_THUMB = 20.0  # tokens per parameter
SPAN = 2.0  # each isoFLOP curve covers N_opt · 10^±SPAN


@dataclass(frozen=True)
class LawConfig:
    budgets: tuple[float, ...] = param(
        [1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25], "Compute budgets C in FLOPs, one "
        "isoFLOP curve each.", low=1e12, high=1e30, max_items=12, label="Budgets C (FLOPs)")
    E: float = param(PAPER["E"], "Irreducible loss E.", low=0.0, high=10.0)
    A: float = param(PAPER["A"], "Coefficient A of the model-size term A/N^α.", low=1.0,
                     high=1e5, log=True)
    B: float = param(PAPER["B"], "Coefficient B of the data term B/D^β.", low=1.0,
                     high=1e5, log=True)
    alpha: float = param(PAPER["alpha"], "Exponent α of the model-size term.", low=0.05,
                         high=1.0, label="α")
    beta: float = param(PAPER["beta"], "Exponent β of the data term.", low=0.05, high=1.0,
                        label="β")
    points: int = param(61, "Model sizes evaluated along each curve.", low=5, high=401)


def law_loss(n, d, c: LawConfig):
    return c.E + c.A / np.power(n, c.alpha) + c.B / np.power(d, c.beta)


def law_optimum(budget: float, c: LawConfig) -> tuple[float, float]:
    """(N_opt, D_opt) minimizing L on C = 6·N·D, in closed form."""
    a = c.beta / (c.alpha + c.beta)
    g = (c.alpha * c.A / (c.beta * c.B)) ** (1.0 / (c.alpha + c.beta))
    n = g * (budget / 6.0) ** a
    return n, budget / (6.0 * n)


def run_law(config: LawConfig, report) -> dict:
    budgets = sorted(set(config.budgets))
    report.set_total(len(budgets))
    a = config.beta / (config.alpha + config.beta)
    b = config.alpha / (config.alpha + config.beta)
    rows, curves = [], {"budget": [], "n": [], "d": [], "loss": []}
    for i, budget in enumerate(budgets):
        n_opt, d_opt = law_optimum(budget, config)
        n = n_opt * np.logspace(-SPAN, SPAN, config.points)
        d = budget / (6.0 * n)
        loss = law_loss(n, d, config)
        k = int(np.argmin(loss))
        n20 = math.sqrt(budget / (6.0 * RULE_OF_THUMB))
        l20 = float(law_loss(n20, RULE_OF_THUMB * n20, config))
        l_opt = float(law_loss(n_opt, d_opt, config))
        rows.append({"budget": budget, "n_opt": n_opt, "d_opt": d_opt,
                     "tokens_per_parameter": d_opt / n_opt, "loss_opt": l_opt,
                     "grid_min_interior": bool(0 < k < len(n) - 1),
                     "grid_min_n": float(n[k]), "n_20": n20, "loss_20": l20,
                     "loss_cost_of_20": l20 - l_opt})
        for key, v in (("n", n), ("d", d), ("loss", loss)):
            curves[key].extend(np.asarray(v, float).tolist())
        curves["budget"].extend([budget] * len(n))
        report.log(i + 1, tokens_per_parameter=d_opt / n_opt)
    report.snapshot("curves", {k: np.array(v) for k, v in curves.items()})
    c_chin = 6.0 * CHINCHILLA_N * CHINCHILLA_D
    n_c, d_c = law_optimum(c_chin, config)
    ratios = [r["tokens_per_parameter"] for r in rows]
    return {
        "exponent_a": a, "exponent_b": b,
        "ratio_exponent": b - a,
        "budgets": rows,
        "all_interior": all(r["grid_min_interior"] for r in rows),
        "tokens_per_parameter_range": [min(ratios), max(ratios)],
        "loss_cost_of_20_max": max(r["loss_cost_of_20"] for r in rows),
        "chinchilla_budget": c_chin,
        "chinchilla_loss": float(law_loss(CHINCHILLA_N, CHINCHILLA_D, config)),
        "law_n_at_chinchilla_budget": n_c, "law_d_at_chinchilla_budget": d_c,
        "law_tokens_per_parameter_at_chinchilla_budget": d_c / n_c,
        "law_loss_at_chinchilla_budget": float(law_loss(n_c, d_c, config)),
    }


CHINCHILLA_LAW_PRESETS = (
    Preset("The paper's constants",
           "E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28.",
           {}),
    Preset("Equal exponents",
           "α = β = 0.31: N and D grow at the same rate, the ratio stays put.",
           {"alpha": 0.31, "beta": 0.31}),
    Preset("β = 0.29",
           "One hundredth more on β roughly halves the tokens per parameter: what the fit "
           "implies hangs on the constants' last digits.",
           {"beta": 0.29}),
)

LAW = Experiment(
    name="chinchilla_law",
    title="The Chinchilla law: isoFLOP curves from the fitted constants",
    Config=LawConfig,
    run=run_law,
    cost=Cost(0.05, lambda c: len(c.budgets) * c.points),
    diverge_hint="Raise E or lower A and B.",
    small={"budgets": [1e20, 1e22], "points": 11},
    presets=CHINCHILLA_LAW_PRESETS,
)


# --- the live toy -----------------------------------------------------------------------

INPUTS, TEACHER_HIDDEN = 8, 32
TEACHER_SCALE = 2.0  # larger weights: a more curved function, so capacity pays
TEST_POINTS = 4096
MIN_BATCH = 32
LR_FLOOR = 0.1  # the cosine schedule ends at lr · LR_FLOOR
PAPER_A = 0.5  # the paper's isoFLOP and envelope approaches: N_opt ∝ C^0.49–0.50


def parameters(width: int) -> int:
    """Parameters of the student 8→w→w→1: (8w + w) + (w² + w) + (w + 1)."""
    return width * width + 11 * width + 1


def width_for(n: float) -> int:
    """The width whose student has about n parameters (at least 2)."""
    return max(2, int(round((-11 + math.sqrt(121 + 4 * max(n - 1, 0.0))) / 2)))


DEFAULT_BUDGETS = (1e8, 4e8, 1.6e9)
DEFAULT_WIDTHS = (8, 16, 32, 64, 128)


def _work(c) -> float:
    """Budget-FLOPs trained (every width, every budget, every seed), the check included."""
    check = 3 * c.check_budget if c.check else 0.0
    return c.seeds * (len(set(c.widths)) * sum(set(c.budgets)) + check)


MAX_WORK = 8 * 2 * len(DEFAULT_WIDTHS) * sum(DEFAULT_BUDGETS)
MAX_SAMPLES = 20_000_000  # fresh samples of one run, all seeds together


def _largest_run(c) -> float:
    return c.seeds * max(c.budgets) / (6.0 * parameters(min(c.widths)))


@dataclass(frozen=True)
class IsoConfig:
    budgets: tuple[float, ...] = param(list(DEFAULT_BUDGETS), "Compute budgets C = 6·N·D "
                                       "in FLOPs, one isoFLOP curve each.", low=1e5,
                                       high=2e10, max_items=6, label="Budgets C (FLOPs)")
    widths: tuple[int, ...] = param(list(DEFAULT_WIDTHS), "Student widths w (N = w² + "
                                    "11w + 1 parameters).", low=2, high=512, max_items=10)
    seeds: int = param(2, "Students per width and budget (new data and initial weights "
                       "each); their test losses are averaged.", low=1, high=8)
    lr: float = param(1e-2, "Adam's peak learning rate (cosine decay to a tenth over "
                      "each run).", low=1e-4, high=0.1, log=True, label="Learning rate")
    steps_max: int = param(500, "Most steps of one run: a run with more samples uses "
                           "larger batches.", low=20, high=2000, label="Most steps per run")
    noise: float = param(0.1, "Standard deviation of the noise on the teacher's outputs.",
                         low=0.0, high=1.0)
    check: bool = param(False, "Train the predicted best size (and sizes 4× smaller and "
                        "larger) at the check budget.", label="Check the prediction")
    check_budget: float = param(6.4e9, "The larger budget whose best size is predicted.",
                                low=1e5, high=5e10, log=True, label="Check budget C")
    seed: int = param(0, "Seed for the teacher, the data and the initial weights.", low=0,
                      high=2**31 - 1)

    RULES = (
        rule(("check_budget", "budgets"), lambda c: c.check_budget > max(c.budgets),
             "'check_budget' must be larger than every budget of the sweep (it checks a "
             "prediction beyond them)"),
        rule(("budgets", "widths", "seeds"), lambda c: _largest_run(c) <= MAX_SAMPLES,
             f"seeds × the largest budget / (6 × the smallest width's parameters) must "
             f"be at most {MAX_SAMPLES:,} fresh samples, so that one run's data fits in "
             "memory"),
        rule(("seeds", "budgets", "widths", "check_budget"),
             lambda c: _work(c) <= MAX_WORK,
             f"seeds × (widths × the budgets' sum + 3 × the check budget when checking) "
             f"must stay below {MAX_WORK:.3g} FLOPs (8× the default run)"),
    )


class ToyTeacher:
    """y = tanh(x W1) w2 + noise, a fixed random function per seed."""

    def __init__(self, seeds: int, gen: torch.Generator, device):
        self.w1 = (TEACHER_SCALE * torch.randn(seeds, INPUTS, TEACHER_HIDDEN, generator=gen)
                   / math.sqrt(INPUTS)).to(device)
        self.w2 = (TEACHER_SCALE * torch.randn(seeds, TEACHER_HIDDEN, 1, generator=gen)
                   / math.sqrt(TEACHER_HIDDEN)).to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w1) @ self.w2


def run_plan(budget: float, width: int, steps_max: int) -> tuple[int, int, int]:
    """(samples D, batch, steps) of one run: D = C/(6N) seen once."""
    d = max(1, int(round(budget / (6.0 * parameters(width)))))
    batch = max(min(MIN_BATCH, d), math.ceil(d / steps_max))
    return d, batch, math.ceil(d / batch)


def isoflop_work(c: "IsoConfig") -> float:
    """The grid's compute for `core.cost`: every run's steps, and its FLOPs (C = 6ND, so
    C/2 multiply-adds per seed), plus the check's three runs when asked for."""
    total = sum(work.steps(run_plan(b, w, c.steps_max)[2], c.seeds * b / 2 /
                           run_plan(b, w, c.steps_max)[2])
                for b in c.budgets for w in c.widths)
    if c.check:
        total += 3 * work.steps(c.steps_max, c.seeds * c.check_budget / 2 / c.steps_max)
    return total


def train_one(budget, width, config: IsoConfig, teacher, x_test, y_test, gen, device,
              report) -> np.ndarray:
    """Every seed's student at one (budget, width), trained on fresh samples once;
    returns the test MSE (against noisy targets, in expectation) per seed."""
    S = config.seeds
    d, batch, steps = run_plan(budget, width, config.steps_max)
    model = InstanceMLP(S, [INPUTS, width, width, 1], gen, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    seen = 0
    for t in range(steps):
        if report.cancelled:
            break
        for group in optimizer.param_groups:
            group["lr"] = config.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 *
                                       (1 + math.cos(math.pi * t / max(1, steps))))
        n = min(batch, d - seen)
        seen += n
        x = torch.randn(S, n, INPUTS, generator=gen).to(device)
        y = teacher(x) + config.noise * torch.randn(S, n, 1, generator=gen).to(device)
        loss = ((model(x) - y) ** 2).mean(dim=(1, 2)).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        excess = ((model(x_test) - y_test) ** 2).mean(dim=(1, 2))
    return excess.cpu().numpy().astype(float) + config.noise ** 2


def parabola_vertex(log_n: np.ndarray, loss: np.ndarray) -> tuple[float, bool]:
    """log N at the minimum: the vertex of the parabola through the best point and its
    two neighbours; (log N of the best point, False) when it lies at an end or the three
    points do not curve upwards."""
    k = int(np.argmin(loss))
    if k == 0 or k == len(loss) - 1:
        return float(log_n[k]), False
    x, y = log_n[k - 1:k + 2], loss[k - 1:k + 2]
    c2, c1, _ = np.polyfit(x, y, 2)
    if c2 <= 0:
        return float(log_n[k]), False
    return float(np.clip(-c1 / (2 * c2), x[0], x[-1])), True


def fit_exponent(budgets: list[float], n_opt: list[float]) -> tuple[float | None, float | None]:
    """(a, log-intercept) of the least-squares line log N_opt = a·log C + b."""
    if len(budgets) < 2:
        return None, None
    a, b = np.polyfit(np.log(budgets), np.log(n_opt), 1)
    return float(a), float(b)


def run_iso(config: IsoConfig, report) -> dict:
    device = choose_device()
    budgets = sorted(set(config.budgets))
    widths = sorted(set(config.widths))
    S = config.seeds
    report.set_total(len(budgets) * len(widths) + (3 if config.check else 0))
    gen = torch.Generator().manual_seed(config.seed)
    teacher = ToyTeacher(S, gen, device)
    x_test = torch.randn(S, TEST_POINTS, INPUTS, generator=gen).to(device)
    y_test = teacher(x_test)
    target_var = float(y_test.var())

    losses = np.zeros((len(budgets), len(widths), S))
    done = 0
    for i, budget in enumerate(budgets):
        for j, width in enumerate(widths):
            losses[i, j] = train_one(budget, width, config, teacher, x_test, y_test, gen,
                                     device, report)
            done += 1
            report.log(done, test_loss=float(losses[i, j].mean()))
            report.snapshot("grid", _grid(budgets, widths, losses, done))

    n_of = np.array([parameters(w) for w in widths], float)
    per_budget, optima, interior = [], [], []
    for i, budget in enumerate(budgets):
        mean = losses[i].mean(-1)
        log_n, ok = parabola_vertex(np.log(n_of), mean)
        k = int(np.argmin(mean))
        per_budget.append({"budget": budget, "loss": mean.tolist(),
                           "loss_std": losses[i].std(-1).tolist(),
                           "best_width": widths[k], "best_n": float(n_of[k]),
                           "n_opt": math.exp(log_n), "interior": ok,
                           "samples": [run_plan(budget, w, config.steps_max)[0]
                                       for w in widths]})
        optima.append(math.exp(log_n))
        interior.append(ok)
    fit_on = [i for i, ok in enumerate(interior) if ok]
    use = fit_on if len(fit_on) >= 2 else list(range(len(budgets)))
    a, b = fit_exponent([budgets[i] for i in use], [optima[i] for i in use])
    predicted = math.exp(b) * config.check_budget ** a if a is not None else None
    summary = {
        "budgets": budgets, "widths": widths, "parameters": n_of.tolist(),
        "seeds": S, "noise_floor": config.noise ** 2, "target_variance": target_var,
        "per_budget": per_budget, "n_opt": optima,
        "interior_budgets": int(sum(interior)),
        "fitted_on": [budgets[i] for i in use],
        "exponent_a": a, "paper_a": PAPER_A,
        "best_size_grows": bool(all(np.diff(optima) > 0)) if len(optima) > 1 else None,
        "check_budget": config.check_budget,
        "predicted_n": predicted,
        "predicted_width": width_for(predicted) if predicted is not None else None,
        "check": None,
    }
    if config.check and predicted is not None:
        summary["check"] = _check(config, predicted, teacher, x_test, y_test, gen, device,
                                  report, done)
    return summary


def _check(config, predicted, teacher, x_test, y_test, gen, device, report, done) -> dict:
    """Train the predicted width and widths about 4× fewer and more parameters (half
    and double the width) at the check budget."""
    smallest = width_for(config.seeds * config.check_budget / (6.0 * MAX_SAMPLES))
    w = max(width_for(predicted), smallest + 1)  # one run's data must fit in memory
    widths = sorted({max(smallest, w // 2), w, 2 * w})
    loss = []
    for width in widths:
        loss.append(train_one(config.check_budget, width, config, teacher, x_test, y_test,
                              gen, device, report))
        done += 1
        report.log(done, check_loss=float(loss[-1].mean()))
    mean = np.array([l.mean() for l in loss])
    n_of = np.array([parameters(x) for x in widths], float)
    log_n, ok = parabola_vertex(np.log(n_of), mean)
    best = int(np.argmin(mean))
    return {"widths": widths, "parameters": n_of.tolist(), "loss": mean.tolist(),
            "loss_std": [float(l.std()) for l in loss],
            "best_width": widths[best], "predicted_is_best": bool(widths[best] == w),
            "measured_n_opt": math.exp(log_n), "interior": ok,
            "measured_over_predicted": math.exp(log_n) / predicted}


def _grid(budgets, widths, losses, done) -> dict:
    """The isoFLOP points trained so far (NaN-free: only the ones done)."""
    rows = {"budget": [], "width": [], "n": [], "loss": [], "loss_std": []}
    k = 0
    for i, budget in enumerate(budgets):
        for j, width in enumerate(widths):
            if k < done:
                rows["budget"].append(budget)
                rows["width"].append(width)
                rows["n"].append(parameters(width))
                rows["loss"].append(float(losses[i, j].mean()))
                rows["loss_std"].append(float(losses[i, j].std()))
            k += 1
    return {key: np.array(v, float) for key, v in rows.items()}


def _flops(c: float) -> str:
    return f"{c:.2g}".replace("e+0", "e").replace("e+", "e")


def iso_receipt(config: IsoConfig, summary: dict) -> Receipt:
    """The toy's best size per budget: it holds when the best size grows with every
    budget and at least two budgets have their minimum inside the widths tried; it
    cannot tell with one budget. The fitted a is reported beside the paper's ≈ 0.5, not
    tested against it: the toy's exponent is its own."""
    a, n_opt = summary["exponent_a"], summary["n_opt"]
    live = ("best size " + " → ".join(f"{n:,.0f}" for n in n_opt) + " parameters over "
            + " → ".join(_flops(c) for c in summary["budgets"]) + " FLOPs"
            + (f", a = {a:.2f}" if a is not None else "")
            + f" ({summary['interior_budgets']} of {len(n_opt)} minima inside the widths)")
    if len(n_opt) < 2 or a is None:
        holds = None
        live += "; one budget: nothing to compare"
    else:
        holds = bool(summary["best_size_grows"]) and summary["interior_budgets"] >= 2
        if not summary["best_size_grows"]:
            live += "; the best size did not grow with every budget"
        elif summary["interior_budgets"] < 2:
            live += "; most minima are at an end of the widths: widen the range"
    return Receipt(
        claim="The compute-optimal model size grows with the compute budget, as a power "
              "of it",
        paper=f"N_opt ∝ C^a with a ≈ {PAPER_A:g} from the isoFLOP profiles and the "
              "envelope of training curves, i.e. about 20 tokens per parameter",
        live=live,
        source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models",
        smaller=f"ReLU MLPs 8 → w → w → 1 (w from {min(config.widths)} to "
                f"{max(config.widths)}) fitting a random tanh teacher, budgets "
                f"{_flops(min(config.budgets))}–{_flops(max(config.budgets))} FLOPs, "
                f"{config.seeds} seed{'' if config.seeds == 1 else 's'}, instead of "
                "language models up to 16B parameters; the toy's exponent is its own and "
                "is not held to the paper's.",
        holds=holds)


ISOFLOP_PRESETS = (
    Preset("Default sweep",
           "Three budgets, five widths, 2 seeds.",
           {}),
    Preset("Check the prediction",
           "Also train the predicted best width, and half and double it, at 6.4e9 FLOPs.",
           {"check": True}),
    Preset("One seed",
           "Faster, noisier: the fitted exponent moves.",
           {"seeds": 1}),
    Preset("Another teacher",
           "Seed 1: a new teacher, data and starts. The exponent moves: it belongs to this "
           "toy, not to a law of nature.",
           {"seed": 1}),
)

ISOFLOP = Experiment(
    name="isoflop",
    title="IsoFLOP sweep on a toy: the best model size for each compute budget",
    Config=IsoConfig,
    run=run_iso,
    cost=Cost(7.98, isoflop_work),
    diverge_hint="Lower the learning rate (lr).",
    small={"budgets": [1e5, 4e5], "widths": [2, 4, 8], "seeds": 1, "steps_max": 20,
           "check_budget": 1e6},
    presets=ISOFLOP_PRESETS,
    receipt=iso_receipt,
)

EXPERIMENTS = [LAW, ISOFLOP]
