import streamlit as st

from core import catalog, engine
from core.charts import base, ensembles as charts
from core.experiments.ensembles import LEARNED, Config
from ui import controls, receipt, run_panel, talk

PAGE = "ens"
(EXPERIMENT,) = catalog.here(__file__).experiments

st.title("Ensembles & distillation")
talk.prose(
    "Picture data where every class can be recognized in two independent ways, say a car "
    "by its wheels or by its headlights. Most pictures show both (**multi-view**), a few "
    "show only one (**single-view**). A network trained by gradient descent latches onto "
    "whichever cue its random start happened to favour, fits most of the training set "
    "with it, and simply memorizes the few training examples that lack it. It never "
    "needs the second cue, so it fails on test pictures that show only that one. Another "
    "seed wins a different cue, so averaging several networks (an **ensemble**) covers "
    "both. Training one fresh network to match the ensemble's soft outputs "
    "(**knowledge distillation**) tells it that the examples it would have memorized "
    "do carry a signal, and it goes and finds the missing cue; distilling a single "
    "network into a fresh one (**self-distillation**) can pass on only what that one "
    "knew. A random-feature model (fixed random projection + gradient boosting) gains "
    "from an ensemble for a different reason, by averaging out its noise; and on a "
    "Gaussian mixture, where there are no views to split, the ensemble gains little. "
    "*(Allen-Zhu & Li 2020, Towards Understanding Ensemble, Knowledge Distillation and "
    "Self-Distillation in Deep Learning.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Data": ["dataset", "n_classes", "patches", "dim", "n_train",
                 "single_view_fraction", "feature_noise", "n_test"],
        "Networks": ["n_models", "neurons", "rho", "lr", "steps", "seed"],
        "Distillation & baseline": ["temperature", "student_steps", "random_features",
                                    "rf_projections"],
    })

def draw(view: engine.RunView) -> None:
    m = view.metrics
    if not m:
        st.caption("The first steps are on their way...")
        return
    cfg = view.config
    gm = cfg.dataset == "gaussian_mixture"
    summary = view.summary or {}
    models = summary.get("models") or view.snapshots.get("results")

    cols = st.columns(4)
    measure = "accuracy" if gm else "single_view_accuracy"
    label = "accuracy" if gm else "single-view accuracy"
    if models:
        cols[0].metric(f"Individual {label}", f"{models['individual'][measure]:.1%}",
                       help="Mean over the individual networks.")
        cols[1].metric(f"Ensemble {label}", f"{models['ensemble'][measure]:.1%}",
                       delta=f"{models['ensemble'][measure] - models['individual'][measure]:+.1%}")
        cols[2].metric(f"Distilled {label}", f"{models['distilled'][measure]:.1%}",
                       delta=f"{models['distilled'][measure] - models['individual'][measure]:+.1%}")
        cols[3].metric(f"Self-distilled {label}", f"{models['self_distilled'][measure]:.1%}",
                       delta=f"{models['self_distilled'][measure] - models['individual'][measure]:+.1%}")
    else:
        cols[0].metric("Networks", cfg.n_models)
        cols[1].metric("Dataset", "Gaussian mixture" if gm else "multi-view")
    receipt.show_for(EXPERIMENT, cfg, summary)

    if models:
        left, right = st.columns(2)
        left.altair_chart(talk.sized(charts.model_accuracy_bars(
            charts.results_frame(models), "Test accuracy of each kind of model")))
        left.caption("Individual: the mean of the networks. Ensemble: their averaged "
                     "logits. Distilled: a fresh network trained on the ensemble's soft "
                     "labels; self-distilled: on network 1's. Equal-budget control: a "
                     "fresh network on hard labels for as many steps as the students."
                     if not gm else "On the Gaussian mixture there are no views, so one "
                     "accuracy per model.")
        table = charts.results_table(models)
        right.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
        if not gm:
            right.caption(f"Multi-view: test examples with both views ({cfg.n_test // 2}). "
                          "Single-view: with one view (the other faint). Only the "
                          "single-view ones separate the models.")

    views = view.snapshots.get("views")
    if views is not None:
        split = summary.get("classes_split_between_models")
        st.altair_chart(talk.sized(charts.view_heatmaps(
            charts.view_frame(views["accuracy"]), "Which view of each class each network learned",
            subtitle="accuracy on probe examples showing only that view")), width="content")
        st.caption(f"A dark cell: the network recognizes the class from that view alone "
                   f"(≥ {LEARNED:.0%} counts as learned). Most networks have one dark cell "
                   "per column: one view per class, and which one differs from seed to "
                   "seed." + (f" In {split} of {cfg.n_classes} classes one network learned "
                              "only view 1 and another only view 2." if split is not None
                              else ""))

    left, right = st.columns(2)
    left.altair_chart(talk.sized(base.curves_legend_below(
        base.metrics_long(m, charts.accuracy_series("accuracy" if gm else "single_view")),
        "Test accuracy while training" + ("" if gm else " (single-view examples)"),
        "test accuracy", height=380, columns=3)))
    left.caption(f"Steps 1–{cfg.steps}: the individual networks (all at once, one batched "
                 f"model); then the three students, {cfg.student_steps} steps.")
    right.altair_chart(talk.sized(base.curves_legend_below(
        base.metrics_long(m, charts.loss_series(cfg.n_models)), "Training loss",
        "loss (log scale)", log_y=True, height=380, columns=3)))
    right.caption("Each network stops once it classifies every training example "
                  "(a flat end). Students' distillation losses are KL divergences × τ².")
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)
