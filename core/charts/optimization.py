"""The optimization page: optimizer paths over contours, the learning-rate sweep's U,
spread and gradient per layer at initialization, and muP's loss grids, curves and
coordinate check. Frame builders turn a run's summary or snapshots into long-form
pandas frames; chart builders draw them."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import NEUTRAL, metrics_long, tips

OPTIMIZER_COLORS = alt.Scale(domain=["GD", "Momentum", "Nesterov", "RMSProp", "Adam"],
                             range=["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd"])
SWEEP_COLORS = alt.Scale(domain=["SGD", "SGD + momentum", "Adam"],
                         range=["#1f77b4", "#d62728", "#9467bd"])
PARAM_NAMES = {"sp": "standard (SP)", "mup": "muP"}
PATH_NAMES = {"gd": "GD", "momentum": "Momentum", "nesterov": "Nesterov",
              "rmsprop": "RMSProp", "adam": "Adam"}
FLOOR = 1e-16  # a gap of exactly 0 on a log axis


# --- optimizer paths ---------------------------------------------------------------------

def contour_frame(surface: dict) -> pd.DataFrame:
    xs, ys = np.asarray(surface["xs"]), np.asarray(surface["ys"])
    gx, gy = np.meshgrid(xs, ys)
    return pd.DataFrame({"x": gx.ravel().round(4), "y": gy.ravel().round(4),
                         "level": np.asarray(surface["level"]).ravel().round(2)})


def paths_frame(paths: dict, upto: int | None = None) -> pd.DataFrame:
    """Every optimizer's path (step, x, y) up to step `upto`, long form."""
    frames = []
    for name, path in paths.items():
        p = np.asarray(path, dtype=float).reshape(-1, 2)
        if upto is not None:
            p = p[:upto + 1]
        steps = np.arange(len(p))
        keep = np.unique(np.r_[np.linspace(0, len(p) - 1, min(len(p), 600)).round()
                               .astype(int), len(p) - 1]) if len(p) else []
        frames.append(pd.DataFrame({"optimizer": PATH_NAMES.get(name, name),
                                    "step": steps[keep], "x": p[keep, 0], "y": p[keep, 1]}))
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["optimizer", "step", "x", "y"])


def contour_paths(surface: dict, paths: pd.DataFrame, title: str,
                  height: int = 420) -> alt.LayerChart:
    """log10(f − f_min) as banded contours, the paths on top, start and minimum marked."""
    xs, ys = np.asarray(surface["xs"]), np.asarray(surface["ys"])
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    x_dom = [float(xs[0]) - dx / 2, float(xs[-1]) + dx / 2]
    y_dom = [float(ys[0]) - dy / 2, float(ys[-1]) + dy / 2]
    frame = contour_frame(surface)
    heat = alt.Chart(frame).mark_rect(opacity=0.75).transform_calculate(
        x1=f"datum.x - {dx / 2:.6f}", x2=f"datum.x + {dx / 2:.6f}",
        y1=f"datum.y - {dy / 2:.6f}", y2=f"datum.y + {dy / 2:.6f}").encode(
        x=alt.X("x1:Q", scale=alt.Scale(domain=x_dom, nice=False), title="x"),
        x2=alt.X2("x2:Q"),
        y=alt.Y("y1:Q", scale=alt.Scale(domain=y_dom, nice=False), title="y"),
        y2=alt.Y2("y2:Q"),
        color=alt.Color("level:Q", title="log₁₀(f − f_min)",
                        scale=alt.Scale(scheme="greys", type="quantize", nice=True),
                        legend=alt.Legend(orient="bottom", direction="horizontal")))
    lines = alt.Chart(paths).mark_line(point=alt.OverlayMarkDef(size=12), strokeWidth=2,
                                       clip=True).encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"), order=alt.Order("step:Q"),
        color=alt.Color("optimizer:N", scale=OPTIMIZER_COLORS, title=None,
                        legend=alt.Legend(orient="top")),
        tooltip=tips("optimizer:N", "step:Q",
                     alt.Tooltip("x:Q", format=".4f"),
                     alt.Tooltip("y:Q", format=".4f")))
    marks = pd.DataFrame({"x": [float(surface["start"][0]), float(surface["minimum"][0])],
                          "y": [float(surface["start"][1]), float(surface["minimum"][1])],
                          "what": ["start", "minimum"]})
    points = alt.Chart(marks).mark_point(shape="diamond", size=140, filled=True,
                                         color="black", clip=True).encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"), tooltip=tips("what:N"))
    return alt.layer(heat, lines, points, title=title, height=height)


