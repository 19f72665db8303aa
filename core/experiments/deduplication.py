"""Finding planted duplicates in a training set, and what removing them is worth.

Lee et al. (2022, *Deduplicating Training Data Makes Language Models Better*) removed
exact repeats (by hashing) and near repeats (by MinHash) from web text. The same two
steps on scikit-learn's 8×8 digits: copies of some training images are planted, some
exact, some noised or shifted by a pixel; exact ones are found by hashing the pixels,
near ones by cosine similarity with scikit-learn's NearestNeighbors (each image is also
looked up shifted one pixel each way, so a shifted copy still matches). Then an MLP
trains for the same number of steps on each version of the training set: clean (no
copies planted), with the copies, after the exact pass, after both passes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.instance_mlp import InstanceMLP
from core.params import param, rule
from core.receipts import Receipt

SIDE, PIXELS, CLASSES = 8, 64, 10
TEST_SIZE = 597  # a third of the 1,797 digits
CONDITIONS = ("clean", "with copies", "exact removed", "exact + near removed")
EVALS = 12
SHOWN_PAIRS = 8
SHIFTS = ((0, 1), (0, -1), (1, 1), (1, -1))  # (axis, pixels): one pixel each way


@dataclass(frozen=True)
class Config:
    exact_sources: int = param(30, "Training images that get exact copies planted.",
                               low=0, high=200)
    near_sources: int = param(30, "Training images that get near copies planted (half "
                              "noised, half shifted by one pixel and noised).",
                              low=0, high=200)
    copies: int = param(20, "Copies planted of each of those images.", low=1, high=50)
    noise: float = param(0.05, "Standard deviation of the noise added to a near copy "
                         "(pixels are in [0, 1]).", low=0.0, high=0.3)
    threshold: float = param(0.99, "Cosine similarity from which two images count as "
                             "near duplicates.", low=0.9, high=0.9999)
    match_shifts: bool = param(True, "Also compare each image shifted by one pixel "
                               "(finds shifted copies).")
    steps: int = param(600, "Adam steps of batch 64 on every version of the training set "
                       "(equal compute).", low=10, high=5000)
    width: int = param(64, "Hidden units of the MLP 64→width→10.", low=8, high=512)
    lr: float = param(1e-3, "Adam learning rate.", low=1e-4, high=0.1, log=True,
                      label="Learning rate")
    seeds: int = param(3, "Repetitions (new split, planting and initial weights each).",
                       low=1, high=8)
    seed: int = param(0, "Seed of the first repetition.", low=0, high=2**31 - 1)

    RULES = (
        rule(("exact_sources", "near_sources"),
             lambda c: c.exact_sources + c.near_sources <= 1000,
             "'exact_sources' + 'near_sources' must be at most 1,000 (the training set "
             "holds 1,200 images)"),
    )


BATCH = 64


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def shifted(images: np.ndarray, axis: int, pixels: int) -> np.ndarray:
    """Rows of 64 pixels moved by `pixels` along `axis` of the 8×8 image, blank filled in."""
    im = np.roll(images.reshape(-1, SIDE, SIDE), pixels, axis=axis + 1)
    edge = [slice(None)] * 3
    edge[axis + 1] = slice(0, pixels) if pixels > 0 else slice(pixels, None)
    im[tuple(edge)] = 0.0
    return im.reshape(-1, PIXELS)


@dataclass
class Planted:
    x: np.ndarray  # [n, 64] the training set with copies appended after the originals
    y: np.ndarray
    n_unique: int  # the first n_unique rows are the original training images
    source: np.ndarray  # [n] index of the original a row copies, -1 for an original
    kind: np.ndarray  # [n] "", "exact", "noised", "shifted"
    x_test: np.ndarray
    y_test: np.ndarray


def plant(config: Config, seed: int) -> Planted:
    from sklearn.model_selection import train_test_split

    x, y = _digits()
    rng = np.random.default_rng([seed, 10])
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_SIZE, random_state=seed % 2**31,
                                          stratify=y)
    n = len(xtr)
    chosen = rng.choice(n, config.exact_sources + config.near_sources, replace=False)
    exact, near = chosen[:config.exact_sources], chosen[config.exact_sources:]
    rows, ys, source, kind = [xtr], [ytr], [np.full(n, -1)], [np.full(n, "", dtype=object)]
    if len(exact):
        rows.append(np.repeat(xtr[exact], config.copies, 0))
        ys.append(np.repeat(ytr[exact], config.copies))
        source.append(np.repeat(exact, config.copies))
        kind.append(np.full(len(exact) * config.copies, "exact", dtype=object))
    if len(near):
        src = np.repeat(near, config.copies)
        base = xtr[src].copy()
        is_shift = np.arange(len(src)) % 2 == 1
        for i in np.flatnonzero(is_shift):
            axis, pixels = SHIFTS[rng.integers(len(SHIFTS))]
            base[i] = shifted(base[i:i + 1], axis, pixels)[0]
        noisy = np.clip(base + rng.normal(0.0, config.noise, base.shape), 0.0, 1.0)
        rows.append(noisy.astype(np.float32))
        ys.append(ytr[src])
        source.append(src)
        kind.append(np.where(is_shift, "shifted", "noised").astype(object))
    return Planted(np.concatenate(rows), np.concatenate(ys), n, np.concatenate(source),
                   np.concatenate(kind), xte, yte)


def exact_duplicates(x: np.ndarray) -> np.ndarray:
    """Rows whose bytes hash like an earlier row's: a mask of the ones to remove."""
    seen: set[str] = set()
    remove = np.zeros(len(x), bool)
    for i, row in enumerate(x):
        digest = hashlib.sha1(np.ascontiguousarray(row).tobytes()).hexdigest()
        remove[i] = digest in seen
        seen.add(digest)
    return remove


