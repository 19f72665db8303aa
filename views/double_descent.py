import streamlit as st

from core import catalog, engine
from core.charts import double_descent as charts
from core.experiments.double_descent import TOP, Config, RepeatConfig
from ui import controls, receipt, run_panel, talk

PAGE, REPEAT_PAGE = "dd", "rep"
EXPERIMENT, REPEATED = catalog.here(__file__).experiments

st.title("Memorization → generalization: double descent")
talk.prose(
    "Take the superposition toy model (h = W x, x̂ = ReLU(Wᵀh + b), two hidden units, "
    "many sparse features) and give it a **fixed** training set of T examples instead of "
    "fresh data. With only a few examples the cheapest way to reconstruct them is to "
    "remember each one: every training example gets its own direction in the two hidden "
    "units, and the examples' hidden points W x_t spread out into a polygon, while the "
    "feature directions are a mess. That is memorization, and it lives in *where the "
    "examples land in hidden space*. With many examples there are too many to give each "
    "a direction, so the model stores what they have in common, the features: now the "
    "feature columns W_i form the polygon and the examples' points crowd together. "
    "Between the two regimes the model is caught half-way, neither remembering the data "
    "well nor knowing the features, and the loss on new examples gets *worse* before it "
    "gets better: double descent. *(Henighan et al. 2023, Superposition, Memorization, "
    "and Double Descent.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Model and data": ["n_features", "n_hidden", "sparsity", "train_sizes"],
        "Training": ["steps", "lr", "weight_decay", "seed"],
    })


def draw(view: engine.RunView) -> None:
    sweep = view.snapshots.get("sweep")
    if not sweep:
        st.caption("Training the first training-set size...")
        return
    sizes = [int(t) for t in sweep["train_sizes"]]
    test = list(sweep["test_loss"])
    # the experiment's peak, once every size is done (a peak so far can still move)
    peak = (view.summary or {}).get("peak_train_size") if not view.active else None
    cols = st.columns(4)
    cols[0].metric("Sizes done", f"{len(sizes)} of {len(set(view.config.train_sizes))}")
    cols[1].metric("Peak at T", peak if peak is not None else "–",
                   help="The interior T with the highest test loss (with fewer than three "
                        "sizes, the highest of them; marked once every size is done)")
    cols[2].metric("Test loss at the peak", f"{test[sizes.index(peak)]:.2f}" if peak else "–")
    cols[3].metric("Test loss at the largest T", f"{test[-1]:.2f}")
    receipt.show_for(EXPERIMENT, view.config, None if view.active else view.summary)

    key = f"{PAGE}.view_t"
    if st.session_state.get(key) not in sizes:
        st.session_state[key] = sizes[0]
    chosen = st.select_slider("Look inside the model trained on T examples", sizes, key=key) \
        if len(sizes) > 1 else sizes[0]

    losses, dims = charts.sweep_frames(sweep)
    domain = charts.size_domain(view.config.train_sizes)
    st.altair_chart(talk.sized(charts.double_descent_curve(
        losses, peak, chosen, "Train and test loss against the training-set size", domain)),
        width="stretch")
    st.caption("Each point is one model trained on its own fixed set of T examples; the "
               "points appear as the models finish. Test loss is measured on fresh "
               "examples and divided by the loss of a model that always outputs zero "
               "(1 = no better than doing nothing). The dashed line is the T shown below.")

    geo = view.snapshots.get("geometry", {}).get(str(chosen))
    if geo is not None:
        left, right = st.columns(2)
        left.altair_chart(talk.sized(charts.example_plane(
            charts.example_vectors(geo), f"Training examples W x_t, T = {chosen}",
            f"sum of the {TOP} largest D: {float(geo['data_top']):.2f}")), width="content")
        right.altair_chart(talk.sized(charts.feature_plane(
            charts.feature_vectors(geo["W"], geo["feature_dims"]),
            f"Feature columns W_i, T = {chosen}",
            f"sum of the {TOP} largest D: {float(geo['feature_top']):.2f}")), width="content")
        st.caption("Both plots are the same two hidden units. A dot's size is that "
                   "vector's dimensionality D = ‖v‖² / Σ_j (v̂·v_j)², the share of a hidden "
                   "dimension it has to itself (1: a whole dimension; 1/5: one corner of a "
                   "pentagon; ≈ 0: crowded out). At small T the training examples take the "
                   "dimensions (memorization); at large T the features do.")
    st.altair_chart(talk.sized(charts.dimensionality_vs_size(
        dims, "Who owns the hidden dimensions: data points or features?", domain)),
        width="stretch")
    st.caption(f"The sum of the {TOP} largest per-vector dimensionalities. The plain sum over "
               "all vectors is about m = 2 at every T (it always adds up to the dimensions "
               "used), so it cannot show the change; the top few vectors can.")
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)


