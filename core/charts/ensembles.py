"""Ensembles & distillation: test accuracy of each kind of model on each kind of test
example, and which view of each class each network learned."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.charts.base import heatmap, tips, titled

MODEL_KIND_LABELS = {
    "individual": "individual (mean)", "ensemble": "ensemble", "distilled": "distilled",
    "self_distilled": "self-distilled", "hard_label_control": "equal-budget control",
    "random_features": "random features", "random_features_ensemble": "random-feature ensemble",
}
STUDENTS = ("distilled", "self_distilled", "hard_label_control")
TEST_SET_SCALE = alt.Scale(domain=["multi-view", "single-view", "all"],
                           range=["#9ecae1", "#08519c", "#6baed6"])


def results_frame(models: dict) -> pd.DataFrame:
    """The summary's accuracies per model kind as bars: one per test set (multi-view,
    single-view; "all" only where it is the one number, as on the Gaussian mixture)."""
    order = list(MODEL_KIND_LABELS)
    rows = []
    for kind, accs in models.items():
        for key, label in (("multi_view_accuracy", "multi-view"),
                           ("single_view_accuracy", "single-view"), ("accuracy", "all")):
            if accs.get(key) is not None and (key != "accuracy" or len(accs) == 1):
                rows.append({"model": MODEL_KIND_LABELS[kind], "order": order.index(kind),
                             "test_set": label, "accuracy": accs[key]})
    return pd.DataFrame(rows)


def results_table(models: dict) -> pd.DataFrame:
    """The same accuracies as a table, one row per model kind."""
    return pd.DataFrame([{"model": MODEL_KIND_LABELS[k],
                          **{c.replace("_accuracy", "").replace("_", "-"): v
                             for c, v in a.items()}} for k, a in models.items()])


def model_accuracy_bars(frame: pd.DataFrame, title: str, height: int = 360) -> alt.Chart:
    """Grouped bars: test accuracy of each model kind, one bar per test set.
    Columns: model, order, test_set, accuracy."""
    sets = [t for t in TEST_SET_SCALE.domain if t in set(frame["test_set"])]
    colors = [c for t, c in zip(TEST_SET_SCALE.domain, TEST_SET_SCALE.range) if t in sets]
    return alt.Chart(frame, title=title, height=height).mark_bar().encode(
        x=alt.X("model:N", title=None, sort=alt.SortField("order"),
                axis=alt.Axis(labelAngle=-35, labelOverlap=False, labelLimit=160)),
        xOffset=alt.XOffset("test_set:N", sort=sets),
        y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("test_set:N", title="test examples",
                        scale=alt.Scale(domain=sets, range=colors),
                        legend=alt.Legend(orient="top")),
        tooltip=tips("model:N", "test_set:N",
                     alt.Tooltip("accuracy:Q", format=".3f")),
    )


def view_frame(acc: np.ndarray) -> pd.DataFrame:
    """Probe accuracy [networks, classes, 2 views] in long form for `view_heatmaps`."""
    acc = np.asarray(acc)
    k, classes = acc.shape[0], acc.shape[1]
    return pd.DataFrame([{"panel": f"network {i + 1}", "order": i, "class": j,
                          "view": f"view {v + 1}", "accuracy": float(acc[i, j, v])}
                         for i in range(k) for j in range(classes) for v in range(2)])


def view_heatmaps(frame: pd.DataFrame, title: str, columns: int = 4,
                  subtitle: str = "") -> alt.FacetChart:
    """One small class × view heatmap per network: probe accuracy on single-view examples
    showing only that view (dark = the network recognizes the view).
    Columns: panel, order, class, view, accuracy."""
    n_classes = frame["class"].nunique() if len(frame) else 1
    return heatmap(
        frame, alt.X("class:O", title="class"), alt.Y("view:O", title=None),
        alt.Color("accuracy:Q", title="accuracy with only this view",
                  scale=alt.Scale(scheme="blues", domain=[0, 1]),
                  legend=alt.Legend(orient="top", gradientLength=200)),
        ["panel:N", "class:O", "view:O", alt.Tooltip("accuracy:Q", format=".2f")],
        width=max(60, min(150, 14 * n_classes)), height=44, stroke="white", strokeWidth=0.5,
    ).facet(facet=alt.Facet("panel:N", title=None, sort=alt.SortField("order")),
            columns=columns, title=titled(title, subtitle))


def accuracy_series(measure: str) -> dict[str, str]:
    """{metric: label} of the test accuracy logged for each kind of model while training
    (`measure`: "single_view", or "accuracy" on the Gaussian mixture)."""
    return {f"individual_{measure}": "individual (mean)", f"ensemble_{measure}": "ensemble",
            **{f"{s}_{measure}": MODEL_KIND_LABELS[s] for s in STUDENTS}}


def loss_series(n_models: int) -> dict[str, str]:
    """{metric: label} of each network's and each student's training loss."""
    names = {f"loss_{i}": f"network {i + 1}" for i in range(n_models)}
    names.update({f"loss_{s}": MODEL_KIND_LABELS[s] for s in STUDENTS})
    return names
