"""Memorization → generalization: loss against the training-set size, vectors in the
hidden plane, who owns the dimensions, and the repeated-data comparison."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import (NEUTRAL, SPLIT_COLORS, one_color, symmetric_limit, tips, titled,
                              vectors_from_origin)

EXAMPLE_COLOR, FEATURE_COLOR = "#ff7f0e", "#2ca02c"
REPEAT_COLORS = alt.Scale(domain=["repeated example", "unique example"],
                          range=["#d62728", "#9ecae1"])


def size_domain(train_sizes) -> list[float]:
    """The log T axis: a little room around the smallest and largest size."""
    return [min(train_sizes) / 1.3, max(train_sizes) * 1.3]


def sweep_frames(sweep: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train and test loss, top-10 dimensionality of data and features) against T, from
    the "sweep" snapshot."""
    sizes = sweep["train_sizes"]
    losses = pd.concat([pd.DataFrame({"train_size": sizes, "series": name,
                                      "value": sweep[f"{name}_loss"]})
                        for name in ("train", "test")], ignore_index=True)
    dims = pd.concat([
        pd.DataFrame({"train_size": sizes, "series": "data points W x_t",
                      "value": sweep["data_top_dimensionality"]}),
        pd.DataFrame({"train_size": sizes, "series": "features W_i",
                      "value": sweep["feature_top_dimensionality"]})], ignore_index=True)
    return losses, dims


def vector_frame(v: np.ndarray, dims, kind) -> pd.DataFrame:
    """Rows of `v` [k, m ≤ 2] as points of the hidden plane for `plane_vectors`; `kind`
    (one name or one per row) colours them, `dims` sizes them."""
    v = np.asarray(v)
    if v.shape[1] == 1:
        v = np.c_[v, np.zeros(len(v))]
    return pd.DataFrame({"x": v[:, 0], "y": v[:, 1], "kind": kind, "dim": np.asarray(dims)})


def example_vectors(geometry: dict) -> pd.DataFrame:
    """The training examples' hidden points W x_t of one T (a "geometry" entry)."""
    return vector_frame(np.asarray(geometry["hidden"]), geometry["data_dims"],
                        "training example")


def feature_vectors(w: np.ndarray, dims) -> pd.DataFrame:
    """The feature columns W_i of a weight matrix [m, n]."""
    return vector_frame(np.asarray(w).T, dims, "feature")


def repeated_vectors(state: dict) -> pd.DataFrame:
    """One point per distinct training example of the run with repetition (the "repeat"
    snapshot), sized by its dimensionality summed over its copies (at most 1)."""
    repeated = np.asarray(state["example_repeated"]).astype(bool)
    return vector_frame(np.asarray(state["example_hidden"]),
                        np.minimum(np.asarray(state["example_dims"]), 1.0),
                        np.where(repeated, "repeated example", "unique example"))


def double_descent_curve(frame: pd.DataFrame, peak: int | None, chosen: int | None,
                         title: str, domain: list[float], height: int = 320) -> alt.LayerChart:
    """Train and test loss against the training-set size T (log x over `domain`), the
    peak marked. Columns: train_size, series (train/test), value."""
    base = alt.Chart(frame).encode(
        x=alt.X("train_size:Q", title="training examples T (log scale)",
                scale=alt.Scale(type="log", domain=domain, nice=False)),
        y=alt.Y("value:Q", title="loss ÷ loss of an all-zero output"),
        color=alt.Color("series:N", scale=SPLIT_COLORS, title=None,
                        legend=alt.Legend(orient="top")),
        tooltip=tips("series:N", "train_size:Q",
                     alt.Tooltip("value:Q", format=".3f")))
    layers = [base.mark_line(), base.mark_circle(size=60)]
    if chosen is not None:
        layers.append(alt.Chart(pd.DataFrame({"train_size": [chosen]})).mark_rule(
            color="#888", strokeDash=[2, 2]).encode(x=alt.X("train_size:Q")))
    if peak is not None:
        top = frame[(frame["series"] == "test") & (frame["train_size"] == peak)]
        layers.append(alt.Chart(top).mark_point(shape="triangle-down", size=220, filled=True,
                                                color=NEUTRAL, yOffset=-14).encode(
            x=alt.X("train_size:Q"), y=alt.Y("value:Q")))
        layers.append(alt.Chart(top.assign(label=f"peak T={peak}")).mark_text(
            dy=-30, fontWeight="bold", color=NEUTRAL).encode(
            x=alt.X("train_size:Q"), y=alt.Y("value:Q"), text=alt.Text("label:N")))
    return alt.layer(*layers, title=title, height=height)


def plane_vectors(frame: pd.DataFrame, title: str, subtitle: str = "", height: int = 340,
                  colors: alt.Scale | None = None) -> alt.LayerChart:
    """Vectors in the hidden plane as lines from the origin with a dot at the end, no
    legend (say the colours in the subtitle). `height` includes the title and the axis
    labels, so the plot itself is about square. Columns: x, y, kind (colour), dim
    (dimensionality, for the tooltip and the size)."""
    limit = max(symmetric_limit(frame, 1.1), 1e-6)
    scale = alt.Scale(domain=[-limit, limit], nice=False)
    color = alt.Color("kind:N", title=None, legend=None,
                      **({"scale": colors} if colors is not None else {}))
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title="hidden unit 1"),
        y=alt.Y("y:Q", scale=scale, title="hidden unit 2"), color=color,
        tooltip=tips("kind:N",
                     alt.Tooltip("dim:Q", title="dimensionality D", format=".3f")))
    layers = vectors_from_origin(
        base, line={"strokeWidth": 1.2, "opacity": 0.5}, dot={"opacity": 0.9},
        dot_size=alt.Size("dim:Q", scale=alt.Scale(domain=[0, 1], range=[12, 160]),
                          legend=None))
    return alt.layer(*layers, title=titled(title, subtitle),
                     height=height, width=height - 40)


def example_plane(frame: pd.DataFrame, title: str, subtitle: str) -> alt.LayerChart:
    return plane_vectors(frame, title, subtitle,
                         colors=one_color("training example", EXAMPLE_COLOR))


def feature_plane(frame: pd.DataFrame, title: str, subtitle: str) -> alt.LayerChart:
    return plane_vectors(frame, title, subtitle, colors=one_color("feature", FEATURE_COLOR))


def dimensionality_vs_size(frame: pd.DataFrame, title: str, domain: list[float],
                           height: int = 280) -> alt.Chart:
    """Top-10 dimensionality of the data and of the features against T (log x over
    `domain`). Columns: train_size, series, value."""
    return alt.Chart(frame, title=title, height=height).mark_line(point=True).encode(
        x=alt.X("train_size:Q", title="training examples T (log scale)",
                scale=alt.Scale(type="log", domain=domain, nice=False)),
        y=alt.Y("value:Q", title="sum of the 10 largest D"),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["data points W x_t", "features W_i"],
                                        range=[EXAMPLE_COLOR, FEATURE_COLOR])),
        tooltip=tips("series:N", "train_size:Q",
                     alt.Tooltip("value:Q", format=".3f")))


def loss_bars(values: dict[str, float], title: str, height: int = 240) -> alt.Chart:
    """One bar per run ({run: test loss}), in the order given."""
    frame = pd.DataFrame({"run": list(values), "value": list(values.values())})
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("run:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="test loss ÷ zero-output loss",
                scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", legend=None, sort=None),
        tooltip=tips("run:N", alt.Tooltip("value:Q", format=".4f")))
