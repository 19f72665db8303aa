"""Superposition: a ReLU model with fewer hidden units than features stores them all.

Two experiments on the toy model of Elhage et al. 2022 (`core.models.ToyModel`,
h = W x, out = ReLU(Wᵀh + b)):

- `superposition`: one instance per sparsity (and a few seeds each, keeping the lowest
  loss), trained on fresh sparse batches with an importance-weighted squared error. Dense
  features get an orthogonal basis for the most important few; sparse ones are packed in
  as antipodal pairs and then as a pentagon, more directions than dimensions.
- `autoencoder_memory`: the same model trained on a FIXED set of K sparse vectors stores
  and recovers more vectors than it has hidden units; their hidden points form a polygon.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core import data, geometry
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.models import ToyModel
from core.params import param
from core.receipts import Receipt

REPRESENTED = 0.5  # a feature whose weight column is longer than this is represented
EVAL_BATCH = 8192  # fresh examples per instance to pick the best seed on


@dataclass(frozen=True)
class Config:
    n_features: int = param(5, "Input features n (each is also an output).", low=2, high=40,
                            label="Features")
    n_hidden: int = param(2, "Hidden units m: fewer than the features forces a choice.",
                          low=1, high=20, label="Hidden units")
    importance_decay: float = param(0.9, "Feature i matters decay^i as much as feature 0 "
                                    "in the loss.", low=0.5, high=1.0)
    sparsities: tuple[float, ...] = param(
        [0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
        "Sparsity S of each model: a feature is zero with probability S (one model each).",
        low=0.0, high=0.999, max_items=16)
    seeds_per_sparsity: int = param(3, "Models trained per sparsity from different "
                                    "starts; the lowest loss is kept.", low=1, high=8)
    steps: int = param(800, "Gradient steps, each on a fresh batch.", low=10, high=20000)
    lr: float = param(1e-2, "AdamW learning rate.", low=1e-4, high=1.0, log=True,
                      label="Learning rate")
    batch_size: int = param(256, "Fresh examples per step and model.", low=8, high=4096)
    seed: int = param(0, "Seed for the initial weights and the batches.",
                      low=0, high=2**31 - 1)


def feature_geometry(w: np.ndarray) -> dict:
    """How one model's features sit in its hidden space; `w` is [n_hidden, n_features].

    norms ‖W_i‖; dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² (1 alone, 1/2 in an
    antipodal pair, 2/5 in a pentagon); `interference` Σ_{j≠i} (Ŵ_i·W_j)², how much of
    other features lies along feature i; for two hidden units the angles between
    neighbouring represented features, going round the circle.
    """
    w = np.asarray(w, dtype=np.float64)
    norms = np.linalg.norm(w, axis=0)
    unit = w / np.maximum(norms, geometry.EPS)
    overlap = geometry.overlaps(w)  # [i, j] = (Ŵ_i·W_j)²
    interference = overlap.sum(axis=1) - np.diag(overlap)
    represented = norms > REPRESENTED
    out = {"feature_norms": norms.tolist(), "n_represented": int(represented.sum()),
           "represented": represented.tolist(),
           "dimensionality": geometry.dimensionality(w).tolist(),
           "interference": interference.tolist(),
           "dims_per_feature": float(w.shape[0] / max((w ** 2).sum(), 1e-12))}
    cos = unit.T @ unit
    idx = np.flatnonzero(represented)
    out["antipodal_pairs"] = int(sum(cos[a, b] < -0.9 for k, a in enumerate(idx)
                                     for b in idx[k + 1:]))
    if w.shape[0] == 2:
        angles = np.sort(np.degrees(np.arctan2(w[1, idx], w[0, idx])))
        out["angles"] = np.diff(np.r_[angles, angles[:1] + 360.0]).tolist() \
            if len(idx) else []
    return out


def kept_geometry(w: np.ndarray, sparsities) -> dict:
    """The geometry of the kept model of each sparsity (`w` [models, m, n]) as arrays
    [models, n] / [models], with how many features are represented: at most, at the
    sparsest and at the densest sparsity."""
    geo = [feature_geometry(wk) for wk in np.asarray(w)]
    counts = [g["n_represented"] for g in geo]
    out = {key: np.array([g[key] for g in geo]) for key in
           ("feature_norms", "represented", "dimensionality", "interference",
            "dims_per_feature", "n_represented")}
    out["most_represented"] = max(counts)
    out["represented_sparsest"] = counts[int(np.argmax(sparsities))]
    out["represented_densest"] = counts[int(np.argmin(sparsities))]
    return out


def _losses(model: ToyModel, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Importance-weighted squared error of each instance, [instances]."""
    return (importance * (x - model(x)) ** 2).sum(-1).mean(0)


