"""Dropout: how much each network relies on each view, the multi-view curves on their
own step axis, and how often sampled sub-networks disagree."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import metrics_long, tips

NETWORKS = ("without dropout", "with dropout")


def multiview_frame(metrics: dict, name: str, digits_steps: int) -> pd.DataFrame:
    """Train, multi-view and single-view test accuracy of one network ("without" or
    "with"), counted from the start of the multi-view phase (it is logged after the
    `digits_steps` steps of the digits phase)."""
    frame = metrics_long(metrics, {f"mv_train_{name}": "train",
                                   f"mv_multi_view_{name}": "test, multi-view",
                                   f"mv_single_view_{name}": "test, single-view"})
    frame["step"] -= digits_steps
    return frame


def reliance_frame(drop: np.ndarray) -> pd.DataFrame:
    """Accuracy lost [networks, classes, 2 views] in long form for `reliance_bars`."""
    drop = np.asarray(drop)
    return pd.DataFrame([{"network": name, "class": j, "view": f"view {v + 1}",
                          "drop": float(drop[i, j, v])}
                         for i, name in enumerate(NETWORKS)
                         for j in range(drop.shape[1]) for v in range(2)])


def reliance_bars(frame: pd.DataFrame, title: str, height: int = 150) -> alt.FacetChart:
    """Accuracy lost on multi-view test examples when one view of their class is removed,
    per class and view, one row per network. Columns: network, class, view, drop."""
    return alt.Chart(frame, height=height, width=560).mark_bar().encode(
        x=alt.X("class:O", title="class"),
        xOffset=alt.XOffset("view:N"),
        y=alt.Y("drop:Q", title="accuracy lost", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("view:N", title="view removed",
                        scale=alt.Scale(range=["#e6550d", "#756bb1"]),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("network:N", "class:O", "view:N",
                     alt.Tooltip("drop:Q", format=".2f")),
    ).facet(row=alt.Row("network:N", title=None, header=alt.Header(labelAngle=0,
                                                                    labelAlign="left")),
            title=title)


def disagreement_frame(snapshot: dict) -> pd.DataFrame:
    """Each test point's disagreement among the sub-networks and whether the full network
    gets it right (the "digits_disagreement" snapshot)."""
    return pd.DataFrame({"disagreement": np.asarray(snapshot["disagreement"]),
                         "prediction": np.where(np.asarray(snapshot["correct"]), "right",
                                                "wrong")})


def disagreement_histogram(frame: pd.DataFrame, title: str, height: int = 260) -> alt.Chart:
    """How many sampled sub-networks disagree with their majority, per test point, side by
    side for points the full network gets right and wrong (log-like count axis: the right
    ones pile up at 0). Columns: disagreement (a multiple of 1/S), prediction."""
    counts = frame.assign(disagreement=frame["disagreement"].round(2)).groupby(
        ["disagreement", "prediction"]).size().reset_index(name="points")
    return alt.Chart(counts, title=title, height=height).mark_bar().encode(
        x=alt.X("disagreement:O", title="share of sub-networks disagreeing with their majority",
                axis=alt.Axis(format=".2f", labelAngle=0, labelOverlap=True)),
        xOffset=alt.XOffset("prediction:N", sort=["right", "wrong"]),
        y=alt.Y("points:Q", title="test points (symlog scale)",
                scale=alt.Scale(type="symlog")),
        color=alt.Color("prediction:N", title="full network",
                        scale=alt.Scale(domain=["right", "wrong"],
                                        range=["#74c476", "#d62728"]),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("prediction:N", "disagreement:O",
                     "points:Q"),
    )