def near_pairs(x: np.ndarray, threshold: float, match_shifts: bool):
    """Pairs (i, j, cosine) with i < j whose cosine similarity reaches `threshold`, the
    query image also taken shifted one pixel each way when `match_shifts`."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(metric="cosine").fit(x)
    queries = [x] + ([shifted(x, a, p) for a, p in SHIFTS] if match_shifts else [])
    found: dict[tuple[int, int], float] = {}
    for q in queries:
        blank = ~q.any(1)  # an image shifted off the grid has no direction
        q = np.where(blank[:, None], x, q)
        dist, idx = index.radius_neighbors(q, radius=1.0 - threshold + 1e-9,
                                           sort_results=False)
        for i, (d, js) in enumerate(zip(dist, idx)):
            for dj, j in zip(d, js):
                if i != j:
                    key = (min(i, j), max(i, j))
                    found[key] = max(found.get(key, -1.0), 1.0 - float(dj))
    if not found:
        return np.zeros((0, 2), int), np.zeros(0)
    keys = np.array(sorted(found), int)
    return keys, np.array([found[tuple(k)] for k in keys])


def near_duplicates(x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Within each group of images linked by near pairs keep the first, remove the rest."""
    remove = np.zeros(len(x), bool)
    if len(pairs) == 0:
        return remove
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(x), len(x)))
    _, label = connected_components(graph, directed=False)
    first = {}
    for i, lab in enumerate(label):
        if lab in first:
            remove[i] = True
        else:
            first[lab] = i
    return remove


def detect(data: Planted, config: Config) -> dict:
    exact = exact_duplicates(data.x)
    keep = np.flatnonzero(~exact)
    pairs, cosines = near_pairs(data.x[keep], config.threshold, config.match_shifts)
    near_local = near_duplicates(data.x[keep], pairs)
    near = np.zeros(len(data.x), bool)
    near[keep[near_local]] = True
    planted = data.source >= 0
    removed = exact | near
    hit = removed & planted

    def rate(num, den):
        return float(num / den) if den else 1.0

    return {
        "exact": exact, "near": near, "pairs": keep[pairs] if len(pairs) else pairs,
        "cosines": cosines,
        "planted": int(planted.sum()),
        "planted_exact": int((data.kind == "exact").sum()),
        "planted_near": int(np.isin(data.kind, ("noised", "shifted")).sum()),
        "found_exact": int(exact.sum()), "found_near": int(near.sum()),
        "removed": int(removed.sum()),
        "recall": rate(hit.sum(), planted.sum()),
        "precision": rate(hit.sum(), removed.sum()),
        "recall_exact": rate((removed & (data.kind == "exact")).sum(),
                             (data.kind == "exact").sum()),
        "recall_noised": rate((removed & (data.kind == "noised")).sum(),
                              (data.kind == "noised").sum()),
        "recall_shifted": rate((removed & (data.kind == "shifted")).sum(),
                               (data.kind == "shifted").sum()),
        "recall_near": rate((near & np.isin(data.kind, ("noised", "shifted"))).sum(),
                            np.isin(data.kind, ("noised", "shifted")).sum()),
        "precision_near": rate((near & planted).sum(), near.sum()),
        "originals_removed": int((removed & ~planted).sum()),
    }


