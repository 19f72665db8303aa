"""The sidebar every page shares: the device, and the runs queued or training."""
from __future__ import annotations

import streamlit as st

from ui.run_panel import registry


def render() -> None:
    reg = registry()
    with st.sidebar:
        st.caption(f"Training on **{reg.device}** · {reg.workers} worker"
                   f"{'s' if reg.workers != 1 else ''}")
        _active_runs()


@st.fragment(run_every=2.0)
def _active_runs() -> None:
    active = registry().active_runs()
    if not active:
        st.caption("No run is training.")
        return
    st.markdown("**Runs in progress**")
    for run in active:
        view = run.view()
        label = (f"queued #{view.queue_position}" if view.status == "queued"
                 else f"{view.progress:.0%}")
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(f"{run.experiment.title} · {label}")
        right.button("", key=f"sidebar.cancel.{run.key}", icon=":material/stop:",
                     help="Cancel this run", on_click=run.cancel)
