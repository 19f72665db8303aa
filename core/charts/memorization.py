"""Overfitting & memorization: a tree's leaves as bins, a ReLU network's linear regions,
accuracy against depth, and the generalization gap of two runs."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import (CLASS_COLORS, SET_SHAPES, SHAPE_LEGEND, metrics_long, plane_axes,
                              plane_image, png_url, points_frame, tips)


def memo_points(x: np.ndarray, label: np.ndarray, split: np.ndarray,
                flipped: np.ndarray) -> pd.DataFrame:
    """The data (a run's "data" snapshot) with which training labels are wrong."""
    frame = points_frame(x, label, split)
    frame["flipped"] = np.asarray(flipped, bool)
    frame["index"] = np.arange(len(frame))
    return frame


def _labelled_points(points: pd.DataFrame, highlight: int | None) -> list[alt.Chart]:
    """Train points as circles, test points as triangles, a flipped training label with a
    black outline; `highlight` (a row of `points`) ringed."""
    layers = [alt.Chart(points).mark_point(filled=True, size=30, opacity=0.95).encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"),
        color=alt.Color("class:N", scale=CLASS_COLORS, title="label",
                        legend=alt.Legend(orient="bottom")),
        shape=alt.Shape("set:N", scale=SET_SHAPES, title=None,
                        legend=alt.Legend(orient="bottom", **SHAPE_LEGEND)),
        stroke=alt.condition("datum.flipped", alt.StrokeValue("black"), alt.StrokeValue("white")),
        strokeWidth=alt.condition("datum.flipped", alt.StrokeWidthValue(1.4),
                                  alt.StrokeWidthValue(0.5)),
        tooltip=tips("class:N", "set:N", "flipped:N",
                     alt.Tooltip("index:Q", title="point")),
    )]
    if highlight is not None:  # a black ring on a white halo: it reads on dark bins too
        ring = alt.Chart(points.iloc[[highlight]]).encode(x=alt.X("x:Q"), y=alt.Y("y:Q"))
        layers += [ring.mark_point(size=420, filled=False, stroke="white", strokeWidth=5),
                   ring.mark_point(size=420, filled=False, stroke="black", strokeWidth=2.5)]
    return layers


def tree_bins(leaves: dict, points: pd.DataFrame, lo: float, hi: float, title: str,
              highlight: int | None = None, height: int = 430) -> alt.LayerChart:
    """The tree's leaves as rectangles coloured by the class each one predicts."""
    boxes = pd.DataFrame({"x": leaves["x1"], "x2": leaves["x1_hi"], "y": leaves["x2"],
                          "y2": leaves["x2_hi"], "predicts": np.asarray(leaves["class"]).astype(
                              int).astype(str), "leaf": leaves["leaf"],
                          "training points": leaves["n_train"]})
    x, y = plane_axes(lo, hi, zero=False)
    bins = alt.Chart(boxes).mark_rect(opacity=0.3, stroke="#555", strokeWidth=0.6).encode(
        x=x, x2=alt.X2("x2:Q"), y=y, y2=alt.Y2("y2:Q"),
        color=alt.Color("predicts:N", scale=CLASS_COLORS, legend=None),
        tooltip=tips("leaf:Q", "predicts:N",
                     "training points:Q"))
    return alt.layer(bins, *_labelled_points(points, highlight), title=title, height=height)


def depth_curve(curve: list[dict], chosen: int, title: str, height: int = 280) -> alt.LayerChart:
    """Train and test accuracy against the tree's depth, the chosen depth marked."""
    frame = pd.DataFrame(curve).melt("depth", ["train_accuracy", "test_accuracy"],
                                     var_name="series", value_name="accuracy")
    frame["series"] = frame["series"].str.replace("_accuracy", "")
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("depth:Q", title="max depth", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom-right")),
        tooltip=tips("series:N", "depth:Q",
                     alt.Tooltip("accuracy:Q", format=".3f")))
    rule = alt.Chart(pd.DataFrame({"depth": [chosen]})).mark_rule(
        strokeDash=[4, 3], color="gray").encode(x=alt.X("depth:Q"))
    return alt.layer(lines, rule, title=title, height=height)


def region_image(key: np.ndarray, pred: np.ndarray) -> str:
    """A PNG (as a data URL) with each region its own pastel colour, drawn from its key,
    and the decision boundary (where the predicted class changes) in black."""
    key = np.asarray(key, dtype=np.int64)
    rgb = np.stack([(key >> s) & 0xFF for s in (0, 8, 16)], -1).astype(np.float32)
    rgb = 90 + rgb * 0.62  # pastel: every channel in [90, 248]
    pred = np.asarray(pred)
    edge = np.zeros(pred.shape, bool)
    edge[:, 1:] |= pred[:, 1:] != pred[:, :-1]
    edge[1:, :] |= pred[1:, :] != pred[:-1, :]
    rgb[edge] = 20
    return png_url(np.flipud(rgb).astype(np.uint8))  # row 0 is the top (largest x₂)


def linear_regions(xs: np.ndarray, key: np.ndarray, pred: np.ndarray, points: pd.DataFrame,
                   title: str, height: int = 430) -> alt.LayerChart:
    """The input plane coloured by activation pattern (one colour per linear region), the
    decision boundary in black, the data on top."""
    lo, hi = float(xs[0]), float(xs[-1])
    x, y = plane_axes(lo, hi, zero=False)
    image = plane_image(region_image(key, pred), x, y, (lo, hi), (lo, hi))
    return alt.layer(image, *_labelled_points(points, None), title=title, height=height)


def gap_frame(runs: dict[str, dict]) -> pd.DataFrame:
    """The logged train − test accuracy of several runs ({label: metrics}), one series
    each, for `base.curves`."""
    return pd.concat([metrics_long(metrics, {"accuracy_gap": label})
                      for label, metrics in runs.items()], ignore_index=True)
