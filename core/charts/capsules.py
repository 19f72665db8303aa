"""Capsule networks: curves over epochs for the three models, coupling heatmaps per
routing iteration, the routing measures per iteration, the digit capsules' lengths,
8×8 digit images (originals, reconstructions, perturbed capsules), and the tables."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import NEUTRAL, heatmap, metrics_long, tips

MODELS = {"capsules": "capsule net (routing)", "uniform": "uniform control",
          "cnn": "plain CNN"}
MODEL_COLORS = alt.Scale(domain=list(MODELS.values()),
                         range=["#d62728", "#7f7f7f", "#1f77b4"])
ITERATION_COLORS = alt.Scale(domain=["routing by agreement", "uniform control"],
                             range=["#d62728", "#7f7f7f"])
SIDE = 8


def model_metrics(metrics: dict, suffix: str) -> pd.DataFrame:
    """`<model>_<suffix>` of every model that logged it, one series per model."""
    return metrics_long(metrics, {f"{key}_{suffix}": label for key, label in MODELS.items()})


def epoch_curves(frame: pd.DataFrame, title: str, y_title: str, colors: alt.Scale | None = None,
                 height: int = 280, log_y: bool = False, dash: str | None = None,
                 legend: str = "right") -> alt.Chart:
    """Lines with points over epochs (the frame's `step` is the epoch); `dash` names a
    column whose values draw solid and dashed lines (train / test). `height` holds the
    legends too when they sit above or below the plot: keep them at the side."""
    color = alt.Color("series:N", title=None, legend=alt.Legend(orient=legend, labelLimit=180),
                      **({"scale": colors} if colors is not None else {}))
    enc = {"x": alt.X("step:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
           "y": alt.Y("value:Q", title=y_title,
                      scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False)),
           "color": color,
           "tooltip": tips("series:N", alt.Tooltip("step:Q", title="epoch"),
                           alt.Tooltip("value:Q", format=".4g"))}
    if dash:
        enc["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=None,
                                           sort=["train", "test"],
                                           legend=alt.Legend(orient=legend))
    # points would turn the dash legend into dots: dashed charts draw lines only
    return alt.Chart(frame, title=title, height=height).mark_line(point=not dash).encode(**enc)


def accuracy_band_frame(metrics: dict) -> pd.DataFrame:
    """Each model's test accuracy over epochs: the mean over the seeds (`value`) and the
    lowest and highest seed (`lo`, `hi`), where the run logged them."""
    frame = metrics_long(metrics, {f"{k}_test_accuracy": v for k, v in MODELS.items()})
    for end in ("lo", "hi"):
        ends = metrics_long(metrics, {f"{k}_test_accuracy_{end}": v for k, v in MODELS.items()})
        ends = ends.rename(columns={"value": end})
        frame = frame.merge(ends, on=["step", "series"], how="left") if len(ends) else \
            frame.assign(**{end: frame["value"]})
    return frame


def band_curves(frame: pd.DataFrame, title: str, y_title: str, seeds: int) -> alt.LayerChart:
    """`epoch_curves` of the means, over a shaded band from the lowest to the highest
    seed (one seed: no band)."""
    lines = epoch_curves(frame, title, y_title, colors=MODEL_COLORS)
    if seeds < 2:
        return alt.layer(lines)
    # one colour encoding for both layers, so that they share one legend, whose symbols
    # stay opaque (they would take the band's opacity)
    color = alt.Color("series:N", title=None, scale=MODEL_COLORS,
                      legend=alt.Legend(orient="right", labelLimit=180, symbolOpacity=1))
    band = alt.Chart(frame).mark_area(opacity=0.18).encode(
        x=alt.X("step:Q"), y=alt.Y("lo:Q"), y2=alt.Y2("hi:Q"), color=color)
    return alt.layer(band, lines.encode(color=color)).properties(title=title)


def split_frame(metrics: dict, names: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Metrics as (step, series, split, value): names = {metric: (series, split)}."""
    frames = []
    for metric, (series, split) in names.items():
        part = metrics_long(metrics, {metric: series})
        part["split"] = split
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def coupling_frame(couplings: np.ndarray) -> pd.DataFrame:
    """Couplings [iterations, primary capsules, 10] in long form."""
    r, n, j = couplings.shape
    it, prim, dig = np.meshgrid(np.arange(r), np.arange(n), np.arange(j), indexing="ij")
    return pd.DataFrame({"iteration": (it.ravel() + 1), "primary": prim.ravel(),
                         "digit": dig.ravel().astype(str),
                         "coupling": couplings.ravel().round(4)})


def coupling_heatmaps(frame: pd.DataFrame, title: str, maps: int) -> alt.FacetChart:
    """One panel per routing iteration: rows are primary capsules (type·position), columns
    the ten digit capsules; colour is the coupling c_ij (1/10 is uniform)."""
    n = int(frame["primary"].max()) + 1
    top = max(0.2, float(frame["coupling"].max()))
    chart = heatmap(
        frame,
        alt.X("digit:O", title="digit capsule", sort=[str(d) for d in range(10)],
              axis=alt.Axis(labelAngle=0)),
        alt.Y("primary:O", title=f"primary capsule ({n})",
              axis=alt.Axis(labels=n <= 32, ticks=n <= 32)),
        alt.Color("coupling:Q", title="coupling",
                  scale=alt.Scale(scheme="viridis", domain=[0, top])),
        [alt.Tooltip("iteration:O"), alt.Tooltip("primary:O", title="primary capsule"),
         alt.Tooltip("digit:N", title="digit capsule"),
         alt.Tooltip("coupling:Q", format=".3f")],
        width=170, height=int(min(420, max(220, 14 * n))))
    return chart.facet(column=alt.Column("iteration:O", title=None,
                                         header=alt.Header(labelExpr="'iteration ' + datum.value",
                                                           labelFontSize=12)),
                       title=title)


def iteration_frame(routing: dict, routed: str, uniform: str) -> pd.DataFrame:
    """One routing measure per iteration for the routed nets and the uniform controls."""
    values = np.asarray(routing[routed])
    rows = [{"iteration": i + 1, "series": "routing by agreement", "value": float(v)}
            for i, v in enumerate(values)]
    rows += [{"iteration": i + 1, "series": "uniform control", "value": float(v)}
             for i, v in enumerate(np.asarray(routing[uniform]))]
    return pd.DataFrame(rows)


def iteration_chart(frame: pd.DataFrame, title: str, y_title: str, level: float,
                    level_label: str, zero: bool, height: int = 240) -> alt.LayerChart:
    """A routing measure over iterations with a dashed reference level (ln 10 or 1/10);
    red is routing by agreement, grey the uniform control (no legend: narrow columns)."""
    iterations = int(frame["iteration"].max())
    lines = alt.Chart(frame, title=title, height=height).mark_line(point=True).encode(
        x=alt.X("iteration:Q", title="routing iteration",
                scale=alt.Scale(domain=[1, max(2, iterations)]),
                axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=zero)),
        color=alt.Color("series:N", title=None, scale=ITERATION_COLORS, legend=None),
        tooltip=tips("series:N", "iteration:Q",
                     alt.Tooltip("value:Q", format=".4f")))
    level_frame = pd.DataFrame({"value": [level], "label": [level_label]})
    rule = alt.Chart(level_frame).mark_rule(strokeDash=[4, 3], color=NEUTRAL).encode(
        y=alt.Y("value:Q"), tooltip=tips("label:N", alt.Tooltip("value:Q", format=".4f")))
    text = alt.Chart(level_frame).mark_text(align="left", dx=4, dy=-6, color=NEUTRAL).encode(
        y=alt.Y("value:Q"), x=alt.XValue(0), text=alt.Text("label:N"))
    return alt.layer(lines, rule, text)


