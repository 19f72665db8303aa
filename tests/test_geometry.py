"""`core.geometry`: the dimensionality of vectors that share a space, on shapes whose
answer is known, and the chart helpers built on it."""
import numpy as np
import pytest

from core import geometry
from core.charts import base
from core.experiments import double_descent as dd
from core.experiments import superposition as sp


def columns(*angles_deg: float, length: float = 1.0) -> np.ndarray:
    a = np.radians(angles_deg)
    return length * np.stack([np.cos(a), np.sin(a)])


def test_orthogonal_columns_each_have_a_dimension_of_their_own():
    assert geometry.dimensionality(np.eye(3)) == pytest.approx([1, 1, 1])
    # the length does not matter, only how the directions share the space
    assert geometry.dimensionality(columns(0, 90, length=3.0)) == pytest.approx([1, 1])


def test_an_antipodal_pair_shares_one_dimension():
    assert geometry.dimensionality(columns(0, 180)) == pytest.approx([0.5, 0.5])
    pair = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])  # a pair and one alone
    assert geometry.dimensionality(pair) == pytest.approx([0.5, 0.5, 1.0])


def test_a_pentagon_gives_two_fifths_to_each_corner():
    d = geometry.dimensionality(columns(0, 72, 144, 216, 288))
    assert d == pytest.approx([0.4] * 5)
    assert d.sum() == pytest.approx(2.0)  # the sum is the dimensions in use


def test_a_zero_vector_has_no_dimension_and_breaks_nothing():
    d = geometry.dimensionality(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert d == pytest.approx([1.0, 0.0]) and np.isfinite(d).all()


def test_overlaps_and_top_sum():
    ov = geometry.overlaps(columns(0, 90, 180))
    assert ov.diagonal() == pytest.approx([1, 1, 1])
    assert ov[0] == pytest.approx([1, 0, 1], abs=1e-12)
    assert geometry.top_sum(np.array([0.1, 0.5, 0.3, 0.9]), k=2) == pytest.approx(1.4)


def test_both_ideas_measure_with_the_one_helper():
    w = np.random.default_rng(0).normal(size=(2, 7))
    assert dd.dimensionality is geometry.dimensionality
    assert sp.feature_geometry(w)["dimensionality"] == pytest.approx(
        geometry.dimensionality(w).tolist(), abs=0)


def test_symmetric_limit_holds_every_point():
    import pandas as pd
    frame = pd.DataFrame({"x": [0.5, -2.0], "y": [1.0, 0.2]})
    assert base.symmetric_limit(frame, 1.1) == pytest.approx(2.2)
    assert base.symmetric_limit(frame, 1.1, floor=3.0) == pytest.approx(3.3)
    assert base.symmetric_limit(frame.iloc[:0], 1.1) == 1.0
