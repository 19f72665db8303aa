import streamlit as st

from core import catalog, engine
from core.charts import base, memorization as charts
from core.experiments import memorization as memo
from ui import controls, receipt, run_panel, talk

PAGE = "mem"
TREE, NET = catalog.here(__file__).experiments
SLOTS = {"tree": TREE, "net": NET, "base": NET}

st.title("Overfitting & memorization: bins and linear regions")
talk.prose(
    "A model overfits when its training loss is low but its test loss is high: it has "
    "learned the training points rather than the rule behind them. A **decision tree** "
    "makes this plain. It asks one if-else question after another, and each chain of "
    "answers ends in a leaf: a rectangular bin of the plane with one label. Left to grow, "
    "it keeps splitting until every training point sits in a bin of its own, so it "
    "recalls every training label, even labels that are pure noise.\n\n"
    "A **ReLU network** bins the plane too. Each hidden unit computes a weighted sum plus "
    "a bias, so it is on for the points on one side of a line (a hyperplane in higher "
    "dimensions) and off for the rest. Together, the on/off patterns of all units cut the "
    "plane into linear regions, and inside each one the network is a plain linear "
    "function. With enough units there are enough regions to give each training point "
    "its own, and the network can memorize as well. Weight decay, dropout and early "
    "stopping hold it back. *(Zhang et al. 2017, random labels are memorized; Hanin & "
    "Rolnick 2019, counting linear regions.)*"
)

controls.presets(PAGE, TREE)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, memo.Config, layout={
        "Data": ["dataset", "noise", "n_samples", "test_fraction", "label_noise",
                 "random_labels", "seed"],
        "Tree": ["max_depth", "min_samples_leaf"],
        "Network": ["hidden_layers", "width", "steps", "lr"],
        "Regularization": ["weight_decay", "dropout", "early_stopping"],
    })


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}".replace("100.0%", "100%")


def data_points(snaps: dict):
    d = snaps["data"]
    return charts.memo_points(d["x"], d["label"], d["split"], d["flipped"])


def memorization_note(s: dict, who: str) -> None:
    """The memorization claim in numbers, beside the charts."""
    parts = [f"{who} fits **{pct(s['train_accuracy'])}** of its training labels and gets "
             f"**{pct(s['test_accuracy'])}** of the test points right (chance: "
             f"{pct(s['chance'])})."]
    if s.get("memorized_flipped") is not None:
        what = "shuffled" if config.random_labels else "flipped"
        verdict = ("that is memorization" if s["memorizes_flipped"] else
                   "it mostly follows the rule instead of the wrong labels")
        parts.append(f"Of the {s['n_flipped']} training labels that are wrong ({what}), it "
                     f"reproduces **{pct(s['memorized_flipped'])}**: {verdict}.")
    st.markdown(" ".join(parts))


def draw_tree(view: engine.RunView) -> None:
    snaps, s = view.snapshots, view.summary
    if s is None or "rules" not in snaps:
        st.caption("Growing the trees...")
        return
    cols = st.columns(4)
    cols[0].metric("Leaves (bins)", f"{s['n_leaves']:,}")
    cols[1].metric("Depth", s["depth"])
    cols[2].metric("Train accuracy", pct(s["train_accuracy"]))
    cols[3].metric("Test accuracy", pct(s["test_accuracy"]))
    memorization_note(s, "The tree")
    points, rules = data_points(snaps), snaps["rules"]
    key = f"{PAGE}.tree.point"
    if st.session_state.get(key, 0) >= len(points):
        st.session_state[key] = 0
    index = st.number_input("Trace one point through the rules (train points first, then "
                            "test points)", 0, len(points) - 1, key=key)
    lo, hi = (float(v) for v in rules["window"])
    st.altair_chart(talk.sized(charts.tree_bins(snaps["leaves"], points, lo, hi,
                                     f"The tree's {s['n_leaves']} leaves, drawn as bins",
                                     highlight=int(index))))
    st.caption("Each shaded rectangle is one leaf, coloured by the class it predicts (blue 0, "
               "red 1). Circles are training points, triangles test points; a black outline "
               "marks a training label that was flipped or shuffled. The ringed point is the "
               "one traced below.")
    row = points.iloc[int(index)]
    lines = memo.path_lines(rules, int(index))
    text = rules["text"].splitlines()
    st.markdown(f"Point {int(index)} ({row['set']}, label {row['class']}"
                f"{', flipped' if row['flipped'] else ''}) answers {len(lines) - 1} "
                f"questions and lands in a leaf that says **class "
                f"{int(rules['pred'][int(index)])}**:")
    st.code("\n".join(f"{depth:>2}. " + text[i].lstrip("| ").removeprefix("--- ")
                       for depth, i in enumerate(lines, 1)), language=None)
    with st.expander(f"All the rules ({len(text)} lines of scikit-learn's export_text; "
                     "the traced path marked with ▶)"):
        marked = set(lines)
        st.code("\n".join(("▶ " if i in marked else "  ") + t for i, t in enumerate(text)),
                language=None, height=360)
    st.altair_chart(talk.sized(charts.depth_curve(
        s["depth_curve"], s["depth"], "Accuracy against depth (dashed: this tree)")))
    st.caption("Depth 1 is a single question; the last depth grows every leaf pure. Training "
               "accuracy climbs to 100 %; test accuracy peaks early and falls once the "
               "bins start following the noise.")


