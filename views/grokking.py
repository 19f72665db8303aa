from dataclasses import replace

import altair as alt
import pandas as pd
import streamlit as st

from core import charts, runs
from core.experiments.grokking import Config
from ui import controls, run_panel

PAGE, EXPERIMENT = "gk", "grokking"
COMPARE_PAGE = "gk0"

st.title("Grokking: memorize first, find the rule later")
st.markdown(
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

st.markdown("**Try this**")
controls.presets(PAGE, Config, {
    "Grok (p = 67)": ("The default: memorized by step ~30, understood near step 1,500.",
                      {}),
    "No weight decay": ("Weight decay 0: training accuracy is perfect, test accuracy "
                        "stays at chance.", {"weight_decay": 0.0}),
    "More data, no drama": ("Half of the pairs for training: the rule comes almost at "
                            "once, there is hardly a gap.", {"train_fraction": 0.5}),
    "Less data": ("20% of the pairs: the wait for the rule gets longer.",
                  {"train_fraction": 0.2, "steps": 8000}),
    "Weaker decay": ("Weight decay 0.3: it still groks, later.",
                     {"weight_decay": 0.3, "steps": 8000}),
})

with st.expander("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Task": ["modulus", "train_fraction"],
        "Model": ["width", "embed_dim"],
        "Training": ["weight_decay", "lr", "steps", "seed"],
    })

ACCURACY = {"train_accuracy": "train", "test_accuracy": "test"}
NORMS = {"norm_embed": "embeddings", "norm_hidden": "hidden layer", "norm_out": "read-out"}


def gap_note(s: dict) -> None:
    train, test = s.get("step_train_accuracy_99"), s.get("step_test_accuracy_99")
    if train and test:
        st.info(f"Memorized (train ≥ 99%) at step {train:,}; generalized (test ≥ 99%) at "
                f"step {test:,}: {test - train:,} steps, {test / train:.0f}× as long, between "
                "knowing the answers and knowing the rule.", icon=":material/lightbulb:")
    elif train:
        st.info(f"Memorized (train ≥ 99%) at step {train:,}; the test accuracy did not reach "
                "99% in this run.", icon=":material/lightbulb:")


def first_step(metrics: dict, name: str, level: float = 0.99) -> int | None:
    """The first logged step at which a metric reached `level` (live, before the summary)."""
    steps, values = metrics.get(name, ([], []))
    return next((s for s, v in zip(steps, values) if v >= level), None)


def draw(view: runs.RunView) -> None:
    m = view.metrics
    if "train_accuracy" not in m:
        st.caption("The first steps are on their way...")
        return
    last = {name: values[-1] for name, (_, values) in m.items()}
    s = view.summary or {}
    train99 = s.get("step_train_accuracy_99") if s else first_step(m, "train_accuracy")
    test99 = s.get("step_test_accuracy_99") if s else first_step(m, "test_accuracy")
    cols = st.columns(4)
    cols[0].metric("Train accuracy", f"{last['train_accuracy']:.1%}")
    cols[1].metric("Test accuracy", f"{last['test_accuracy']:.1%}")
    cols[2].metric("Train ≥ 99% at step", f"{train99:,}" if train99 else "–")
    cols[3].metric("Test ≥ 99% at step", f"{test99:,}" if test99 else "–")
    if s:
        gap_note(s)
    marks = {"memorized": train99, "generalized": test99}
    steps = view.config.steps
    left, right = st.columns(2)
    left.altair_chart(charts.step_marks(charts.log_step_curves(
        charts.metrics_long(m, ACCURACY), "Accuracy", "accuracy", steps,
        colors=charts.SPLIT_COLORS, height=300), marks), width="stretch")
    left.caption(f"Chance is 1/p = {1 / view.config.modulus:.1%}. Train accuracy is perfect "
                 "early; the test accuracy waits, then jumps.")
    right.altair_chart(charts.step_marks(charts.log_step_curves(
        charts.metrics_long(m, NORMS), "Weight norm of each part", "‖weights‖", steps,
        height=300), marks), width="stretch")
    right.caption("Weight decay first shrinks the large random embeddings; the hidden and "
                  "read-out weights grow while the table is memorized and fall as the "
                  "test accuracy jumps: the rule is cheaper in weights than the table.")
    st.altair_chart(charts.log_step_curves(
        charts.metrics_long(m, {"train_loss": "train", "test_loss": "test"}),
        "Cross-entropy loss", "loss (log scale)", steps, colors=charts.SPLIT_COLORS,
        log_y=True, height=260, legend="right"), width="stretch")
    run_panel.downloads(view, PAGE)


def draw_compare(view: runs.RunView) -> None:
    main_view = main_run.view() if main_run is not None else None
    frames = []
    for label, v in ((f"weight decay {config.weight_decay:g}", main_view),
                     ("weight decay 0", view)):
        if v is not None and "test_accuracy" in v.metrics:
            steps, values = charts.downsample(*v.metrics["test_accuracy"])
            frames.append(pd.DataFrame({"step": steps, "series": label, "value": values}))
    if not frames:
        st.caption("The first steps are on their way...")
        return
    colors = alt.Scale(domain=[f"weight decay {config.weight_decay:g}", "weight decay 0"],
                       range=["#d62728", "#7f7f7f"])
    st.altair_chart(charts.log_step_curves(
        pd.concat(frames, ignore_index=True), "Test accuracy with and without weight decay",
        "test accuracy", view.config.steps, colors=colors, height=260,
        legend="right"), width="stretch")
    s = view.summary or {}
    if s:
        reached = s.get("step_test_accuracy_99")
        st.caption(f"Without weight decay: train ≥ 99% at step "
                   f"{s.get('step_train_accuracy_99') or '–'}, test accuracy "
                   f"{s['final_test_accuracy']:.1%} after {s['steps_done']:,} steps"
                   + (f" (≥ 99% at step {reached:,})." if reached else
                      ", it never generalized."))


main_run = None
if config is not None:
    left, right = st.columns([4, 1])
    left.caption(f"Reproduce from a terminal: `{run_panel.cli_line(EXPERIMENT, config)}`")
    with right:
        controls.share(config)
    main_run = run_panel.start(PAGE, EXPERIMENT, config)
    if main_run is not None:
        run_panel.live(main_run, draw, PAGE, EXPERIMENT)

    st.divider()
    st.header("Without weight decay")
    st.markdown("The same run with weight decay 0 (trained once and cached). Nothing "
                "rewards small weights, so the memorized solution is as good as any: the "
                "training set stays fitted and the test accuracy stays at chance.")
    compare = replace(config, weight_decay=0.0)
    st.caption(f"Reproduce from a terminal: `{run_panel.cli_line(EXPERIMENT, compare)}`")
    compare_run = run_panel.start(COMPARE_PAGE, EXPERIMENT, compare)
    if compare_run is not None:
        run_panel.live(compare_run, draw_compare, COMPARE_PAGE, EXPERIMENT)
