"""The Data page: excess loss against repeats k, training loss of repeated and unique
examples, deduplication's image pairs and test losses, active-learning curves with bands
and the images each strategy asked for, the Chinchilla law's isoFLOP curves, and the
toy isoFLOP sweep with its fitted exponent. Frame builders turn a run's summary or
snapshots into long-form pandas frames; chart builders draw them."""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from core.charts import base

SIDE = 8  # digits are 8×8
GAP = 1  # blank pixels between images in a grid
STRATEGY_COLORS = alt.Scale(domain=["random", "least confidence", "margin", "entropy"],
                            range=["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c"])
CONTROL_COLORS = {"fresh": "#2ca02c", "drop": "#7f7f7f"}
CONDITION_COLORS = alt.Scale(
    domain=["clean", "with copies", "exact removed", "exact + near removed"],
    range=["#2ca02c", "#d62728", "#ff7f0e", "#1f77b4"])


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


# --- repetition -------------------------------------------------------------------------

def _k_scale(k: pd.Series) -> alt.Scale:
    """A log axis over the k values swept, a little wider on each side."""
    if not len(k):
        return alt.Scale(type="log")
    return alt.Scale(type="log", domain=[float(k.min()) / 1.5, float(k.max()) * 1.5],
                     nice=False)


def repetition_frame(sweep: dict) -> pd.DataFrame:
    """Excess loss per k (mean ± one standard deviation over seeds); the controls left out."""
    k = np.asarray(sweep["k"], float)
    n = len(k)
    mean, std = np.asarray(sweep["excess_mean"])[:n], np.asarray(sweep["excess_std"])[:n]
    return pd.DataFrame({"k": k, "excess": mean, "low": mean - std, "high": mean + std})


def excess_vs_repeats(frame: pd.DataFrame, fresh: float, drop: float, title: str,
                      peak_k: float | None = None, height: int = 320) -> alt.LayerChart:
    """Excess test loss against k (log axis) with a one-σ bar per point, and the two
    controls as horizontal lines."""
    x = alt.X("k:Q", title="times each repeated example is seen, k (log scale)",
              scale=_k_scale(frame["k"]))
    line = alt.Chart(frame).mark_line(point=True, color="#d62728").encode(
        x=x, y=alt.Y("excess:Q", title="excess test loss (KL to the teacher)",
                     scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("k:Q", format=",.4g"), alt.Tooltip("excess:Q", format=".4f")])
    bars = alt.Chart(frame).mark_rule(color="#d62728", opacity=0.6).encode(
        x=x, y=alt.Y("low:Q"), y2=alt.Y2("high:Q"))
    rules = pd.DataFrame({"y": [fresh, drop], "label": [
        f"fresh (deduplicated) {fresh:.3f}", f"drop (repeats left out) {drop:.3f}"],
        "color": [CONTROL_COLORS["fresh"], CONTROL_COLORS["drop"]]})
    lines = alt.Chart(rules).mark_rule(strokeDash=[5, 4]).encode(
        y=alt.Y("y:Q"), color=alt.Color("color:N", scale=None), tooltip=base.tips("label:N"))
    text = alt.Chart(rules).mark_text(align="right", dx=-4, dy=-6, fontSize=11).encode(
        x=alt.XValue("width"), y=alt.Y("y:Q"), text=alt.Text("label:N"),
        color=alt.Color("color:N", scale=None))
    layers = [bars, line, lines, text]
    if peak_k is not None and len(frame):
        peak = frame[frame["k"] == peak_k]
        layers.append(alt.Chart(peak).mark_point(size=160, shape="diamond", filled=True,
                                                 color="#7b0000").encode(x=x, y=alt.Y("excess:Q")))
    return alt.layer(*layers, title=title, height=height)


