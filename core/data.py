"""Seeded 2D toy datasets with two classes (deterministic for a given seed)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

DATASETS = ("moons", "circles", "xor", "spiral", "gaussians")


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # float32 [n, 2]
    y_train: np.ndarray  # int64 [n]
    x_test: np.ndarray
    y_test: np.ndarray


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3.0 * np.pi  # about 1.5 turns per arm
    x = np.stack([t * np.cos(t + np.pi * y), t * np.sin(t + np.pi * y)], axis=1) / (3 * np.pi)
    return x + rng.normal(0.0, noise * 0.3, x.shape), y


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1.0, 1.0, (n, 2))
    x = x + np.sign(x) * 0.05  # a small margin around the axes
    y = (x[:, 0] * x[:, 1] < 0).astype(int)
    return x + rng.normal(0.0, noise * 0.5, x.shape), y


def make_2d(name: str, n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points roughly in [-1.5, 1.5]² and labels 0/1."""
    rng = np.random.default_rng(seed)
    if name == "moons":
        x, y = skd.make_moons(n_samples, noise=noise, random_state=seed)
        x = (x - [0.5, 0.25]) / 1.2
    elif name == "circles":
        x, y = skd.make_circles(n_samples, noise=noise * 0.5, factor=0.5, random_state=seed)
    elif name == "xor":
        x, y = _xor(n_samples, noise, rng)
    elif name == "spiral":
        x, y = _spiral(n_samples, noise, rng)
    elif name == "gaussians":
        x, y = skd.make_blobs(n_samples, centers=[(-0.6, -0.6), (0.6, 0.6)],
                              cluster_std=0.25 + noise, random_state=seed)
    else:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return x.astype(np.float32), y.astype(np.int64)


def split_2d(name: str, n_samples: int, noise: float, test_fraction: float, seed: int) -> Split:
    x, y = make_2d(name, n_samples, noise, seed)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                          stratify=y)
    return Split(xtr, ytr, xte, yte)


def grid_2d(x: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square grid covering the points with a margin: (xs, ys, points [res*res, 2])."""
    lo = min(x.min(), -1.5) - 0.1
    hi = max(x.max(), 1.5) + 0.1
    xs = np.linspace(lo, hi, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, xs)
    return xs, xs.copy(), np.stack([gx.ravel(), gy.ravel()], axis=1)


def sparse_features(batch: int, n_features: int, probability, generator=None):
    """A batch of sparse feature vectors for every instance at once, [batch, instances,
    n_features]: each feature is U[0, 1] with probability p (that instance's value of the
    1-D tensor `probability`), else 0. One random draw on `probability`'s device makes
    the whole batch, so data costs about one kernel however many instances train."""
    import torch  # data.py stays importable without torch for the 2D datasets

    p = probability[:, None].clamp_min(1e-12)
    u = torch.rand((batch, probability.shape[0], n_features), generator=generator,
                   device=probability.device)
    # one draw does both jobs: u < p switches the feature on, and given that, u / p is
    # again uniform on [0, 1]
    return torch.where(u < p, u / p, torch.zeros((), device=u.device))


def flip_labels(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary labels with round(fraction * n) of them, chosen at random, flipped:
    (new labels, mask of the flipped ones)."""
    rng = np.random.default_rng([seed, 1])
    flipped = np.zeros(len(y), dtype=bool)
    flipped[rng.permutation(len(y))[:int(round(fraction * len(y)))]] = True
    return np.where(flipped, 1 - y, y).astype(y.dtype), flipped


def random_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """Labels that say nothing about the inputs (Zhang et al. 2017): the same labels in a
    random order, so the class balance stays exactly as it was."""
    return np.random.default_rng([seed, 2]).permutation(y)
