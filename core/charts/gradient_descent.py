"""Gradient descent & backpropagation: the decision boundary, gradient norms per layer,
and the tables of the chain rule worked by hand."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts import base
from core.charts.base import CLASS_COLORS, SET_SHAPES, SHAPE_LEGEND


def decision_boundary(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray, points: pd.DataFrame,
                      title: str, height: int = 400) -> alt.LayerChart:
    """P(class 1) over the input plane as a picture, with the data on top. The grid's
    values are cell corners `xs` × `ys` (rows follow `ys` upwards); each cell reaches one
    step further."""
    step = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    domain = [float(xs[0]), float(xs[-1]) + step]
    x = alt.X("x:Q", scale=alt.Scale(domain=domain, nice=False), title="x₁")
    y = alt.Y("y:Q", scale=alt.Scale(domain=domain, nice=False), title="x₂")
    pixels = base.blue_red(np.flipud(np.asarray(prob)), opacity=0.55)  # top row first
    y_range = (float(ys[0]), float(ys[-1]) + step)
    heat = base.plane_image(base.png_url(pixels), x, y, (domain[0], domain[1]), y_range)
    # an invisible mark that carries the colour legend the picture cannot
    legend = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_point(opacity=0).encode(
        color=alt.Color("p:Q", title="P(class 1)", legend=alt.Legend(gradientOpacity=0.55),
                        scale=alt.Scale(scheme="redblue", domain=[0, 1], reverse=True)))
    dots = alt.Chart(points).mark_point(filled=True, size=28, stroke="white", strokeWidth=0.6,
                                        opacity=0.95).encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"),
        color=alt.Color("class:N", scale=CLASS_COLORS, legend=None),
        shape=alt.Shape("set:N", scale=SET_SHAPES, title=None,
                        legend=alt.Legend(**SHAPE_LEGEND)),
        tooltip=base.tips("class:N", "set:N"),
    )
    return alt.layer(heat, legend, dots, title=title, height=height).resolve_scale(
        color="independent")


def gradient_norm_names(metrics: dict) -> dict[str, str]:
    """{metric: legend label} of the per-layer gradient norms a run logged."""
    return {k: f"layer {k.rsplit('layer', 1)[1]}" for k in metrics if k.startswith("grad_norm")}


def forward_table(result: dict) -> pd.DataFrame:
    """The forward pass of `core.backprop.chain_rule`, one row per quantity."""
    return pd.DataFrame(result["forward"])


def gradient_table(result: dict) -> pd.DataFrame:
    """Each weight's gradient by hand, by autograd and by finite differences."""
    return pd.DataFrame(result["gradients"])


def step_table(before: dict, grads: dict, after: dict, lr: float) -> pd.DataFrame:
    """One gradient step, weight by weight: before, gradient, −lr × gradient, after."""
    return pd.DataFrame({
        "weight": list(before), "before": list(before.values()),
        "gradient": [grads[k] for k in before],
        "−lr × gradient": [-lr * grads[k] for k in before],
        "after": [after[k] for k in before]})