def train_loss_frame(sweep: dict) -> pd.DataFrame:
    k = np.asarray(sweep["k"], float)
    n = len(k)
    return pd.concat([
        pd.DataFrame({"k": k, "loss": np.asarray(sweep["repeated_loss"])[:n],
                      "examples": "the repeated examples"}),
        pd.DataFrame({"k": k, "loss": np.asarray(sweep["unique_loss"])[:n],
                      "examples": "unique examples (seen once)"}),
    ], ignore_index=True)


def train_loss_vs_repeats(frame: pd.DataFrame, bayes: float | None, title: str,
                          height: int = 320) -> alt.LayerChart:
    """Training loss of the repeated subset and of once-seen examples against k."""
    chart = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("k:Q", title="k (log scale)", scale=_k_scale(frame["k"])),
        y=alt.Y("loss:Q", title="training loss (cross-entropy)"),
        color=alt.Color("examples:N", title=None, scale=alt.Scale(
            domain=["the repeated examples", "unique examples (seen once)"],
            range=["#d62728", "#1f77b4"]), legend=alt.Legend(orient="bottom", labelLimit=260)),
        tooltip=base.tips("examples:N", alt.Tooltip("k:Q", format=",.4g"),
                          alt.Tooltip("loss:Q", format=".3f")))
    layers = [chart]
    if bayes is not None:
        layers += base.reference_line(bayes, f"Bayes floor {bayes:.3f}")
    return alt.layer(*layers, title=title, height=height)


def example_loss_frame(example: dict) -> pd.DataFrame:
    return pd.concat([
        pd.DataFrame({"loss": np.asarray(example["repeated"], float),
                      "examples": "repeated"}),
        pd.DataFrame({"loss": np.asarray(example["unique"], float), "examples": "unique"}),
    ], ignore_index=True)


def example_loss_histogram(frame: pd.DataFrame, title: str, height: int = 260) -> alt.Chart:
    """Share of examples per loss bin, repeated and unique overlaid."""
    return alt.Chart(frame, title=title, height=height).transform_joinaggregate(
        total="count()", groupby=["examples"]).transform_calculate(
        share="1 / datum.total").mark_bar(opacity=0.55, binSpacing=0).encode(
        x=alt.X("loss:Q", title="per-example training loss", bin=alt.Bin(maxbins=40)),
        y=alt.Y("sum(share):Q", title="share of examples", stack=None,
                axis=alt.Axis(format="%")),
        color=alt.Color("examples:N", title=None, scale=alt.Scale(
            domain=["repeated", "unique"], range=["#d62728", "#1f77b4"]),
            legend=alt.Legend(orient="top-right")),
        tooltip=base.tips("examples:N",
                          alt.Tooltip("sum(share):Q", format=".1%", title="share")))


# --- images in a grid (deduplication pairs, queried digits) --------------------------------

def image_cells(images: np.ndarray, col0: np.ndarray, row0: np.ndarray) -> pd.DataFrame:
    """Images [k, 64] as pixel rows (x, y, value), image i with its top-left cell at
    (col0[i], row0[i]) of an integer grid."""
    images = np.asarray(images, float).reshape(-1, SIDE * SIDE)
    if not len(images):
        return _empty("x", "y", "value")
    r, c = np.divmod(np.arange(SIDE * SIDE), SIDE)
    return pd.DataFrame({
        "x": (np.asarray(col0, int)[:, None] + c[None]).ravel(),
        "y": (np.asarray(row0, int)[:, None] + r[None]).ravel(),
        "value": images.ravel().round(3)})


def image_grid(cells: pd.DataFrame, labels: pd.DataFrame, title: str, columns: int,
               rows: int, cell: int = 7) -> alt.LayerChart:
    """Pixels as squares of `cell` px (white paper, black ink) on a columns × rows grid
    of cells, and text labels centred on the cell (x, y) they name."""
    x = alt.X("x:O", axis=None, scale=alt.Scale(domain=list(range(columns))))
    y = alt.Y("y:O", axis=None, scale=alt.Scale(domain=list(range(rows))))
    pixels = alt.Chart(cells).mark_rect().encode(
        x=x, y=y, color=alt.Color("value:Q", scale=alt.Scale(domain=[0, 1],
                                                              range=["white", "black"]),
                                  legend=None), tooltip=alt.TooltipValue(None))
    text = alt.Chart(labels).mark_text(fontSize=10, baseline="middle", align="center",
                                       dx=-cell / 2, color=base.NEUTRAL).encode(
        x=x, y=y, text=alt.Text("text:N"))
    return alt.layer(pixels, text, title=title).properties(
        width=alt.Step(cell), height=alt.Step(cell)).configure_view(stroke=None)


