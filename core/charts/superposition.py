"""Superposition: each feature's direction in the hidden space, WᵀW, lengths and sharing,
feature dimensionality against sparsity, the instances' losses, and the stored vectors
of the memorizing autoencoder."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import (NEUTRAL, VIRIDIS, downsample, heatmap, symmetric_limit, tips, titled,
                              vectors_from_origin)

IMPORTANCE_SCALE = alt.Scale(scheme=VIRIDIS, reverse=True)


def _facet_width(panels: int, columns: int, total: int = 700) -> int:
    """Panel size so that a row of small multiples, its axis and legend fit a page."""
    shown = max(1, min(panels, columns))
    return max(80, min(170, (total - 20 * (shown - 1)) // shown))


def project_2d(vectors: np.ndarray) -> tuple[np.ndarray, bool]:
    """[k, d] vectors as 2D points: as they are for d = 2 (d = 1 gets y = 0), else on
    the two directions they spread along most (SVD). Returns (points, projected)."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.shape[1] == 1:
        return np.c_[v, np.zeros(len(v))], False
    if v.shape[1] == 2:
        return v, False
    u, _, _ = np.linalg.svd(v.T, full_matrices=False)  # hidden-space directions
    return v @ u[:, :2], True


def hidden_axes(m: int, projected: bool) -> tuple[str, str, str]:
    """(where the points are drawn, x title, y title) for an m-dimensional hidden space."""
    if projected:
        return (f"a 2D projection of the {m}-dimensional hidden space, onto the two "
                "directions the columns spread along most: lengths and angles are "
                "distorted by it", "projection axis 1", "projection axis 2")
    if m == 1:
        return "one hidden unit: every feature lies on a line", "hidden unit 1", " "
    return "the hidden plane", "hidden unit 1", "hidden unit 2"


def superposition_frames(w: np.ndarray, sparsities, importance, geometry: dict) -> dict:
    """Long frames for the superposition charts from the kept models' weights
    w [models, n_hidden, n_features] and their geometry (the "model" snapshot's, arrays
    [models, n_features]). Returns directions, gram, norms, dims, per_model, limit and
    projected."""
    directions, gram, norms, dims, per_model = [], [], [], [], []
    projected = False
    sparsities = list(sparsities)
    for k, s in enumerate(sparsities):
        panel = f"S = {s:g}" + (f" (#{k + 1})" if sparsities.count(s) > 1 else "")
        xy, projected = project_2d(w[k].T)
        n = w.shape[2]
        feature_norms = np.asarray(geometry["feature_norms"][k])
        directions.append(pd.DataFrame({"panel": panel, "order": k, "feature": np.arange(n),
                                        "x": xy[:, 0], "y": xy[:, 1],
                                        "importance": np.asarray(importance),
                                        "norm": feature_norms}))
        g = w[k].T @ w[k]
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        gram.append(pd.DataFrame({"panel": panel, "order": k, "i": i.ravel(), "j": j.ravel(),
                                  "value": g.ravel()}))
        norms.append(pd.DataFrame({"panel": panel, "order": k, "feature": np.arange(n),
                                   "norm": feature_norms,
                                   "interference": np.asarray(geometry["interference"][k])}))
        density = 1.0 / max(1e-9, 1.0 - s)
        dims.append(pd.DataFrame({"density": density, "feature": np.arange(n),
                                  "dimensionality": np.asarray(geometry["dimensionality"][k]),
                                  "represented": np.where(
                                      np.asarray(geometry["represented"][k], bool),
                                      "represented", "dropped")}))
        per_model.append({"density": density,
                          "value": float(geometry["dims_per_feature"][k])})
    frame = pd.concat(directions, ignore_index=True)
    return {"directions": frame, "gram": pd.concat(gram, ignore_index=True),
            "norms": pd.concat(norms, ignore_index=True),
            "dims": pd.concat(dims, ignore_index=True), "per_model": pd.DataFrame(per_model),
            "limit": symmetric_limit(frame, 1.1, floor=1.0), "projected": projected}


