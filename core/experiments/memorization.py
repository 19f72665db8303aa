"""Overfitting & memorization: a decision tree's bins beside a ReLU network's linear regions.

`tree_bins` grows a scikit-learn decision tree on a 2D dataset (optionally with flipped or
random training labels) and reports its leaves as rectangles, its if-else rules and a
train/test accuracy sweep over depth. `relu_regions` trains a ReLU MLP on the same data and
counts its linear regions (distinct on/off patterns of all hidden units) on a dense grid of
the input plane while it trains. Zhang et al. 2017; Hanin & Rolnick 2019.

Both experiments take the one `Config` below (the data fields, then the tree's, then the
network's), so the page has one set of controls for both. Each run reads only its own
fields: `for_tree` and `for_net` put the other model's fields back to their defaults, so
that turning a network control does not train the tree again (and vice versa).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.tree import DecisionTreeClassifier, export_text
from torch import nn

from core import data, params
from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

MEMORIZED = 0.5  # a model that reproduces this share of the wrong labels memorized them
AT_CHANCE = 0.15  # on shuffled labels, test accuracy within this of chance is "at chance"
GRID = 200  # the region map: GRID x GRID points, also drawn as GRID x GRID pixels
REFINE = 4  # cells that hold a region boundary are sampled 4 x 4 times more densely
BITS = 52  # activation bits per packed word (a float64 holds integers < 2**53 exactly)
FEATURES = ["x1", "x2"]


@dataclass(frozen=True)
class Config:
    # the data, shared by both models
    dataset: str = param("moons", "Which 2D point cloud to classify.", choices=data.DATASETS)
    noise: float = param(0.2, "How much the points scatter around their shape.",
                         low=0.0, high=1.0)
    n_samples: int = param(300, "Points in total, before the train/test split.",
                           low=20, high=5000, label="Samples")
    test_fraction: float = param(0.3, "Share of the points held out for testing.",
                                 low=0.1, high=0.9)
    label_noise: float = param(0.1, "Fraction of the training labels flipped (the test "
                               "labels stay clean).", low=0.0, high=0.5)
    random_labels: bool = param(False, "Shuffle the training labels so that they say nothing "
                                "about the inputs (Zhang et al. 2017).")
    seed: int = param(0, "Seed for the data, the label noise and the initial weights.",
                      low=0, high=2**31 - 1)
    # the tree
    max_depth: int = param(0, "Deepest level of if-else questions (0 = grow until every "
                           "leaf is pure).", low=0, high=40)
    min_samples_leaf: int = param(1, "Fewest training points a leaf (bin) may hold.",
                                  low=1, high=100)
    # the network
    hidden_layers: int = param(2, "Hidden ReLU layers.", low=1, high=4)
    width: int = param(16, "Neurons in each hidden layer.", low=2, high=128)
    steps: int = param(2000, "Full-batch Adam steps.", low=1, high=20000)
    lr: float = param(0.01, "Learning rate of Adam.", low=1e-4, high=0.3, log=True,
                      label="Learning rate")
    weight_decay: float = param(0.0, "L2 penalty pulling the weights towards zero.",
                                low=0.0, high=0.1)
    dropout: float = param(0.0, "Chance that each hidden unit is switched off at each "
                           "training step (never when testing).", low=0.0, high=0.8)
    early_stopping: bool = param(False, "Set a fifth of the training points aside, keep the "
                                 "weights with the best loss on them, and stop when it has not "
                                 "improved for a fifth of the steps.")


TREE_FIELDS = ("max_depth", "min_samples_leaf")
NET_FIELDS = ("hidden_layers", "width", "steps", "lr", "weight_decay", "dropout",
              "early_stopping")


def _defaults(config: Config, names: tuple[str, ...]) -> Config:
    default = {s.name: s.default for s in params.specs(Config)}
    return replace(config, **{n: default[n] for n in names})


def for_tree(config: Config) -> Config:
    """What the tree run reads: the network's fields at their defaults."""
    return _defaults(config, NET_FIELDS)


def for_net(config: Config) -> Config:
    """What the network run reads: the tree's fields at their defaults."""
    return _defaults(config, TREE_FIELDS)


