"""Ensembles, knowledge distillation and self-distillation on multi-view data
(Allen-Zhu & Li 2020, "Towards Understanding Ensemble, Knowledge Distillation and
Self-Distillation in Deep Learning").

K patch networks (`core.multiview.PatchNet`, one instance-batched model) learn the
multi-view data from different seeds. Each wins the "view lottery" per class: it learns
whichever view its start favoured, then memorizes the few single-view training examples
that lack it, so it fails on single-view test examples of the other view. Different seeds
learn different views, so the ensemble (averaged logits) is right on both. Distilling the
ensemble into a fresh network (soft labels at temperature τ) hands it the signal for the
missing views; self-distillation distils one individual. A fresh network trained on hard
labels for as many steps as the students is the equal-budget control. Random features
(Gaussian random projection + gradient boosting, scikit-learn) and a Gaussian-mixture
dataset are the contrasts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core import multiview as mv, params
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

LEARNED = 0.5  # probe accuracy on a (class, view) above which a network knows the view
PROBES_PER_CELL = 40
KINDS = ("individual", "ensemble", "distilled", "self_distilled", "hard_label_control",
         "random_features", "random_features_ensemble")


@dataclass(frozen=True)
class Config:
    dataset: str = param("multi_view", "Multi-view data (two views per class) or a "
                         "Gaussian mixture (no views: ensembling should add little).",
                         choices=["multi_view", "gaussian_mixture"])
    n_classes: int = param(10, "Classes k (each has two views).", low=2, high=16,
                           label="Classes")
    patches: int = param(10, "Patches P per example (4 carry the class).", low=5, high=20)
    dim: int = param(32, "Numbers per patch d (at least 2 × classes).", low=8, high=64)
    n_train: int = param(300, "Training examples.", low=50, high=3000)
    single_view_fraction: float = param(0.02, "Share of training examples that show only "
                                        "one view.", low=0.0, high=0.5)
    feature_noise: float = param(0.15, "Amplitude γ of other classes' views in the "
                                 "remaining patches.", low=0.0, high=0.4)
    n_test: int = param(1000, "Test examples (half of them single-view).", low=100,
                        high=5000)
    n_models: int = param(8, "Individual networks K (one instance-batched model).",
                          low=2, high=16, label="Individual models")
    neurons: int = param(4, "Neurons m per class.", low=1, high=16)
    rho: float = param(1.0, "Smoothed ReLU threshold ϱ (about 1 gives the view lottery; "
                       "0.3 learns both views more often).", low=0.05, high=2.0)
    lr: float = param(40.0, "Full-batch gradient descent step size.", low=0.1, high=200.0,
                      log=True, label="Learning rate")
    steps: int = param(100, "Steps of each individual network (stopped once it fits the "
                       "training set).", low=10, high=2000)
    temperature: float = param(2.0, "Distillation temperature τ (both softmaxes; loss "
                               "× τ²).", low=0.5, high=10.0)
    student_steps: int = param(400, "Steps of the distilled, self-distilled and "
                               "equal-budget hard-label networks.", low=10, high=4000)
    random_features: bool = param(True, "Also fit the random-feature baseline (Gaussian "
                                  "random projection + gradient boosting).")
    rf_projections: int = param(5, "Random projections in the random-feature ensemble.",
                                low=2, high=10)
    seed: int = param(0, "Seed for the data, the starts and the projections.",
                      low=0, high=2**31 - 1)
    RULES = (params.rule(("dim", "n_classes", "dataset"),
                         lambda c: c.dataset != "multi_view" or c.dim >= 2 * c.n_classes,
                         "'dim' must be at least 2 × n_classes for multi-view data (each "
                         "class needs two orthonormal views)"),)


@dataclass
class Data:
    train: mv.MultiView
    test: mv.MultiView
    probes: mv.MultiView | None


def make_data(config: Config) -> Data:
    gen = torch.Generator().manual_seed(config.seed)
    if config.dataset == "gaussian_mixture":
        train = mv.make_gaussian_mixture(config.n_classes, config.n_train, config.patches,
                                         config.dim, GM_SEPARATION, GM_NOISE, gen)
        test = mv.make_gaussian_mixture(config.n_classes, config.n_test, config.patches,
                                        config.dim, GM_SEPARATION, GM_NOISE, gen,
                                        means=train.views)
        return Data(train, test, None)
    sets = mv.make_datasets(setup(config), gen)
    return Data(sets.train, sets.test, sets.probes)


def setup(config: Config) -> mv.Setup:
    """The shared multi-view setup with this page's choices."""
    return mv.Setup(n_classes=config.n_classes, patches=config.patches, dim=config.dim,
                    n_train=config.n_train, single_view_fraction=config.single_view_fraction,
                    n_test=config.n_test, feature_noise=config.feature_noise,
                    probes_per_cell=PROBES_PER_CELL, neurons=config.neurons)