def feature_directions(frame: pd.DataFrame, title: str, limit: float, columns: int = 5,
                       x_title: str = "hidden unit 1", y_title: str = "hidden unit 2",
                       subtitle: str = "") -> alt.FacetChart:
    """Small multiples, one per `panel`: each feature's column W_i as a line from the
    origin to (x, y), coloured by importance. Columns: panel, order, feature, x, y,
    importance, norm."""
    size = _facet_width(frame["panel"].nunique(), columns)
    scale = alt.Scale(domain=[-limit, limit], nice=False)
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title=x_title, axis=alt.Axis(tickCount=3)),
        y=alt.Y("y:Q", scale=scale, title=y_title, axis=alt.Axis(tickCount=3)),
        color=alt.Color("importance:Q", scale=IMPORTANCE_SCALE, title="importance"),
        tooltip=tips("feature:N", alt.Tooltip("norm:Q", format=".2f", title="‖W_i‖"),
                     alt.Tooltip("importance:Q", format=".2f")))
    layers = vectors_from_origin(base, line={"strokeWidth": 2.5},
                                 dot={"size": 45, "opacity": 1})
    return alt.layer(*layers, width=size, height=size).facet(
        facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
        columns=columns, title=titled(title, subtitle))


def gram_heatmaps(frame: pd.DataFrame, title: str, columns: int = 5) -> alt.FacetChart:
    """WᵀW per panel: entry (i, j) is W_i·W_j. Columns: panel, order, i, j, value."""
    size = _facet_width(frame["panel"].nunique(), columns)
    return heatmap(
        frame, alt.X("j:O", title="feature j"), alt.Y("i:O", title="feature i"),
        alt.Color("value:Q", title="W_i·W_j",
                  scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True,
                                  clamp=True)),
        ["i:O", "j:O", alt.Tooltip("value:Q", format=".2f")], width=size, height=size,
    ).facet(facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
            columns=columns, title=title)


def feature_norm_bars(frame: pd.DataFrame, title: str, columns: int = 5) -> alt.FacetChart:
    """‖W_i‖ per feature and panel, coloured by Σ_{j≠i}(Ŵ_i·W_j)²: dark = the feature has
    a direction of its own, bright = it shares it. Columns: panel, order, feature, norm,
    interference."""
    size = _facet_width(frame["panel"].nunique(), columns)
    return alt.Chart(frame, width=size, height=max(80, size * 2 // 3)).mark_bar().encode(
        x=alt.X("feature:O", title="feature"),
        y=alt.Y("norm:Q", title="‖W_i‖"),
        color=alt.Color("interference:Q", title="shared",
                        scale=alt.Scale(scheme="plasma", domain=[0, 1], clamp=True)),
        tooltip=tips("feature:O", alt.Tooltip("norm:Q", format=".2f"),
                     alt.Tooltip("interference:Q", format=".2f", title="Σ_j≠i (Ŵ_i·W_j)²")),
    ).facet(facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
            columns=columns, title=title)


def feature_dimensionality(points: pd.DataFrame, per_model: pd.DataFrame, title: str,
                           height: int = 340) -> alt.LayerChart:
    """D_i of every feature against 1/(1−S) (log), the model's dimensions per feature as a
    line, and reference lines at the fractions 1, 1/2, 2/5, 1/3. Columns: points have
    density, dimensionality, feature, represented; per_model has density, value."""
    right = float(points["density"].max()) if len(points) else 1.0
    refs = pd.DataFrame({"y": [1.0, 0.5, 0.4, 1 / 3], "density": right,
                         "label": ["1", "1/2", "2/5", "1/3"]})
    x = alt.X("density:Q", scale=alt.Scale(type="log"), title="1 / (1 − sparsity)")
    rules = alt.Chart(refs).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.Y("y:Q"))
    labels = alt.Chart(refs).mark_text(align="left", dx=8, color="gray").encode(
        y=alt.Y("y:Q"), x=alt.X("density:Q"), text=alt.Text("label:N"))
    line = alt.Chart(per_model).mark_line(color=NEUTRAL, strokeWidth=1.5).encode(
        x=x, y=alt.Y("value:Q"), tooltip=[alt.Tooltip("value:Q", format=".2f",
                                                      title="dims per feature")])
    dots = alt.Chart(points).mark_circle(size=60, opacity=0.8).encode(
        x=x, y=alt.Y("dimensionality:Q", title="feature dimensionality D_i",
                     scale=alt.Scale(domain=[0, 1.1], clamp=True)),
        color=alt.Color("represented:N", title=None,
                        scale=alt.Scale(domain=["represented", "dropped"],
                                        range=["#4c78a8", "#c7c7c7"]),
                        legend=alt.Legend(orient="top-right")),
        tooltip=tips("feature:N", alt.Tooltip("dimensionality:Q", format=".2f"),
                     alt.Tooltip("density:Q", format=".3g", title="1/(1−S)")))
    return alt.layer(rules, labels, line, dots, title=title, height=height)