def pairs_grid(pairs: dict, title: str, cell: int = 8) -> alt.LayerChart:
    """Each pair as two images stacked (the kept one on top), its verdict and cosine below."""
    left, right = np.asarray(pairs["left"]), np.asarray(pairs["right"])
    k = len(left)
    step = SIDE + 3
    col0 = np.arange(k) * step
    cells = pd.concat([image_cells(left, col0, np.zeros(k)),
                       image_cells(right, col0, np.full(k, SIDE + GAP))], ignore_index=True)
    first = 2 * SIDE + GAP + 1
    labels = pd.DataFrame({
        "x": np.r_[col0, col0] + SIDE // 2,
        "y": np.r_[np.full(k, first), np.full(k, first + 2)],
        "text": [str(t) for t in pairs["label"]] + [f"cos {c:.3f}" for c in pairs["cosine"]]})
    return image_grid(cells, labels, title, max(1, k * step - 3), first + 3, cell=cell)


def queried_grid(batch: dict, title: str, per_row: int = 10, cell: int = 6) -> alt.LayerChart:
    """The last batch each strategy queried, one row per strategy: image, true digit →
    the model's guess, and m, the gap between its two highest probabilities."""
    strategies = list(batch.get("strategies", []))
    cells, labels = [], []
    step, band, left = SIDE + 5, SIDE + 5, 20
    n_max = 1
    for s, name in enumerate(strategies):
        slug = name.replace(" ", "_")
        images = np.asarray(batch[f"{slug}_images"])[:per_row]
        truth = np.asarray(batch[f"{slug}_labels"])[:per_row]
        guess = np.asarray(batch[f"{slug}_predicted"])[:per_row]
        margin = np.asarray(batch[f"{slug}_margin"])[:per_row]
        k = len(images)
        n_max = max(n_max, k)
        col0 = left + np.arange(k) * step
        row0 = np.full(k, s * band)
        cells.append(image_cells(images, col0, row0))
        labels.append(pd.DataFrame({"x": col0 + SIDE // 2, "y": row0 + SIDE + 1,
                                    "text": [f"{t}→{g}  m={m:.2f}" for t, g, m in
                                             zip(truth, guess, margin)]}))
        labels.append(pd.DataFrame({"x": [left // 2], "y": [s * band + SIDE // 2],
                                    "text": [name]}))
    if not strategies:
        return image_grid(_empty("x", "y", "value"), pd.DataFrame(
            {"x": pd.Series(dtype=int), "y": pd.Series(dtype=int), "text": []}), title, 1, 1)
    return image_grid(pd.concat(cells, ignore_index=True),
                      pd.concat(labels, ignore_index=True), title,
                      left + n_max * step, len(strategies) * band, cell=cell)


# --- deduplication ------------------------------------------------------------------------

def dedup_loss_frame(summary: dict) -> pd.DataFrame:
    names = summary["conditions"]
    mean = np.array([summary["test_loss"][n] for n in names])
    std = np.array([summary["test_loss_std"][n] for n in names])
    size = [summary["train_sizes"][n] for n in names]
    return pd.DataFrame({"condition": names, "loss": mean, "low": mean - std,
                         "high": mean + std, "size": size,
                         "accuracy": [summary["test_accuracy"][n] for n in names]})


def dedup_loss_bars(frame: pd.DataFrame, title: str, height: int = 200) -> alt.LayerChart:
    y = alt.Y("condition:N", title=None, sort=list(frame["condition"]),
              axis=alt.Axis(labelLimit=200))
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("loss:Q", title="test loss (cross-entropy), mean over seeds"), y=y,
        color=alt.Color("condition:N", scale=CONDITION_COLORS, legend=None),
        tooltip=base.tips("condition:N", alt.Tooltip("loss:Q", format=".4f"),
                          alt.Tooltip("size:Q", title="training images", format=",.0f"),
                          alt.Tooltip("accuracy:Q", format=".1%")))
    whisk = alt.Chart(frame).mark_rule(color=base.NEUTRAL).encode(x=alt.X("low:Q"),
                                                                  x2=alt.X2("high:Q"), y=y)
    text = alt.Chart(frame).mark_text(align="left", dx=4, color=base.NEUTRAL).encode(
        x=alt.X("high:Q"), y=y, text=alt.Text("loss:Q", format=".3f"))
    return alt.layer(bars, whisk, text, title=title, height=height)


