"""Chart builders every idea uses: curves over steps, points in a plane, heatmaps,
vectors drawn from the origin, and the colour scales and axes they share."""
from __future__ import annotations

import base64
import functools
import io
import os
import textwrap

import altair as alt
import numpy as np
import pandas as pd

MAX_POINTS = 2000  # every redraw sends all of a chart's data: keep curves short
CLASS_COLORS = alt.Scale(domain=["0", "1"], range=["#1f77b4", "#d62728"])
SPLIT_COLORS = alt.Scale(domain=["train", "test"], range=["#1f77b4", "#d62728"])
SET_SHAPES = alt.Scale(domain=["train", "test"], range=["circle", "triangle-up"])
# Streamlit draws charts on a light or a dark background (its theme): marks that annotate
# (reference lines, their labels, subtitles, outlines) take a mid grey that reads on both,
# where black, #333 or #555 vanish on dark and Vega's default subtitle and text are black.
NEUTRAL = "#888"
# a shape legend's symbols are drawn black unless told otherwise: grey reads on both
SHAPE_LEGEND = {"symbolFillColor": NEUTRAL, "symbolStrokeColor": NEUTRAL}
# viridis without its darkest fifth: lines and dots keep the scheme's order, and its dark
# end (#440154) no longer sinks into a dark background
VIRIDIS = alt.SchemeParams(name="viridis", extent=[0.2, 1])


def unchecked(chart):
    """`chart`, whose `to_dict()` (which Streamlit calls to draw it) skips Altair's
    JSON-schema validation: a third to a half of a page's redraw, every second while a
    run streams, for specs that do not change shape between redraws. The tests set
    LAB_CHECK_CHARTS=1 (tests/conftest.py), which keeps the check, so an invalid spec
    still fails them; the same chart gives the same dict either way."""
    if os.environ.get("LAB_CHECK_CHARTS") != "1":
        # on the instance, past SchemaBase.__setattr__ (which would store it as a spec
        # property); copies of the chart validate as before
        object.__setattr__(chart, "to_dict", functools.partial(chart.to_dict, validate=False))
    return chart


def tips(*fields: str | alt.Tooltip) -> list[alt.Tooltip]:
    """Tooltip channels. A plain "field:type" string in `encode()` costs Altair ~2.5 ms
    (it builds a lookup over every schema class each time); a channel object ~0.1 ms,
    and a live page builds its charts again on every redraw."""
    return [f if isinstance(f, alt.Tooltip) else alt.Tooltip(f) for f in fields]


def titled(title: str, subtitle: str = "") -> alt.Title:
    """A chart title with a subtitle in NEUTRAL (Streamlit's theme colours the title only)."""
    return alt.Title(title, subtitle=subtitle, subtitleColor=NEUTRAL)


def one_color(name: str, color: str) -> alt.Scale:
    """A colour scale with a single entry (for charts whose legend is the subtitle)."""
    return alt.Scale(domain=[name], range=[color])


def plane_axes(lo: float, hi: float, **scale) -> tuple[alt.X, alt.Y]:
    """x₁ and x₂ over the same window [lo, hi] of a 2D input plane."""
    s = alt.Scale(domain=[lo, hi], nice=False, **scale)
    return alt.X("x:Q", scale=s, title="x₁"), alt.Y("y:Q", scale=s, title="x₂")


# --- curves over training steps --------------------------------------------------------

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


def series_frame(values, label: str) -> pd.DataFrame:
    """One curve (step 0, 1, ... of `values`) in the long form of `metrics_long`."""
    values = np.asarray(values)
    return pd.DataFrame({"step": np.arange(len(values)), "series": label, "value": values})


def curves(frame: pd.DataFrame, title: str, y_title: str, log_y: bool = False,
           log_x: bool = False, height: int = 280) -> alt.Chart:
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    x_scale = alt.Scale(type="log") if log_x else alt.Scale()
    return alt.Chart(frame, title=title, height=height).mark_line().encode(
        x=alt.X("step:Q", title="step", scale=x_scale),
        y=alt.Y("value:Q", title=y_title, scale=y_scale),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top-right")),
        tooltip=tips("series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")),
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
        tooltip=tips("series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")))


