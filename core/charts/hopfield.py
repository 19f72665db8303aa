"""Hopfield memory: recall against the number of stored patterns, the β sweep, states as
images step by step, energies and the softmax weights of one modern update."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import heatmap, tips


def capacity_frame(metrics: dict) -> pd.DataFrame:
    """Accuracy against stored patterns of both networks, from a run's metrics."""
    if "patterns" not in metrics:
        return pd.DataFrame(columns=["patterns", "accuracy", "network"])
    counts = metrics["patterns"][1]
    return pd.concat([
        pd.DataFrame({"patterns": counts, "accuracy": metrics["classical_accuracy"][1],
                      "network": "classical: share of bits right"}),
        pd.DataFrame({"patterns": counts, "accuracy": metrics["modern_accuracy"][1],
                      "network": "modern: share of patterns exactly right"}),
    ], ignore_index=True)


def capacity_curves(frame: pd.DataFrame, classical_limit: float, title: str,
                    height: int = 320) -> alt.LayerChart:
    """Accuracy against stored patterns for both networks, and the 0.138·N line.
    Columns: patterns, accuracy, network."""
    rule_data = pd.DataFrame({"x": [classical_limit], "y": [0.05],
                              "label": [f"0.138·N = {classical_limit:.1f}"]})
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("patterns:Q", title="stored patterns"),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1.02])),
        color=alt.Color("network:N", title=None,
                        legend=alt.Legend(orient="bottom-right", labelLimit=400)),
        tooltip=tips("network:N", "patterns:Q",
                     alt.Tooltip("accuracy:Q", format=".3f")))
    rule = alt.Chart(rule_data).mark_rule(strokeDash=[5, 4], color="gray").encode(x=alt.X("x:Q"))
    text = alt.Chart(rule_data).mark_text(align="left", dx=4, color="gray").encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("label:N"))
    return alt.layer(rule, text, lines, title=title, height=height)


def beta_sweep(example: dict, title: str, height: int = 260) -> alt.LayerChart:
    """The largest softmax weight of one modern update against β (log), from the
    "example" snapshot: near 1 = one pattern retrieved, lower = a metastable mixture; the
    chosen β marked."""
    frame = pd.DataFrame({"beta": example["betas"], "top": example["top_weight"]})
    line = alt.Chart(frame).mark_line().encode(
        x=alt.X("beta:Q", scale=alt.Scale(type="log"), title="β (log scale)"),
        y=alt.Y("top:Q", title="weight on the top pattern", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("beta:Q", format=".3g"), alt.Tooltip("top:Q", format=".2f")])
    rule = alt.Chart(pd.DataFrame({"beta": [float(example["beta"])]})).mark_rule(
        color="#d62728", strokeDash=[4, 3]).encode(x=alt.X("beta:Q"))
    return alt.layer(line, rule, title=title, height=height)


def state_images(states: np.ndarray, labels: list[str], side: int | None = None) -> pd.DataFrame:
    """States [k, N] as long-form side×side images (padded with 0) for `pattern_strip`."""
    states = np.asarray(states, dtype=np.float64)
    n = states.shape[1]
    side = side or int(np.ceil(np.sqrt(n)))
    padded = np.zeros((len(states), side * side))
    padded[:, :n] = states
    rows, cols = np.divmod(np.arange(side * side), side)
    return pd.concat([pd.DataFrame({"stage": label, "order": k, "row": rows, "col": cols,
                                    "value": padded[k]})
                      for k, label in enumerate(labels)], ignore_index=True)


def image_side(example: dict) -> int:
    """Pixels per side of the drawn states: 8 for digits, else the smallest square."""
    n = np.asarray(example["patterns"]).shape[1]
    return int(example["side"]) or int(np.ceil(np.sqrt(n)))


def classical_stages(example: dict, sweeps: int) -> pd.DataFrame:
    """The stored pattern, the cue and the state after the first `sweeps` sweeps (and the
    last one), as images."""
    patterns, target = np.asarray(example["patterns"]), int(example["target"])
    states = np.asarray(example["classical_states"])
    shown = list(range(1, min(len(states), sweeps + 1)))
    if len(states) - 1 not in shown and len(states) > 1:
        shown.append(len(states) - 1)
    rows = [patterns[target], states[0]] + [states[i] for i in shown]
    labels = ["stored", "cue"] + [f"sweep {i}" for i in shown]
    return state_images(np.stack(rows), labels, int(example["side"]) or None)


def modern_stages(example: dict) -> pd.DataFrame:
    """The stored pattern, the cue, every modern update and its sign, as images."""
    patterns, target = np.asarray(example["patterns"]), int(example["target"])
    states = np.asarray(example["modern_states"])
    rows = [patterns[target], states[0]] + list(states[1:]) + [np.sign(states[-1])]
    labels = ["stored", "cue"] + [f"update {i}" for i in range(1, len(states))] + ["sign"]
    return state_images(np.stack(rows), labels, int(example["side"]) or None)


def pattern_strip(frame: pd.DataFrame, title: str, side: int, cell: int = 10) -> alt.FacetChart:
    """States as side×side images in a row, one panel per `stage` (in `order`).
    Columns: stage, order, row, col, value (−1 … 1)."""
    return heatmap(
        frame, alt.X("col:O", axis=None), alt.Y("row:O", axis=None),
        alt.Color("value:Q", scale=alt.Scale(scheme="greys", domain=[-1, 1]), legend=None),
        [alt.Tooltip("value:Q", format=".2f")], width=side * cell, height=side * cell,
    ).facet(column=alt.Column("stage:N", title=None, sort=alt.SortField("order"),
                              header=alt.Header(labelFontSize=12)),
            # Streamlit's theme sets the view's strokeWidth to 0: without a width the frame
            # is not drawn, and on a dark background the +1 (black) cells lose the square
            title=title).configure_view(stroke="#999", strokeWidth=1)


def weight_bars(example: dict, title: str, height: int = 200) -> alt.Chart:
    """Softmax weights of the first modern update (the "example" snapshot's) over the
    stored patterns, the cued one in red."""
    weights, target = np.asarray(example["modern_weights"])[0], int(example["target"])
    frame = pd.DataFrame({"pattern": np.arange(len(weights)), "weight": weights,
                          "which": np.where(np.arange(len(weights)) == target,
                                            "the cued pattern", "other patterns")})
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("pattern:O", title="stored pattern"),
        y=alt.Y("weight:Q", title="softmax weight", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("which:N", title=None, legend=None,
                        scale=alt.Scale(domain=["the cued pattern", "other patterns"],
                                        range=["#d62728", "#9e9e9e"])),
        tooltip=tips("pattern:O", alt.Tooltip("weight:Q", format=".3f")))