# --- active learning ----------------------------------------------------------------------

def learning_curves_frame(curves: dict) -> pd.DataFrame:
    labels = np.asarray(curves["labels"], float)
    frames = []
    for name in STRATEGY_COLORS.domain:
        slug = name.replace(" ", "_")
        if f"{slug}_mean" in curves:
            mean, std = np.asarray(curves[f"{slug}_mean"]), np.asarray(curves[f"{slug}_std"])
            frames.append(pd.DataFrame({"labels": labels[:len(mean)], "strategy": name,
                                        "accuracy": mean, "low": mean - std,
                                        "high": mean + std}))
    return pd.concat(frames, ignore_index=True) if frames else \
        _empty("labels", "strategy", "accuracy", "low", "high")


def learning_curves(frame: pd.DataFrame, full_pool: float | None, title: str,
                    height: int = 360) -> alt.LayerChart:
    """Test accuracy against labels used: mean line and a ±1σ band per strategy."""
    x = alt.X("labels:Q", title="labelled images")
    color = alt.Color("strategy:N", scale=STRATEGY_COLORS, title=None,
                      legend=alt.Legend(orient="bottom"))
    low = float(max(0.0, frame["low"].min() - 0.01)) if len(frame) else 0.5
    band = alt.Chart(frame).mark_area(opacity=0.15).encode(
        x=x, y=alt.Y("low:Q", scale=alt.Scale(domain=[low, 1.0])), y2=alt.Y2("high:Q"),
        color=alt.Color("strategy:N", scale=STRATEGY_COLORS, legend=None))
    line = alt.Chart(frame).mark_line().encode(
        x=x, y=alt.Y("accuracy:Q", title="test accuracy", axis=alt.Axis(format="%"),
                     scale=alt.Scale(domain=[low, 1.0])), color=color,
        tooltip=base.tips("strategy:N", "labels:Q",
                          alt.Tooltip("accuracy:Q", format=".1%")))
    layers = [band, line]
    if full_pool is not None:
        layers += base.reference_line(full_pool, f"every pool label: {full_pool:.1%}")
    return alt.layer(*layers, title=title, height=height)


def strategy_table(summary: dict, at: tuple[int, ...] = (50, 100)) -> pd.DataFrame:
    """One row per strategy: accuracy at a few label counts and at the end, labels until
    the mean curve reaches 90 % and 95 % (and how many seeds' curves get there), the
    curve's mean and its gain over random in points (and on how many seeds it is ahead)."""
    labels = summary["labels"]
    seeds = summary["seeds"]
    rows = []
    for name, s in summary["strategies"].items():
        row = {"strategy": name}
        for n in (*at, labels[-1]):
            if n in labels:
                i = labels.index(n)
                row[f"acc @{n}"] = f"{s['accuracy_mean'][i]:.1%} ± {s['accuracy_std'][i]:.1%}"
        for target, reach in s["labels_to_reach"].items():
            n = reach["mean_curve"]
            row[f"labels to {target}"] = ("–" if n is None else str(n)) + \
                f" ({reach['seeds_reaching']}/{seeds})"
        row["curve mean"] = f"{s['curve_mean']:.1%} ± {s['curve_mean_std']:.1%}"
        row["vs random (seeds ahead)"] = "–" if name == "random" else \
            f"{100 * s['gain_over_random']:+.1f} ± {100 * s['gain_over_random_std']:.1f} " \
            f"({s['seeds_beating_random']}/{seeds})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy")