def step_marks(curve: alt.Chart, marks: dict[str, int | None]) -> alt.LayerChart:
    """Vertical dashed rules at the named steps (None: left out) over a step chart."""
    rows = [{"step": s, "label": name} for name, s in marks.items() if s]
    if not rows:
        return alt.layer(curve)
    rules = alt.Chart(pd.DataFrame(rows)).mark_rule(strokeDash=[4, 3], color=NEUTRAL).encode(
        x=alt.X("step:Q"), tooltip=tips("label:N", "step:Q"))
    text = alt.Chart(pd.DataFrame(rows)).mark_text(align="left", dx=4, dy=8, color=NEUTRAL,
                                                   baseline="top").encode(
        x=alt.X("step:Q"), y=alt.YValue(0), text=alt.Text("label:N"))
    return alt.layer(curve, rules, text)


# --- points, heatmaps and vectors --------------------------------------------------------

def points_frame(x: np.ndarray, label: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"x": x[:, 0], "y": x[:, 1], "class": label.astype(int).astype(str),
                         "set": np.where(np.asarray(split) == 0, "train", "test")})


def scatter(points: pd.DataFrame, title: str, x_title: str, y_title: str,
            height: int = 400) -> alt.Chart:
    """Points coloured by class and shaped by train/test."""
    return alt.Chart(points, title=title, height=height).mark_point(
        filled=True, size=28, opacity=0.8).encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("class:N", scale=CLASS_COLORS, title="class"),
        shape=alt.Shape("set:N", scale=SET_SHAPES, title=None,
                        legend=alt.Legend(**SHAPE_LEGEND)),
        tooltip=tips("class:N", "set:N"),
    )


# --- a field over the input plane, drawn as one picture ----------------------------------
# Vega's "redblue" scheme, reversed so that p = 1 is red like class 1 (CLASS_COLORS): its
# colours at p = 0, 0.1, ..., 1 as Vega draws them (read off vl-convert; a test compares
# blue_red with Vega's own scale between these stops)
BLUE_RED = np.array([[19, 75, 133], [47, 120, 179], [93, 162, 203], [157, 202, 225],
                     [210, 229, 239], [242, 239, 238], [251, 219, 201], [244, 174, 145],
                     [223, 116, 94], [191, 54, 58], [140, 13, 37]], dtype=np.float64)


def blue_red(p: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """RGBA bytes for values in [0, 1] on the blue-white-red scale (0 blue, 1 red), the
    colours of the legend Vega draws for `scheme="redblue", reverse=True`."""
    p = np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.5), 0.0, 1.0)
    at = p * (len(BLUE_RED) - 1)
    lo = np.minimum(at.astype(int), len(BLUE_RED) - 2)
    rgb = BLUE_RED[lo] + (at - lo)[..., None] * (BLUE_RED[lo + 1] - BLUE_RED[lo])
    alpha = np.full(p.shape + (1,), 255.0 * opacity)
    return np.concatenate([rgb, alpha], -1).round().astype(np.uint8)


def png_url(pixels: np.ndarray) -> str:
    """An RGB or RGBA picture (rows from the top, uint8) as a PNG data URL: a Vega
    image mark draws it with no request to any host."""
    from PIL import Image  # Streamlit's own dependency

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plane_image(url: str, x: alt.X, y: alt.Y, x_range: tuple[float, float],
                y_range: tuple[float, float]) -> alt.Chart:
    """A picture (`png_url`) stretched over [x_range] × [y_range] of a plane. One image
    instead of a rectangle per cell: a 50×50 grid was 2,500 rows to send and lay out on
    every redraw, about 190 KB of the chart's spec."""
    frame = pd.DataFrame({"x": [x_range[0]], "x2": [x_range[1]], "y": [y_range[0]],
                          "y2": [y_range[1]], "url": [url]})
    return alt.Chart(frame).mark_image(aspect=False, align="left", baseline="bottom").encode(
        x=x, x2=alt.X2("x2:Q"), y=y, y2=alt.Y2("y2:Q"), url=alt.Url("url:N"))


