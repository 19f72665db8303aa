import streamlit as st

from core import catalog, engine
from core.charts import base, hopfield as charts
from core.experiments.hopfield import CAPACITY_BITS, Config
from ui import controls, receipt, run_panel, talk

PAGE = "hop"
(EXPERIMENT,) = catalog.here(__file__).experiments
SHOWN_SWEEPS = 5  # classical sweeps drawn in the step-by-step strip (and the last one)

st.title("Hopfield memory: classical and modern")
talk.prose(
    "A Hopfield network is a memory you query with a damaged copy: it keeps updating "
    "the state until it settles on a stored pattern. The **classical** network "
    "(Hopfield 1982) writes patterns into its weights with the Hebbian rule and flips one "
    "neuron at a time to lower an energy; it holds only about 0.138·N patterns for N "
    "neurons before the stored memories blur into spurious states. The **modern** network "
    "(Ramsauer et al. 2020, *Hopfield Networks is All You Need*) keeps the patterns "
    "themselves and retrieves with ξ ← X softmax(β Xᵀξ), the same update as transformer "
    "attention: one step recovers the cued pattern even with many times 0.138·N "
    "patterns stored. Like superposition, storage grows beyond one slot per neuron because "
    "a sharp nonlinearity (here the softmax) silences every memory but the one "
    "addressed; with a small β it is not sharp, and the update lands on a blend of "
    "several patterns, a metastable mixture."
)

controls.presets(PAGE, EXPERIMENT)

with controls.section("Settings", expanded=True):
    config = controls.controls(PAGE, Config, layout={
        "Patterns": ["patterns", "dimension", "n_patterns_max", "trials"],
        "Retrieval": ["shown_patterns", "corruption", "beta", "seed"],
    })


def draw(view: engine.RunView) -> None:
    ex = view.snapshots.get("example")
    if ex is None:
        st.caption("The first patterns are on their way...")
        return
    n, stored = len(ex["patterns"][0]), len(ex["patterns"])
    summary = view.summary or {}

    cols = st.columns(4)
    cols[0].metric("Neurons N", n)
    cols[1].metric("0.138·N", f"{ex['classical_limit']:.1f}")
    cols[2].metric("Classical capacity", summary.get("classical_capacity", "…"),
                   help="The most patterns before the bit accuracy first drops below "
                        f"{CAPACITY_BITS * 100:g} %")
    if summary:
        cols[3].metric(f"Modern at {summary['pattern_counts'][-1]} patterns",
                       f"{summary['modern_accuracy'][-1]:.0%}")
    receipt.show_for(EXPERIMENT, view.config, summary)

    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.capacity_curves(
        charts.capacity_frame(view.metrics), float(ex["classical_limit"]),
        f"Recall against the number of stored patterns (N = {n})")))
    left.caption(f"Each point: {view.config.trials} cues, each a stored pattern with "
                 f"{view.config.corruption:.0%} of its bits flipped, new patterns each time.")
    right.altair_chart(talk.sized(charts.beta_sweep(ex, "Modern update: weight on the top pattern")))
    right.caption("The red line is the β chosen above. Where the weight on the top "
                  "pattern is well below 1, the update mixes patterns.")

    st.subheader(f"One cue, step by step ({stored} stored patterns)")
    side = charts.image_side(ex)
    st.altair_chart(talk.sized(charts.pattern_strip(
        charts.classical_stages(ex, SHOWN_SWEEPS),
        f"Classical: asynchronous sweeps until nothing changes "
        f"({ex['classical_bits_right']:.0%} of bits right at the end)", side)), width="content")
    st.altair_chart(talk.sized(charts.pattern_strip(
        charts.modern_stages(ex),
        f"Modern: ξ ← X softmax(β Xᵀξ) at β = {float(ex['beta']):g} "
        f"({ex['modern_bits_right']:.0%} of bits right after the sign)", side)), width="content")
    st.caption("Dark is +1 (ink for digits), light is −1; grey values in the modern rows are blends. "
               + ("Random patterns are laid out as squares only to be seen: neighbouring "
                  "pixels have nothing to do with each other." if not int(ex["side"]) else ""))

    left, mid, right = st.columns(3)
    left.altair_chart(talk.sized(base.curves(base.series_frame(ex["classical_energy"], "classical"),
                                  "Classical energy −½ sᵀWs", "energy", height=240)))
    mid.altair_chart(talk.sized(base.curves(base.series_frame(ex["modern_energy"], "modern"),
                                 "Modern energy", "energy", height=240)))
    right.altair_chart(talk.sized(charts.weight_bars(ex, "Softmax weights (red: the cued pattern)")))
    st.caption("Classical energy after each single-neuron update; modern energy "
               "−lse(β, Xᵀξ) + ½ ξᵀξ after each whole update. Both only go down. In the bars, one tall "
               "red bar means one pattern is retrieved; many short bars mean a mixture.")
    run_panel.downloads(view, PAGE)


if config is not None:
    run_panel.show(PAGE, EXPERIMENT, config, draw)