def instance_loss_frame(metrics: dict, sparsities) -> pd.DataFrame:
    """The loss of every instance (metrics loss_<sparsity index>_<start>) for
    `instance_losses`."""
    frames = []
    for name, (steps, values) in metrics.items():
        if name.startswith("loss_"):
            k, seed = (int(v) for v in name.split("_")[1:])
            steps, values = downsample(steps, values)
            frames.append(pd.DataFrame({"step": steps, "value": values,
                                        "sparsity": f"{sparsities[k]:g}",
                                        "instance": f"S={sparsities[k]:g}, start {seed + 1}"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["step", "value", "sparsity", "instance"])


def instance_losses(frame: pd.DataFrame, title: str, height: int = 300) -> alt.Chart:
    """Loss curves of many model instances: colour = sparsity, one line per instance.
    Columns: step, value, sparsity (text), instance."""
    order = sorted(frame["sparsity"].unique(), key=float) if len(frame) else []
    return alt.Chart(frame, title=title, height=height).mark_line(
        opacity=0.8, strokeWidth=1.2).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("value:Q", title="loss (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("sparsity:N", sort=order, title="sparsity",
                        scale=alt.Scale(scheme=VIRIDIS)),
        detail=alt.Detail("instance:N"),
        tooltip=tips("sparsity:N", "instance:N", "step:Q",
                     alt.Tooltip("value:Q", format=".4g")),
    )


def per_sparsity_table(per_sparsity: list[dict]) -> pd.DataFrame:
    """The summary's numbers per sparsity, one row each."""
    return pd.DataFrame([{"sparsity": p["sparsity"], "represented": p["n_represented"],
                          "antipodal pairs": p["antipodal_pairs"],
                          "angles between neighbours (°)": ", ".join(
                              f"{a:.0f}" for a in p.get("angles", [])) or "–",
                          "loss": p["loss"]} for p in per_sparsity])


# --- the memorizing autoencoder --------------------------------------------------------

def memory_points(state: dict) -> tuple[pd.DataFrame, bool]:
    """The stored vectors' hidden points (a "memory" snapshot) in 2D, with whether each is
    recovered; and whether they had to be projected to 2D."""
    hidden, cos = np.asarray(state["hidden"]), np.asarray(state["cosine"])
    xy, projected = project_2d(hidden)
    frame = pd.DataFrame({"vector": np.arange(len(hidden)), "x": xy[:, 0], "y": xy[:, 1],
                          "cosine": cos,
                          "status": np.where(np.asarray(state["recovered"], bool),
                                             "recovered", "not recovered")})
    return frame, projected


def hidden_points(frame: pd.DataFrame, title: str, x_title: str, y_title: str,
                  subtitle: str = "", height: int = 400) -> alt.LayerChart:
    """Stored vectors' hidden points, lines from the origin, coloured by recovered or not.
    Columns: vector, x, y, status, cosine."""
    limit = symmetric_limit(frame, 1.15)
    scale = alt.Scale(domain=[-limit, limit], nice=False)
    colors = alt.Scale(domain=["recovered", "not recovered"], range=["#2ca02c", "#d62728"])
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title=x_title),
        y=alt.Y("y:Q", scale=scale, title=y_title),
        color=alt.Color("status:N", scale=colors, title=None, legend=alt.Legend(orient="right")),
        tooltip=tips("vector:N", "status:N",
                     alt.Tooltip("cosine:Q", format=".3f")))
    lines, dots = vectors_from_origin(base, line={"strokeWidth": 1.5, "opacity": 0.6},
                                      dot={"size": 90, "opacity": 1})
    text = base.mark_text(dx=9, dy=-9).encode(text=alt.Text("vector:N"))
    return alt.layer(lines, dots, text, title=titled(title, subtitle),
                     height=height, width=height + 100)


def restart_loss_names(metrics: dict) -> dict[str, str]:
    """{metric: legend label} of each restart's training loss (loss_<restart>)."""
    return {name: f"start {int(name.split('_')[1]) + 1}" for name in metrics
            if name.startswith("loss_")}


def memory_table(state: dict) -> pd.DataFrame:
    """Every stored vector: its non-zero entries, cosine similarity and squared error."""
    cos = np.asarray(state["cosine"])
    return pd.DataFrame({"vector": np.arange(len(cos)),
                         "non-zero entries": np.asarray(state["nonzero"]),
                         "cosine similarity": cos,
                         "squared error": np.asarray(state["error"])})