GM_SEPARATION, GM_NOISE = 1.4, 0.1  # Gaussian mixture: class means and noise (~97% alone)


def _kind_accuracy(logits: torch.Tensor, data: mv.MultiView) -> dict:
    """logits [n, k] → the summary's accuracies for this dataset."""
    return mv.accuracy_by_kind(logits.argmax(-1), data)


def _curve_values(prefix: str, logits: torch.Tensor, data: mv.MultiView) -> dict:
    acc = _kind_accuracy(logits, data)
    out = {f"{prefix}_test_accuracy": acc["accuracy"]}
    if acc["single_view_accuracy"] is not None:
        out[f"{prefix}_single_view"] = acc["single_view_accuracy"]
        out[f"{prefix}_multi_view"] = acc["multi_view_accuracy"]
    return out


def train_individuals(config: Config, data: Data, report, device, step0: int = 0,
                      log_every: int = 5) -> mv.PatchNet:
    """K networks as one model, full-batch GD. An instance stops (its gradient is masked)
    once it classifies every training example: SCIENCE.md's measured setup stops the
    individuals once they fit, because at this size they slowly learn the missing views."""
    gen = torch.Generator().manual_seed(config.seed + 1)
    net = mv.PatchNet(config.n_models, config.n_classes, config.neurons, data.train.x.shape[2],
                      INIT_STD, gen, rho=config.rho, device=device)
    x, y = data.train.x.to(device), data.train.y.to(device)
    xt = data.test.x.to(device)
    active = torch.ones(config.n_models, device=device)
    for step in range(1, config.steps + 1):
        logits = net(x)
        losses = mv.ce_loss(logits, y)
        grad, = torch.autograd.grad((losses * active).sum(), net.W)
        with torch.no_grad():
            net.W -= config.lr * grad
            fit = (logits.argmax(-1) == y).all(-1)
            active = active * (~fit).float()
        if step % log_every == 0 or step == config.steps:
            with torch.no_grad():
                test = net(xt)
            values = {f"loss_{i}": float(v) for i, v in enumerate(losses.tolist())}
            values["individuals_training"] = float(active.sum())
            ind = [_kind_accuracy(test[i].cpu(), data.test) for i in range(config.n_models)]
            ens = _kind_accuracy(test.mean(0).cpu(), data.test)
            values.update(_phase_values("individual", ind, data.test))
            values.update(_phase_values("ensemble", [ens], data.test))
            report.log(step0 + step, **values)
    return net


def _phase_values(prefix: str, accs: list[dict], test: mv.MultiView) -> dict:
    if test.single.any():
        return {f"{prefix}_single_view": float(np.mean([a["single_view_accuracy"] for a in accs])),
                f"{prefix}_multi_view": float(np.mean([a["multi_view_accuracy"] for a in accs]))}
    return {f"{prefix}_accuracy": float(np.mean([a["accuracy"] for a in accs]))}


INIT_STD = mv.Setup.init_std


def train_students(config: Config, data: Data, teacher_logits: torch.Tensor,
                   self_teacher_logits: torch.Tensor, report, device, step0: int,
                   log_every: int = 10) -> torch.Tensor:
    """Three fresh networks as one model, each with its own loss: [0] distilled from the
    ensemble, [1] self-distilled from one individual, [2] hard labels (equal budget).
    Returns their test logits [3, n, k]."""
    gen = torch.Generator().manual_seed(config.seed + 2)
    net = mv.PatchNet(3, config.n_classes, config.neurons, data.train.x.shape[2], INIT_STD,
                      gen, rho=config.rho, device=device)
    x, y = data.train.x.to(device), data.train.y.to(device)
    xt = data.test.x.to(device)
    tau = config.temperature
    for step in range(1, config.student_steps + 1):
        logits = net(x)
        kd = mv.kd_loss(logits[:1], teacher_logits[None], tau)
        self_kd = mv.kd_loss(logits[1:2], self_teacher_logits[None], tau)
        hard = mv.ce_loss(logits[2:], y)
        losses = torch.cat([kd, self_kd, hard])
        grad, = torch.autograd.grad(losses.sum(), net.W)
        with torch.no_grad():
            net.W -= config.lr * grad
        if step % log_every == 0 or step == config.student_steps:
            with torch.no_grad():
                test = net(xt).cpu()
            values = {"loss_distilled": float(kd.detach()), "loss_self_distilled": float(self_kd.detach()),
                      "loss_hard_label_control": float(hard.detach())}
            for i, name in enumerate(("distilled", "self_distilled", "hard_label_control")):
                values.update(_phase_values(name, [_kind_accuracy(test[i], data.test)],
                                            data.test))
            report.log(step0 + step, **values)
    with torch.no_grad():
        return net(xt).cpu()


