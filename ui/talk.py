"""Talk mode and classroom links.

Talk mode (the sidebar toggle, or `?talk=1` in a link) is for a projector: a page drops
its settings and its long explanations, draws its charts and text larger, and turns its
presets into a storyboard that Previous / Next (or the arrow keys) step through. It lasts
for the whole session, on every page, and the address bar says so (`talk=1`).

`?hide=prose,presets,settings,<field>` is for a classroom link: it hides those parts of
one page, or single controls by their field name. Only the names the page declares are
taken; any other is reported like a bad value in a link, and ignored.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from core import catalog, experiments, params
from core.charts import base
from ui import export

TALK = "lab.talk"          # the toggle's key (drawn in the sidebar on every page)
HIDDEN = "lab.hidden"      # what the page that runs now hides
SECTIONS = ("prose", "presets", "settings")
ON = ("1", "true", "on", "yes")


def init(page_name: str) -> None:
    """Once per script run, before the page: talk mode from the link on a session's
    first run, the URL's `talk` key from the toggle, and what this page hides."""
    if TALK not in st.session_state:
        st.session_state[TALK] = st.query_params.get("talk", "").strip().lower() in ON
    if st.session_state[TALK]:
        if st.query_params.get("talk") != "1":
            st.query_params["talk"] = "1"
    elif "talk" in st.query_params:
        del st.query_params["talk"]
    st.session_state[HIDDEN] = _hidden(page_name)
    st.session_state["lab.talk.keys"] = False  # no storyboard has the arrow keys yet


def hide_names(page_name: str) -> tuple[str, ...]:
    """What a link may hide on this page: its sections, then its fields (every Config's)."""
    info = next((p for p in catalog.PAGES if p.name == page_name), None)
    fields: list[str] = []
    for name in info.experiments if info else ():
        fields += [s.name for s in params.specs(experiments.get(name).Config)
                   if s.name not in fields]
    return SECTIONS + tuple(fields)


def parse_hide(page_name: str, text: str) -> tuple[frozenset[str], list[params.Message]]:
    """The names in `hide=` this page declares, and a warning for each other one."""
    known = hide_names(page_name)
    names, warnings = set(), []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item in known:
            names.add(item)
        else:
            warnings.append(params.Message(
                "'hide' takes names this page declares: " + ", ".join(known), item,
                " It is ignored."))
    return frozenset(names), warnings


def _hidden(page_name: str) -> frozenset[str]:
    """A page keeps what its link hid for the session (and puts it back in the URL)."""
    slot = f"lab.hide.{page_name}"
    if "hide" in st.query_params:
        st.session_state[slot] = st.query_params["hide"]
    elif st.session_state.get(slot):
        st.query_params["hide"] = st.session_state[slot]
    names, warnings = parse_hide(page_name, st.session_state.get(slot, ""))
    st.session_state[f"{slot}.warnings"] = warnings
    return names


def warnings(page_name: str) -> list[params.Message]:
    return st.session_state.get(f"lab.hide.{page_name}.warnings", [])


def notices(page_name: str) -> None:
    """The link's bad hide names, worded like its other bad values."""
    for warning in warnings(page_name):
        st.warning(f"The link's configuration: {warning.markdown}")


def active() -> bool:
    return bool(st.session_state.get(TALK))


def hidden(name: str) -> bool:
    """Whether the page hides this section (prose, presets, settings) or field."""
    if name in ("prose", "settings") and active():
        return True
    return name in st.session_state.get(HIDDEN, frozenset())


def toggle() -> None:
    st.toggle("Talk mode", key=TALK,
              help="For a projector: hides the settings and long text, draws larger, and "
                   "steps through the page's presets (← / → keys). In a link: ?talk=1")


def prose(text: str) -> None:
    """A page's explanation: left out in talk mode and by `hide=prose`."""
    if not hidden("prose"):
        st.markdown(text)


def sized(chart: Any) -> Any:
    """A chart as the page draws it: larger in talk mode, kept for the page's "save as
    SVG" button (ui/export.py), and drawn without Altair's schema check (base.unchecked)."""
    chart = base.for_talk(chart) if active() else chart
    export.keep(chart)
    return base.unchecked(chart)


def take_keys() -> bool:
    """The first storyboard of a page gets the arrow keys (one pair per page)."""
    if st.session_state.get("lab.talk.keys"):
        return False
    st.session_state["lab.talk.keys"] = True
    return True