def unregularized(config: Config) -> Config:
    """The same configuration with weight decay, dropout and early stopping off."""
    return replace(config, weight_decay=0.0, dropout=0.0, early_stopping=False)


def is_regularized(config: Config) -> bool:
    return config != unregularized(config)


# --- data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Labelled:
    x_train: np.ndarray
    y_train: np.ndarray  # the labels the models learn (flipped or shuffled)
    x_test: np.ndarray
    y_test: np.ndarray  # clean
    flipped: np.ndarray  # bool [n_train]: training labels that differ from the truth
    chance: float  # accuracy of always guessing the test set's most common class


def make_data(config: Config) -> Labelled:
    split = data.split_2d(config.dataset, config.n_samples, config.noise,
                          config.test_fraction, config.seed)
    y = split.y_train
    if config.random_labels:
        y = data.random_labels(y, config.seed)
    if config.label_noise > 0:
        y, _ = data.flip_labels(y, config.label_noise, config.seed)
    chance = float(np.bincount(split.y_test, minlength=2).max() / len(split.y_test))
    return Labelled(split.x_train, y, split.x_test, split.y_test, y != split.y_train, chance)


def data_snapshot(d: Labelled) -> dict:
    n_train, n_test = len(d.x_train), len(d.x_test)
    return {"x": np.concatenate([d.x_train, d.x_test]),
            "label": np.concatenate([d.y_train, d.y_test]),
            "split": np.r_[np.zeros(n_train, np.int8), np.ones(n_test, np.int8)],
            "flipped": np.r_[d.flipped, np.zeros(n_test, bool)]}


def window(d: Labelled) -> tuple[float, float]:
    """The square of the input plane that the page draws (as `data.grid_2d` covers it)."""
    xs, _, _ = data.grid_2d(np.concatenate([d.x_train, d.x_test]), 2)
    return float(xs[0]), float(xs[-1])


# --- the tree -------------------------------------------------------------------------------

def fit_tree(d: Labelled, max_depth: int, min_samples_leaf: int, seed: int):
    tree = DecisionTreeClassifier(max_depth=max_depth or None,
                                  min_samples_leaf=min_samples_leaf, random_state=seed)
    return tree.fit(d.x_train, d.y_train)


def leaf_boxes(tree: DecisionTreeClassifier, lo: float, hi: float) -> dict[str, np.ndarray]:
    """Each leaf as the rectangle of the plane it owns (clipped to [lo, hi]²): the bins.
    A point goes left when x[feature] <= threshold, so a box holds x1 <= x1_hi and x1 > x1_lo."""
    t = tree.tree_
    rows = []
    stack = [(0, lo, hi, lo, hi)]
    while stack:
        node, x1a, x1b, x2a, x2b = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            rows.append((node, x1a, x1b, x2a, x2b, int(np.argmax(t.value[node][0])),
                         int(t.n_node_samples[node])))
            continue
        f, th = t.feature[node], float(t.threshold[node])
        if f == 0:
            stack += [(left, x1a, min(x1b, th), x2a, x2b), (right, max(x1a, th), x1b, x2a, x2b)]
        else:
            stack += [(left, x1a, x1b, x2a, min(x2b, th)), (right, x1a, x1b, max(x2a, th), x2b)]
    rows.sort()
    cols = np.array(rows, dtype=np.float64).T
    return {"leaf": cols[0].astype(np.int64), "x1": cols[1], "x1_hi": cols[2],
            "x2": cols[3], "x2_hi": cols[4], "class": tree.classes_[cols[5].astype(int)],
            "n_train": cols[6].astype(np.int64)}


def rule_lines(tree: DecisionTreeClassifier) -> tuple[str, np.ndarray, np.ndarray]:
    """scikit-learn's if-else text of the tree, and for each node the line that leads into
    it (-1 for the root) and, for a leaf, its "class:" line (-1 otherwise). export_text
    writes nodes depth first, the `<=` branch before the `>` branch."""
    t = tree.tree_
    text = export_text(tree, feature_names=FEATURES, max_depth=t.max_depth + 1, decimals=3)
    enter = np.full(t.node_count, -1, np.int64)
    leaf = np.full(t.node_count, -1, np.int64)
    line = 0
    stack = [(0, False)]
    while stack:
        node, entered = stack.pop()
        if not entered and node != 0:
            enter[node] = line
            line += 1
        if t.children_left[node] == -1:
            leaf[node] = line
            line += 1
        else:
            stack += [(t.children_right[node], False), (t.children_left[node], False)]
    if line != len(text.splitlines()):
        raise RuntimeError("export_text's layout changed: the rule lines no longer match")
    return text, enter, leaf


