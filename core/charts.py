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
    # Every redraw sends the whole grid: short numbers, and the cell ends computed in Vega.
    grid = pd.DataFrame({"x": gx.ravel().round(4), "y": gy.ravel().round(4),
                         "p": np.asarray(prob, dtype=np.float64).ravel().round(3)})
    domain = [float(xs[0]), float(xs[-1]) + step]
    heat = alt.Chart(grid).mark_rect(opacity=0.55, strokeWidth=0).transform_calculate(
        x2=f"datum.x + {step:.6f}", y2=f"datum.y + {step:.6f}",
    ).encode(
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


# --- superposition and Hopfield memory (issue 4) ---------------------------------------

IMPORTANCE_SCALE = alt.Scale(scheme="viridis", reverse=True)


def _facet_width(panels: int, columns: int, total: int = 700) -> int:
    """Panel size so that a row of small multiples, its axis and legend fit a page."""
    shown = max(1, min(panels, columns))
    return max(80, min(170, (total - 20 * (shown - 1)) // shown))


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
        tooltip=["feature:N", alt.Tooltip("norm:Q", format=".2f", title="‖W_i‖"),
                 alt.Tooltip("importance:Q", format=".2f")])
    lines = base.mark_rule(strokeWidth=2.5).encode(x2=alt.datum(0), y2=alt.datum(0))
    tips = base.mark_circle(size=45, opacity=1)
    return alt.layer(lines, tips, width=size, height=size).facet(
        facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
        columns=columns, title=alt.Title(title, subtitle=subtitle))


def gram_heatmaps(frame: pd.DataFrame, title: str, columns: int = 5) -> alt.FacetChart:
    """WᵀW per panel: entry (i, j) is W_i·W_j. Columns: panel, order, i, j, value."""
    size = _facet_width(frame["panel"].nunique(), columns)
    return alt.Chart(frame, width=size, height=size).mark_rect().encode(
        x=alt.X("j:O", title="feature j"),
        y=alt.Y("i:O", title="feature i"),
        color=alt.Color("value:Q", title="W_i·W_j",
                        scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True,
                                        clamp=True)),
        tooltip=["i:O", "j:O", alt.Tooltip("value:Q", format=".2f")],
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
        tooltip=["feature:O", alt.Tooltip("norm:Q", format=".2f"),
                 alt.Tooltip("interference:Q", format=".2f", title="Σ_j≠i (Ŵ_i·W_j)²")],
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
    rules = alt.Chart(refs).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    labels = alt.Chart(refs).mark_text(align="left", dx=8, color="gray").encode(
        y="y:Q", x="density:Q", text="label:N")
    line = alt.Chart(per_model).mark_line(color="black", strokeWidth=1.5).encode(
        x=x, y=alt.Y("value:Q"), tooltip=[alt.Tooltip("value:Q", format=".2f",
                                                       title="dims per feature")])
    dots = alt.Chart(points).mark_circle(size=60, opacity=0.8).encode(
        x=x, y=alt.Y("dimensionality:Q", title="feature dimensionality D_i",
                     scale=alt.Scale(domain=[0, 1.1], clamp=True)),
        color=alt.Color("represented:N", title=None,
                        scale=alt.Scale(domain=["represented", "dropped"],
                                        range=["#4c78a8", "#c7c7c7"]),
                        legend=alt.Legend(orient="top-right")),
        tooltip=["feature:N", alt.Tooltip("dimensionality:Q", format=".2f"),
                 alt.Tooltip("density:Q", format=".3g", title="1/(1−S)")])
    return alt.layer(rules, labels, line, dots, title=title, height=height)


def instance_losses(frame: pd.DataFrame, title: str, height: int = 300) -> alt.Chart:
    """Loss curves of many model instances: colour = sparsity, one line per instance.
    Columns: step, value, sparsity (text), instance."""
    order = sorted(frame["sparsity"].unique(), key=float) if len(frame) else []
    return alt.Chart(frame, title=title, height=height).mark_line(
        opacity=0.8, strokeWidth=1.2).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("value:Q", title="loss (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("sparsity:N", sort=order, title="sparsity",
                        scale=alt.Scale(scheme="viridis")),
        detail="instance:N",
        tooltip=["sparsity:N", "instance:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
    )


def hidden_points(frame: pd.DataFrame, title: str, x_title: str, y_title: str,
                  subtitle: str = "", height: int = 400) -> alt.LayerChart:
    """Stored vectors' hidden points, lines from the origin, coloured by recovered or not.
    Columns: vector, x, y, status, cosine."""
    limit = float(np.abs(frame[["x", "y"]].to_numpy()).max() * 1.15) if len(frame) else 1.0
    scale = alt.Scale(domain=[-limit, limit], nice=False)
    colors = alt.Scale(domain=["recovered", "not recovered"], range=["#2ca02c", "#d62728"])
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title=x_title),
        y=alt.Y("y:Q", scale=scale, title=y_title),
        color=alt.Color("status:N", scale=colors, title=None, legend=alt.Legend(orient="right")),
        tooltip=["vector:N", "status:N", alt.Tooltip("cosine:Q", format=".3f")])
    lines = base.mark_rule(strokeWidth=1.5, opacity=0.6).encode(x2=alt.datum(0),
                                                                y2=alt.datum(0))
    dots = base.mark_circle(size=90, opacity=1)
    text = base.mark_text(dx=9, dy=-9).encode(text="vector:N")
    return alt.layer(lines, dots, text, title=alt.Title(title, subtitle=subtitle),
                     height=height, width=height + 100)


