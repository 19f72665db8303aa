import streamlit as st

from core import catalog, engine
from core.charts import base, capsules as charts
from core.experiments.capsules import (MAX_ENTROPY, MIN_SEEDS, PERTURBATIONS, TEST_DIGITS,
                                       UNIFORM, Config)
from ui import controls, receipt, run_panel, talk

PAGE = "caps"
(EXPERIMENT,) = catalog.here(__file__).experiments

st.title("Capsule networks: routing by agreement")
talk.prose(
    "A capsule is a small group of neurons read as a vector: its direction says *how* a "
    "part is posed (thickness, slant, position), its length says *whether* it is there. "
    "In the capsule net of Sabour, Frosst & Hinton (2017, *Dynamic Routing Between "
    "Capsules*), every low-level (primary) capsule makes a prediction for every digit "
    "capsule, û = W·u, through a matrix of its own. Routing by agreement then decides "
    "where each primary capsule sends its vote: all couplings start equal (1/10), each "
    "digit capsule sums the votes it receives and squashes the sum to a length below 1, "
    "and every primary capsule raises its coupling to the digit capsules whose output "
    "its prediction points along. After a few rounds, parts that agree about the same "
    "whole vote together. The longest digit capsule is the answer; a small decoder that "
    "redraws the digit from it makes its 16 numbers describe the digit's style.\n\n"
    "Whether those extra rounds earn their cost is disputed: Paik, Jeong & Lee (2019, "
    "*Capsule Networks Need an Improved Routing Algorithm*) found that couplings fixed at "
    "1/10 often do about as well. So this page trains, on the same batches, the capsule "
    "net, its **uniform control** (same start, agreement update switched off) and a "
    "**plain CNN** with about as many parameters, over several seeds. The data is "
    "scikit-learn's 1,797 handwritten digits of 8×8 pixels (1,200 to train, 597 to "
    "test), not MNIST."
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Capsules": ["routing_iterations", "primary_maps", "w_init", "conv_channels"],
        "Decoder": ["decoder", "decoder_weight"],
        "Training": ["epochs", "lr", "batch_size", "train_size"],
        "Comparison": ["seeds", "seed", "example"],
    })

def pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f} %"


def points(value: float) -> str:
    return f"{100 * value:+.1f} points"


def comparison_sentence(cmp: dict, ours: str, theirs: str, seeds: int) -> str:
    """One honest sentence from a paired comparison that core computed."""
    mean, se = cmp["mean_difference"], cmp["standard_error"]
    record = (f"better on {cmp['seeds_better']}, worse on {cmp['seeds_worse']}"
              + (f", equal on {cmp['seeds_equal']}" if cmp["seeds_equal"] else "")
              + f" of {seeds} seeds")
    verdict = cmp["verdict"]
    if verdict == "identical":
        return f"The {ours} and the {theirs} reached exactly the same test accuracy."
    if verdict == "few_seeds":
        return (f"The {ours} differs from the {theirs} by {points(mean)} on average over "
                f"{seeds} seed{'s' if seeds > 1 else ''}: too few to tell that from "
                f"seed-to-seed noise (this page calls a difference clear from "
                f"{MIN_SEEDS} seeds on).")
    if verdict == "unclear":
        return (f"The {ours} differs from the {theirs} by {points(mean)} on average "
                f"({record}), within twice its standard error of {100 * se:.2f} points: "
                "no clear difference here.")
    side = "ahead of" if verdict == "better" else "behind"
    return (f"The {ours} is {side} the {theirs} by {100 * abs(mean):.1f} points on average "
            f"({record}; "
            f"standard error {100 * se:.2f} points): a clear difference on these digits.")


def sharpening_note(s: dict, iterations: int) -> str:
    entropy, winner = s["entropy_per_iteration"], s["winner_coupling_per_iteration"]
    if iterations == 1:
        return ("With one iteration nothing is routed: every coupling is 1/10 by "
                f"construction, and the entropy stays at ln 10 = {MAX_ENTROPY:.3f}.")
    moved = (f"averaged over the {TEST_DIGITS} test digits and the seeds, a primary "
             f"capsule's coupling to the winning digit goes from {winner[0]:.3f} at "
             f"iteration 1 to {winner[-1]:.3f} at iteration {iterations}, and the "
             f"couplings' entropy from {entropy[0]:.4f} to {entropy[-1]:.4f} nats "
             f"(uniform is ln 10 = {MAX_ENTROPY:.4f})")
    if s["sharpened"]:
        rest = (" Most of each capsule's vote still goes to the other nine digits: a "
                "primary capsule sees only a patch of the image, and the heatmaps show "
                "which capsules commit." if winner[-1] < 0.5 else "")
        return f"**The couplings sharpen:** {moved}.{rest}"
    why = ("with this many primary capsules each vote can be short, so the network "
           "never needs routing to decide" if s["primary_capsules"] > 32 else
           "the predictions û have not grown long enough yet; in our runs more epochs "
           "sharpened the couplings")
    return (f"**The couplings barely move:** {moved}. The agreements û·v stay too small "
            f"to shift the softmax: {why}.")