def sample_pairs(data: Planted, found: dict, seed: int) -> dict:
    """Image pairs to look at: found pairs of each kind (noised and shifted copies, and
    two originals linked to each other), picked at random, then planted copies missed."""
    pairs, cos = found["pairs"], found["cosines"]
    rng = np.random.default_rng([seed, 11])
    out = {"left": [], "right": [], "label": [], "cosine": []}
    if len(pairs):
        kind = np.array([data.kind[j] if data.source[j] >= 0 else "original"
                         for j in pairs[:, 1]])
        for what, count in (("noised", 3), ("shifted", 3), ("original", 2)):
            chosen = np.flatnonzero(kind == what)
            for p in rng.permutation(chosen)[:count]:
                i, j = pairs[p]
                out["left"].append(data.x[i])
                out["right"].append(data.x[j])
                out["label"].append(f"found, {what}")
                out["cosine"].append(float(cos[p]))
    missed = np.flatnonzero((data.source >= 0) & ~(found["exact"] | found["near"]))
    for j in rng.permutation(missed)[:SHOWN_PAIRS - len(out["label"]) + 2]:
        i = data.source[j]
        a, b = data.x[i], data.x[j]
        out["left"].append(a)
        out["right"].append(b)
        out["label"].append(f"missed, {data.kind[j]}")
        out["cosine"].append(float(a @ b / max(1e-12, np.linalg.norm(a) * np.linalg.norm(b))))
    return {"left": np.array(out["left"]).reshape(-1, PIXELS),
            "right": np.array(out["right"]).reshape(-1, PIXELS),
            "label": out["label"], "cosine": np.array(out["cosine"])}


def training_sets(data: Planted, found: dict) -> list[np.ndarray]:
    """Row indices of each condition's training set, in CONDITIONS order."""
    every = np.arange(len(data.x))
    return [every[:data.n_unique], every, every[~found["exact"]],
            every[~(found["exact"] | found["near"])]]