def draw_net(view: engine.RunView) -> None:
    m, snaps = view.metrics, view.snapshots
    if not m or "regions" not in snaps:
        st.caption("The first steps are on their way...")
        return
    last = {name: values[-1] for name, (_, values) in m.items()}
    r = snaps["regions"]
    cols = st.columns(4)
    cols[0].metric("Linear regions", f"{int(r['count']):,}")
    cols[1].metric("Step", f"{int(r['step']):,}")
    cols[2].metric("Train accuracy", pct(last["train_accuracy"]))
    cols[3].metric("Test accuracy", pct(last["test_accuracy"]))
    if view.summary and not view.active:
        memorization_note(view.summary, "The network")
        receipt.show_for(NET, view.config, view.summary)
        if view.config.early_stopping:
            st.caption(f"Early stopping kept the weights of step "
                       f"{view.summary['kept_step']:,} (the lowest test loss).")
    else:
        st.markdown("Training: the numbers below update every second.")
    st.altair_chart(talk.sized(charts.linear_regions(
        r["xs"], r["key"], r["pred"], data_points(snaps),
        f"{int(r['count']):,} linear regions at step {int(r['step']):,}")))
    tree_view = tree_run.view() if tree_run is not None else None
    leaves = f" The tree beside it uses {tree_view.summary['n_leaves']:,} leaves." \
        if tree_view is not None and tree_view.summary else ""
    st.caption("Each colour is one on/off pattern of the hidden units: one linear region. "
               "The black line is the decision boundary. "
               f"Counted on a {memo.GRID}×{memo.GRID} grid, with every cell that a region "
               f"boundary crosses sampled {memo.REFINE}×{memo.REFINE} times more finely, so "
               f"thin regions are not missed.{leaves}")
    st.altair_chart(talk.sized(base.curves(base.metrics_long(m, {"linear_regions": "regions"}),
                                "Linear regions during training", "regions", height=220)))
    left, right = st.columns(2)
    left.altair_chart(talk.sized(base.curves(
        base.metrics_long(m, {"train_loss": "train", "test_loss": "test"}),
        "Loss", "loss (log scale)", log_y=True, height=240)))
    right.altair_chart(talk.sized(base.curves(
        base.metrics_long(m, {"train_accuracy": "train", "test_accuracy": "test"}),
        "Accuracy", "accuracy", height=240)))


def draw_comparison(view: engine.RunView) -> None:
    current = net_run.view()
    st.altair_chart(talk.sized(base.curves(
        charts.gap_frame({"this run": current.metrics, "no regularization": view.metrics}),
        "Train − test accuracy (the generalization gap)", "train − test accuracy",
        height=260)))
    if current.summary and view.summary:
        a, b = current.summary, view.summary
        st.markdown(
            f"Gap in accuracy: **{a['accuracy_gap']:+.1%}** with regularization, "
            f"**{b['accuracy_gap']:+.1%}** without. Gap in loss (test − train): "
            f"**{a['loss_gap']:+.3f}** against **{b['loss_gap']:+.3f}**. Test accuracy: "
            f"{pct(a['test_accuracy'])} against {pct(b['test_accuracy'])}.")
        st.caption("With flipped labels a regularized model may score *lower* on its "
                   "training labels than on the clean test labels: it refuses to learn the "
                   "wrong ones, and the gap turns negative.")


tree_run = net_run = None
if config is not None:
    configs = {"tree": memo.for_tree(config), "net": memo.for_net(config)}
    if memo.is_regularized(configs["net"]):
        configs["base"] = memo.unregularized(configs["net"])
    st.caption("Reproduce from a terminal: "
               f"`{run_panel.cli_line(TREE, configs['tree'])}` and "
               f"`{run_panel.cli_line(NET, configs['net'])}`")
    controls.share(config)
    tree_run = run_panel.start(f"{PAGE}.tree", TREE, configs["tree"])
    net_run = run_panel.start(f"{PAGE}.net", NET, configs["net"])
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("The tree: if-else bins")
        if tree_run is not None:
            run_panel.live(tree_run, draw_tree, f"{PAGE}.tree", TREE)
    with right:
        st.subheader("The network: linear regions")
        if net_run is not None:
            run_panel.live(net_run, draw_net, f"{PAGE}.net", NET)
    for slot, run in (("tree", tree_run), ("net", net_run)):
        if run is not None and not run.view().active:
            st.caption(f"Download the {'tree' if slot == 'tree' else 'network'}'s run")
            run_panel.downloads(run.view(), f"{PAGE}.{slot}")

    st.divider()
    st.header("Regularization narrows the gap")
    if "base" not in configs:
        st.info("This network trains without weight decay, dropout or early stopping. Turn "
                "one of them on under Regularization to compare it with this run.",
                icon=":material/tune:")
    elif net_run is not None:
        base_run = run_panel.start(f"{PAGE}.base", NET, configs["base"])
        if base_run is not None:
            st.markdown("The same network, data and seed, trained once more with weight "
                        "decay, dropout and early stopping all off (both runs are cached).")
            run_panel.live(base_run, draw_comparison, f"{PAGE}.base", NET)