def heatmap(frame: pd.DataFrame, x: alt.X, y: alt.Y, color: alt.Color, tooltip: list,
            width: int | None = None, height: int | None = None, **mark) -> alt.Chart:
    """One rectangle per row of `frame` at (x, y), coloured by `color`; facet it for
    small multiples. `mark` styles the rectangles (stroke, ...)."""
    size = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
    return alt.Chart(frame, **size).mark_rect(**mark).encode(
        x=x, y=y, color=color, tooltip=tooltip)


def vectors_from_origin(base: alt.Chart, line: dict, dot: dict,
                        dot_size: alt.Size | None = None) -> list[alt.Chart]:
    """Each row of an encoded chart (x, y) as a line from the origin with a dot at its
    end: [lines, dots], to layer with more. `line` and `dot` style the two marks."""
    lines = base.mark_rule(**line).encode(x2=alt.X2Datum(0), y2=alt.Y2Datum(0))
    dots = base.mark_circle(**dot)
    return [lines, dots.encode(size=dot_size) if dot_size is not None else dots]


def symmetric_limit(frame: pd.DataFrame, margin: float, floor: float = 0.0) -> float:
    """Half the width of a square window around the origin that holds every (x, y)."""
    if not len(frame):
        return 1.0
    return float(max(floor, np.abs(frame[["x", "y"]].to_numpy()).max()) * margin)


def reference_line(y: float, label: str) -> list[alt.Chart]:
    """A dashed horizontal line at `y` with its label at the right end (a floor, a
    ceiling: a value the curves are read against)."""
    ref = pd.DataFrame({"y": [y], "label": [label]})
    return [alt.Chart(ref).mark_rule(strokeDash=[5, 4], color=NEUTRAL).encode(y=alt.Y("y:Q")),
            alt.Chart(ref).mark_text(align="right", dx=-4, dy=-6, color=NEUTRAL,
                                     fontSize=11).encode(x=alt.XValue("width"), y=alt.Y("y:Q"),
                                                         text=alt.Text("label:N"))]



# --- talk mode ----------------------------------------------------------------------------

TALK_SCALE = 1.5  # how much larger a chart's text is on a projector
TALK_HEIGHT = 1.35  # ... and its height, where the chart sets one in pixels


def _height(chart) -> int | None:
    height = getattr(chart, "height", alt.Undefined)
    if isinstance(height, (int, float)) and not isinstance(height, bool):
        return int(height)
    if isinstance(chart, alt.LayerChart):
        return next((h for h in map(_height, chart.layer) if h), None)
    return None


TALK_TITLE_CHARS = 45  # a title longer than this (at the normal size) breaks into lines


def _wrap_title(chart, width: int):
    """A long title on several lines: larger, it would be cut to the chart's width and
    end in "…" (a third-width chart in talk mode holds about 30 characters)."""
    title = getattr(chart, "title", alt.Undefined)
    text = title.text if isinstance(title, alt.TitleParams) else title
    if not isinstance(text, str) or len(text) <= width:
        return chart
    lines = textwrap.wrap(text, width)
    if isinstance(title, alt.TitleParams):
        return chart.properties(title=alt.TitleParams(**{**title.to_dict(), "text": lines}))
    return chart.properties(title=lines)


def for_talk(chart, scale: float = TALK_SCALE):
    """The same chart for a room: titles, axis labels and legends `scale` times larger,
    and a plain or layered chart taller (facets and grids keep their cell sizes)."""
    def size(points: float) -> float:
        return round(points * scale, 1)

    if isinstance(chart, (alt.Chart, alt.LayerChart)) and (height := _height(chart)):
        chart = chart.properties(height=int(height * TALK_HEIGHT))
    chart = _wrap_title(chart, round(TALK_TITLE_CHARS / scale))
    return (chart
            .configure_axis(labelFontSize=size(11), titleFontSize=size(12))
            .configure_legend(labelFontSize=size(11), titleFontSize=size(12))
            .configure_title(fontSize=size(12), subtitleFontSize=size(10))
            .configure_header(labelFontSize=size(11), titleFontSize=size(12)))