def draw(view: engine.RunView) -> None:
    m = view.metrics
    if "capsules_test_accuracy" not in m:
        st.caption("The first epoch is on its way...")
        return
    s = view.summary or {}
    last = {name: values[-1] for name, (_, values) in m.items()}
    iterations = view.config.routing_iterations
    cols = st.columns(4)
    cols[0].metric("Capsule net, test accuracy", pct(last["capsules_test_accuracy"]))
    cols[1].metric("Uniform control", pct(last["uniform_test_accuracy"]))
    cols[2].metric("Plain CNN", pct(last["cnn_test_accuracy"]))
    cols[3].metric(f"Coupling to the winner, iteration {iterations}",
                   f"{last['winner_coupling_last_iteration']:.3f}",
                   help=f"Uniform is {UNIFORM:g}. Mean over test digits, primary capsules "
                        "and seeds.")
    receipt.show_for(EXPERIMENT, view.config, None if view.active else view.summary)

    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.band_curves(
        charts.accuracy_band_frame(m), "Test accuracy (mean and range over seeds)",
        "test accuracy", view.config.seeds)), width="stretch")
    loss = charts.split_frame(m, {
        "capsules_train_loss": (charts.MODELS["capsules"], "train"),
        "capsules_test_loss": (charts.MODELS["capsules"], "test"),
        "uniform_train_loss": (charts.MODELS["uniform"], "train"),
        "uniform_test_loss": (charts.MODELS["uniform"], "test")})
    right.altair_chart(talk.sized(charts.epoch_curves(
        loss, "Margin loss (the CNN trains on cross-entropy)", "margin loss (log scale)",
        colors=charts.MODEL_COLORS, log_y=True, dash="split")), width="stretch")
    st.caption("Train figures are running averages over each epoch's batches; test "
               f"figures are measured on the {TEST_DIGITS} test digits after each epoch.")

    routing, example = view.snapshots.get("routing"), view.snapshots.get("example")
    if routing is not None and example is not None:
        draw_routing(view, routing, example, s)
    table = view.snapshots.get("table")
    if table is not None:
        draw_comparison(view, table, s)
    if example is not None and "perturbed" in example:
        draw_decoder(view, example, m)
    run_panel.downloads(view, PAGE)


def draw_routing(view: engine.RunView, routing: dict, example: dict, s: dict) -> None:
    iterations = view.config.routing_iterations
    st.subheader("Routing, iteration by iteration")
    label, predicted = int(example["label"]), int(example["predicted"])
    left, right = st.columns([4, 1])
    left.altair_chart(talk.sized(charts.coupling_heatmaps(
        charts.coupling_frame(example["couplings"]),
        f"Couplings of test digit #{view.config.example} (first seed's capsule net)",
        view.config.primary_maps)), width="content")
    left.caption("Rows are primary capsules (capsule type × 4×4 position), columns the ten "
                 "digit capsules. Iteration 1 is uniform by construction; the later panels "
                 "show where agreement moved each capsule's vote.")
    images = [("input", example["image"])]
    if "reconstruction" in example:
        images.append(("redrawn", example["reconstruction"]))
    right.altair_chart(talk.sized(charts.image_strip(charts.images_frame(images), "The digit", cell=12,
                                          columns=1)), width="content")
    right.caption(f"True label {label}, answer {predicted}."
                  + (" *Redrawn* is the decoder's picture from the winning capsule."
                     if len(images) > 1 else ""))
    cols = st.columns(3)
    cols[0].altair_chart(talk.sized(charts.length_bars(
        example["lengths"], predicted, label, f"Digit capsule lengths (answer: {predicted})")),
        width="stretch")
    cols[0].caption("Length is the class probability. The dashed lines are the margins: "
                    "the loss pushes the true digit above 0.9 and the others below 0.1.")
    cols[1].altair_chart(talk.sized(charts.iteration_chart(
        charts.iteration_frame(routing, "entropy", "uniform_entropy"),
        "Entropy of the couplings", "entropy (nats)",
        float(routing["max_entropy"]), "ln 10: uniform", zero=False)), width="stretch")
    cols[1].caption("Mean over the test digits, primary capsules and seeds. The axis does "
                    "not start at 0: it zooms in on the fall from ln 10.")
    cols[2].altair_chart(talk.sized(charts.iteration_chart(
        charts.iteration_frame(routing, "winner_coupling", "uniform_winner_coupling"),
        "Coupling to the winning digit", "coupling",
        UNIFORM, "1/10: uniform", zero=True)), width="stretch")
    cols[2].caption("How much of each primary capsule's vote goes to the digit capsule "
                    "that wins, mean over the test digits and seeds. In both charts red is "
                    "routing by agreement, grey the uniform control.")
    if s:
        st.markdown(sharpening_note(s, iterations))