# --- Chinchilla: the law and the toy ---------------------------------------------------------

def budget_label(c: float) -> str:
    return f"C = {c:.2g}"


def law_curves_frame(curves: dict) -> pd.DataFrame:
    return pd.DataFrame({"budget": [budget_label(c) for c in curves["budget"]],
                         "order": np.asarray(curves["budget"], float),
                         "n": np.asarray(curves["n"], float),
                         "d": np.asarray(curves["d"], float),
                         "loss": np.asarray(curves["loss"], float)})


def law_optima_frame(summary: dict) -> pd.DataFrame:
    rows = summary["budgets"]
    return pd.DataFrame({"budget": [budget_label(r["budget"]) for r in rows],
                         "order": [r["budget"] for r in rows],
                         "n": [r["n_opt"] for r in rows], "d": [r["d_opt"] for r in rows],
                         "loss": [r["loss_opt"] for r in rows],
                         "ratio": [r["tokens_per_parameter"] for r in rows],
                         "n_20": [r["n_20"] for r in rows],
                         "loss_20": [r["loss_20"] for r in rows]})


def _count_axis(values: pd.Series) -> alt.Axis:
    """A log axis labelled 1k, 10M, 1B... at each power of ten the data spans (at most
    eight labels: every other power when it spans more)."""
    v = np.asarray(values, float)
    v = v[v > 0]
    if not len(v):
        return alt.Axis(labelExpr=COUNT_LABELS)
    lo, hi = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    every = max(1, math.ceil((hi - lo + 1) / 8))
    return alt.Axis(labelExpr=COUNT_LABELS,
                    values=[10.0 ** k for k in range(lo, hi + 1, every)])


def _budget_color(frame: pd.DataFrame) -> alt.Color:
    order = list(dict.fromkeys(frame.sort_values("order")["budget"]))
    return alt.Color("budget:N", sort=order, scale=alt.Scale(scheme=base.VIRIDIS), title=None,
                     legend=alt.Legend(orient="bottom", columns=min(4, max(1, len(order)))))


# 1k, 10M, 100B, 1T: counts of parameters and tokens on a log axis
COUNT_LABELS = ("datum.value >= 1e12 ? format(datum.value / 1e12, '~g') + 'T' : "
                "datum.value >= 1e9 ? format(datum.value / 1e9, '~g') + 'B' : "
                "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : "
                "datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : "
                "format(datum.value, '~g')")


def isoflop_curves(curves: pd.DataFrame, optima: pd.DataFrame, title: str,
                   x_title: str = "parameters N (log scale)", log_y: bool = False,
                   height: int = 360) -> alt.LayerChart:
    """Loss against N along each budget's isoFLOP curve, the minimum of each marked."""
    x = alt.X("n:Q", title=x_title, scale=alt.Scale(type="log"),
              axis=_count_axis(curves["n"]))
    y = alt.Y("loss:Q", title="loss", scale=alt.Scale(type="log" if log_y else "linear",
                                                      zero=False))
    color = _budget_color(curves)
    line = alt.Chart(curves).mark_line().encode(
        x=x, y=y, color=color, tooltip=base.tips("budget:N", alt.Tooltip("n:Q", format=".3g"),
                                                 alt.Tooltip("loss:Q", format=".4f")))
    dots = alt.Chart(optima).mark_point(shape="diamond", size=120, filled=True).encode(
        x=x, y=y, color=color, tooltip=base.tips("budget:N", alt.Tooltip("n:Q", format=".3g",
                                                                         title="best N"),
                                                 alt.Tooltip("loss:Q", format=".4f")))
    return alt.layer(line, dots, title=title, height=height)


