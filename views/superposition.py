import streamlit as st

from core import catalog, engine
from core.charts import base, superposition as charts
from core.experiments.superposition import RECOVERED, REPRESENTED, Config, MemoryConfig
from ui import controls, receipt, run_panel, talk

PAGE, MEMORY_PAGE = "sp", "ae"
EXPERIMENT, MEMORY = catalog.here(__file__).experiments

st.title("Superposition: more features than neurons")
talk.prose(
    "Squeeze *n* input features through *m < n* hidden units and ask a ReLU layer to give "
    "them back: h = W x, x̂ = ReLU(Wᵀh + b). A linear bottleneck could keep at most *m* "
    "features, one per dimension. When features are **sparse** (rarely on at the same "
    "time), the ReLU network does better: it gives more features than it has dimensions "
    "a direction of their own. The directions are no longer orthogonal, so a feature "
    "leaks a little into its neighbours; a negative bias lets the ReLU cut those small "
    "leaks to zero, and what survives is the feature that was really there. Below, one "
    "model is trained per sparsity: dense data keeps the two most important features at "
    "right angles, medium sparsity packs features as opposite (antipodal) pairs, very "
    "sparse data fits all five on a pentagon. *(Elhage et al. 2022, Toy Models of "
    "Superposition.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Model": ["n_features", "n_hidden", "importance_decay"],
        "Data": ["sparsities", "batch_size"],
        "Training": ["seeds_per_sparsity", "steps", "lr", "seed"],
    })


def draw(view: engine.RunView) -> None:
    snaps = view.snapshots
    if "model" not in snaps or "setup" not in snaps:
        st.caption("The first steps are on their way...")
        return
    setup, model = snaps["setup"], snaps["model"]
    sparsities = [float(s) for s in setup["sparsities"]]
    geometry = model["geometry"]
    frames = charts.superposition_frames(model["W"], sparsities, setup["importance"],
                                         geometry)
    m, n = model["W"].shape[1], model["W"].shape[2]
    step = int(model["step"])

    cols = st.columns(4)
    cols[0].metric("Features / hidden units", f"{n} / {m}")
    cols[1].metric("Most features represented", int(geometry["most_represented"]),
                   help=f"‖W_i‖ > {REPRESENTED:g} in the kept model of some sparsity")
    cols[2].metric("At the sparsest", f"{int(geometry['represented_sparsest'])} of {n}")
    cols[3].metric("At the densest", f"{int(geometry['represented_densest'])} of {n}")
    receipt.show_for(EXPERIMENT, view.config, view.summary)

    where, x_title, y_title = charts.hidden_axes(m, frames["projected"])
    st.altair_chart(talk.sized(charts.feature_directions(
        frames["directions"], f"Each feature's direction W_i (step {step:,})",
        frames["limit"], x_title=x_title, y_title=y_title,
        subtitle=where[0].upper() + where[1:])), width="content")
    st.caption("One panel per sparsity S (the lowest-loss start of each). A line is a "
               "feature's column of W; a feature with a short line is dropped. Dark "
               "lines are the important features.")

    st.altair_chart(talk.sized(charts.feature_norm_bars(
        frames["norms"], "How long each feature's direction is, and how much it shares it")),
        width="content")
    st.caption(f"Bar height ‖W_i‖ (above {REPRESENTED:g} counts as represented). "
               "Colour Σ_{j≠i}"
               " (Ŵ_i·W_j)²: dark means the feature has its dimension to itself, bright "
               "means other features lie along it too (superposition).")
    st.altair_chart(talk.sized(charts.gram_heatmaps(frames["gram"], "WᵀW: how features overlap")),
                    width="content")
    st.caption("Diagonal: each feature's squared length. Off the diagonal: red where two "
               "features point the same way, blue where they point opposite ways "
               "(an antipodal pair), white where they are orthogonal.")

    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.feature_dimensionality(
        frames["dims"], frames["per_model"],
        "Feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²")))
    left.caption("A feature with a dimension to itself has D = 1; one of an antipodal pair "
                 "½; one of a pentagon 2/5. The grey line: hidden dimensions per "
                 "feature, m / ‖W‖²_F.")
    losses = charts.instance_loss_frame(view.metrics, sparsities)
    right.altair_chart(talk.sized(charts.instance_losses(losses, "Loss of every model instance",
                                              height=340)))
    right.caption(f"All {int(setup['instances'])} instances train as one batched model. "
                  "Sparser data has less to reconstruct, so its loss sits lower.")

    if view.summary and "per_sparsity" in view.summary:
        st.dataframe(charts.per_sparsity_table(view.summary["per_sparsity"]), hide_index=True,
                     column_config={
            "loss": st.column_config.NumberColumn(format="%.5f")})
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)


st.divider()
st.header("Memorizing vectors: more stored than neurons")
talk.prose(
    "The same model can memorize instead of generalize. Train it on a fixed handful of "
    "sparse vectors and it stores every one in its few hidden units: each vector gets "
    "its own direction in hidden space, the hidden points spread out into a polygon, and "
    "the ReLU with its bias rebuilds the right vector from each point while the others "
    "stay switched off. A vector counts as recovered when its reconstruction has "
    f"cosine similarity ≥ {RECOVERED:g} with the original."
)
controls.presets(MEMORY_PAGE, MEMORY, title=None)


def draw_memory(view: engine.RunView) -> None:
    state = view.snapshots.get("memory")
    if state is None:
        st.caption("The first steps are on their way...")
        return
    k, m = state["hidden"].shape
    cols = st.columns(3)
    cols[0].metric("Recovered vectors", f"{int(state['n_recovered'])} of {k}")
    cols[1].metric("Hidden units", m)
    cols[2].metric("Stored per unit", f"{float(state['recovered_per_unit']):.1f}")
    frame, projected = charts.memory_points(state)
    label = (f"projected to 2D from {m} hidden units" if projected else
             "one hidden unit" if m == 1 else "the hidden plane")
    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.hidden_points(
        frame, "Hidden points h = W x of the stored vectors",
        "projection axis 1" if projected else "hidden unit 1",
        "projection axis 2" if projected else ("hidden unit 2" if m > 1 else " "),
        subtitle=f"{label}, step {int(state['step']):,}")), width="content")
    right.altair_chart(talk.sized(base.curves(
        base.metrics_long(view.metrics, charts.restart_loss_names(view.metrics)),
        "Training loss of each start", "loss (log scale)", log_y=True, height=300)))
    right.caption("The start with the lowest loss is the one drawn.")
    with st.expander("Every stored vector"):
        st.dataframe(charts.memory_table(state), hide_index=True, column_config={
            "cosine similarity": st.column_config.NumberColumn(format="%.3f"),
            "squared error": st.column_config.NumberColumn(format="%.4f")})
    run_panel.downloads(view, MEMORY_PAGE)


memory_config = controls.controls(MEMORY_PAGE, MemoryConfig, layout={
    "Vectors": ["n_vectors", "n_features", "sparsity"],
    "Model": ["n_hidden", "restarts"],
    "Training": ["steps", "lr", "seed"],
}, prefix="ae_")
if memory_config is not None:
    run_panel.show(MEMORY_PAGE, MEMORY, memory_config, draw_memory)