def draw_comparison(view: engine.RunView, table: dict, s: dict) -> None:
    st.subheader("Does routing pay? Test accuracy per seed")
    left, right = st.columns(2)
    left.dataframe(charts.seed_frame(table), hide_index=True, width="stretch",
                   column_config={name: st.column_config.NumberColumn(format="%.4f")
                                  for name in charts.MODELS.values()})
    if not s:
        left.caption("The table fills in after every epoch; the verdict comes at the end.")
        return
    seeds = len(s["seeds"])
    right.dataframe(charts.paper_frame(s), hide_index=True, width="stretch",
                    column_config={name: st.column_config.NumberColumn(format="%.2f %%")
                                   for name in (charts.PAPER_COLUMN, charts.HERE_COLUMN)})
    right.caption(f"Test error; here the mean of {seeds} seed{'s' if seeds > 1 else ''}. "
                  "The paper routes with 3 iterations (here "
                  f"{view.config.routing_iterations}); its uniform row is its 1-iteration "
                  "net. The paper's figures are MNIST (28×28 pixels, 60,000 training "
                  "images, a far larger net): only the order of the rows compares, not "
                  "the numbers.")
    if s["routing_is_uniform"]:
        st.info("With one routing iteration the capsule net *is* its uniform control "
                "(same start, same batches, no agreement step): the two columns agree "
                "to the last digit. Choose 2 or more iterations to compare.",
                icon=":material/info:")
    else:
        st.info(comparison_sentence(s["routing_vs_uniform"], "capsule net with routing",
                                    "uniform control", seeds), icon=":material/balance:")
    st.info(comparison_sentence(s["capsules_vs_cnn"], "capsule net", "plain CNN", seeds)
            + f" Parameters: capsule net {s['capsule_params']:,} (+ {s['decoder_params']:,} "
            f"in the decoder), CNN {s['cnn_params']:,}.", icon=":material/balance:")


def draw_decoder(view: engine.RunView, example: dict, m: dict) -> None:
    st.subheader("What the winning capsule's 16 dimensions encode")
    st.markdown("The decoder redraws the digit from the winning capsule alone (the "
                "paper's Figure 4). Nudge one of the capsule's 16 numbers and redraw: a "
                "dimension that changes the stroke in a consistent way has learned a "
                "property of the digit, not just its class.")
    offsets = list(PERTURBATIONS)
    left, right = st.columns([3, 1])
    offset = left.select_slider("Change added to each dimension", offsets, value=0.25,
                                format_func=lambda v: f"{v:+.2f}", key=f"{PAGE}.view_offset")
    dimension = right.selectbox("Dimension for the sweep", list(range(1, 17)),
                                key=f"{PAGE}.view_dimension")
    perturbed = example["perturbed"]
    st.altair_chart(talk.sized(charts.image_strip(charts.images_frame(
        charts.perturbed_by_dimension(perturbed, offsets.index(offset))),
        f"Each dimension moved by {offset:+.2f}, one at a time", cell=7, columns=8)),
        width="content")
    st.altair_chart(talk.sized(charts.image_strip(charts.images_frame(
        charts.perturbed_by_offset(perturbed, dimension - 1, offsets)),
        f"Dimension {dimension} swept from −0.25 to +0.25", cell=7)), width="content")
    if "reconstruction_loss_test" in m:
        st.altair_chart(talk.sized(charts.epoch_curves(
            base.metrics_long(m, {"reconstruction_loss_train": "train",
                                    "reconstruction_loss_test": "test"}),
            "Reconstruction error (sum of squared pixel errors per digit)", "error",
            colors=base.SPLIT_COLORS, height=220)), width="stretch")


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)
