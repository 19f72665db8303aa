import streamlit as st

from core import catalog, engine
from core.charts import base, dropout as charts
from core.experiments.dropout import SUBNETWORKS, Config
from ui import controls, receipt, run_panel, talk

PAGE = "do"
(EXPERIMENT,) = catalog.here(__file__).experiments

st.title("Dropout as feature hiding")
talk.prose(
    "Dropout switches off a random share of the inputs or hidden units at every training "
    "step, and switches nothing off when the network is used. Each step therefore trains "
    "a different thinned sub-network, and no unit can count on any particular other unit "
    "being there. A network that found one good cue for a class cannot lean on it alone: "
    "whenever the cue is hidden, the loss pushes it to find another. The trained network "
    "behaves like an average over the many sub-networks, a cheap ensemble. Below, the "
    "same network is trained twice, without and with dropout: an MLP on scikit-learn's "
    "8×8 digits (dropout on pixels and hidden units), and the patch network of the "
    "ensembles page on multi-view data, where dropping whole patches hides whole views. "
    "*(Srivastava et al. 2014, Dropout: A Simple Way to Prevent Neural Networks from "
    "Overfitting.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Dropout": ["input_dropout", "hidden_dropout", "patch_dropout"],
        "Digits MLP": ["n_train", "width", "lr", "steps"],
        "Multi-view": ["mv_steps", "mv_classes", "seed"],
    })


def draw(view: engine.RunView) -> None:
    m = view.metrics
    if not m:
        st.caption("The first steps are on their way...")
        return
    cfg = view.config
    summary = view.summary or {}
    last = {name: values[-1] for name, (_, values) in m.items()}

    st.subheader("Digits: a narrower train–test gap")
    cols = st.columns(4)
    for col, name in zip(cols[:2], ("without", "with")):
        if f"digits_gap_{name}" in last:
            col.metric(f"Gap {name} dropout", f"{last[f'digits_gap_{name}']:.1%}",
                       help="Train accuracy minus test accuracy, dropout off.")
    digits = summary.get("digits")
    if digits:
        cols[2].metric("Test log-loss", f"{digits['with_dropout']['test_log_loss']:.3f}",
                       delta=f"{digits['with_dropout']['test_log_loss'] - digits['without_dropout']['test_log_loss']:+.3f}",
                       delta_color="inverse", help="With dropout; the change from without.")
        cols[3].metric("Dropout left on at test", f"{digits['with_dropout']['test_accuracy_dropout_left_on']:.1%}",
                       help="The classic bug: evaluating the dropout network with dropout "
                            "still switched on (one random mask). Every other number here "
                            "is measured with dropout off, as it should be.")
    left, right = st.columns(2)
    for col, name in ((left, "without"), (right, "with")):
        col.altair_chart(talk.sized(base.curves_legend_below(
            base.metrics_long(m, {f"digits_train_{name}": "train",
                                  f"digits_test_{name}": "test"}),
            f"Digits accuracy {name} dropout", "accuracy", height=320)))
    sizes = view.snapshots["digits_setup"]  # sent before the first metrics
    st.caption(f"{sizes['n_train']} training images, {sizes['n_test']} test; an MLP with "
               f"{cfg.width} hidden units. Both reach ~100% on the training set; the "
               "dropout one ends a little closer to its training accuracy on the test set.")
    receipt.show_for(EXPERIMENT, cfg, None if view.active else view.summary)

    st.subheader("Multi-view data: hiding views makes the network learn both")
    mv = summary.get("multi_view")
    cols = st.columns(4)
    for col, name in zip(cols[:2], ("without", "with")):
        if f"mv_single_view_{name}" in last:
            col.metric(f"Single-view accuracy {name}", f"{last[f'mv_single_view_{name}']:.1%}")
    if mv:
        cols[2].metric("Views learned per class, without",
                       f"{mv['without_dropout']['views_learned_per_class']:.1f} of 2")
        cols[3].metric("Views learned per class, with",
                       f"{mv['with_dropout']['views_learned_per_class']:.1f} of 2")
    left, right = st.columns(2)
    for col, name in ((left, "without"), (right, "with")):
        col.altair_chart(talk.sized(base.curves_legend_below(
            charts.multiview_frame(m, name, cfg.steps), f"Multi-view accuracy {name} patch dropout", "accuracy", height=320,
            columns=3)))
    st.caption("Each network stops once it fits its training batch (with its patches "
               "hidden, for the dropout one). Without dropout it fits with one view per "
               "class and fails on single-view test examples of the other view.")
    reliance = view.snapshots.get("reliance")
    if reliance is not None:
        st.altair_chart(talk.sized(charts.reliance_bars(
            charts.reliance_frame(reliance["drop"]),
            "How much each network relies on each view: accuracy lost when it is removed")),
            width="content")
        st.caption("Multi-view test examples with one view of their class erased from "
                   "every patch. A tall bar: the network needed that view, it is the "
                   "only one of the class it knows. Without dropout several classes hang "
                   "on one view; with patch dropout both views are known, so removing "
                   "one costs little.")

    dis = view.snapshots.get("digits_disagreement")
    if dis is not None and digits and None not in (digits["subnetworks"]["on_correct"],
                                                   digits["subnetworks"]["on_wrong"]):
        sub = digits["subnetworks"]
        left, right = st.columns([3, 2])
        left.altair_chart(talk.sized(charts.disagreement_histogram(
            charts.disagreement_frame(dis), f"{SUBNETWORKS} sampled sub-networks on the digits test set")))
        right.markdown(
            f"Each sub-network is the dropout network with one random mask left on. "
            f"On a test point the full network gets **right**, "
            f"**{sub['on_correct']:.0%}** of them disagree with their majority on "
            f"average; on a point it gets **wrong**, **{sub['on_wrong']:.0%}**. The "
            "sub-networks disagree where the network is unsure, and the network with "
            "dropout off acts like their average.")
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)