def gap_frame(metrics: dict) -> pd.DataFrame:
    frame = metrics_long(metrics, {f"gap_{k}": v for k, v in PATH_NAMES.items()})
    frame["value"] = frame["value"].clip(lower=FLOOR)
    return frame


def gap_curves(frame: pd.DataFrame, tolerance: float, title: str,
               height: int = 300) -> alt.LayerChart:
    curve = alt.Chart(frame).mark_line().encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("value:Q", title="f − f_min (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("series:N", scale=OPTIMIZER_COLORS, title=None,
                        legend=alt.Legend(orient="bottom", columns=3)),
        tooltip=tips("series:N", "step:Q",
                     alt.Tooltip("value:Q", format=".3g")))
    rule = alt.Chart(pd.DataFrame({"y": [tolerance]})).mark_rule(
        strokeDash=[5, 4], color="gray").encode(y=alt.Y("y:Q"))
    return alt.layer(curve, rule, title=title, height=height)


def rate_frame(rate_curve: dict) -> pd.DataFrame:
    lrs = rate_curve["lr"]
    return pd.concat([pd.DataFrame({"lr": lrs, "optimizer": PATH_NAMES[k],
                                    "rate": rate_curve[k]})
                      for k in ("gd", "momentum", "nesterov")], ignore_index=True)


def rate_chart(frame: pd.DataFrame, lr: float, edge: float, title: str,
               height: int = 300) -> alt.LayerChart:
    """Per-step shrink factor of the error against the learning rate: above 1 it grows."""
    linear = ["GD", "Momentum", "Nesterov"]
    lines = alt.Chart(frame).mark_line().encode(
        x=alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log")),
        y=alt.Y("rate:Q", title="error factor per step",
                scale=alt.Scale(domain=[0, 2], clamp=True)),
        color=alt.Color("optimizer:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=linear, range=[
                            OPTIMIZER_COLORS.range[OPTIMIZER_COLORS.domain.index(n)]
                            for n in linear])),
        tooltip=tips("optimizer:N", alt.Tooltip("lr:Q", format=".4g"),
                     alt.Tooltip("rate:Q", format=".3f")))
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="gray").encode(y=alt.Y("y:Q"))
    rules = pd.DataFrame({"lr": [lr, edge], "what": ["this run's lr", f"2/L = {edge:.4g}"],
                          "dash": ["solid", "dashed"]})
    vert = alt.Chart(rules).mark_rule(strokeWidth=1.5).encode(
        x=alt.X("lr:Q"), strokeDash=alt.StrokeDash("what:N", title=None,
                                                   legend=alt.Legend(orient="bottom")),
        color=alt.ColorValue(NEUTRAL), tooltip=tips("what:N",
                                                    alt.Tooltip("lr:Q", format=".4g")))
    return alt.layer(lines, one, vert, title=title, height=height)


def steps_table(summary: dict) -> pd.DataFrame:
    rows = []
    for r in summary["optimizers"]:
        rows.append({"optimizer": r["name"], "learning rate": r["lr"],
                     "steps to tolerance": r["steps_to_tolerance"],
                     "diverged at step": r["diverged_at_step"],
                     "final f − f_min": r["final_gap"],
                     "stable below lr": r["stable_below_lr"],
                     **({"steps off the ridge": r["steps_off_ridge"]}
                        if summary["function"] == "saddle" else {})})
    return pd.DataFrame(rows)


# --- learning-rate sweep -----------------------------------------------------------------

def sweep_frame(summary: dict) -> pd.DataFrame:
    """One row per (optimizer, lr, seed): final loss (NaN where diverged)."""
    rows = []
    for name, res in summary["per_optimizer"].items():
        label = summary["names"][name]
        for r in res["rows"]:
            for s, loss in enumerate(r["seed_losses"]):
                rows.append({"optimizer": label, "lr": r["lr"], "seed": s,
                             "loss": np.nan if loss is None else loss,
                             "diverged": loss is None})
    return pd.DataFrame(rows)


def live_sweep_frame(snapshot: dict, names: dict) -> pd.DataFrame:
    """The same rows from a live snapshot (the current batch losses; inf = diverged)."""
    rows = []
    lrs = np.asarray(snapshot["lrs"])
    for key, label in names.items():
        loss = np.asarray(snapshot.get(f"loss_{key}", np.empty((0, len(lrs)))))
        for s, row in enumerate(loss):
            for lr, v in zip(lrs, row):
                rows.append({"optimizer": label, "lr": float(lr), "seed": s,
                             "loss": float(v) if np.isfinite(v) else np.nan,
                             "diverged": not np.isfinite(v)})
    return pd.DataFrame(rows, columns=["optimizer", "lr", "seed", "loss", "diverged"])


