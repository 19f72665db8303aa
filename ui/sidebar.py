"""The sidebar every page shares: talk mode, the device, and the runs queued or training."""
from __future__ import annotations

import streamlit as st

from ui import talk
from ui.run_panel import registry, session_id, withdraw


def render() -> None:
    reg = registry()
    with st.sidebar:
        talk.toggle()
        st.caption(f"Training on **{reg.device}** · {reg.workers} worker"
                   f"{'s' if reg.workers != 1 else ''}")
        _active_runs()


@st.fragment(run_every=2.0)
def _active_runs() -> None:
    """This visitor's runs (other visitors' runs are theirs to cancel)."""
    reg = registry()
    active = reg.session_runs(session_id())
    others = len(reg.active_runs()) - len(active)
    if not active:
        st.caption("None of your runs is training." + (
            f" Other visitors have {others} queued or training." if others > 0 else ""))
        return
    st.markdown("**Your runs in progress**")
    for run in active:
        view = run.view()
        label = (f"queued #{view.queue_position}" if view.status == "queued"
                 else f"{view.progress:.0%}")
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(f"{run.experiment.title} · {label}")
        right.button("", key=f"sidebar.cancel.{run.key}", icon=":material/stop:",
                     help="Cancel this run (it goes on if another visitor watches it)",
                     on_click=withdraw, args=(run,))