def paths(tree: DecisionTreeClassifier, x: np.ndarray) -> np.ndarray:
    """The nodes each point visits from the root to its leaf ([n, depth + 1], -1 padded)."""
    indicator = tree.decision_path(x).tocsr()
    out = np.full((len(x), tree.get_depth() + 1), -1, np.int64)
    for i in range(len(x)):
        nodes = indicator.indices[indicator.indptr[i]:indicator.indptr[i + 1]]
        out[i, :len(nodes)] = np.sort(nodes)  # node ids grow along a path
    return out


def path_lines(rules: dict, index: int) -> list[int]:
    """The lines of the if-else text that point `index` follows (for highlighting)."""
    nodes = [n for n in rules["paths"][index] if n >= 0]
    lines = [int(rules["enter"][n]) for n in nodes if rules["enter"][n] >= 0]
    return lines + [int(rules["leaf"][nodes[-1]])]


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float((pred == y).mean())


def memorized(share: float | None) -> bool | None:
    """Whether a model that reproduces `share` of the wrong training labels memorized them
    (None: no label was wrong)."""
    return None if share is None else share >= MEMORIZED


def run_tree(config: Config, report) -> dict:
    d = make_data(config)
    full = fit_tree(d, 0, config.min_samples_leaf, config.seed)
    depth_max = max(1, full.get_depth())
    report.set_total(depth_max + 1)
    report.snapshot("data", data_snapshot(d))
    curve = []
    for depth in range(1, depth_max + 1):
        t = full if depth == depth_max else fit_tree(d, depth, config.min_samples_leaf,
                                                     config.seed)
        row = {"depth": depth, "train_accuracy": _accuracy(t.predict(d.x_train), d.y_train),
               "test_accuracy": _accuracy(t.predict(d.x_test), d.y_test)}
        curve.append(row)
        report.log(depth, train_accuracy=row["train_accuracy"],
                   test_accuracy=row["test_accuracy"])
    tree = fit_tree(d, config.max_depth, config.min_samples_leaf, config.seed)
    lo, hi = window(d)
    text, enter, leaf = rule_lines(tree)
    x_all = np.concatenate([d.x_train, d.x_test])
    report.snapshot("leaves", leaf_boxes(tree, lo, hi))
    report.snapshot("rules", {"text": text, "enter": enter, "leaf": leaf,
                              "paths": paths(tree, x_all), "pred": tree.predict(x_all),
                              "window": np.array([lo, hi])})
    train_pred = tree.predict(d.x_train)
    report.log(depth_max + 1)
    flipped = _accuracy(train_pred[d.flipped], d.y_train[d.flipped]) \
        if d.flipped.any() else None
    return {
        "train_accuracy": _accuracy(train_pred, d.y_train),
        "test_accuracy": _accuracy(tree.predict(d.x_test), d.y_test),
        "n_leaves": int(tree.get_n_leaves()),
        "depth": int(tree.get_depth()),
        "depth_curve": curve,
        "chance": d.chance,
        "n_train": len(d.x_train),
        "n_flipped": int(d.flipped.sum()),
        "memorized_flipped": flipped,
        "memorizes_flipped": memorized(flipped),
    }


# --- the network -----------------------------------------------------------------------------

class ReluNet(nn.Module):
    """2 -> [Linear -> ReLU -> dropout] x hidden_layers -> Linear -> 1 logit."""

    def __init__(self, hidden_layers: int, width: int, dropout: float = 0.0):
        super().__init__()
        sizes = [2] + [width] * hidden_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.head = nn.Linear(sizes[-1], 1)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = nn.functional.dropout(torch.relu(layer(x)), self.dropout, self.training)
        return self.head(x).squeeze(-1)

    def patterns(self, x: torch.Tensor) -> torch.Tensor:
        """Which hidden units are on at each point: bool [n, all hidden units]."""
        on = []
        for layer in self.layers:
            pre = layer(x)
            on.append(pre > 0)
            x = torch.relu(pre)
        return torch.cat(on, dim=1)