def pattern_strip(frame: pd.DataFrame, title: str, side: int, cell: int = 10) -> alt.FacetChart:
    """States as side×side images in a row, one panel per `stage` (in `order`).
    Columns: stage, order, row, col, value (−1 … 1)."""
    return alt.Chart(frame, width=side * cell, height=side * cell).mark_rect().encode(
        x=alt.X("col:O", axis=None),
        y=alt.Y("row:O", axis=None),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="greys", domain=[-1, 1]),
                        legend=None),
        tooltip=[alt.Tooltip("value:Q", format=".2f")],
    ).facet(column=alt.Column("stage:N", title=None, sort=alt.SortField("order"),
                              header=alt.Header(labelFontSize=12)),
            title=title).configure_view(stroke="#999")


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
        tooltip=["network:N", "patterns:Q", alt.Tooltip("accuracy:Q", format=".3f")])
    rule = alt.Chart(rule_data).mark_rule(strokeDash=[5, 4], color="gray").encode(x="x:Q")
    text = alt.Chart(rule_data).mark_text(align="left", dx=4, color="gray").encode(
        x="x:Q", y="y:Q", text="label:N")
    return alt.layer(rule, text, lines, title=title, height=height)


def beta_sweep(frame: pd.DataFrame, beta: float, title: str, height: int = 260) -> alt.LayerChart:
    """The largest softmax weight of one modern update against β (log): near 1 = one
    pattern retrieved, lower = a metastable mixture. Columns: beta, top."""
    line = alt.Chart(frame).mark_line().encode(
        x=alt.X("beta:Q", scale=alt.Scale(type="log"), title="β (log scale)"),
        y=alt.Y("top:Q", title="weight on the top pattern", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("beta:Q", format=".3g"), alt.Tooltip("top:Q", format=".2f")])
    rule = alt.Chart(pd.DataFrame({"beta": [beta]})).mark_rule(
        color="#d62728", strokeDash=[4, 3]).encode(x="beta:Q")
    return alt.layer(line, rule, title=title, height=height)


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