def run(config: Config, report) -> dict:
    device = choose_device()
    S, C = config.seeds, len(CONDITIONS)
    report.set_total(config.steps)
    datasets, detections, index_sets = [], [], []
    for s in range(S):
        data = plant(config, config.seed + s)
        found = detect(data, config)
        datasets.append(data)
        detections.append(found)
        index_sets.append(training_sets(data, found))
        if s == 0:
            report.snapshot("pairs", sample_pairs(data, found, config.seed))
    report.snapshot("detection", _detection_summary(detections))

    # instance c * S + s: condition c, seed s; each draws its batches from its own set
    longest = max(len(d.x) for d in datasets)
    x_all = torch.zeros(S, longest, PIXELS)
    y_all = torch.zeros(S, longest, dtype=torch.long)
    for s, d in enumerate(datasets):
        x_all[s, :len(d.x)] = torch.from_numpy(d.x)
        y_all[s, :len(d.x)] = torch.from_numpy(d.y)
    rows = torch.zeros(C * S, longest, dtype=torch.long)
    sizes = torch.zeros(C * S)
    for c in range(C):
        for s in range(S):
            idx = index_sets[s][c]
            rows[c * S + s, :len(idx)] = torch.from_numpy(idx)
            sizes[c * S + s] = len(idx)
    seed_of = torch.arange(C * S) % S
    x_all, y_all, rows, sizes, seed_of = (t.to(device) for t in (x_all, y_all, rows, sizes,
                                                                  seed_of))
    x_test = torch.stack([torch.from_numpy(d.x_test) for d in datasets]).to(device)
    y_test = torch.stack([torch.from_numpy(d.y_test) for d in datasets]).to(device)

    gen = torch.Generator().manual_seed(config.seed)
    init = InstanceMLP(S, [PIXELS, config.width, CLASSES], gen, device)
    model = InstanceMLP(C * S, init.sizes, torch.Generator(), device)
    params = [p.detach().repeat(C, 1, 1).requires_grad_() for p in init.parameters()]
    model.weights, model.biases = params[:2], params[2:]
    optimizer = torch.optim.Adam(params, lr=config.lr, fused=device.type == "cpu")
    every = max(1, config.steps // EVALS)
    for step in range(1, config.steps + 1):
        u = torch.rand(C * S, BATCH, generator=gen).to(device)
        pick = rows.gather(1, (u * sizes[:, None]).long().clamp_max(longest - 1))
        xb = x_all[seed_of[:, None], pick]
        yb = y_all[seed_of[:, None], pick]
        loss = _ce(model(xb), yb).mean(-1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == config.steps:
            test_loss, test_acc = _test(model, x_test, y_test, C, S)
            report.log(step, **{f"test_loss_{_slug(n)}": float(test_loss[c].mean())
                                for c, n in enumerate(CONDITIONS)})
        elif report.cancelled:
            break
    test_loss, test_acc = _test(model, x_test, y_test, C, S)
    memo = _memorization(model, datasets, C, S)
    return summarize(detections, test_loss, test_acc, memo, index_sets)


def _slug(name: str) -> str:
    return name.replace(" + ", "_").replace(" ", "_")


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1),
                                             reduction="none").reshape(y.shape)


@torch.no_grad()
def _test(model, x_test, y_test, C, S) -> tuple[np.ndarray, np.ndarray]:
    logits = model(x_test.repeat(C, 1, 1))
    y = y_test.repeat(C, 1)
    loss = _ce(logits, y).mean(-1).reshape(C, S).cpu().numpy().astype(float)
    acc = (logits.argmax(-1) == y).float().mean(-1).reshape(C, S).cpu().numpy().astype(float)
    return loss, acc


@torch.no_grad()
def _memorization(model, datasets, C, S) -> dict:
    """Training loss of the model trained with the copies, on the originals that were
    copied and on the ones that were not."""
    c = CONDITIONS.index("with copies")
    copied, other = [], []
    for s, d in enumerate(datasets):
        x = torch.from_numpy(d.x[:d.n_unique])[None].to(model.weights[0].device)
        logits = model(x.expand(C * S, -1, -1))[c * S + s]
        loss = _ce(logits, torch.from_numpy(d.y[:d.n_unique]).to(logits.device)).cpu().numpy()
        was = np.zeros(d.n_unique, bool)
        was[d.source[d.source >= 0]] = True
        if was.any():
            copied.append(float(loss[was].mean()))
        other.append(float(loss[~was].mean()))
    return {"copied": float(np.mean(copied)) if copied else None,
            "not_copied": float(np.mean(other))}


def _detection_summary(detections: list[dict]) -> dict:
    keys = ("planted", "planted_exact", "planted_near", "found_exact", "found_near",
            "removed", "recall", "precision", "recall_exact", "recall_noised",
            "recall_shifted", "recall_near", "precision_near", "originals_removed")
    return {k: float(np.mean([d[k] for d in detections])) for k in keys}


def summarize(detections, test_loss, test_acc, memo, index_sets) -> dict:
    det = _detection_summary(detections)
    mean = test_loss.mean(1)
    gain = test_loss[1] - test_loss[3]
    return {
        "detection": det,
        "recall_per_seed": [d["recall"] for d in detections],
        "precision_per_seed": [d["precision"] for d in detections],
        "conditions": list(CONDITIONS),
        "train_sizes": {n: float(np.mean([len(s[c]) for s in index_sets]))
                        for c, n in enumerate(CONDITIONS)},
        "test_loss": {n: float(mean[c]) for c, n in enumerate(CONDITIONS)},
        "test_loss_std": {n: float(test_loss[c].std()) for c, n in enumerate(CONDITIONS)},
        "test_accuracy": {n: float(test_acc[c].mean()) for c, n in enumerate(CONDITIONS)},
        "test_loss_per_seed": {n: test_loss[c].tolist() for c, n in enumerate(CONDITIONS)},
        "dedup_gain": float(gain.mean()),
        "seeds_dedup_better": int((gain > 0).sum()),
        "seeds": int(test_loss.shape[1]),
        "train_loss_copied": memo["copied"],
        "train_loss_not_copied": memo["not_copied"],
    }