def sweep_chart(frame: pd.DataFrame, best: dict[str, float | None], ceiling: float,
                title: str, height: int = 380) -> alt.LayerChart:
    """Loss against lr: the seeds' range as a band, their mean as a line, each diverged
    run as a cross at `ceiling`, and each optimizer's best lr as a large dot."""
    ok = frame[~frame["diverged"]]
    agg = ok.groupby(["optimizer", "lr"], as_index=False)["loss"].agg(
        mean="mean", low="min", high="max")
    y = alt.Y("mean:Q", title="final training loss (log scale)",
              scale=alt.Scale(type="log"))
    # the legend takes its symbols from the faint band: drawn opaque, they read on dark too
    color = alt.Color("optimizer:N", scale=SWEEP_COLORS, title=None,
                      legend=alt.Legend(orient="top", symbolOpacity=1))
    x = alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log"))
    band = alt.Chart(agg).mark_area(opacity=0.25).encode(
        x=x, y=alt.Y("low:Q", scale=alt.Scale(type="log"),
                     title="final training loss (log scale)"), y2=alt.Y2("high:Q"), color=color)
    line = alt.Chart(agg).mark_line(point=True).encode(
        x=x, y=y, color=color,
        tooltip=tips("optimizer:N", alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("mean:Q", format=".4f"), alt.Tooltip("low:Q", format=".4f"),
                     alt.Tooltip("high:Q", format=".4f")))
    bad = frame[frame["diverged"]].groupby(["optimizer", "lr"], as_index=False).size()
    bad["loss"] = ceiling
    crosses = alt.Chart(bad).mark_point(shape="cross", size=110, filled=True,
                                        angle=45).encode(
        x=x, y=alt.Y("loss:Q", scale=alt.Scale(type="log")), color=color,
        tooltip=tips("optimizer:N", alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("size:Q", title="diverged seeds")))
    stars = pd.DataFrame([{"optimizer": k, "lr": v,
                           "mean": float(agg[(agg["optimizer"] == k) & (agg["lr"] == v)]
                                         ["mean"].iloc[0])}
                          for k, v in best.items() if v is not None and
                          len(agg[(agg["optimizer"] == k) & (agg["lr"] == v)])])
    layers = [band, line, crosses]
    if len(stars):
        layers.append(alt.Chart(stars).mark_point(size=260, filled=False, strokeWidth=2.5)
                      .encode(x=x, y=y, color=color,
                              tooltip=tips("optimizer:N",
                                           alt.Tooltip("lr:Q", format=".3g", title="best lr"))))
    return alt.layer(*layers, title=title, height=height)


def sweep_table(summary: dict) -> pd.DataFrame:
    rows = []
    for name, res in summary["per_optimizer"].items():
        rows.append({"optimizer": summary["names"][name], "best lr": res["best_lr"],
                     "loss at best lr": res["best_loss"],
                     "diverges from lr": res["first_diverged_lr"],
                     "diverged runs": res["diverged_runs"]})
    return pd.DataFrame(rows)


def best_loss_names(summary_names: dict) -> dict:
    return {f"best_loss_{k}": v for k, v in summary_names.items()}


def sweep_curves(metrics: dict, names: dict, title: str, height: int = 260) -> alt.Chart:
    frame = metrics_long(metrics, best_loss_names(names))
    return alt.Chart(frame, title=title, height=height).mark_line().encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("value:Q", title="batch loss (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("series:N", scale=SWEEP_COLORS, title=None,
                        legend=alt.Legend(orient="top")),
        tooltip=tips("series:N", "step:Q",
                     alt.Tooltip("value:Q", format=".4f")))


# --- initialization ----------------------------------------------------------------------

def layers_frame(summary: dict, key: str) -> pd.DataFrame:
    frames = [pd.DataFrame({"layer": summary["layers"], "scheme": s["label"],
                            "value": np.maximum(np.asarray(s[key], dtype=float), 1e-300)})
              for s in summary["schemes"].values()]
    return pd.concat(frames, ignore_index=True)