st.divider()
st.header("Repeated examples are memorized")
talk.prose(
    "Now train in the generalizing regime (1,000 examples), but let a few of them appear "
    "many times. To the loss, an example repeated a hundred times is worth a hundred "
    "ordinary ones, so the model does for it what it did at small T: it gives each "
    "repeated example its own direction in hidden space and reconstructs it almost "
    "perfectly. Those dimensions are taken from the features, so the features' polygon "
    "breaks up and new examples are reconstructed worse. The comparison run has the same "
    "total T, all of it distinct examples."
)
controls.presets(REPEAT_PAGE, REPEATED, title=None)


def draw_repeat(view: engine.RunView) -> None:
    state, s = view.snapshots.get("repeat"), view.summary
    if state is None or not s:
        st.caption("Training the run with repetition and the one without...")
        return
    with_r, without = s["test_loss"]["with_repetition"], s["test_loss"]["without_repetition"]
    cols = st.columns(4)
    cols[0].metric("Test loss, no repetition", f"{without:.3f}")
    cols[1].metric("Test loss, with repetition", f"{with_r:.3f}",
                   delta=f"{with_r - without:+.3f}", delta_color="inverse")
    cols[2].metric("D of a repeated example", f"{s['repeated_dimensionality_mean']:.2f}",
                   help="Mean over the repeated examples; copies of one example share its "
                        "dimensionality, so it is summed over the copies")
    cols[3].metric("D of a unique example", f"{s['unique_dimensionality_mean']:.4f}")
    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.plane_vectors(
        charts.repeated_vectors(state), "Training examples W x_t, with repetition",
        "red: repeated (one dot each); blue: unique",
        colors=charts.REPEAT_COLORS)), width="content")
    right.altair_chart(talk.sized(charts.loss_bars(
        {"no repetition": without, "with repetition": with_r},
        "Test loss on fresh examples", height=340)), width="stretch")
    top = s["feature_top_dimensionality"]
    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.feature_plane(
        charts.feature_vectors(state["baseline_W"], state["baseline_feature_dims"]),
        "Feature columns W_i, no repetition",
        f"sum of the {TOP} largest D: {top['without_repetition']:.2f}")), width="content")
    right.altair_chart(talk.sized(charts.feature_plane(
        charts.feature_vectors(state["W"], state["feature_dims"]),
        "Feature columns W_i, with repetition",
        f"sum of the {TOP} largest D: {top['with_repetition']:.2f}")), width="content")
    st.caption("The repeated examples sit far out on their own directions: the model "
               "memorized them. The unique examples' points stay short and crowded. The "
               "dimensions the repeated examples took are missing from the features: "
               "compare the feature directions without and with repetition.")
    run_panel.downloads(view, REPEAT_PAGE)


repeat_config = controls.controls(REPEAT_PAGE, RepeatConfig, layout={
    "Model and data": ["n_features", "n_hidden", "sparsity", "train_size"],
    "Repetition": ["n_repeated", "repeat_count"],
    "Training": ["steps", "lr", "weight_decay", "seed"],
}, prefix="rep_")
if repeat_config is not None:
    run_panel.show(REPEAT_PAGE, REPEATED, repeat_config, draw_repeat)
