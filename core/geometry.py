"""How vectors share a space: the measures that more than one idea uses.

The vectors are the COLUMNS of an [m, k] array: k vectors in m dimensions (a toy model's
feature columns W_i, or the hidden points W x_t of its training examples).

Dimensionality (Elhage et al. 2022, Henighan et al. 2023) of vector i among all of them:

    D_i = ‖v_i‖² / Σ_j (v̂_i·v_j)²

the share of a dimension that vector i has to itself: 1 for a vector orthogonal to all
the others, 1/2 for one of an antipodal pair, 2/5 for a corner of a pentagon, near 0 for
a vector crowded out by longer ones. Summed over all vectors it is about the number of
dimensions in use.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-12  # zero-length vectors: no division by zero, D = 0


def overlaps(v: np.ndarray) -> np.ndarray:
    """[k, k] matrix of (v̂_i·v_j)²: how much of vector j lies along vector i."""
    v = np.asarray(v, dtype=np.float64)
    unit = v / np.maximum(np.linalg.norm(v, axis=0), EPS)
    return (unit.T @ v) ** 2


def dimensionality(v: np.ndarray) -> np.ndarray:
    """D_i of every column of `v` [m, k] among all the columns, [k]."""
    v = np.asarray(v, dtype=np.float64)
    norms = np.linalg.norm(v, axis=0)
    return norms ** 2 / np.maximum(overlaps(v).sum(axis=1), EPS)


def top_sum(d: np.ndarray, k: int = 10) -> float:
    """The sum of the `k` largest values of `d`: which few vectors own the dimensions
    (the plain sum is about m whoever owns them)."""
    return float(np.sort(np.asarray(d, dtype=np.float64))[::-1][:k].sum())