def per_layer_chart(frame: pd.DataFrame, title: str, y_title: str,
                    height: int = 340) -> alt.Chart:
    order = list(dict.fromkeys(frame["scheme"]))
    return alt.Chart(frame, title=title, height=height).mark_line(point=True).encode(
        x=alt.X("layer:Q", title="layer"),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log")),
        color=alt.Color("scheme:N", title=None, sort=order,
                        scale=alt.Scale(domain=order, range=["#2ca02c", "#1f77b4", "#7f7f7f",
                                                             "#d62728", "#ff7f0e"]),
                        legend=alt.Legend(orient="bottom", columns=2, labelLimit=260)),
        tooltip=tips("scheme:N", "layer:Q",
                     alt.Tooltip("value:Q", format=".3g")))


def init_table(summary: dict) -> pd.DataFrame:
    return pd.DataFrame([{"scheme": s["label"],
                          "last / first spread": s["last_over_first_std"],
                          "factor per layer": s["factor_per_layer"],
                          "first / last gradient": s["first_over_last_grad"],
                          "kept (ratio in ½…2)": s["kept"]}
                         for s in summary["schemes"].values()])


# --- muP ---------------------------------------------------------------------------------

def grid_frame(widths, lrs, loss: dict | np.ndarray) -> pd.DataFrame:
    """(parametrization, width, lr, loss) from the summary's `loss` (lists with None) or a
    live snapshot's array [param, width, lr] (NaN where diverged)."""
    rows = []
    for p_i, p in enumerate(("sp", "mup")):
        grid = loss[p] if isinstance(loss, dict) else loss[p_i]
        for w, row in zip(widths, grid):
            for lr, v in zip(lrs, row):
                v = np.nan if v is None else float(v)
                rows.append({"parametrization": PARAM_NAMES[p], "width": int(w),
                             "lr": float(lr), "loss": v, "diverged": not np.isfinite(v)})
    frame = pd.DataFrame(rows)
    frame["best"] = False
    ok = frame[~frame["diverged"]]
    if len(ok):
        frame.loc[ok.groupby(["parametrization", "width"])["loss"].idxmin(), "best"] = True
    return frame


def loss_heatmaps(frame: pd.DataFrame, title: str) -> alt.FacetChart:
    """width × lr, coloured by log loss, one panel per parametrization; the best lr of
    each width (the frame's `best` rows) circled."""
    shown = frame.assign(lr_label=frame["lr"].map(lambda v: f"{v:.2g}"),
                         width_label=frame["width"].astype(str))
    order_lr = list(dict.fromkeys(shown.sort_values("lr")["lr_label"]))
    order_w = [str(w) for w in sorted(shown["width"].unique(), reverse=True)]
    x = alt.X("lr_label:O", title="learning rate", sort=order_lr)
    y = alt.Y("width_label:O", title="width", sort=order_w)
    heat = alt.Chart().mark_rect().encode(
        x=x, y=y,
        color=alt.Color("loss:Q", title="final loss",
                        scale=alt.Scale(type="log", scheme="viridis", reverse=True),
                        legend=alt.Legend(orient="right", format=".1g")),
        tooltip=tips("width:Q", alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("loss:Q", format=".4f")))
    rings = alt.Chart().mark_point(shape="circle", size=170, color="white",
                                   strokeWidth=2.5).encode(x=x, y=y).transform_filter(
        "datum.best")
    return alt.layer(heat, rings, data=shown, width=300, height=180).facet(
        column=alt.Column("parametrization:N", title=None,
                          sort=[PARAM_NAMES["sp"], PARAM_NAMES["mup"]]), title=title)


def best_frame(summary: dict) -> pd.DataFrame:
    rows = []
    for p in ("sp", "mup"):
        for w, lr, loss in zip(summary["widths"], summary["best_lr"][p],
                               summary["best_loss"][p]):
            if lr is not None:
                rows.append({"parametrization": PARAM_NAMES[p], "width": w, "lr": lr,
                             "loss": loss})
    return pd.DataFrame(rows, columns=["parametrization", "width", "lr", "loss"])


def lr_curves(frame: pd.DataFrame, title: str, height: int = 300) -> alt.FacetChart:
    """Loss against lr, one line per width (darker = wider), one panel per
    parametrization: under muP the lines lie on each other."""
    ok = frame[~frame["diverged"]]
    return alt.Chart(ok, height=height, width=330).mark_line(point=True).encode(
        x=alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log")),
        y=alt.Y("loss:Q", title="final training loss (log scale)",
                scale=alt.Scale(type="log")),
        color=alt.Color("width:O", title="width", scale=alt.Scale(scheme="blues")),
        tooltip=tips("parametrization:N", "width:Q",
                     alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("loss:Q", format=".4f"))).facet(
        column=alt.Column("parametrization:N", title=None,
                          sort=[PARAM_NAMES["sp"], PARAM_NAMES["mup"]]), title=title)


