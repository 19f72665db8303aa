"""Altair chart builders: plain data in, `alt.Chart` out. No Streamlit here."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

MAX_POINTS = 2000  # every redraw sends all of a chart's data: keep curves short
CLASS_COLORS = alt.Scale(domain=["0", "1"], range=["#1f77b4", "#d62728"])


def downsample(steps: list[int], values: list[float], limit: int = MAX_POINTS):
    if len(steps) <= limit:
        return steps, values
    idx = np.unique(np.linspace(0, len(steps) - 1, limit).round().astype(int))
    return [steps[i] for i in idx], [values[i] for i in idx]


def metrics_long(metrics: dict[str, tuple[list, list]], names: dict[str, str]) -> pd.DataFrame:
    """Long-form frame (step, series, value) of the metrics named in `names`
    ({metric: label in the legend})."""
    frames = []
    for metric, label in names.items():
        if metric in metrics:
            steps, values = downsample(*metrics[metric])
            frames.append(pd.DataFrame({"step": steps, "series": label, "value": values}))
    if not frames:
        return pd.DataFrame({"step": pd.Series(dtype=int), "series": pd.Series(dtype=str),
                             "value": pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True)


def curves(frame: pd.DataFrame, title: str, y_title: str, log_y: bool = False,
           log_x: bool = False, height: int = 280) -> alt.Chart:
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    x_scale = alt.Scale(type="log") if log_x else alt.Scale()
    return alt.Chart(frame, title=title, height=height).mark_line().encode(
        x=alt.X("step:Q", title="step", scale=x_scale),
        y=alt.Y("value:Q", title=y_title, scale=y_scale),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top-right")),
        tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
    )


def points_frame(x: np.ndarray, label: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"x": x[:, 0], "y": x[:, 1], "class": label.astype(int).astype(str),
                         "set": np.where(np.asarray(split) == 0, "train", "test")})


def decision_boundary(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray, points: pd.DataFrame,
                      title: str, height: int = 400) -> alt.LayerChart:
    """P(class 1) over the input plane as a heatmap, with the data on top."""
    gx, gy = np.meshgrid(xs, ys)
    step = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    grid = pd.DataFrame({"x": gx.ravel(), "y": gy.ravel(), "p": np.asarray(prob).ravel(),
                         "x2": gx.ravel() + step, "y2": gy.ravel() + step})
    domain = [float(xs[0]), float(xs[-1]) + step]
    heat = alt.Chart(grid).mark_rect(opacity=0.55, strokeWidth=0).encode(
        x=alt.X("x:Q", scale=alt.Scale(domain=domain, nice=False), title="x₁"),
        x2="x2:Q",
        y=alt.Y("y:Q", scale=alt.Scale(domain=domain, nice=False), title="x₂"),
        y2="y2:Q",
        color=alt.Color("p:Q", title="P(class 1)",
                        scale=alt.Scale(scheme="redblue", domain=[0, 1], reverse=True)),
    )
    dots = alt.Chart(points).mark_point(filled=True, size=28, stroke="white", strokeWidth=0.6,
                                        opacity=0.95).encode(
        x="x:Q", y="y:Q",
        color=alt.Color("class:N", scale=CLASS_COLORS, legend=None),
        shape=alt.Shape("set:N", scale=alt.Scale(domain=["train", "test"],
                                                  range=["circle", "triangle-up"]), title=None),
        tooltip=["class:N", "set:N"],
    )
    return alt.layer(heat, dots, title=title, height=height).resolve_scale(color="independent")


def scatter(points: pd.DataFrame, title: str, x_title: str, y_title: str,
            height: int = 400) -> alt.Chart:
    """Points coloured by class and shaped by train/test."""
    return alt.Chart(points, title=title, height=height).mark_point(
        filled=True, size=28, opacity=0.8).encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("class:N", scale=CLASS_COLORS, title="class"),
        shape=alt.Shape("set:N", scale=alt.Scale(domain=["train", "test"],
                                                  range=["circle", "triangle-up"]), title=None),
        tooltip=["class:N", "set:N"],
    )