def superposition_frames(w: np.ndarray, sparsities, importance, geometry: list[dict]) -> dict:
    """Long frames for the superposition charts from the kept models' weights
    w [models, n_hidden, n_features]. Returns directions, gram, norms, dims, per_model,
    limit and projected."""
    directions, gram, norms, dims, per_model = [], [], [], [], []
    projected = False
    sparsities = list(sparsities)
    for k, (s, geo) in enumerate(zip(sparsities, geometry)):
        panel = f"S = {s:g}" + (f" (#{k + 1})" if sparsities.count(s) > 1 else "")
        xy, projected = project_2d(w[k].T)
        n = w.shape[2]
        directions.append(pd.DataFrame({"panel": panel, "order": k, "feature": np.arange(n),
                                        "x": xy[:, 0], "y": xy[:, 1],
                                        "importance": np.asarray(importance),
                                        "norm": geo["feature_norms"]}))
        g = w[k].T @ w[k]
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        gram.append(pd.DataFrame({"panel": panel, "order": k, "i": i.ravel(), "j": j.ravel(),
                                  "value": g.ravel()}))
        norms.append(pd.DataFrame({"panel": panel, "order": k, "feature": np.arange(n),
                                   "norm": geo["feature_norms"],
                                   "interference": geo["interference"]}))
        density = 1.0 / max(1e-9, 1.0 - s)
        dims.append(pd.DataFrame({"density": density, "feature": np.arange(n),
                                  "dimensionality": geo["dimensionality"],
                                  "represented": np.where(
                                      np.asarray(geo["feature_norms"]) > 0.5,
                                      "represented", "dropped")}))
        per_model.append({"density": density, "value": geo["dims_per_feature"]})
    frame = pd.concat(directions, ignore_index=True)
    limit = float(max(1.0, np.abs(frame[["x", "y"]].to_numpy()).max()) * 1.1)
    return {"directions": frame, "gram": pd.concat(gram, ignore_index=True),
            "norms": pd.concat(norms, ignore_index=True),
            "dims": pd.concat(dims, ignore_index=True), "per_model": pd.DataFrame(per_model),
            "limit": limit, "projected": projected}


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


def weight_bars(weights: np.ndarray, target: int, title: str, height: int = 200) -> alt.Chart:
    """Softmax weights of one modern update over the stored patterns."""
    frame = pd.DataFrame({"pattern": np.arange(len(weights)), "weight": weights,
                          "which": np.where(np.arange(len(weights)) == target,
                                            "the cued pattern", "other patterns")})
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("pattern:O", title="stored pattern"),
        y=alt.Y("weight:Q", title="softmax weight", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("which:N", title=None, legend=None,
                        scale=alt.Scale(domain=["the cued pattern", "other patterns"],
                                        range=["#d62728", "#9e9e9e"])),
        tooltip=["pattern:O", alt.Tooltip("weight:Q", format=".3f")])


# --- Overfitting & memorization: tree bins and ReLU regions ----------------------------------

def _plane_axes(lo: float, hi: float) -> tuple[alt.X, alt.Y]:
    scale = alt.Scale(domain=[lo, hi], nice=False, zero=False)
    return (alt.X("x:Q", scale=scale, title="x₁"), alt.Y("y:Q", scale=scale, title="x₂"))


def _labelled_points(points: pd.DataFrame, highlight: int | None) -> list[alt.Chart]:
    """Train points as circles, test points as triangles, a flipped training label with a
    black outline; `highlight` (a row of `points`) ringed."""
    layers = [alt.Chart(points).mark_point(filled=True, size=30, opacity=0.95).encode(
        x="x:Q", y="y:Q",
        color=alt.Color("class:N", scale=CLASS_COLORS, title="label",
                        legend=alt.Legend(orient="bottom")),
        shape=alt.Shape("set:N", scale=alt.Scale(domain=["train", "test"],
                                                  range=["circle", "triangle-up"]), title=None,
                        legend=alt.Legend(orient="bottom")),
        stroke=alt.condition("datum.flipped", alt.value("black"), alt.value("white")),
        strokeWidth=alt.condition("datum.flipped", alt.value(1.4), alt.value(0.5)),
        tooltip=["class:N", "set:N", "flipped:N", alt.Tooltip("index:Q", title="point")],
    )]
    if highlight is not None:
        layers.append(alt.Chart(points.iloc[[highlight]]).mark_point(
            size=420, filled=False, stroke="black", strokeWidth=2.5).encode(x="x:Q", y="y:Q"))
    return layers