def run(config: Config, report) -> dict:
    device = choose_device()
    n_s, seeds = len(config.sparsities), config.seeds_per_sparsity
    instances = n_s * seeds  # ordered [sparsity, seed]
    init = torch.Generator().manual_seed(config.seed)
    model = ToyModel(instances, config.n_features, config.n_hidden, generator=init,
                     device=device)
    batches = torch.Generator(device=device).manual_seed(config.seed + 1)
    prob = torch.tensor([1.0 - s for s in config.sparsities for _ in range(seeds)],
                        device=device)
    importance = config.importance_decay ** torch.arange(config.n_features, device=device,
                                                          dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    report.set_total(config.steps)
    report.snapshot("setup", {"sparsities": np.array(config.sparsities),
                              "importance": importance, "seeds": seeds,
                              "instances": instances})
    log_every = max(1, config.steps // 100)
    draw_every = max(1, config.steps // 20)
    window = torch.zeros(instances, device=device)

    def snapshot(step: int, losses: torch.Tensor) -> None:
        best = losses.view(n_s, seeds).argmin(1) + torch.arange(n_s, device=device) * seeds
        w = model.W.detach()[best]
        report.snapshot("model", {"W": w, "b": model.b.detach()[best], "best": best,
                                  "step": step, "geometry": kept_geometry(
                                      w.cpu().numpy(), config.sparsities)})

    for step in range(1, config.steps + 1):
        x = data.sparse_features(config.batch_size, config.n_features, prob, batches)
        losses = _losses(model, x, importance)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # instances share no weights: each gets its own gradient
        optimizer.step()
        window += losses.detach()
        if step % log_every == 0 or step == config.steps:
            mean = (window / (log_every if step % log_every == 0 else
                              step % log_every)).cpu().numpy()
            report.log(step, **{f"loss_{k // seeds}_{k % seeds}": float(v)
                                for k, v in enumerate(mean)})
            window.zero_()
            if step % draw_every == 0 or step == config.steps:
                snapshot(step, torch.as_tensor(mean, device=device))

    with torch.no_grad():
        x = data.sparse_features(EVAL_BATCH, config.n_features, prob, batches)
        final = _losses(model, x, importance)
    snapshot(config.steps, final)
    best = (final.view(n_s, seeds).argmin(1) + torch.arange(n_s, device=device) * seeds).tolist()
    weights = model.W.detach().cpu().numpy()
    per_sparsity = []
    for k, s in enumerate(config.sparsities):
        geo = feature_geometry(weights[best[k]])
        per_sparsity.append({"sparsity": s, "loss": float(final[best[k]]),
                             "seed_losses": final[k * seeds:(k + 1) * seeds].tolist(), **geo})
    return {"per_sparsity": per_sparsity, "n_features": config.n_features,
            "n_hidden": config.n_hidden, "steps_done": config.steps}


PENTAGON_SPARSITY = 0.93  # from about here on, all five features fit (measured here)
PENTAGON_GAP = 72.0
PENTAGON_SLACK = 8.0  # degrees a gap may miss 72° by and still count as a pentagon


def receipt(config: Config, summary: dict) -> Receipt:
    """Five features in two dimensions at the sparsest setting of the run: it holds
    when all five are represented with every gap within 72 ± 8°; it cannot tell for
    another shape of model or when no sparsity of the run reaches 0.93."""
    n, m = summary["n_features"], summary["n_hidden"]
    sparsest = max(summary["per_sparsity"], key=lambda p: p["sparsity"])
    count, gaps = sparsest["n_represented"], sparsest.get("angles", [])
    live = f"{count} of {n} features represented at S = {sparsest['sparsity']:g}"
    if gaps:
        live += f", gaps {min(gaps):.0f}–{max(gaps):.0f}°"
    if (n, m) != (5, 2):
        holds = None
        live += f" (a {n}-feature, {m}-unit model: the pentagon claim is for 5 in 2)"
    elif sparsest["sparsity"] < PENTAGON_SPARSITY:
        holds = None
        live += f" (no sparsity of this run reaches {PENTAGON_SPARSITY:g})"
    else:
        holds = count == 5 and all(abs(g - PENTAGON_GAP) <= PENTAGON_SLACK for g in gaps)
    return Receipt(
        claim="At high sparsity five features share two dimensions as a pentagon",
        paper="5 of 5 features represented, 72° apart (S ≳ 0.9, n = 5, m = 2)",
        live=live,
        source="Elhage et al. 2022, Toy Models of Superposition",
        smaller=f"{config.steps:,} steps of batch {config.batch_size} at lr {config.lr:g} "
                f"(the paper: ~10,000 steps of batch 1,024 at lr 1e-3), "
                f"{config.seeds_per_sparsity} seed(s) per sparsity, lowest loss kept; "
                f"a feature counts as represented when ‖W_i‖ > {REPRESENTED:g}.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _superposition_work(c) -> float:
    return work.steps(
        c.steps,
        6
        * len(c.sparsities)
        * c.seeds_per_sparsity
        * c.batch_size
        * c.n_features
        * c.n_hidden,
    )


SUPERPOSITION_PRESETS = (
    Preset("Dense: two survive",
           "With no sparsity the model keeps the two most important features at right "
           "angles and drops the rest.",
           {"sparsities": [0.0, 0.1, 0.2]}),
    Preset("Antipodal pairs",
           "At medium sparsity four features share two dimensions as two pairs pointing in "
           "opposite directions.",
           {"sparsities": [0.5, 0.6, 0.7, 0.8]}),
    Preset("Pentagon",
           "Very sparse features all fit: five directions 72° apart in a plane.",
           {"sparsities": [0.9, 0.95, 0.99]}),
    Preset("Equal importance",
           "With every feature equally important, nothing is dropped first: watch which "
           "geometry wins.",
           {"importance_decay": 1.0, "sparsities": [0.0, 0.7, 0.9, 0.99]}),
    Preset("20 features, 5 units",
           "More features in more dimensions (drawn as a 2D projection): sparsity still "
           "lets most of them in.",
           {"n_features": 20, "n_hidden": 5, "sparsities": [0.0, 0.7, 0.9, 0.97],
            "steps": 2000}),
)

EXPERIMENT = Experiment(
    name="superposition",
    title="Superposition: more features than neurons",
    Config=Config,
    run=run,
    cost=Cost(1.89, _superposition_work),
    version=2,
    small={"sparsities": [0.9], "seeds_per_sparsity": 1, "steps": 10, "batch_size": 16},
    diverge_hint="Lower the learning rate (lr).",
    presets=SUPERPOSITION_PRESETS,
    receipt=receipt,
)


# --- memorizing a fixed set of vectors ------------------------------------------------

@dataclass(frozen=True)
class MemoryConfig:
    n_vectors: int = param(8, "Stored vectors K: the fixed training set.", low=1, high=64,
                           label="Vectors to store")
    n_features: int = param(40, "Length of each vector.", low=2, high=200, label="Features")
    n_hidden: int = param(2, "Hidden units m that must hold all K vectors.", low=1, high=20,
                          label="Hidden units")
    sparsity: float = param(0.9, "Share of each vector's entries that are zero.",
                            low=0.0, high=0.99)
    steps: int = param(2000, "Full-batch gradient steps.", low=10, high=20000)
    lr: float = param(1e-2, "AdamW learning rate.", low=1e-4, high=1.0, log=True,
                      label="Learning rate")
    restarts: int = param(4, "Models trained from different starts; the lowest loss is "
                          "kept.", low=1, high=16)
    seed: int = param(0, "Seed for the vectors and the initial weights.",
                      low=0, high=2**31 - 1)


RECOVERED = 0.9  # cosine similarity to the original that counts as recovered


def stored_vectors(config: MemoryConfig) -> torch.Tensor:
    """K sparse non-negative vectors of unit length (each with at least one entry)."""
    gen = torch.Generator().manual_seed(config.seed)
    u = torch.rand((2, config.n_vectors, config.n_features), generator=gen)
    x = torch.where(u[0] < 1.0 - config.sparsity, u[1], torch.zeros(()))
    empty = x.sum(1) == 0
    anywhere = torch.randint(0, config.n_features, (config.n_vectors,), generator=gen)
    x[empty, anywhere[empty]] = 1.0
    return x / x.norm(dim=1, keepdim=True)


def run_memory(config: MemoryConfig, report) -> dict:
    device = choose_device()
    x = stored_vectors(config).to(device)
    gen = torch.Generator().manual_seed(config.seed + 1)
    model = ToyModel(config.restarts, config.n_features, config.n_hidden, generator=gen,
                     device=device)
    xb = x[:, None, :].expand(config.n_vectors, config.restarts, config.n_features)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    report.set_total(config.steps)
    report.snapshot("vectors", x)
    log_every = max(1, config.steps // 100)
    draw_every = max(1, config.steps // 20)

    def measure(losses: torch.Tensor, step: int) -> dict:
        with torch.no_grad():
            best = int(losses.argmin())
            out = model(xb)[:, best]
            cos = torch.nn.functional.cosine_similarity(out, x, dim=1, eps=1e-12)
            recovered = cos >= RECOVERED
            state = {"hidden": model.hidden(xb)[:, best], "W": model.W[best], "b": model.b[best],
                     "output": out, "cosine": cos, "error": ((out - x) ** 2).sum(1),
                     "recovered": recovered, "n_recovered": int(recovered.sum()),
                     "recovered_per_unit": int(recovered.sum()) / config.n_hidden,
                     "nonzero": (x > 0).sum(1), "best": best, "step": step}
        report.snapshot("memory", state)
        return state

    for step in range(1, config.steps + 1):
        losses = ((model(xb) - xb) ** 2).sum(-1).mean(0)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimizer.step()
        if step % log_every == 0 or step == config.steps:
            report.log(step, **{f"loss_{k}": float(v) for k, v in enumerate(losses.tolist())})
            if step % draw_every == 0:
                report.log(step, recovered=float(measure(losses.detach(), step)["n_recovered"]))

    with torch.no_grad():
        final = ((model(xb) - xb) ** 2).sum(-1).mean(0)
    state = measure(final, config.steps)
    cos = state["cosine"].cpu().numpy()
    return {"recovered": state["n_recovered"], "n_vectors": config.n_vectors,
            "n_hidden": config.n_hidden, "cosine": cos.tolist(),
            "reconstruction_error": state["error"].cpu().numpy().tolist(),
            "loss": float(final[state["best"]]), "restart_losses": final.tolist(),
            "steps_done": config.steps}


# the work of a run, for core.cost: it grows as the run's compute does
def _autoencoder_memory_work(c) -> float:
    return work.steps(c.steps, 6 * c.restarts * c.n_vectors * c.n_features * c.n_hidden)


AUTOENCODER_MEMORY_PRESETS = (
    Preset("8 vectors, 2 units",
           "Eight sparse vectors in a 2D hidden space: an octagon of hidden points.",
           {}),
    Preset("Too many for 2 units",
           "Twenty vectors crowd the plane: neighbours interfere and some are lost.",
           {"n_vectors": 20}),
    Preset("One hidden unit",
           "Even a single unit holds more than one vector: the points sit at different "
           "places along one line.",
           {"n_hidden": 1, "n_vectors": 4}),
    Preset("16 vectors, 4 units",
           "More room: 16 vectors in 4 hidden units (projected to 2D).",
           {"n_vectors": 16, "n_hidden": 4, "n_features": 80}),
)

MEMORY = Experiment(
    name="autoencoder_memory",
    title="A ReLU autoencoder stores more vectors than neurons",
    Config=MemoryConfig,
    run=run_memory,
    cost=Cost(1.53, _autoencoder_memory_work),
    version=2,
    small={"n_vectors": 4, "n_features": 10, "steps": 10, "restarts": 1},
    diverge_hint="Lower the learning rate (lr).",
    presets=AUTOENCODER_MEMORY_PRESETS,
)

EXPERIMENTS = [EXPERIMENT, MEMORY]
