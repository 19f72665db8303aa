"""Dropout as feature hiding (Srivastava et al. 2014).

The same network twice, as one instance-batched model: instance 0 without dropout,
instance 1 with it. Two datasets in one run:

- digits (scikit-learn's `load_digits`, 8×8 images): an MLP with one wide hidden layer,
  `input_dropout` on the pixels and `hidden_dropout` on the hidden units. Dropout narrows
  the train-test gap a little and lowers the test log-loss.
- the multi-view data of the ensembles page (`core.multiview`): the patch network, with
  `patch_dropout` hiding whole patches, so a view the network leans on is often missing
  and it has to learn the other view too. Single-view accuracy jumps.

Dropout is inverted (kept units scaled by 1/(1−p)) and off at evaluation: every accuracy
here is measured with it off, except the one reported as `test_accuracy_dropout_left_on`,
the classic bug. The sampled sub-networks (dropout left on, one mask each) disagree on
the test points; the summary gives how much, on right and wrong predictions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core import multiview as mv
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

LEARNED = 0.5
SUBNETWORKS = 20
WEAK_NARROWING = 0.01  # a digits gap that narrows by less than one point is a weak effect


@dataclass(frozen=True)
class Config:
    input_dropout: float = param(0.2, "Digits: probability of hiding each pixel while "
                                 "training.", low=0.0, high=0.9)
    hidden_dropout: float = param(0.5, "Digits: probability of hiding each hidden unit "
                                  "while training.", low=0.0, high=0.9)
    patch_dropout: float = param(0.5, "Multi-view: probability of hiding each whole patch "
                                 "(and so a view) while training.", low=0.0, high=0.9)
    n_train: int = param(300, "Digits: training images (the rest of the 1,797 test).",
                         low=50, high=1500)
    width: int = param(512, "Digits: hidden units of the MLP.", low=8, high=2048)
    lr: float = param(3e-3, "Digits: Adam learning rate.", low=1e-4, high=0.1, log=True,
                      label="Learning rate")
    steps: int = param(300, "Digits: full-batch Adam steps.", low=10, high=5000)
    mv_steps: int = param(200, "Multi-view: full-batch gradient steps of the patch "
                          "network (lr 40; each stops once it fits its training batch, "
                          "patches hidden as in training).",
                          low=10, high=2000, label="Multi-view steps")
    mv_classes: int = param(10, "Multi-view: classes (two views each).", low=2, high=16,
                            label="Multi-view classes")
    seed: int = param(0, "Seed for the split, the data, the starts and the masks.",
                      low=0, high=2**31 - 1)


# --- digits: a one-hidden-layer MLP, two instances ------------------------------------

def digits_split(config: Config):
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(y))
    tr, te = order[:config.n_train], order[config.n_train:]
    x = torch.as_tensor(x / 16.0, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.long)
    return x[tr], y[tr], x[te], y[te]


class MLP2:
    """Two MLPs 64 → width → 10 as one model: W1 [2, 64, width], W2 [2, width, 10]."""

    def __init__(self, n_in: int, width: int, n_out: int, gen: torch.Generator, device):
        def init(*shape):
            bound = 1.0 / shape[-2] ** 0.5
            return ((torch.rand(*shape, generator=gen) * 2 - 1) * bound).to(device) \
                .requires_grad_(True)
        self.W1, self.b1 = init(2, n_in, width), init(2, 1, width)
        self.W2, self.b2 = init(2, width, n_out), init(2, 1, n_out)

    def parameters(self):
        return [self.W1, self.b1, self.W2, self.b2]

    def forward(self, x: torch.Tensor, drop_in: torch.Tensor | None = None,
                drop_hidden: torch.Tensor | None = None,
                gen: torch.Generator | None = None) -> torch.Tensor:
        """x [n, 64] → logits [2, n, 10]. Dropout only when rates [2] are given
        (training, or the sampled sub-networks); evaluation passes none."""
        xs = x[None].expand(2, -1, -1)
        if drop_in is not None:
            xs = xs * _masks(xs.shape, drop_in, gen)
        h = torch.relu(torch.einsum("inf,ifh->inh", xs, self.W1) + self.b1)
        if drop_hidden is not None:
            h = h * _masks(h.shape, drop_hidden, gen)
        return torch.einsum("inh,iho->ino", h, self.W2) + self.b2

    __call__ = forward


def _masks(shape, rates: torch.Tensor, gen) -> torch.Tensor:
    """Per-instance inverted dropout masks: instance i drops with probability rates[i]."""
    p = rates.view(-1, *([1] * (len(shape) - 1)))
    keep = torch.rand(shape, generator=gen, device=rates.device) >= p
    return keep.float() / (1.0 - p)


def _acc(logits: torch.Tensor, y: torch.Tensor) -> list[float]:
    return (logits.argmax(-1) == y[None]).float().mean(-1).tolist()


def train_digits(config: Config, report, device) -> dict:
    xtr, ytr, xte, yte = (t.to(device) for t in digits_split(config))
    report.snapshot("digits_setup", {"n_train": len(xtr), "n_test": len(xte)})
    gen = torch.Generator().manual_seed(config.seed + 1)
    net = MLP2(xtr.shape[1], config.width, 10, gen, device)
    masks = torch.Generator(device=device).manual_seed(config.seed + 2)
    rate_in = torch.tensor([0.0, config.input_dropout], device=device)
    rate_hidden = torch.tensor([0.0, config.hidden_dropout], device=device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    log_every = max(1, config.steps // 60)
    for step in range(1, config.steps + 1):
        logits = net(xtr, rate_in, rate_hidden, masks)
        loss = mv.ce_loss(logits, ytr)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if step % log_every == 0 or step == config.steps:
            with torch.no_grad():
                tr, te = net(xtr), net(xte)  # dropout off
            a_tr, a_te = _acc(tr, ytr), _acc(te, yte)
            report.log(step, **{f"digits_{part}_{name}": v
                                for name, i in (("without", 0), ("with", 1))
                                for part, v in (("train", a_tr[i]), ("test", a_te[i]),
                                                ("gap", a_tr[i] - a_te[i]))})
    with torch.no_grad():
        tr, te = net(xtr), net(xte)
        again = net(xte)
        left_on = net(xte, rate_in, rate_hidden, masks)
        subs = torch.stack([net(xte, rate_in, rate_hidden, masks)[1].argmax(-1)
                            for _ in range(SUBNETWORKS)])  # [S, n]
    a_tr, a_te = _acc(tr, ytr), _acc(te, yte)
    logloss = mv.ce_loss(te, yte).tolist()
    out = {}
    for name, i in (("without_dropout", 0), ("with_dropout", 1)):
        out[name] = {"train_accuracy": a_tr[i], "test_accuracy": a_te[i],
                     "gap": a_tr[i] - a_te[i], "test_log_loss": logloss[i]}
    out["with_dropout"]["test_accuracy_dropout_left_on"] = _acc(left_on, yte)[1]
    out["eval_deterministic"] = bool(torch.equal(te, again))
    right = te[1].argmax(-1) == yte
    out["subnetworks"] = _disagreement(subs, right)
    report.snapshot("digits_disagreement", {"disagreement": out["subnetworks"]["per_point"],
                                            "correct": right.cpu().numpy()})
    del out["subnetworks"]["per_point"]
    return out


def _disagreement(subs: torch.Tensor, right: torch.Tensor) -> dict:
    """subs [S, n] predictions of S sampled sub-networks: the share of them that disagree
    with their majority, per test point, and averaged on right and wrong points."""
    votes = F.one_hot(subs, int(subs.max()) + 1).sum(0)  # [n, classes]
    dis = 1.0 - votes.max(-1).values.float() / subs.shape[0]
    return {"per_point": dis.cpu().numpy(), "mean": float(dis.mean()),
            "on_correct": float(dis[right].mean()) if bool(right.any()) else None,
            "on_wrong": float(dis[~right].mean()) if bool((~right).any()) else None}


# --- multi-view: the patch network, with and without patch dropout ---------------------

def train_multiview(config: Config, report, device, step0: int) -> dict:
    gen = torch.Generator().manual_seed(config.seed + 10)
    # the ensembles page's multi-view setup; more classes need more room for the views
    setup = mv.Setup(n_classes=config.mv_classes, dim=max(mv.Setup.dim, 2 * config.mv_classes))
    k, patches = setup.n_classes, setup.patches
    sets = mv.make_datasets(setup, gen)
    views, train, test, probes = sets.views, sets.train, sets.test, sets.probes
    net = mv.PatchNet(2, k, setup.neurons, setup.dim, setup.init_std,
                      torch.Generator().manual_seed(config.seed + 11), device=device)
    masks = torch.Generator(device=device).manual_seed(config.seed + 12)
    x, y, xt = train.x.to(device), train.y.to(device), test.x.to(device)
    rates = torch.tensor([0.0, config.patch_dropout], device=device)
    active = torch.ones(2, device=device)
    log_every = max(1, config.mv_steps // 40)
    for step in range(1, config.mv_steps + 1):
        xs = x[None].expand(2, -1, -1, -1)
        xs = xs * _masks((2, x.shape[0], patches, 1), rates, masks)
        logits = net(xs)
        loss = mv.ce_loss(logits, y)
        grad, = torch.autograd.grad((loss * active).sum(), net.W)
        with torch.no_grad():
            net.W -= setup.lr * grad
            # stop once the training objective is fit: with its patches hidden, for the
            # dropout network (which then keeps learning the views it lacks)
            fit = (logits.argmax(-1) == y).all(-1)
            active = active * (~fit).float()
        if step % log_every == 0 or step == config.mv_steps:
            with torch.no_grad():
                te = net(xt).cpu()
                tr = net(x).cpu()
            values = {}
            for name, i in (("without", 0), ("with", 1)):
                acc = mv.accuracy_by_kind(te[i].argmax(-1), test)
                values[f"mv_train_{name}"] = float((tr[i].argmax(-1) == train.y).float().mean())
                values[f"mv_single_view_{name}"] = acc["single_view_accuracy"]
                values[f"mv_multi_view_{name}"] = acc["multi_view_accuracy"]
            report.log(step0 + step, **values)
    with torch.no_grad():
        te = net(xt).cpu()
        tr = net(x).cpu()
        probe = net(probes.x.to(device))
        multi = ~test.single
        xm, ym = test.x[multi], test.y[multi]
        base = (net(xm.to(device)).argmax(-1).cpu() == ym[None]).float()  # [2, n]
        drops = np.zeros((2, k, 2))
        for v in range(2):
            ablated = net(mv.ablate_view(xm, ym, views, v).to(device)).argmax(-1).cpu()
            lost = base - (ablated == ym[None]).float()
            for j in range(k):
                drops[:, j, v] = lost[:, ym == j].mean(-1).numpy()
    views_acc = mv.view_accuracy(probe, probes)  # [2, k, 2]
    learned = views_acc >= LEARNED
    report.snapshot("reliance", {"drop": drops, "view_accuracy": views_acc})
    out = {}
    for name, i in (("without_dropout", 0), ("with_dropout", 1)):
        acc = mv.accuracy_by_kind(te[i].argmax(-1), test)
        train_acc = float((tr[i].argmax(-1) == train.y).float().mean())
        weaker = np.minimum(drops[i, :, 0], drops[i, :, 1])
        stronger = np.maximum(drops[i, :, 0], drops[i, :, 1])
        out[name] = {"train_accuracy": train_acc, "test_accuracy": acc["accuracy"],
                     "gap": train_acc - acc["accuracy"],
                     "single_view_accuracy": acc["single_view_accuracy"],
                     "multi_view_accuracy": acc["multi_view_accuracy"],
                     "views_learned_per_class": float(learned[i].sum(-1).mean()),
                     "classes_with_both_views": int(learned[i].all(-1).sum()),
                     "reliance_drop": drops[i].tolist(),
                     "mean_drop_when_a_view_is_hidden": float(drops[i].mean()),
                     "largest_drop_when_a_view_is_hidden": float(stronger.mean()),
                     "smallest_drop_when_a_view_is_hidden": float(weaker.mean())}
    return out


def run(config: Config, report) -> dict:
    device = choose_device()
    report.set_total(config.steps + config.mv_steps)
    digits = train_digits(config, report, device)
    multi = train_multiview(config, report, device, config.steps)
    return {"digits": digits, "multi_view": multi,
            "eval_deterministic": digits["eval_deterministic"]}


def receipt(config: Config, summary: dict) -> Receipt:
    """The digits gap without and with dropout: it holds when dropout narrows the
    train-test gap and lowers the test log-loss; it says the effect is weak when the gap
    narrows by less than a point, and points to the multi-view section, where hiding
    patches changes single-view accuracy a lot. It cannot tell with digits dropout off."""
    off, on = summary["digits"]["without_dropout"], summary["digits"]["with_dropout"]
    narrowing = off["gap"] - on["gap"]
    live = (f"on digits the gap is {off['gap']:.1%} without dropout and {on['gap']:.1%} "
            f"with it ({100 * abs(narrowing):.1f} points "
            f"{'narrower' if narrowing >= 0 else 'wider'}), test log-loss "
            f"{off['test_log_loss']:.3f} → {on['test_log_loss']:.3f}")
    if config.input_dropout == 0 and config.hidden_dropout == 0:
        holds = None
        live += "; digits dropout is off, so both networks train alike"
    else:
        holds = narrowing > 0 and on["test_log_loss"] < off["test_log_loss"]
        if holds and narrowing < WEAK_NARROWING:
            live += ": the right direction, but a weak effect on digits"
    mv_off, mv_on = summary["multi_view"]["without_dropout"], summary["multi_view"]["with_dropout"]
    if config.patch_dropout > 0:
        live += (f". The striking version is in the multi-view section below: hiding "
                 f"whole patches takes single-view accuracy from "
                 f"{mv_off['single_view_accuracy']:.0%} to "
                 f"{mv_on['single_view_accuracy']:.0%}")
    return Receipt(
        claim="Dropout narrows the gap between training and test accuracy",
        paper="dropout lowered test error in every domain tried (digits, objects in "
              "photos, speech, text), with the gains largest where networks overfit",
        live=live,
        source="Srivastava et al. 2014, Dropout: A Simple Way to Prevent Neural Networks "
               "from Overfitting",
        smaller=f"{config.n_train} training images of scikit-learn's 8×8 digits, one "
                f"hidden layer of {config.width} units and {config.steps} full-batch Adam "
                f"steps, one seed, instead of MNIST and larger benchmarks; with so few "
                f"test errors to remove, the gap moves by tenths of a point.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _dropout_work(c) -> float:
    return work.steps(
        c.steps, 3 * c.n_train * work.mlp([64, c.width, c.width, 10])
    ) + work.steps(c.mv_steps, 3e3 * c.mv_classes * c.width)


PRESETS = (
    Preset("Default: both datasets",
           "Pixels 0.2, hidden units 0.5, patches 0.5.",
           {}),
    Preset("Light patch dropout",
           "Hiding a patch only 20% of the time helps less.",
           {"patch_dropout": 0.2}),
    Preset("No dropout at all",
           "All rates 0: the two networks of each pair are the same model trained twice, "
           "so the gaps match.",
           {"input_dropout": 0.0, "hidden_dropout": 0.0, "patch_dropout": 0.0}),
    Preset("Heavy dropout",
           "Hide 80% of the hidden units: training slows down and the sub-networks "
           "disagree more.",
           {"hidden_dropout": 0.8}),
    Preset("More digits",
           "1,000 training images: less overfitting left for dropout to remove.",
           {"n_train": 1000}),
)

EXPERIMENT = Experiment(
    name="dropout",
    title="Dropout as feature hiding",
    Config=Config,
    run=run,
    cost=Cost(5.98, _dropout_work),
    version=2,
    small={"n_train": 60, "width": 16, "steps": 10, "mv_steps": 10, "mv_classes": 3},
    diverge_hint="Lower the learning rate (lr).",
    presets=PRESETS,
    receipt=receipt,
)