FOUND = 0.9  # the search must find this share of the planted copies


def receipt(config: Config, summary: dict) -> Receipt:
    """Test loss with the copies against after removing them, at equal steps: it holds
    when the search finds at least 90 % of the planted copies and the deduplicated set
    trains a model with lower test loss in most seeds; it cannot tell with nothing
    planted."""
    loss, det, n = summary["test_loss"], summary["detection"], summary["seeds"]
    better = summary["seeds_dedup_better"]
    live = (f"test loss {loss['with copies']:.3f} with the copies, "
            f"{loss['exact + near removed']:.3f} after removing exact and near ones (lower "
            f"in {better} of {n} seed{'' if n == 1 else 's'}; {loss['clean']:.3f} with "
            f"nothing planted); the search found {det['recall']:.0%} of the copies, at "
            f"{det['precision']:.1%} precision")
    if summary["train_loss_copied"] is not None:
        live += (f"; trained with them, the copied images' loss is "
                 f"{summary['train_loss_copied']:.3f} against "
                 f"{summary['train_loss_not_copied']:.3f} for the rest")
    if det["planted"] == 0:
        holds = None
        live += "; no copies were planted"
    else:
        holds = det["recall"] >= FOUND and summary["dedup_gain"] > 0 and 2 * better > n
        if det["recall"] < FOUND:
            live += f"; the search missed {1 - det['recall']:.0%} of the copies"
        elif not holds:
            live += "; removing them did not clearly lower the test loss"
    return Receipt(
        claim="Finding and removing exact and near copies trains a better model at the "
              "same compute",
        paper="deduplicated training data made language models emit memorized training "
              "text about ten times less often, with as good or better accuracy in fewer "
              "steps",
        live=live,
        source="Lee et al. 2022, Deduplicating Training Data Makes Language Models Better",
        smaller=f"{det['planted']:,.0f} copies of {config.exact_sources + config.near_sources} "
                f"images planted among 1,200 of scikit-learn's 8×8 digits, an MLP 64 → {config.width} → 10 and {config.steps} Adam steps, "
                f"{n} seed{'' if n == 1 else 's'}; the paper found copies that occur "
                "naturally in web text, and measured memorization by generating text.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _deduplication_work(c) -> float:
    return (
        c.seeds
        * len(CONDITIONS)
        * work.steps(c.steps, 3 * BATCH * work.mlp([64, c.width, c.width, 10]))
        + ((c.exact_sources + c.near_sources) * c.copies + 1797) ** 2 * 64
    )


PRESETS = (
    Preset("Default",
           "600 exact and 600 near copies of 60 images (20 each).",
           {}),
    Preset("Noisier copies",
           "Noise 0.1: the near copies drift below a cosine of 0.99 and are missed.",
           {"noise": 0.1}),
    Preset("Lower threshold",
           "Noise 0.1 and threshold 0.97: the copies are found again, and hundreds of "
           "distinct digits that look alike are removed with them.",
           {"noise": 0.1, "threshold": 0.97}),
    Preset("No shifted lookup",
           "Compare images only as they are: a shifted copy matches only copies shifted "
           "the same way, never its original, so some survive.",
           {"match_shifts": False}),
    Preset("Exact copies only",
           "Only exact copies planted: hashing alone finds them all.",
           {"near_sources": 0, "exact_sources": 60}),
)

EXPERIMENT = Experiment(
    name="deduplication",
    title="Deduplication: exact and near copies found, and removed at equal compute",
    Config=Config,
    run=run,
    cost=Cost(2.06, _deduplication_work),
    diverge_hint="Lower the learning rate (lr).",
    small={"steps": 20, "seeds": 1, "width": 16, "exact_sources": 5, "near_sources": 5,
           "copies": 3},
    presets=PRESETS,
    receipt=receipt,
)
