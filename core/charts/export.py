"""Charts as files: SVG through vl-convert (Vega's own renderer, run in this process).

A page's chart menu already saves each chart as PNG (Streamlit's toolbar); `svg_zip`
packs every chart of a page into one ZIP of SVG files, named after their titles.
"""
from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import altair as alt
import vl_convert


def title_of(chart: Any) -> str:
    """The chart's title as text ('' when it has none), read from the chart object (a
    page calls this on every redraw: building the spec would cost far more). A layered
    or concatenated chart without a title of its own takes its first part's."""
    title = getattr(chart, "title", alt.Undefined)
    if title is alt.Undefined:
        parts = [getattr(chart, name, alt.Undefined) for name in
                 ("layer", "hconcat", "vconcat", "concat")]
        parts = next((p for p in parts if p is not alt.Undefined and p), [])
        return title_of(parts[0]) if parts else ""
    if isinstance(title, alt.TitleParams):
        title = title.text
    if isinstance(title, (list, tuple)):
        title = " ".join(str(t) for t in title)
    return "" if title is alt.Undefined else str(title)


def file_name(title: str, index: int) -> str:
    """`01-decision-boundary-at-step-1-000.svg`: the order on the page, then the title."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "chart"
    return f"{index:02d}-{slug}.svg"


def svg(chart: Any) -> str:
    with alt.data_transformers.disable_max_rows():  # as the page draws it: every row
        return vl_convert.vegalite_to_svg(chart.to_json())


def svg_zip(charts: list[Any]) -> bytes:
    """One ZIP holding each chart as an SVG file, in page order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, chart in enumerate(charts, start=1):
            archive.writestr(file_name(title_of(chart), i), svg(chart))
    return out.getvalue()