def best_lr_chart(frame: pd.DataFrame, lrs: list[float], title: str,
                  height: int = 300) -> alt.Chart:
    return alt.Chart(frame, title=title, height=height).mark_line(point=True).encode(
        x=alt.X("width:Q", title="width (log scale)", scale=alt.Scale(type="log", base=2)),
        y=alt.Y("lr:Q", title="best learning rate (log scale)",
                scale=alt.Scale(type="log", domain=[min(lrs), max(lrs)])),
        color=alt.Color("parametrization:N", title=None,
                        scale=alt.Scale(domain=list(PARAM_NAMES.values()),
                                        range=["#7f7f7f", "#d62728"]),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("parametrization:N", "width:Q",
                     alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("loss:Q", format=".4f")))


def spread_frame(summary: dict) -> pd.DataFrame:
    rows = [{"parametrization": PARAM_NAMES[p], "lr": lr, "spread": s}
            for p in ("sp", "mup") for lr, s in zip(summary["lrs"], summary["spread_per_lr"][p])
            if s is not None]
    return pd.DataFrame(rows, columns=["parametrization", "lr", "spread"])


def spread_chart(frame: pd.DataFrame, title: str, height: int = 300) -> alt.Chart:
    return alt.Chart(frame, title=title, height=height).mark_line(point=True).encode(
        x=alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log")),
        y=alt.Y("spread:Q", title="max − min loss across widths"),
        color=alt.Color("parametrization:N", title=None,
                        scale=alt.Scale(domain=list(PARAM_NAMES.values()),
                                        range=["#7f7f7f", "#d62728"]),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("parametrization:N", alt.Tooltip("lr:Q", format=".3g"),
                     alt.Tooltip("spread:Q", format=".3f")))


def coord_frame(summary: dict) -> pd.DataFrame:
    coord = summary["coord"]
    rows = []
    for p in ("sp", "mup"):
        for t, per_layer in zip(coord["steps"], coord["mean_abs"][p]):
            for layer, values in zip(coord["layers"], per_layer):
                for w, v in zip(summary["widths"], values):
                    rows.append({"parametrization": PARAM_NAMES[p], "step": f"step {t}",
                                 "layer": layer, "width": w, "mean_abs": max(v, 1e-12)})
    return pd.DataFrame(rows)


def coord_chart(frame: pd.DataFrame, layers: list[str], title: str) -> alt.FacetChart:
    """Mean |output| of each layer against width after 0..k steps: rows SP / muP,
    columns the layers."""
    steps = list(dict.fromkeys(frame["step"]))
    return alt.Chart(frame, width=190, height=150).mark_line(point=True).encode(
        x=alt.X("width:Q", title="width (log scale)", scale=alt.Scale(type="log", base=2)),
        y=alt.Y("mean_abs:Q", title="mean |output| (log)", scale=alt.Scale(type="log")),
        color=alt.Color("step:N", title=None, sort=steps,
                        scale=alt.Scale(scheme="oranges", domain=steps),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("parametrization:N", "layer:N", "step:N",
                     "width:Q",
                     alt.Tooltip("mean_abs:Q", format=".4g"))).facet(
        row=alt.Row("parametrization:N", title=None,
                    sort=[PARAM_NAMES["sp"], PARAM_NAMES["mup"]]),
        column=alt.Column("layer:N", title=None, sort=layers), title=title)


def slopes_table(summary: dict) -> pd.DataFrame:
    coord = summary["coord"]
    rows = []
    for p in ("sp", "mup"):
        for t, slopes in zip(coord["steps"], coord["slopes"][p]):
            rows.append({"parametrization": PARAM_NAMES[p], "after step": t,
                         **{layer: s for layer, s in zip(coord["layers"], slopes)},
                         "grows with width": ", ".join(coord["growing"][p][t]) or "none"})
    return pd.DataFrame(rows)


def transfer_table(summary: dict) -> pd.DataFrame:
    rows = []
    for p in ("sp", "mup"):
        t = summary["transfer"][p]
        if t is None:
            continue
        rows.append({"parametrization": PARAM_NAMES[p],
                     f"best lr at width {t['tuned_at_width']}": t["tuned_lr"],
                     f"loss at width {t['trained_width']} with it": t["loss_with_tuned_lr"],
                     f"best lr at width {t['trained_width']}": t["best_lr_at_largest"],
                     f"best loss at width {t['trained_width']}": t["best_loss_at_largest"],
                     "grid steps apart": t["steps_off"]})
    return pd.DataFrame(rows)