def ratio_chart(optima: pd.DataFrame, rule_of_thumb: float, title: str,
                height: int = 360) -> alt.LayerChart:
    """Tokens per parameter at each budget's optimum, against C, beside the 20:1 rule."""
    x = alt.X("order:Q", title="compute C (FLOPs, log scale)", scale=alt.Scale(type="log"))
    line = alt.Chart(optima).mark_line(point=True, color="#9467bd").encode(
        x=x, y=alt.Y("ratio:Q", title="tokens per parameter D/N",
                     scale=alt.Scale(zero=True)),
        tooltip=[alt.Tooltip("order:Q", title="C", format=".2g"),
                 alt.Tooltip("ratio:Q", format=".1f")])
    ref = pd.DataFrame({"y": [rule_of_thumb], "label": [f"{rule_of_thumb:g} tokens per parameter"]})
    rule = alt.Chart(ref).mark_rule(strokeDash=[5, 4], color=base.NEUTRAL).encode(y=alt.Y("y:Q"))
    text = alt.Chart(ref).mark_text(align="left", dx=4, dy=-6, color=base.NEUTRAL,
                                    fontSize=11).encode(x=alt.XValue(4), y=alt.Y("y:Q"),
                                                        text=alt.Text("label:N"))
    return alt.layer(line, rule, text, title=title, height=height)


def toy_curves_frame(grid: dict) -> pd.DataFrame:
    return pd.DataFrame({"budget": [budget_label(c) for c in grid["budget"]],
                         "order": np.asarray(grid["budget"], float),
                         "n": np.asarray(grid["n"], float),
                         "width": np.asarray(grid["width"], int),
                         "loss": np.asarray(grid["loss"], float),
                         "low": np.asarray(grid["loss"]) - np.asarray(grid["loss_std"]),
                         "high": np.asarray(grid["loss"]) + np.asarray(grid["loss_std"])})


def toy_optima_frame(summary: dict) -> pd.DataFrame:
    """Each budget's best size (the parabola's vertex) at the lowest loss measured."""
    rows = summary["per_budget"]
    return pd.DataFrame({"budget": [budget_label(r["budget"]) for r in rows],
                         "order": [r["budget"] for r in rows],
                         "n": [r["n_opt"] for r in rows],
                         "loss": [min(r["loss"]) for r in rows]})


def toy_isoflop(curves: pd.DataFrame, optima: pd.DataFrame | None, title: str,
                height: int = 360) -> alt.LayerChart:
    chart = isoflop_curves(curves, optima if optima is not None else curves.iloc[:0], title,
                           x_title="student parameters N (log scale)", log_y=True,
                           height=height)
    bars = alt.Chart(curves).mark_rule(opacity=0.5).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log")), y=alt.Y("low:Q"), y2=alt.Y2("high:Q"),
        color=_budget_color(curves))
    return alt.layer(bars, *chart.layer, title=title, height=height)