def pack(patterns: torch.Tensor) -> torch.Tensor:
    """Bool [n, units] -> int64 [n, words]: BITS activation bits per word, packed with one
    float64 matmul (exact: every word stays below 2**53)."""
    units = patterns.shape[1]
    words = -(-units // BITS)
    j = torch.arange(units, device=patterns.device)
    place = torch.zeros(units, words, dtype=torch.float64, device=patterns.device)
    place[j, j // BITS] = 2.0 ** (j % BITS).double()
    return (patterns.double() @ place).long()


def distinct_rows(words: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(number of distinct rows, each row's index among them, one row per index). Rows are
    folded word by word into one exact id (id * n + next word's rank < n**2 fits int64),
    so only 1-D sorts run: several times faster than torch.unique(dim=0)."""
    n = words.shape[0]
    ids = torch.unique(words[:, 0], return_inverse=True)[1]
    for w in range(1, words.shape[1]):
        rank = torch.unique(words[:, w], return_inverse=True)[1]
        ids = torch.unique(ids * n + rank, return_inverse=True)[1]
    count = int(ids.max()) + 1 if n else 0
    first = torch.full((count,), n, dtype=torch.int64, device=words.device)
    first.scatter_reduce_(0, ids, torch.arange(n, device=words.device), reduce="amin")
    return count, ids, words[first]


def regions(model: ReluNet, xs: np.ndarray, refine: int = REFINE
            ) -> tuple[int, torch.Tensor]:
    """Linear regions of `model` in the square xs × xs: (how many distinct activation
    patterns, a colour key per grid point [len(xs), len(xs)] that depends only on its
    pattern, so colours stay put from step to step).

    A region thinner than the grid spacing can fall between grid points, so every grid
    cell whose four corners are not all in one region is sampled again on a
    refine × refine sub-grid: the count matches a uniform grid `refine` times as dense
    at a fraction of its cost (see tests/test_memorization.py)."""
    device = next(model.parameters()).device
    g = len(xs)
    axis = torch.as_tensor(xs, device=device)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        words = pack(model.patterns(torch.stack([gx.ravel(), gy.ravel()], 1)))
        count, ids, unique = distinct_rows(words)
        if refine > 1 and g > 1:
            cell = ids.view(g, g)
            corners = torch.stack([cell[:-1, :-1], cell[1:, :-1], cell[:-1, 1:], cell[1:, 1:]])
            mixed = (corners != corners[0]).any(0).nonzero()
            offsets = (torch.arange(refine, device=device) + 0.5) / refine * (axis[1] - axis[0])
            oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")
            sub = torch.stack([axis[mixed[:, 1]][:, None] + ox.ravel(),
                               axis[mixed[:, 0]][:, None] + oy.ravel()], -1).view(-1, 2)
            count = distinct_rows(torch.cat([words, pack(model.patterns(sub))]))[0]
    mult = (-7046029254386353131, -4417276706812531889, 1609587929392839161,
            2870177450012600261)  # odd 64-bit constants; int64 products wrap around
    mix = torch.zeros(len(unique), dtype=torch.int64, device=device)
    for w in range(unique.shape[1]):
        mix = (mix ^ unique[:, w]) * mult[w % len(mult)]
        mix = mix ^ (mix >> 29)
    return count, (mix & 0xFFFFFF)[ids].view(g, g)


def _bce(logits: torch.Tensor, y: torch.Tensor) -> float:
    return nn.functional.binary_cross_entropy_with_logits(logits, y).item()


def _acc(logits: torch.Tensor, y: torch.Tensor) -> float:
    return ((logits > 0).float() == y).float().mean().item()


def run_net(config: Config, report) -> dict:
    device = choose_device()
    d = make_data(config)
    torch.manual_seed(config.seed)
    model = ReluNet(config.hidden_layers, config.width, config.dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    xtr, ytr, xte, yte = (torch.as_tensor(a, device=device) for a in
                          (d.x_train, d.y_train.astype(np.float32),
                           d.x_test, d.y_test.astype(np.float32)))
    flipped = torch.as_tensor(d.flipped, device=device)
    # Early stopping picks its weights on points the network does not train on; never on
    # the test set, whose accuracy would then be flattered. The split is already shuffled.
    n_val = max(1, len(xtr) // 5) if config.early_stopping else 0
    xval, yval = xtr[len(xtr) - n_val:], ytr[len(ytr) - n_val:]
    if n_val:
        xtr, ytr, flipped = xtr[:-n_val], ytr[:-n_val], flipped[:-n_val]
    report.set_total(config.steps)
    report.snapshot("data", data_snapshot(d))
    xs, _, grid = data.grid_2d(np.concatenate([d.x_train, d.x_test]), GRID)
    grid_t = torch.as_tensor(grid, device=device)
    eval_every = max(1, config.steps // 200)
    draw_every = max(1, config.steps // 10)
    patience = max(eval_every, config.steps // 5)
    best = (float("inf"), 0, None)  # held-out loss, step, weights
    curve = []

    def evaluate(step: int) -> float:
        model.eval()
        with torch.no_grad():
            train_logits, test_logits = model(xtr), model(xte)
        scalars = dict(train_loss=_bce(train_logits, ytr), test_loss=_bce(test_logits, yte),
                       train_accuracy=_acc(train_logits, ytr),
                       test_accuracy=_acc(test_logits, yte))
        scalars["accuracy_gap"] = scalars["train_accuracy"] - scalars["test_accuracy"]
        if n_val:
            with torch.no_grad():
                scalars["validation_loss"] = _bce(model(xval), yval)
        report.log(step, **scalars)
        return scalars.get("validation_loss", scalars["test_loss"])

    def draw(step: int) -> None:
        model.eval()
        count, keys = regions(model, xs)
        with torch.no_grad():
            logits = model(grid_t)
        report.log(step, linear_regions=count)
        curve.append([step, count])
        report.snapshot("regions", {"xs": xs, "key": keys.int(), "count": count, "step": step,
                                    "pred": (logits.view(GRID, GRID) > 0).to(torch.int8)})

    step = 0
    for step in range(1, config.steps + 1):
        model.train()
        loss = nn.functional.binary_cross_entropy_with_logits(model(xtr), ytr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        stop = False
        if step % eval_every == 0 or step == 1 or step == config.steps:
            held_out = evaluate(step)
            if held_out < best[0]:
                best = (held_out, step, copy.deepcopy(model.state_dict())
                        if config.early_stopping else None)
            elif config.early_stopping and step - best[1] >= patience:
                stop = True
        elif report.cancelled:
            report.log(step)  # raises Cancelled
        if step % draw_every == 0 or step == 1 or step == config.steps or stop:
            draw(step)
        if stop:
            break

    if config.early_stopping and best[2] is not None:
        model.load_state_dict(best[2])
        draw(step)  # the regions of the weights that are kept
    model.eval()
    with torch.no_grad():
        train_logits, test_logits = model(xtr), model(xte)
    count = curve[-1][1]
    train_acc, test_acc = _acc(train_logits, ytr), _acc(test_logits, yte)
    train_loss, test_loss = _bce(train_logits, ytr), _bce(test_logits, yte)
    reproduced = None
    if bool(flipped.any()):
        reproduced = _acc(train_logits[flipped], ytr[flipped])
    return {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "accuracy_gap": train_acc - test_acc,
        "loss_gap": test_loss - train_loss,
        "linear_regions": count,
        "regions_curve": curve,
        "chance": d.chance,
        "n_train": len(xtr),
        "n_validation": n_val,
        "n_flipped": int(d.flipped.sum()),
        "memorized_flipped": reproduced,
        "memorizes_flipped": memorized(reproduced),
        "steps_done": step,
        "kept_step": best[1] if config.early_stopping else step,
    }


def receipt(config: Config, summary: dict) -> Receipt:
    """How many of the wrong training labels the network reproduces: it holds when it
    reproduces at least half of them (and, with shuffled labels, stays within 15 points
    of chance on the test set); it cannot tell when no training label is wrong."""
    share, wrong = summary["memorized_flipped"], summary["n_flipped"]
    what = "shuffled" if config.random_labels else "flipped"
    live = (f"train accuracy {summary['train_accuracy']:.0%}, test "
            f"{summary['test_accuracy']:.0%} (chance {summary['chance']:.0%})")
    if share is None:
        holds = None
        live += "; no training label is wrong, so there is no noise to memorize"
    else:
        live = f"it reproduces {share:.0%} of the {wrong} {what} training labels; " + live
        holds = share >= MEMORIZED
        if config.random_labels and abs(summary["test_accuracy"] - summary["chance"]) > AT_CHANCE:
            holds = False
            live += "; on shuffled labels the test accuracy should sit at chance"
        if not share >= MEMORIZED and is_regularized(config):
            live += "; the regularization held it back (compared below)"
        elif not share >= MEMORIZED:
            live += "; too few units or steps to store the noise"
    return Receipt(
        claim="A network with enough units memorizes labels that are pure noise",
        paper="networks on CIFAR-10 and ImageNet fit completely random labels down to "
              "zero training error, while their test accuracy stays at chance",
        live=live,
        source="Zhang et al. 2017, Understanding deep learning requires rethinking "
               "generalization",
        smaller=f"{summary['n_train']} 2D training points ({config.dataset}) and a ReLU "
                f"MLP with {config.hidden_layers} hidden "
                f"layer{'' if config.hidden_layers == 1 else 's'} of {config.width} units, "
                f"instead of images and deep convolutional networks; "
                + ("every training label shuffled" if config.random_labels else
                   f"{config.label_noise:.0%} of the training labels flipped")
                + ", one seed.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _tree_bins_work(c) -> float:
    return 1e4 + c.n_samples


# the work of a run, for core.cost: it grows as the run's compute does
def _relu_regions_work(c) -> float:
    return work.steps(
        c.steps, 4 * c.n_samples * work.mlp([2] + [c.width] * c.hidden_layers + [2])
    )


def page_runs(config: Config) -> list[tuple[str, Config]]:
    """What the page trains for one configuration: the tree, the network and, when the
    network is regularized, the same network without regularization."""
    runs = [("tree_bins", for_tree(config)), ("relu_regions", for_net(config))]
    if is_regularized(for_net(config)):
        runs.append(("relu_regions", unregularized(for_net(config))))
    return runs


PRESETS = (
    Preset("Unlimited tree, noisy labels",
           "20 % of the training labels flipped: the unlimited tree carves a bin around "
           "each flipped point and loses test accuracy.",
           {"label_noise": 0.2}),
    Preset("A depth-3 tree",
           "Three questions deep: a few big bins that ignore the flipped labels.",
           {"label_noise": 0.2, "max_depth": 3}),
    Preset("Wide net, random labels",
           "Shuffled labels: a wide network and the unlimited tree both fit them all, and "
           "both stay at chance on the test set.",
           {"random_labels": True, "label_noise": 0.0, "n_samples": 200, "width": 64,
            "lr": 0.03, "steps": 3000}),
    Preset("Same net, weight decay",
           "The wide network on shuffled labels with weight decay 0.01: it can no longer "
           "memorize them: its training accuracy drops towards chance and the train-test "
           "gap closes.",
           {"random_labels": True, "label_noise": 0.0, "n_samples": 200, "width": 64,
            "lr": 0.03, "steps": 3000, "weight_decay": 0.01}),
)

EXPERIMENTS = [
    Experiment(name="tree_bins", title="A decision tree's bins", Config=Config,
               run=run_tree, cost=Cost(0.05, _tree_bins_work), version=2,
               diverge_hint="A tree cannot diverge; please report this.",
               small={"n_samples": 60},
               presets=PRESETS, page_runs=page_runs),
    Experiment(name="relu_regions", title="A ReLU network's linear regions", Config=Config,
               run=run_net, cost=Cost(2.35, _relu_regions_work), version=3,
               diverge_hint="Lower the learning rate (lr).",
               small={"n_samples": 60, "steps": 10},
               presets=PRESETS, page_runs=page_runs, receipt=receipt),
]
