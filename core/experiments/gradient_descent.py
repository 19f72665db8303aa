"""Gradient descent & backpropagation: an MLP learns a 2D dataset.

Streams train/test loss and accuracy, the decision boundary over the input plane, the
last hidden layer's activations projected to 2D, and each layer's gradient norm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import backprop, data
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.models import ACTIVATIONS, MLP
from core.params import param
from core.receipts import Receipt

GRID = 50  # decision-boundary resolution (GRID x GRID points)
BLOW_UP = 100.0  # a training loss this many times its first value counts as diverged
EXACT = 1e-6  # the chain rule agrees with autograd and finite differences to this
OPTIMIZER_NAMES = {"sgd": "plain SGD", "momentum": "SGD with momentum", "adam": "Adam"}


@dataclass(frozen=True)
class Config:
    dataset: str = param("moons", "Which 2D point cloud to classify.", choices=data.DATASETS)
    noise: float = param(0.1, "How much the points scatter around their shape.", low=0.0, high=1.0)
    n_samples: int = param(400, "Points in total, before the train/test split.",
                           low=20, high=5000, label="Samples")
    test_fraction: float = param(0.3, "Share of the points held out for testing.",
                                 low=0.1, high=0.9)
    hidden_layers: int = param(2, "Hidden layers (0 = a linear model).", low=0, high=4)
    width: int = param(16, "Neurons in each hidden layer.", low=2, high=64)
    activation: str = param("relu", "The nonlinearity after each hidden layer.",
                            choices=tuple(ACTIVATIONS))
    loss: str = param("cross_entropy", "Cross-entropy on the logit, or squared error on the "
                      "sigmoid output.", choices=("cross_entropy", "mse"))
    optimizer: str = param("adam", "Plain SGD, SGD with momentum 0.9, or Adam.",
                           choices=("sgd", "momentum", "adam"))
    lr: float = param(0.01, "Learning rate: the size of each step against the gradient.",
                      low=1e-4, high=10.0, log=True, label="Learning rate")
    batch_size: int = param(0, "Examples per step (0 = the whole training set).",
                            low=0, high=5000)
    weight_decay: float = param(0.0, "L2 penalty pulling weights towards zero.",
                                low=0.0, high=0.1)
    steps: int = param(1000, "Gradient steps to take.", low=1, high=20000)
    seed: int = param(0, "Seed for the data, the initial weights and the batches.",
                      low=0, high=2**31 - 1)


def make_optimizer(config: Config, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    momentum = 0.9 if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(parameters, lr=config.lr, momentum=momentum,
                           weight_decay=config.weight_decay)


def loss_fn(config: Config, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if config.loss == "mse":
        return ((torch.sigmoid(logits) - y) ** 2).mean()
    return nn.functional.binary_cross_entropy_with_logits(logits, y)


def setup(config: Config, device: torch.device):
    """Data, model and optimizer: shared by `run` and the engine-overhead benchmark."""
    split = data.split_2d(config.dataset, config.n_samples, config.noise,
                          config.test_fraction, config.seed)
    torch.manual_seed(config.seed)
    model = MLP(2, 1, config.hidden_layers, config.width, config.activation).to(device)
    tensors = [torch.as_tensor(a, device=device) for a in
               (split.x_train, split.y_train.astype(np.float32),
                split.x_test, split.y_test.astype(np.float32))]
    return split, model, make_optimizer(config, model.parameters()), tensors


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return ((logits > 0).float() == y).float().mean().item()


def _embedding(model: MLP, x_all: torch.Tensor, previous: np.ndarray | None) -> dict | None:
    if not model.linear_layers()[:-1]:
        return None
    with torch.no_grad():
        hidden = model.hidden(x_all).cpu().numpy().astype(np.float64)
    centered = hidden - hidden.mean(axis=0)
    if (centered ** 2).sum() < 1e-10:  # every unit dead or constant: nothing to project
        xy, explained = np.zeros((len(hidden), 2)), np.zeros(2)
    else:
        # PCA by SVD (what sklearn's PCA does, at a fraction of its per-call overhead)
        _, sv, vt = np.linalg.svd(centered, full_matrices=False)
        xy = centered @ vt[:2].T
        if xy.shape[1] < 2:
            xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
        explained = np.resize(sv[:2] ** 2 / (sv ** 2).sum(), 2)
        if previous is not None:  # keep the axes' signs from frame to frame
            xy *= np.where((xy * previous).sum(axis=0) < 0, -1.0, 1.0)
    return {"xy": xy.astype(np.float32), "explained": np.resize(explained, 2)}


def run(config: Config, report) -> dict:
    device = choose_device()
    split, model, optimizer, (xtr, ytr, xte, yte) = setup(config, device)
    report.set_total(config.steps)
    x_all = torch.cat([xtr, xte])
    n_train = len(xtr)
    report.snapshot("data", {"x": x_all, "label": torch.cat([ytr, yte]).long(),
                             "split": np.r_[np.zeros(n_train, np.int8), np.ones(len(xte), np.int8)]})
    xs, ys, grid = data.grid_2d(x_all.cpu().numpy(), GRID)
    grid_t = torch.as_tensor(grid, device=device)
    batch = config.batch_size if 0 < config.batch_size < n_train else n_train
    batches = torch.Generator().manual_seed(config.seed)
    # ~100 curve points and ~20 frames a run: enough to watch, cheap next to training
    eval_every = max(1, config.steps // 100)
    draw_every = max(1, config.steps // 20)
    layers = model.linear_layers()
    previous = None
    first_loss = None
    blown_up = None
    order = torch.randperm(n_train, generator=batches).to(device)
    cursor = 0

    for step in range(1, config.steps + 1):
        if batch == n_train:
            xb, yb = xtr, ytr
        else:
            if cursor + batch > n_train:
                order, cursor = torch.randperm(n_train, generator=batches).to(device), 0
            idx = order[cursor:cursor + batch]
            cursor += batch
            xb, yb = xtr[idx], ytr[idx]
        logits = model(xb).squeeze(1)
        loss = loss_fn(config, logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if step % eval_every == 0 or step == 1 or step == config.steps:
            grads = {f"grad_norm_layer{i + 1}": layer.weight.grad.norm().item()
                     for i, layer in enumerate(layers)}
        else:
            grads = None
        optimizer.step()

        if grads is not None:
            with torch.no_grad():
                train_logits = model(xtr).squeeze(1)
                test_logits = model(xte).squeeze(1)
                train_loss = loss_fn(config, train_logits, ytr).item()
                report.log(step, train_loss=train_loss,
                           test_loss=loss_fn(config, test_logits, yte).item(),
                           train_accuracy=_accuracy(train_logits, ytr),
                           test_accuracy=_accuracy(test_logits, yte), **grads)
            first_loss = loss.item() if first_loss is None else first_loss
            if train_loss > BLOW_UP * first_loss:
                blown_up = f"the training loss rose from {first_loss:.3g} to {train_loss:.3g}"
                break
        elif report.cancelled:
            report.log(step)  # raises Cancelled
        if step % draw_every == 0 or step == config.steps:
            with torch.no_grad():
                prob = torch.sigmoid(model(grid_t).squeeze(1)).cpu().numpy()
            report.snapshot("boundary", {"xs": xs, "ys": ys, "prob": prob.reshape(GRID, GRID),
                                         "step": step})
            emb = _embedding(model, x_all, previous)
            if emb is not None:
                previous = emb["xy"]
                report.snapshot("embedding", dict(emb, step=step))

    with torch.no_grad():
        train_logits, test_logits = model(xtr).squeeze(1), model(xte).squeeze(1)
        final_train, final_test = loss_fn(config, train_logits, ytr).item(), \
            loss_fn(config, test_logits, yte).item()
    # Full-batch descent with a small enough step never ends above where it started; with
    # too large a step ReLU nets often "die" (all units off) at a loss above the first one.
    if blown_up is None and batch == n_train and final_train > first_loss:
        blown_up = (f"the training loss ended at {final_train:.3g}, above its first value "
                    f"{first_loss:.3g}")
    check = backprop.chain_rule(backprop.tiny_params(config.seed), split.x_train[0].astype(float),
                                float(split.y_train[0]), config.activation, config.loss)
    return {
        "first_train_loss": first_loss,  # on the first step's batch, before that step
        "final_train_loss": final_train,
        "final_test_loss": final_test,
        "train_accuracy": _accuracy(train_logits, ytr),
        "test_accuracy": _accuracy(test_logits, yte),
        "steps_done": step,
        "diverged": blown_up is not None,
        "diverged_reason": blown_up,
        "grad_check_max_rel_error": check["max_rel_error"],
    }


def receipt(config: Config, summary: dict) -> Receipt:
    """The chain rule's gradient against autograd and the loss from first step to last:
    it holds when the hand-computed gradient agrees to 1e-6 and the training loss fell;
    it cannot tell when the run diverged (the claim is about small enough steps)."""
    error, first, last = (summary["grad_check_max_rel_error"], summary["first_train_loss"],
                          summary["final_train_loss"])
    live = (f"the chain rule matches autograd to a relative {error:.0e}; training loss "
            f"{first:.3g} → {last:.3g} in {summary['steps_done']:,} steps, test accuracy "
            f"{summary['test_accuracy']:.0%}")
    if summary["diverged"]:
        holds = None
        live += (f"; at learning rate {config.lr:g} the run diverged, so it says nothing "
                 "about small steps: lower the rate")
    else:
        holds = error < EXACT and last < first
        if error >= EXACT:
            live += "; the hand-computed gradient is off"
        if last >= first:
            live += "; the loss did not fall"
    return Receipt(
        claim="Backpropagation gives every weight its exact gradient, and small steps "
              "against it lower the loss",
        paper="repeated small weight changes along the back-propagated error derivatives "
              "reduce the error, and the hidden units come to represent features of the "
              "task",
        live=live,
        source="Rumelhart, Hinton & Williams 1986, Learning representations by "
               "back-propagating errors",
        smaller=f"the gradient check runs on a 2-2-1 network and one training point; the "
                f"training uses {config.n_samples:,} 2D points ({config.dataset}, "
                f"{config.test_fraction:.0%} held out), "
                + (f"{config.hidden_layers} hidden layer{'' if config.hidden_layers == 1 else 's'} "
                   f"of {config.width} units" if config.hidden_layers else "a linear model")
                + f", {OPTIMIZER_NAMES[config.optimizer]} and one seed.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _gradient_descent_work(c) -> float:
    return work.steps(
        c.steps,
        3
        * (c.batch_size or c.n_samples * (1 - c.test_fraction))
        * work.mlp([2] + [c.width] * c.hidden_layers + [1])
        + c.n_samples * work.mlp([2] + [c.width] * c.hidden_layers + [1]),
    )


PRESETS = (
    Preset("Too large a step",
           "Plain SGD with learning rate 10: the loss jumps up and the ReLUs die, so "
           "training diverges.",
           {"optimizer": "sgd", "lr": 10.0, "steps": 300}),
    Preset("A spiral needs depth",
           "Three hidden layers of 32 untangle two spiral arms; try one layer of 4 to see "
           "it fail.",
           {"dataset": "spiral", "hidden_layers": 3, "width": 32, "steps": 2000}),
    Preset("XOR defeats a line",
           "With no hidden layer the model is linear and stays near chance on XOR.",
           {"dataset": "xor", "hidden_layers": 0}),
    Preset("Tiny data overfits",
           "30 noisy points and a wide net: train accuracy reaches 100 % while test loss "
           "climbs.",
           {"n_samples": 30, "noise": 0.35, "width": 64, "test_fraction": 0.5,
            "steps": 3000}),
)

EXPERIMENT = Experiment(
    name="gradient_descent",
    title="Gradient descent & backpropagation",
    Config=Config,
    run=run,
    cost=Cost(0.87, _gradient_descent_work),
    small={"n_samples": 60, "steps": 10},
    version=2,
    diverge_hint="Lower the learning rate (lr), or pick Adam, which scales its steps.",
    presets=PRESETS,
    receipt=receipt,
)
