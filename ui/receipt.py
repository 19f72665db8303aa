"""Draws a page's receipt: the paper's number against this run's, with the source."""
from __future__ import annotations

from typing import Any

import streamlit as st

from core import experiments
from core.receipts import Receipt

# Material icons: the emoji would need a colour-emoji font the visitor may not have
MARKS = {True: ":material/check_circle:", False: ":material/warning:", None: ":material/help:"}


def show(receipt: Receipt | None) -> None:
    """One bordered box: the claim, "Paper: … · This run: …", the verdict (a warning
    sign and "did not reproduce in this run" where it failed), and a caption with the
    source and how the Lab's setup is smaller than the paper's."""
    if receipt is None:
        return
    with st.container(border=True):
        st.markdown(f"**{receipt.claim}**")
        st.markdown(f"Paper: {receipt.paper} · This run: {receipt.live}  \n"
                    f"{MARKS[receipt.holds]} **{receipt.verdict.capitalize()}**")
        st.caption(f"Source: {receipt.source}. Lab setup: {receipt.smaller}")


def show_for(experiment: Any, config: Any, summary: dict | None) -> None:
    """The receipt of `experiment` (a name or an Experiment) for a finished run's summary
    (nothing before the run is done, or for an experiment without one)."""
    if isinstance(experiment, str):
        experiment = experiments.get(experiment)
    if summary and experiment.receipt is not None:
        show(experiment.receipt(config, summary))
