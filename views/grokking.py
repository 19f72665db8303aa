from dataclasses import replace

import streamlit as st

from core import catalog, engine
from core.charts import base, grokking as charts
from core.experiments.grokking import REACHED, Config
from ui import controls, receipt, run_panel, talk

PAGE = "gk"
(EXPERIMENT,) = catalog.here(__file__).experiments
COMPARE_PAGE = "gk0"

st.title("Grokking: memorize first, find the rule later")
talk.prose(
    "The task is clock arithmetic: given a and b, say (a + b) mod p. The network sees "
    "each number only as a learned embedding, and it is trained on 30% of all p² pairs. "
    "It fits those training pairs within a few dozen steps, by memorizing them as a "
    "lookup table: the test accuracy on the other 70% stays at chance (even below it). "
    "Training goes on with strong weight decay, which keeps charging for every large "
    "weight. A lookup table needs many large weights; the rule (represent a and b as "
    "waves around the clock and combine their phases) needs far fewer. Long after the "
    "training accuracy hit 100%, the weights shrink, the memorized table gives way to "
    "the rule, and the test accuracy jumps to 100% in a few hundred steps: a sudden "
    "phase change from memorizing the data to having found the algorithm. Without "
    "weight decay nothing pushes the model off its table, and the jump does not come. "
    "*(Power et al. 2022, Grokking; Nanda et al. 2023, Progress measures for grokking.)*"
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Task": ["modulus", "train_fraction"],
        "Model": ["width", "embed_dim"],
        "Training": ["weight_decay", "lr", "steps", "seed"],
    })

ACCURACY = {"train_accuracy": "train", "test_accuracy": "test"}
LEVEL = f"{REACHED:.0%}"  # "99%": the accuracy that counts as memorized / generalized
NORMS = {"norm_embed": "embeddings", "norm_hidden": "hidden layer", "norm_out": "read-out"}


def gap_note(s: dict) -> None:
    train, test = s.get("step_train_accuracy_99"), s.get("step_test_accuracy_99")
    if train and test:
        st.info(f"Memorized (train ≥ {LEVEL}) at step {train:,}; generalized (test ≥ {LEVEL}) "
                f"at step {test:,}: {s['grokking_delay_steps']:,} steps, "
                f"{s['grokking_delay_ratio']:.0f}× as long, between knowing the answers and "
                "knowing the rule.", icon=":material/lightbulb:")
    elif train:
        st.info(f"Memorized (train ≥ {LEVEL}) at step {train:,}; the test accuracy did not "
                f"reach {LEVEL} in this run.", icon=":material/lightbulb:")


def draw(view: engine.RunView) -> None:
    m = view.metrics
    if "train_accuracy" not in m:
        st.caption("The first steps are on their way...")
        return
    last = {name: values[-1] for name, (_, values) in m.items()}
    s = view.summary or {}
    reached = s or view.snapshots.get("reached", {})  # the summary's, or so far
    train99, test99 = reached.get("step_train_accuracy_99"), reached.get("step_test_accuracy_99")
    cols = st.columns(4)
    cols[0].metric("Train accuracy", f"{last['train_accuracy']:.1%}")
    cols[1].metric("Test accuracy", f"{last['test_accuracy']:.1%}")
    cols[2].metric(f"Train ≥ {LEVEL} at step", f"{train99:,}" if train99 else "–")
    cols[3].metric(f"Test ≥ {LEVEL} at step", f"{test99:,}" if test99 else "–")
    if s:
        gap_note(s)
    receipt.show_for(EXPERIMENT, view.config, s)
    marks = {"memorized": train99, "generalized": test99}
    steps = view.config.steps
    left, right = st.columns(2)
    left.altair_chart(talk.sized(base.step_marks(base.log_step_curves(
        base.metrics_long(m, ACCURACY), "Accuracy", "accuracy", steps,
        colors=base.SPLIT_COLORS, height=300), marks)), width="stretch")
    left.caption(f"Chance is 1/p = {1 / view.config.modulus:.1%}. Train accuracy is perfect "
                 "early; the test accuracy waits, then jumps.")
    right.altair_chart(talk.sized(base.step_marks(base.log_step_curves(
        base.metrics_long(m, NORMS), "Weight norm of each part", "‖weights‖", steps,
        height=300), marks)), width="stretch")
    right.caption("Weight decay first shrinks the large random embeddings; the hidden and "
                  "read-out weights grow while the table is memorized and fall as the "
                  "test accuracy jumps: the rule is cheaper in weights than the table.")
    st.altair_chart(talk.sized(base.log_step_curves(
        base.metrics_long(m, {"train_loss": "train", "test_loss": "test"}),
        "Cross-entropy loss", "loss (log scale)", steps, colors=base.SPLIT_COLORS,
        log_y=True, height=260, legend="right")), width="stretch")
    run_panel.downloads(view, PAGE)


def draw_compare(view: engine.RunView) -> None:
    pairs = [(view.config.weight_decay, view.metrics)]
    if main_run is not None:
        pairs.insert(0, (config.weight_decay, main_run.view().metrics))
    frame = charts.compare_frame(pairs)
    if frame.empty:
        st.caption("The first steps are on their way...")
        return
    st.altair_chart(talk.sized(base.log_step_curves(
        frame, "Test accuracy with and without weight decay", "test accuracy",
        view.config.steps, colors=charts.compare_colors(config.weight_decay), height=260,
        legend="right")), width="stretch")
    s = view.summary or {}
    if s:
        reached = s.get("step_test_accuracy_99")
        st.caption(f"Without weight decay: train ≥ {LEVEL} at step "
                   f"{s.get('step_train_accuracy_99') or '–'}, test accuracy "
                   f"{s['final_test_accuracy']:.1%} after {s['steps_done']:,} steps"
                   + (f" (≥ {LEVEL} at step {reached:,})." if reached else
                      ", it never generalized."))


main_run = None
if config is not None:
    main_run = run_panel.show(PAGE, EXPERIMENT, config, draw)

    st.divider()
    st.header("Without weight decay")
    st.markdown("The same run with weight decay 0 (trained once and cached). Nothing "
                "rewards small weights, so the memorized solution is as good as any: the "
                "training set stays fitted and the test accuracy stays at chance.")
    run_panel.show(COMPARE_PAGE, EXPERIMENT, replace(config, weight_decay=0.0), draw_compare)