def length_bars(lengths: np.ndarray, predicted: int, label: int, title: str,
                height: int = 240) -> alt.LayerChart:
    """The ten digit capsules' lengths (class probabilities), the winner in red, with the
    margins m+ 0.9 and m− 0.1 as dashed rules."""
    frame = pd.DataFrame({"digit": [str(d) for d in range(len(lengths))],
                          "length": np.asarray(lengths, dtype=float).round(4),
                          "role": ["winner" if d == predicted else "other"
                                   for d in range(len(lengths))]})
    bars = alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("digit:O", title="digit capsule", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("length:Q", title="length |v_j|", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("role:N", legend=None,
                        scale=alt.Scale(domain=["winner", "other"],
                                        range=["#d62728", "#9e9e9e"])),
        tooltip=tips("digit:N", alt.Tooltip("length:Q", format=".3f")))
    margins = pd.DataFrame({"length": [0.9, 0.1], "label": ["m+ 0.9", "m− 0.1"]})
    rules = alt.Chart(margins).mark_rule(strokeDash=[4, 3], color=NEUTRAL).encode(
        y=alt.Y("length:Q"), tooltip=tips("label:N"))
    return alt.layer(bars, rules)


def images_frame(images: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """8×8 images [(caption, 64 pixels in [0, 1])] in long form, in the given order."""
    frames = []
    for order, (caption, pixels) in enumerate(images):
        grid = np.asarray(pixels, dtype=float).reshape(SIDE, SIDE)
        rows, cols = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
        frames.append(pd.DataFrame({"image": caption, "order": order, "row": rows.ravel(),
                                    "col": cols.ravel(), "value": grid.ravel().round(3)}))
    return pd.concat(frames, ignore_index=True)


def image_strip(frame: pd.DataFrame, title: str, cell: int = 7,
                columns: int | None = None) -> alt.FacetChart:
    """Images side by side (dark is ink), one panel per `image`, in `order`, wrapped
    after `columns` (all in one row by default)."""
    facet = {"facet": alt.Facet("image:N", title=None, sort=alt.SortField("order"),
                                header=alt.Header(labelFontSize=11)),
             "columns": columns or int(frame["image"].nunique())}
    return heatmap(
        frame, alt.X("col:O", axis=None), alt.Y("row:O", axis=None),
        alt.Color("value:Q", scale=alt.Scale(scheme="greys", domain=[0, 1]), legend=None),
        [alt.Tooltip("value:Q", format=".2f")], width=SIDE * cell, height=SIDE * cell,
    ).facet(**facet, title=title).configure_view(stroke="#bbb")


def perturbed_by_dimension(perturbed: np.ndarray, offset_index: int
                           ) -> list[tuple[str, np.ndarray]]:
    """All 16 dimensions moved by one offset: [(\"dim k\", pixels)]."""
    return [(f"dim {d + 1}", perturbed[d, offset_index]) for d in range(perturbed.shape[0])]


def perturbed_by_offset(perturbed: np.ndarray, dimension: int, offsets: list[float]
                        ) -> list[tuple[str, np.ndarray]]:
    """One dimension moved by every offset: [(\"+0.05\", pixels)]."""
    return [(f"{o:+.2f}", perturbed[dimension, k]) for k, o in enumerate(offsets)]


def seed_frame(table: dict) -> pd.DataFrame:
    """Test accuracy per seed for the three models (one row per seed)."""
    return pd.DataFrame({"seed": table["seed"],
                         MODELS["capsules"]: table["capsules"],
                         MODELS["uniform"]: table["uniform"],
                         MODELS["cnn"]: table["cnn"]})


PAPER_COLUMN, HERE_COLUMN = "MNIST (paper)", "8×8 digits (here)"


def paper_frame(summary: dict) -> pd.DataFrame:
    """Test error in % of the paper's MNIST nets (with its decoder) beside this run's on
    8×8 digits (mean over seeds)."""
    paper = summary["paper_mnist_error_percent"]
    return pd.DataFrame({
        "test error": ["capsule net, routing", "capsule net, uniform", "plain CNN"],
        PAPER_COLUMN: [paper["capsnet_3_iterations"], paper["capsnet_1_iteration"],
                       paper["baseline_cnn"]],
        HERE_COLUMN: [summary[k]["error_percent"] for k in ("capsules", "uniform", "cnn")],
    })
