"""Charts read on Streamlit's light and dark themes: no text left in Vega's default black,
no annotation (rule, line, text, marker) in a fixed colour that vanishes on a dark
background, subtitles and shape legends given a colour. Inspects the Vega-Lite specs the
chart builders return, on small made-up data."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

from core.charts import base, capsules, data, double_descent, ensembles, gradient_descent
from core.charts import memorization, optimization, superposition

DARK_BACKGROUND = "#0e1117"  # Streamlit's dark theme
LIGHT_BACKGROUND = "#ffffff"
NAMED = {"black": "#000000", "white": "#ffffff", "gray": "#808080", "grey": "#808080"}
COLOR_KEYS = ("color", "fill", "stroke")


def luminance(color: str) -> float:
    """WCAG relative luminance of a #rgb / #rrggbb colour or one of NAMED."""
    c = NAMED.get(color.lower(), color).lstrip("#")
    assert len(c) in (3, 6), f"not a colour this test reads: {color!r}"
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(c[i:i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def marks(spec, inherited: dict | None = None):
    """(mark type, mark properties, encoding) of every unit spec, with a layer's or
    facet's encoding passed down to the specs it holds."""
    if isinstance(spec, list):
        for s in spec:
            yield from marks(s, inherited)
        return
    if not isinstance(spec, dict):
        return
    encoding = {**(inherited or {}), **spec.get("encoding", {})}
    if "mark" in spec:
        mark = spec["mark"] if isinstance(spec["mark"], dict) else {"type": spec["mark"]}
        yield mark["type"], mark, encoding
    for key in ("layer", "spec", "hconcat", "vconcat", "concat"):
        if key in spec:
            yield from marks(spec[key], encoding)


def fixed_colors(kind: str, mark: dict, encoding: dict):
    """The colours a mark is given as values: its properties and value encodings. The
    stroke of a point or a rect is left out: an outline seen against the mark it bounds
    (a ring on a white halo, a heatmap cell's edge)."""
    for key in COLOR_KEYS:
        if kind in ("point", "rect") and key == "stroke":
            continue
        if isinstance(mark.get(key), str):
            yield key, mark[key]
        channel = encoding.get(key)
        if isinstance(channel, dict) and isinstance(channel.get("value"), str):
            yield key, channel["value"]


def titles(spec):
    if isinstance(spec, dict):
        if isinstance(spec.get("title"), dict):
            yield spec["title"]
        for v in spec.values():
            yield from titles(v)
    elif isinstance(spec, list):
        for v in spec:
            yield from titles(v)


def check(chart) -> None:
    spec = chart.to_dict()
    for kind, mark, encoding in marks(spec):
        colors = dict(fixed_colors(kind, mark, encoding))
        if kind == "text":
            assert colors or "color" in encoding, f"a text mark in Vega's default black: {mark}"
        for key, color in colors.items():
            for background in (DARK_BACKGROUND, LIGHT_BACKGROUND):
                assert contrast(color, background) >= 2.5, (
                    f"{kind} {key} {color} is lost on {background}: {mark}")
        shape = encoding.get("shape")
        shown = isinstance(shape, dict) and "field" in shape and shape.get("legend", {}) is not None
        if shown:  # a legend left out is drawn by default
            assert "symbolFillColor" in (shape.get("legend") or {}), (
                "a shape legend draws its symbols black unless given a fill colour")
    for title in titles(spec):
        if title.get("subtitle"):
            assert "subtitleColor" in title, f"a subtitle in Vega's default black: {title}"


# --- small made-up inputs ---------------------------------------------------------------------

def points(n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return base.points_frame(rng.normal(size=(n, 2)), np.arange(n) % 2, np.arange(n) % 3 == 0)


def vectors(n: int = 4) -> pd.DataFrame:
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return pd.DataFrame({"x": np.cos(angle), "y": np.sin(angle), "dim": 0.5,
                         "kind": "feature", "vector": range(n)})


def curve() -> alt.Chart:
    frame = pd.DataFrame({"step": [1, 2, 3], "series": "train", "value": [1.0, 0.5, 0.2]})
    return base.curves(frame, "loss", "loss")


def builders():
    dd = pd.DataFrame({"train_size": [3, 10, 30, 3, 10, 30], "value": [0.1, 0.2, 0.3, 1, 2, 1],
                       "series": ["train"] * 3 + ["test"] * 3})
    directions = pd.DataFrame({"panel": "S = 0", "order": 0, "feature": [0, 1],
                               "x": [1.0, 0.0], "y": [0.0, 1.0], "importance": [1.0, 0.7],
                               "norm": [1.0, 1.0]})
    dims = pd.DataFrame({"density": [1.0, 10.0], "dimensionality": [1.0, 0.5],
                         "feature": [0, 1], "represented": ["represented", "dropped"]})
    per_model = pd.DataFrame({"density": [1.0, 10.0], "value": [1.0, 0.4]})
    stored = pd.DataFrame({"vector": [0, 1], "x": [1.0, -1.0], "y": [0.5, 0.2],
                           "cosine": [0.99, 0.4], "status": ["recovered", "not recovered"]})
    views = pd.DataFrame({"panel": "network 1", "order": 0, "class": [0, 0, 1, 1],
                          "view": ["view 1", "view 2"] * 2, "accuracy": [1.0, 0.2, 0.5, 0.9]})
    cells = pd.DataFrame({"x": [0, 1], "y": [0, 0], "value": [0.0, 1.0]})
    labels = pd.DataFrame({"x": [0], "y": [1], "text": ["found, exact"]})
    dedup = pd.DataFrame({"condition": ["clean", "with copies", "exact removed",
                                        "exact + near removed"], "loss": [0.18, 0.23, 0.22, 0.18],
                          "low": [0.17, 0.22, 0.21, 0.17], "high": [0.19, 0.24, 0.23, 0.19],
                          "size": [1200] * 4, "accuracy": [0.9] * 4})
    optima = pd.DataFrame({"budget": ["C = 1e+19", "C = 1e+20"], "order": [1e19, 1e20],
                           "n": [2e8, 6e8], "loss": [2.9, 2.6], "ratio": [32.0, 40.0]})
    iterations = pd.DataFrame({"iteration": [1, 2, 1, 2], "value": [2.30, 2.25, 2.30, 2.30],
                               "series": ["routing by agreement"] * 2 + ["uniform control"] * 2})
    rates = pd.DataFrame({"lr": [0.001, 0.01, 0.1], "rate": [1.0, 0.9, 2.0], "optimizer": "GD"})
    leaves = {"x1": [-2.0, 0.0], "x1_hi": [0.0, 2.0], "x2": [-2.0, -2.0], "x2_hi": [2.0, 2.0],
              "class": [0, 1], "leaf": [1, 2], "n_train": [3, 3]}
    memo = memorization.memo_points(np.random.default_rng(1).normal(size=(6, 2)),
                                    np.arange(6) % 2, np.arange(6) % 3 == 0,
                                    np.arange(6) == 1)
    grid = np.linspace(-1, 1, 3)
    return {
        "base.step_marks": lambda: base.step_marks(curve(), {"memorized": 2, "never": None}),
        "base.reference_line": lambda: alt.layer(curve(), *base.reference_line(1.0, "floor")),
        "base.scatter": lambda: base.scatter(points(), "hidden", "PC1", "PC2"),
        "double_descent.curve": lambda: double_descent.double_descent_curve(
            dd, peak=30, chosen=10, title="loss", domain=[3, 30]),
        "double_descent.plane": lambda: double_descent.feature_plane(vectors(), "W_i", "sum"),
        "superposition.directions": lambda: superposition.feature_directions(
            directions, "W_i", 1.1, subtitle="the hidden plane"),
        "superposition.dimensionality": lambda: superposition.feature_dimensionality(
            dims, per_model, "D_i"),
        "superposition.hidden_points": lambda: superposition.hidden_points(
            stored, "h = W x", "hidden 1", "hidden 2", subtitle="the hidden plane"),
        "ensembles.view_heatmaps": lambda: ensembles.view_heatmaps(views, "views",
                                                                   subtitle="probe"),
        "data.image_grid": lambda: data.image_grid(cells, labels, "pairs", 2, 2),
        "data.dedup_loss_bars": lambda: data.dedup_loss_bars(dedup, "test loss"),
        "data.ratio_chart": lambda: data.ratio_chart(optima, 20, "tokens per parameter"),
        "capsules.iteration_chart": lambda: capsules.iteration_chart(
            iterations, "entropy", "nats", 2.3026, "ln 10: uniform", zero=False),
        "capsules.length_bars": lambda: capsules.length_bars(np.linspace(0, 1, 10), 9, 9, "len"),
        "optimization.rate_chart": lambda: optimization.rate_chart(rates, 0.012, 0.02, "rate"),
        "memorization.tree_bins": lambda: memorization.tree_bins(
            leaves, memo, -2.0, 2.0, "bins", highlight=0),
        "gradient_descent.boundary": lambda: gradient_descent.decision_boundary(
            grid, grid, np.full((3, 3), 0.5), points(), "boundary"),
    }


BUILDERS = builders()


@pytest.mark.parametrize("name", list(BUILDERS))
def test_chart_reads_on_light_and_dark_backgrounds(name):
    check(BUILDERS[name]())


def test_the_check_catches_what_the_dark_theme_hid():
    """The colours this file guards against fail it: a black rule, a #333 label, a text
    mark with no colour, a subtitle with none."""
    frame = pd.DataFrame({"y": [1.0], "label": ["x"]})
    for chart in (alt.Chart(frame).mark_rule(color="black").encode(y="y:Q"),
                  alt.Chart(frame).mark_text(color="#333").encode(y="y:Q", text="label:N"),
                  alt.Chart(frame).mark_text().encode(y="y:Q", text="label:N"),
                  alt.Chart(frame, title=alt.Title("t", subtitle="s")).mark_rule(
                      color=base.NEUTRAL).encode(y="y:Q")):
        with pytest.raises(AssertionError):
            check(chart)
    check(alt.Chart(frame).mark_rule(color=base.NEUTRAL).encode(y="y:Q"))


def test_the_blue_red_pictures_have_vegas_own_colours():
    """base.blue_red paints the decision boundary as one picture; its colours must be
    those Vega gives its "redblue" legend beside it (rendered here by vl-convert)."""
    import io

    import vl_convert
    from PIL import Image

    values = np.linspace(0, 1, 21)
    cells = alt.Chart(pd.DataFrame({"i": range(len(values)), "p": values}),
                      width=20 * len(values), height=20).mark_rect().encode(
        x=alt.X("i:O", axis=None), color=alt.Color(
            "p:Q", legend=None,
            scale=alt.Scale(scheme="redblue", domain=[0, 1], reverse=True)),
    ).configure_view(stroke=None)
    picture = Image.open(io.BytesIO(vl_convert.vegalite_to_png(cells.to_dict()))).convert("RGB")
    left = (picture.width - 20 * len(values)) // 2
    vega = np.array([picture.getpixel((left + 20 * i + 10, picture.height // 2))
                     for i in range(len(values))], dtype=int)
    ours = base.blue_red(values)[:, :3].astype(int)
    assert np.abs(vega - ours).max() <= 3, np.c_[values, vega, ours]
    assert ours[0, 2] > ours[0, 0] and ours[-1, 0] > ours[-1, 2]  # 0 blue, 1 red
