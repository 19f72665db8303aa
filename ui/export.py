"""Saving a page's charts: each chart's own menu saves it as PNG (Streamlit); the button
at the page's end saves all of them as SVG files in one ZIP (`core.charts.export`).

`talk.sized`, which every chart of every page passes through, hands each chart to
`keep`; app.py starts the list before the page draws and draws the button after it.
A live fragment draws its charts again every half second: they replace the earlier
drawing of the same chart (same title), so the list stays as long as the page.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from core.charts import export

KEY = "lab.export.charts"
MOST = 40  # charts kept per page (an untitled chart redrawn live gets a new place)


def begin_page() -> None:
    st.session_state[KEY] = {}


def keep(chart: Any) -> None:
    charts = st.session_state.get(KEY)
    if charts is None:
        return
    title = export.title_of(chart)
    name = title or f"untitled {len(charts)}"
    charts.pop(name, None)  # a redraw takes the place of the earlier drawing
    charts[name] = chart
    while len(charts) > MOST:
        charts.pop(next(iter(charts)))


def button(page: str) -> None:
    """The page's "Save charts as SVG" button (nothing on a page without charts). The
    SVGs are made when it is clicked, not on every redraw."""
    charts = list(st.session_state.get(KEY, {}).values())
    if not charts:
        return
    st.download_button(
        f"Save this page's {len(charts)} charts as SVG (ZIP)",
        data=lambda: export.svg_zip(charts), file_name=f"{page or 'lab'}-charts.zip",
        mime="application/zip", on_click="ignore", icon=":material/download:",
        help="Each chart's own menu (⋯) saves it as PNG.")