def memo_points(x: np.ndarray, label: np.ndarray, split: np.ndarray,
                flipped: np.ndarray) -> pd.DataFrame:
    frame = points_frame(x, label, split)
    frame["flipped"] = np.asarray(flipped, bool)
    frame["index"] = np.arange(len(frame))
    return frame


def tree_bins(leaves: dict, points: pd.DataFrame, lo: float, hi: float, title: str,
              highlight: int | None = None, height: int = 430) -> alt.LayerChart:
    """The tree's leaves as rectangles coloured by the class each one predicts."""
    boxes = pd.DataFrame({"x": leaves["x1"], "x2": leaves["x1_hi"], "y": leaves["x2"],
                          "y2": leaves["x2_hi"], "predicts": np.asarray(leaves["class"]).astype(
                              int).astype(str), "leaf": leaves["leaf"],
                          "training points": leaves["n_train"]})
    x, y = _plane_axes(lo, hi)
    bins = alt.Chart(boxes).mark_rect(opacity=0.3, stroke="#555", strokeWidth=0.6).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q",
        color=alt.Color("predicts:N", scale=CLASS_COLORS, legend=None),
        tooltip=["leaf:Q", "predicts:N", "training points:Q"])
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
        tooltip=["series:N", "depth:Q", alt.Tooltip("accuracy:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"depth": [chosen]})).mark_rule(
        strokeDash=[4, 3], color="gray").encode(x="depth:Q")
    return alt.layer(lines, rule, title=title, height=height)


def region_image(key: np.ndarray, pred: np.ndarray) -> str:
    """A PNG (as a data URL) with each region its own pastel colour, drawn from its key,
    and the decision boundary (where the predicted class changes) in black."""
    import base64
    import io

    from PIL import Image

    key = np.asarray(key, dtype=np.int64)
    rgb = np.stack([(key >> s) & 0xFF for s in (0, 8, 16)], -1).astype(np.float32)
    rgb = 90 + rgb * 0.62  # pastel: every channel in [90, 248]
    pred = np.asarray(pred)
    edge = np.zeros(pred.shape, bool)
    edge[:, 1:] |= pred[:, 1:] != pred[:, :-1]
    edge[1:, :] |= pred[1:, :] != pred[:-1, :]
    rgb[edge] = 20
    image = Image.fromarray(np.flipud(rgb).astype(np.uint8))  # row 0 is the top (largest x₂)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def linear_regions(xs: np.ndarray, key: np.ndarray, pred: np.ndarray, points: pd.DataFrame,
                   title: str, height: int = 430) -> alt.LayerChart:
    """The input plane coloured by activation pattern (one colour per linear region), the
    decision boundary in black, the data on top."""
    lo, hi = float(xs[0]), float(xs[-1])
    x, y = _plane_axes(lo, hi)
    frame = pd.DataFrame({"x": [lo], "x2": [hi], "y": [lo], "y2": [hi],
                          "url": [region_image(key, pred)]})
    image = alt.Chart(frame).mark_image(aspect=False, align="left", baseline="bottom").encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", url="url:N")
    return alt.layer(image, *_labelled_points(points, None), title=title, height=height)


# --- ensembles, distillation and dropout (issue 6) -------------------------------------

MODEL_KIND_LABELS = {
    "individual": "individual (mean)", "ensemble": "ensemble", "distilled": "distilled",
    "self_distilled": "self-distilled", "hard_label_control": "equal-budget control",
    "random_features": "random features", "random_features_ensemble": "random-feature ensemble",
}
TEST_SET_SCALE = alt.Scale(domain=["multi-view", "single-view", "all"],
                           range=["#9ecae1", "#08519c", "#6baed6"])