def exponent_frame(summary: dict) -> dict[str, pd.DataFrame]:
    """Points (budget, best N), the fitted line extended to the check budget, a slope-0.5
    line through the same centre, the prediction and (when trained) the check."""
    budgets = np.asarray(summary["budgets"], float)
    n_opt = np.asarray(summary["n_opt"], float)
    points = pd.DataFrame({"c": budgets, "n": n_opt, "what": "best N per budget"})
    a = summary.get("exponent_a")
    lines = []
    if a is not None:
        fit_c = np.asarray(summary["fitted_on"], float)
        idx = [list(budgets).index(c) for c in fit_c]
        lc, ln = np.log(fit_c), np.log(n_opt[idx])
        centre_c, centre_n = lc.mean(), ln.mean()
        span = np.log(np.r_[budgets, summary["check_budget"]])
        xs = np.linspace(span.min(), span.max(), 20)
        lines.append(pd.DataFrame({"c": np.exp(xs), "n": np.exp(centre_n + a * (xs - centre_c)),
                                   "what": f"fit: N ∝ C^{a:.2f}"}))
        lines.append(pd.DataFrame({"c": np.exp(xs), "n": np.exp(
            centre_n + summary["paper_a"] * (xs - centre_c)),
            "what": f"slope {summary['paper_a']:g} (paper)"}))
    extra = []
    if summary.get("predicted_n") is not None:
        extra.append({"c": summary["check_budget"], "n": summary["predicted_n"],
                      "what": "predicted at the check budget"})
    check = summary.get("check")
    if check:
        extra.append({"c": summary["check_budget"], "n": check["measured_n_opt"],
                      "what": "measured there"})
    return {"points": pd.concat([points, pd.DataFrame(extra)], ignore_index=True)
            if extra else points,
            "lines": pd.concat(lines, ignore_index=True) if lines else _empty("c", "n", "what")}


EXPONENT_COLORS = {"best N per budget": "#1f77b4", "predicted at the check budget": "#ff7f0e",
                   "measured there": "#d62728"}
EXPONENT_SHAPES = {"best N per budget": "circle", "predicted at the check budget": "diamond",
                   "measured there": "square"}


def exponent_chart(frames: dict[str, pd.DataFrame], title: str,
                   height: int = 360) -> alt.LayerChart:
    both = pd.concat([frames["points"], frames["lines"]], ignore_index=True)
    x = alt.X("c:Q", title="compute C (FLOPs, log scale)", scale=alt.Scale(type="log"),
              axis=_count_axis(both["c"]))
    y = alt.Y("n:Q", title="best size N (log scale)", scale=alt.Scale(type="log"),
              axis=_count_axis(both["n"]))
    shown = list(dict.fromkeys(frames["points"]["what"]))
    line_names = list(dict.fromkeys(frames["lines"]["what"]))
    names = shown + line_names
    colors = [EXPONENT_COLORS[n] for n in shown] + ["#1f77b4", "#999999"][:len(line_names)]
    scale = alt.Scale(domain=names, range=colors)
    lines = alt.Chart(frames["lines"]).mark_line().encode(
        x=x, y=y, color=alt.Color("what:N", scale=scale, title=None,
                                  legend=alt.Legend(orient="bottom", columns=2,
                                                    labelLimit=240)),
        strokeDash=alt.condition("indexof(datum.what, 'slope') >= 0", alt.StrokeDashValue([5, 4]),
                                 alt.StrokeDashValue([1, 0])))
    points = alt.Chart(frames["points"]).mark_point(size=110, filled=True).encode(
        x=x, y=y, color=alt.Color("what:N", scale=scale),
        shape=alt.Shape("what:N", scale=alt.Scale(
            domain=shown, range=[EXPONENT_SHAPES[n] for n in shown]), legend=None),
        opacity=alt.OpacityValue(1.0),
        tooltip=base.tips("what:N", alt.Tooltip("c:Q", format=".2g", title="C"),
                          alt.Tooltip("n:Q", format=",.0f", title="N")))
    return alt.layer(lines, points, title=title, height=height)


def law_table(summary: dict) -> pd.DataFrame:
    rows = []
    for r in summary["budgets"]:
        rows.append({"budget C (FLOPs)": f"{r['budget']:.2g}",
                     "best N (parameters)": _si(r["n_opt"]),
                     "best D (tokens)": _si(r["d_opt"]),
                     "tokens per parameter": f"{r['tokens_per_parameter']:.0f}",
                     "loss at the best N": f"{r['loss_opt']:.3f}",
                     "loss with 20 tokens/parameter": f"{r['loss_20']:.3f}"})
    return pd.DataFrame(rows).set_index("budget C (FLOPs)")


def _si(x: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def si(x: float | None) -> str:
    """12.3B, 456M, ...: a count in short form ("–" for none)."""
    return "–" if x is None or not math.isfinite(x) else _si(x)
