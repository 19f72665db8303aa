import streamlit as st

from core import backprop, catalog, data, engine
from core.charts import base, gradient_descent as charts
from core.experiments.gradient_descent import Config
from ui import controls, receipt, run_panel, talk

PAGE = "gd"
(EXPERIMENT,) = catalog.here(__file__).experiments

st.title("Gradient descent & backpropagation")
talk.prose(
    "A network turns two input numbers into a guess, and the loss measures how far the "
    "guess is from the label. Backpropagation walks the chain rule from the loss back "
    "through every layer to find how each weight moved the loss; gradient descent then "
    "nudges each weight a small step the other way. Below, a small MLP learns a 2D point "
    "cloud: watch the loss fall, the decision boundary bend around the classes, and the "
    "last hidden layer pull the two classes apart. "
    "*(Rumelhart, Hinton & Williams, 1986.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Data": ["dataset", "noise", "n_samples", "test_fraction"],
        "Model": ["hidden_layers", "width", "activation", "loss"],
        "Training": ["optimizer", "lr", "batch_size", "weight_decay", "steps", "seed"],
    })


def draw(view: engine.RunView) -> None:
    m = view.metrics
    if not m:
        st.caption("The first steps are on their way...")
        return
    last = {name: values[-1] for name, (_, values) in m.items()}
    cols = st.columns(4)
    cols[0].metric("Train loss", f"{last['train_loss']:.4f}")
    cols[1].metric("Test loss", f"{last['test_loss']:.4f}")
    cols[2].metric("Train accuracy", f"{last['train_accuracy']:.1%}")
    cols[3].metric("Test accuracy", f"{last['test_accuracy']:.1%}")
    receipt.show_for(EXPERIMENT, view.config, None if view.active else view.summary)

    left, right = st.columns(2)
    left.altair_chart(talk.sized(base.curves(
        base.metrics_long(m, {"train_loss": "train", "test_loss": "test"}),
        "Loss", "loss (log scale)", log_y=True)))
    right.altair_chart(talk.sized(base.curves(
        base.metrics_long(m, {"train_accuracy": "train", "test_accuracy": "test"}),
        "Accuracy", "accuracy")))

    snaps = view.snapshots
    if "data" in snaps and "boundary" in snaps:
        d, b = snaps["data"], snaps["boundary"]
        points = base.points_frame(d["x"], d["label"], d["split"])
        left, right = st.columns(2)
        left.altair_chart(talk.sized(charts.decision_boundary(
            b["xs"], b["ys"], b["prob"], points,
            f"Decision boundary at step {int(b['step']):,}")))
        if "embedding" in snaps:
            e = snaps["embedding"]
            emb = base.points_frame(e["xy"], d["label"], d["split"])
            ev = e["explained"]
            right.altair_chart(talk.sized(base.scatter(
                emb, f"Last hidden layer, PCA to 2D, step {int(e['step']):,}",
                f"PC1 ({ev[0]:.0%} of variance)", f"PC2 ({ev[1]:.0%})")))
        else:
            right.info("A linear model has no hidden layer, so there are no embeddings "
                       "to show.")

    st.altair_chart(talk.sized(base.curves(base.metrics_long(m, charts.gradient_norm_names(m)),
                                  "Gradient norm of each layer's weights", "‖∇W‖ (log scale)",
                                  log_y=True, height=260)))
    st.caption("Layer 1 is next to the input. Vanishing gradients show up as lines sinking "
               "toward zero; a diverging run as lines shooting up.")
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)


st.divider()
st.header("The chain rule, one number at a time")
talk.prose(
    "A 2-2-1 network (two hidden units with the activation and loss chosen above) sees one "
    "training point. Each weight's gradient is a product of local derivatives, read along "
    "the path from the loss back to that weight. The table checks every product against "
    "PyTorch's autograd and against a float64 finite difference."
)
cfg = config or Config()
split = data.split_2d(cfg.dataset, cfg.n_samples, cfg.noise, cfg.test_fraction, cfg.seed)
c1, c2, c3 = st.columns(3)
index = c1.number_input("Training point", 0, len(split.x_train) - 1, 0, key="gd.tiny.point")
step_lr = c2.select_slider("Step size for one step", [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
                           value=0.3, key="gd.tiny.lr")
if st.session_state.get("gd.tiny.seed") != cfg.seed or c3.button("Reset the weights"):
    st.session_state["gd.tiny.params"] = backprop.tiny_params(cfg.seed)
    st.session_state["gd.tiny.seed"] = cfg.seed
    st.session_state.pop("gd.tiny.last", None)
weights = st.session_state["gd.tiny.params"]
x, y = split.x_train[index].astype(float), float(split.y_train[index])
result = backprop.chain_rule(weights, x, y, cfg.activation, cfg.loss)

st.markdown(f"**Forward pass** for x = ({x[0]:.3f}, {x[1]:.3f}), label y = {int(y)}")
st.dataframe(charts.forward_table(result), hide_index=True)
st.markdown("**Backward pass**: each gradient as a product of local derivatives")
st.dataframe(charts.gradient_table(result), hide_index=True, column_config={
    "value": st.column_config.NumberColumn(format="%.5f"),
    "by hand": st.column_config.NumberColumn(format="%.8f"),
    "autograd": st.column_config.NumberColumn(format="%.8f"),
    "finite difference": st.column_config.NumberColumn(format="%.8f"),
})
ok = result["max_rel_error"] < 1e-6
st.markdown(f"Largest relative difference between the three: "
            f"**{result['max_rel_error']:.1e}** {'✓' if ok else '✗'}")

if st.button("Take one step", icon=":material/arrow_downward:", type="primary"):
    after = backprop.take_step(weights, result["grads"], step_lr)
    loss_after = backprop.loss_of(after, x, y, cfg.activation, cfg.loss)
    st.session_state["gd.tiny.last"] = (weights, result["grads"], after, result["loss"],
                                        loss_after, step_lr)
    st.session_state["gd.tiny.params"] = after
    st.rerun()
if last := st.session_state.get("gd.tiny.last"):
    before, grads, after, loss_before, loss_after, lr = last
    st.markdown(f"**The last step** (lr = {lr:g}): every weight moved by −lr × gradient; "
                f"the loss on this point went from **{loss_before:.5f}** to "
                f"**{loss_after:.5f}** ({loss_after - loss_before:+.5f}).")
    st.dataframe(charts.step_table(before, grads, after, lr), hide_index=True)