def random_features(config: Config, data: Data, report, step: int) -> tuple[dict, dict]:
    """Gaussian random projection of the flattened input + histogram gradient boosting,
    one projection alone and `rf_projections` averaged (probabilities). Boosting runs on
    one thread: with the default thread count a fit can take 100× longer on a busy CPU."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.random_projection import GaussianRandomProjection
    from threadpoolctl import threadpool_limits

    xtr = data.train.x.flatten(1).numpy()
    xte = data.test.x.flatten(1).numpy()
    probs = []
    with threadpool_limits(limits=1):
        for p in range(config.rf_projections):
            proj = GaussianRandomProjection(n_components=RF_COMPONENTS,
                                            random_state=config.seed + 100 + p)
            ztr = proj.fit_transform(xtr)
            clf = HistGradientBoostingClassifier(max_iter=RF_ITERATIONS, early_stopping=False,
                                                 random_state=config.seed + p)
            clf.fit(ztr, data.train.y.numpy())
            probs.append(clf.predict_proba(proj.transform(xte)))
            report.log(step + p + 1, random_features_fitted=float(p + 1))
    single = _kind_accuracy(torch.as_tensor(probs[0]), data.test)
    ensemble = _kind_accuracy(torch.as_tensor(np.mean(probs, 0)), data.test)
    return single, ensemble


RF_COMPONENTS, RF_ITERATIONS = 32, 30  # SCIENCE.md: single ~0.40, 5 averaged ~0.65-0.71


def run(config: Config, report) -> dict:
    device = choose_device()
    data = make_data(config)
    rf_steps = config.rf_projections if config.random_features else 0
    report.set_total(config.steps + config.student_steps + rf_steps)
    report.snapshot("setup", {"dataset": config.dataset, "n_models": config.n_models,
                              "n_classes": config.n_classes})
    net = train_individuals(config, data, report, device)
    with torch.no_grad():
        test = net(data.test.x.to(device)).cpu()
        train_logits = net(data.train.x.to(device))
    results: dict[str, dict] = {}
    per_model = [_kind_accuracy(test[i], data.test) for i in range(config.n_models)]
    results["individual"] = {key: (None if per_model[0][key] is None else
                                   float(np.mean([a[key] for a in per_model])))
                             for key in per_model[0]}
    results["ensemble"] = _kind_accuracy(test.mean(0), data.test)

    views = None
    if data.probes is not None:
        with torch.no_grad():
            probe = net(data.probes.x.to(device))
        views = mv.view_accuracy(probe, data.probes)  # [K, k, 2]
        report.snapshot("views", {"accuracy": views, "learned": LEARNED})

    students = train_students(config, data, train_logits.mean(0).detach(),
                              train_logits[0].detach(), report, device, config.steps)
    for i, name in enumerate(("distilled", "self_distilled", "hard_label_control")):
        results[name] = _kind_accuracy(students[i], data.test)

    if config.random_features:
        single, ensemble = random_features(config, data, report,
                                           config.steps + config.student_steps)
        results["random_features"] = single
        results["random_features_ensemble"] = ensemble

    if config.dataset == "gaussian_mixture":
        results = {k: {"accuracy": v["accuracy"]} for k, v in results.items()}
        per_model = [{"accuracy": a["accuracy"]} for a in per_model]
    report.snapshot("results", {k: v for k, v in results.items()})
    summary = {"dataset": config.dataset, "models": results, "individuals": per_model}
    measure = "accuracy" if config.dataset == "gaussian_mixture" else "single_view_accuracy"
    summary["ensemble_gain"] = results["ensemble"][measure] - results["individual"][measure]
    summary["ensemble_gain_measure"] = measure
    if views is not None:
        learned = views >= LEARNED  # [K, k, 2]
        only = [learned[:, :, 0] & ~learned[:, :, 1], learned[:, :, 1] & ~learned[:, :, 0]]
        summary["views_learned"] = [{"class": j, "view_1": learned[:, j, 0].tolist(),
                                     "view_2": learned[:, j, 1].tolist()}
                                    for j in range(config.n_classes)]
        summary["view_accuracy"] = views.tolist()
        summary["classes_split_between_models"] = int(
            (only[0].any(0) & only[1].any(0)).sum())
        summary["mean_views_learned_per_class"] = float(learned.sum(-1).mean())
    return summary


# the work of a run, for core.cost: it grows as the run's compute does
def _ensemble_distillation_work(c) -> float:
    return (
        work.steps(
            c.steps + 4 * c.student_steps,
            3 * c.n_models * c.n_train * c.patches * c.dim * c.neurons * c.n_classes,
        )
        + c.rf_projections * c.n_models * c.n_test * c.patches * c.dim
    )


ENSEMBLE_GAIN = 0.10  # single-view accuracy an ensemble must add to count as a gain
KD_KEEPS = 0.5  # share of that gain a distilled network must keep
KD_OVER_CONTROL = 0.05  # ... and its lead over the equal-budget hard-label network
SELF_KD_SMALL = 0.05  # a self-distillation gain below this is called small


def receipt(config: Config, summary: dict) -> Receipt:
    """The ensemble's gain over one network on single-view examples, and how much of it
    a distilled network keeps: it holds when the ensemble adds ≥ 10 points, the distilled
    network keeps at least half of that and beats the equal-budget hard-label network by
    5 points; on the Gaussian mixture (no views) the run cannot tell."""
    models = summary["models"]
    measure = summary["ensemble_gain_measure"]
    ind, ens = models["individual"][measure], models["ensemble"][measure]
    kd, hard = models["distilled"][measure], models["hard_label_control"][measure]
    self_kd = models["self_distilled"][measure]
    # the self-distilled network learns from individual 0: compare it with that one
    teacher = summary["individuals"][0][measure] if summary.get("individuals") else ind
    gain = ens - ind
    kept = (kd - ind) / gain if gain > 0 else 0.0
    what = "accuracy" if measure == "accuracy" else "single-view accuracy"
    live = (f"{what} {ind:.0%} for one network, {ens:.0%} for the ensemble of "
            f"{config.n_models} ({100 * gain:+.0f} points); distilled {kd:.0%} "
            f"(keeps {kept:.0%} of the gain) against {hard:.0%} for the equal-budget "
            f"hard-label network")
    if summary["dataset"] == "gaussian_mixture":
        holds = None
        live += "; a Gaussian mixture has no views, so the paper's mechanism does not apply"
    else:
        holds = gain >= ENSEMBLE_GAIN and kept >= KD_KEEPS and kd - hard >= KD_OVER_CONTROL
        if self_kd - teacher < SELF_KD_SMALL:
            points = round(100 * (self_kd - teacher))
            live += (f"; self-distillation adds only {points:+d} "
                     f"point{'' if abs(points) == 1 else 's'} over its teacher: the "
                     "paper's gain did not show here")
    return Receipt(
        claim="An ensemble beats one network, and distillation passes most of that on",
        paper="ensembles of independently trained ResNets beat a single one on CIFAR-10/100, "
              "knowledge distillation into one network keeps most of the gain, and "
              "self-distillation keeps part of it",
        live=live,
        source="Allen-Zhu & Li 2020, Towards Understanding Ensemble, Knowledge "
               "Distillation and Self-Distillation in Deep Learning",
        smaller=f"a synthetic multi-view task ({config.n_classes} classes, {config.n_train} "
                f"training examples, {config.single_view_fraction:.0%} single-view) and "
                f"{config.neurons} smoothed-ReLU neurons per class instead of ResNets on "
                f"images; ~{config.n_test // 2 // max(config.n_classes, 1)} single-view "
                f"test examples per class, so the numbers are noisy.",
        holds=holds)


PRESETS = (
    Preset("The view lottery",
           "Eight networks from different seeds: each learns one view per class, and the "
           "ensemble is right on single-view examples.",
           {}),
    Preset("No views: Gaussian mixture",
           "Classes are blobs with no second cue: the ensemble's gain almost vanishes.",
           {"dataset": "gaussian_mixture"}),
    Preset("Smaller threshold ϱ",
           "ϱ = 0.3: a smaller smoothed-ReLU threshold lets one network learn both views "
           "in many classes, so the ensemble has less to add.",
           {"rho": 0.3}),
    Preset("Hotter distillation",
           "τ = 4: flatter soft labels carry more about the other classes. Compare the "
           "distilled bar with the default τ = 2.",
           {"temperature": 4.0}),
    Preset("Fast, no boosting",
           "Four networks and no random-feature baseline: a run in a few seconds.",
           {"n_models": 4, "random_features": False}),
)

EXPERIMENT = Experiment(
    name="ensemble_distillation",
    title="Ensembles, distillation and self-distillation",
    Config=Config,
    run=run,
    cost=Cost(9.4, _ensemble_distillation_work),
    version=2,
    small={"n_classes": 3, "n_train": 60, "n_test": 100, "n_models": 2, "steps": 10, "student_steps": 10, "rf_projections": 2},
    diverge_hint="Lower the learning rate (lr); distillation breaks above about 40.",
    presets=PRESETS,
    receipt=receipt,
)