def model_accuracy_bars(frame: pd.DataFrame, title: str, height: int = 360) -> alt.Chart:
    """Grouped bars: test accuracy of each model kind, one bar per test set.
    Columns: model, order, test_set, accuracy."""
    sets = [t for t in TEST_SET_SCALE.domain if t in set(frame["test_set"])]
    colors = [c for t, c in zip(TEST_SET_SCALE.domain, TEST_SET_SCALE.range) if t in sets]
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("model:N", title=None, sort=alt.SortField("order"),
                axis=alt.Axis(labelAngle=-35, labelOverlap=False, labelLimit=160)),
        xOffset=alt.XOffset("test_set:N", sort=sets),
        y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("test_set:N", title="test examples",
                        scale=alt.Scale(domain=sets, range=colors),
                        legend=alt.Legend(orient="top")),
        tooltip=["model:N", "test_set:N", alt.Tooltip("accuracy:Q", format=".3f")],
    )


def view_heatmaps(frame: pd.DataFrame, title: str, columns: int = 4,
                  subtitle: str = "") -> alt.FacetChart:
    """One small class × view heatmap per network: probe accuracy on single-view examples
    showing only that view (dark = the network recognizes the view).
    Columns: panel, order, class, view, accuracy."""
    n_classes = frame["class"].nunique() if len(frame) else 1
    return alt.Chart(frame, width=max(60, min(150, 14 * n_classes)), height=44).mark_rect(
        stroke="white", strokeWidth=0.5).encode(
        x=alt.X("class:O", title="class"),
        y=alt.Y("view:O", title=None),
        color=alt.Color("accuracy:Q", title="accuracy with only this view",
                        scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(orient="top", gradientLength=200)),
        tooltip=["panel:N", "class:O", "view:O", alt.Tooltip("accuracy:Q", format=".2f")],
    ).facet(facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
            columns=columns, title=alt.Title(title, subtitle=subtitle))


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
        tooltip=["network:N", "class:O", "view:N", alt.Tooltip("drop:Q", format=".2f")],
    ).facet(row=alt.Row("network:N", title=None, header=alt.Header(labelAngle=0,
                                                                    labelAlign="left")),
            title=title)


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
        tooltip=["prediction:N", "disagreement:O", "points:Q"],
    )


def curves_legend_below(frame: pd.DataFrame, title: str, y_title: str, log_y: bool = False,
                        height: int = 300, columns: int = 4) -> alt.Chart:
    """`curves` with the legend under the plot, for many series (it would cover the
    lines inside the plot)."""
    return curves(frame, title, y_title, log_y=log_y, height=height).encode(
        color=alt.Color("series:N", title=None, sort=list(dict.fromkeys(frame["series"])),
                        scale=alt.Scale(scheme="tableau20" if frame["series"].nunique() > 10
                                        else "tableau10"),
                        legend=alt.Legend(orient="bottom", columns=columns,
                                          labelLimit=160)))


# --- memorization → generalization and grokking (issue 5) -----------------------------

SPLIT_COLORS = alt.Scale(domain=["train", "test"], range=["#1f77b4", "#d62728"])


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
        tooltip=["series:N", "train_size:Q", alt.Tooltip("value:Q", format=".3f")])
    layers = [base.mark_line(), base.mark_circle(size=60)]
    if chosen is not None:
        layers.append(alt.Chart(pd.DataFrame({"train_size": [chosen]})).mark_rule(
            color="#888", strokeDash=[2, 2]).encode(x="train_size:Q"))
    if peak is not None:
        top = frame[(frame["series"] == "test") & (frame["train_size"] == peak)]
        layers.append(alt.Chart(top).mark_point(shape="triangle-down", size=220, filled=True,
                                                color="black", yOffset=-14).encode(
            x="train_size:Q", y="value:Q"))
        layers.append(alt.Chart(top.assign(label=f"peak T={peak}")).mark_text(
            dy=-30, fontWeight="bold").encode(x="train_size:Q", y="value:Q", text="label:N"))
    return alt.layer(*layers, title=title, height=height)


