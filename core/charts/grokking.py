"""Grokking: accuracy, weight norms and loss on a log step axis (see `base.log_step_curves`
and `base.step_marks`), and the test accuracy with and without weight decay."""
from __future__ import annotations

import altair as alt
import pandas as pd

from core.charts.base import metrics_long

WITH_DECAY, WITHOUT_DECAY = "#d62728", "#7f7f7f"


def decay_label(weight_decay: float) -> str:
    return f"weight decay {weight_decay:g}"


def compare_frame(runs: list[tuple[float, dict]]) -> pd.DataFrame:
    """Test accuracy of runs that differ in weight decay ([(weight decay, metrics)]), one
    series each; empty until one of them has logged it."""
    frames = [metrics_long(metrics, {"test_accuracy": decay_label(wd)})
              for wd, metrics in runs if "test_accuracy" in metrics]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def compare_colors(weight_decay: float) -> alt.Scale:
    """Red for the page's weight decay, grey for none."""
    return alt.Scale(domain=[decay_label(weight_decay), decay_label(0.0)],
                     range=[WITH_DECAY, WITHOUT_DECAY])