def plane_vectors(frame: pd.DataFrame, title: str, subtitle: str = "", height: int = 340,
                  colors: alt.Scale | None = None) -> alt.LayerChart:
    """Vectors in the hidden plane as lines from the origin with a dot at the end, no
    legend (say the colours in the subtitle). `height` includes the title and the axis
    labels, so the plot itself is about square. Columns: x, y, kind (colour), dim
    (dimensionality, for the tooltip and the size)."""
    limit = float(np.abs(frame[["x", "y"]].to_numpy()).max() * 1.1) if len(frame) else 1.0
    limit = max(limit, 1e-6)
    scale = alt.Scale(domain=[-limit, limit], nice=False)
    color = alt.Color("kind:N", title=None, legend=None,
                      **({"scale": colors} if colors is not None else {}))
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title="hidden unit 1"),
        y=alt.Y("y:Q", scale=scale, title="hidden unit 2"), color=color,
        tooltip=["kind:N", alt.Tooltip("dim:Q", title="dimensionality D", format=".3f")])
    lines = base.mark_rule(strokeWidth=1.2, opacity=0.5).encode(x2=alt.datum(0),
                                                                y2=alt.datum(0))
    dots = base.mark_circle(opacity=0.9).encode(
        size=alt.Size("dim:Q", scale=alt.Scale(domain=[0, 1], range=[12, 160]), legend=None))
    return alt.layer(lines, dots, title=alt.Title(title, subtitle=subtitle),
                     height=height, width=height - 40)


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
                                        range=["#ff7f0e", "#2ca02c"])),
        tooltip=["series:N", "train_size:Q", alt.Tooltip("value:Q", format=".3f")])


def loss_bars(frame: pd.DataFrame, title: str, height: int = 240) -> alt.Chart:
    """One bar per run. Columns: run, value."""
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("run:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="test loss ÷ zero-output loss",
                scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", legend=None, sort=None),
        tooltip=["run:N", alt.Tooltip("value:Q", format=".4f")])


def log_step_curves(frame: pd.DataFrame, title: str, y_title: str, last_step: int,
                    colors: alt.Scale | None = None, log_y: bool = False,
                    height: int = 280, legend: str = "top") -> alt.Chart:
    """Curves (step, series, value) on a log step axis from step 1 to `last_step`;
    `legend` is where the legend goes ("right" for wide, short charts)."""
    color = alt.Color("series:N", title=None, legend=alt.Legend(orient=legend),
                      **({"scale": colors} if colors is not None else {}))
    return alt.Chart(frame, title=title, height=height).mark_line().encode(
        x=alt.X("step:Q", title="step (log scale)",
                scale=alt.Scale(type="log", domain=[1, max(2, last_step)], nice=False)),
        y=alt.Y("value:Q", title=y_title,
                scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False)),
        color=color,
        tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")])


def step_marks(curve: alt.Chart, marks: dict[str, int | None]) -> alt.LayerChart:
    """Vertical dashed rules at the named steps (None: left out) over a step chart."""
    rows = [{"step": s, "label": name} for name, s in marks.items() if s]
    if not rows:
        return alt.layer(curve)
    rules = alt.Chart(pd.DataFrame(rows)).mark_rule(strokeDash=[4, 3], color="#555").encode(
        x="step:Q", tooltip=["label:N", "step:Q"])
    text = alt.Chart(pd.DataFrame(rows)).mark_text(align="left", dx=4, dy=8, color="#333",
                                                   baseline="top").encode(
        x="step:Q", y=alt.value(0), text="label:N")
    return alt.layer(curve, rules, text)
