import streamlit as st

from core import catalog, engine
from core.charts import base
from core.charts import data as charts
from core.experiments import active_learning, chinchilla, deduplication, repetition
from ui import controls, receipt, run_panel, talk

REP, DEDUP, AL, LAW, ISO = catalog.here(__file__).experiments
REP_PAGE, DEDUP_PAGE, AL_PAGE, LAW_PAGE, ISO_PAGE = (
    "data", "data_dd", "data_al", "data_law", "data_iso")


def fmt(value, spec: str = ".3g", missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def k_text(k: float) -> str:
    return f"{k:,.0f}" if float(k).is_integer() else f"{k:,.1f}"


st.title("Data: repetition, deduplication, active learning, compute-optimal size")
talk.prose(
    "What a network memorizes depends on what it is shown and how often. An example "
    "seen hundreds of times can be stored as it is, noise and all, and the gradient "
    "steps spent storing it teach nothing about the examples it has never seen. So the "
    "choice of data is part of training: remove the copies (Hernandez et al. 2022, "
    "*Scaling Laws and Interpretability of Learning from Repeated Data*; Lee et al. "
    "2022, *Deduplicating Training Data Makes Language Models Better*), spend the "
    "labelling budget on the examples the model is unsure about (Settles 2009, *Active "
    "Learning Literature Survey*), and balance model size against the amount of fresh "
    "data a compute budget can pay for (Hoffmann et al. 2022, *Training Compute-Optimal "
    "Large Language Models*). Four experiments below, each trained while you watch."
)

# --- 1. repetition ------------------------------------------------------------------------

st.divider()
st.header("1. Repeated examples are memorized, and cost more than they bring")
talk.prose(
    "A fixed random network (the teacher) labels Gaussian inputs by drawing from its "
    "softmax, so the labels are noisy and even a perfect student keeps a loss, the Bayes "
    "floor. Students train for the same number of Adam steps in every condition. By "
    "default half of each batch is fresh and half comes from a repeated subset whose size "
    "sets how often, k, each of its examples is seen: k = 1 is all fresh, k = 16,384 "
    "is four examples seen over and over. Two controls at the same steps: **fresh** "
    "(the repeated share replaced by fresh data, what deduplication buys) and **drop** "
    "(the repeated share simply left out). Between the two extremes the subset is small "
    "enough to memorize, labels and noise, and large enough to pull the whole function "
    "towards it: that is where Hernandez et al. found the damage."
)
controls.presets(REP_PAGE, REP)
with controls.section("Settings", expanded=True):
    rep_config = controls.controls(REP_PAGE, repetition.Config, layout={
        "Repetition": ["repeats", "repeated_share", "teacher_sharpness"],
        "Training": ["steps", "batch_size", "lr"],
        "Student and seeds": ["width", "seeds", "seed"],
    })


def draw_repetition(view: engine.RunView) -> None:
    sweep = view.snapshots.get("sweep")
    if sweep is None:
        st.caption("The first steps are on their way...")
        return
    summary = view.summary
    if summary:
        cols = st.columns(4)
        cols[0].metric("Worst k", k_text(summary["peak_k"]),
                       help="The k with the highest mean excess test loss.")
        cols[1].metric("Excess loss there", f"{summary['peak_excess']:.3f}",
                       delta=f"{summary['peak_over_fresh']:+.3f} vs fresh",
                       delta_color="inverse")
        cols[2].metric("Fresh (deduplicated)", f"{summary['excess_fresh']:.3f}",
                       help="Excess test loss with the repeated share replaced by fresh data.")
        cols[3].metric("Drop (repeats left out)", f"{summary['excess_drop']:.3f}")
        receipt.show_for(REP, view.config, None if view.active else summary)
        peak = f"{summary['peak_k']:g}"
        first, last = summary["repeats"][0], summary["repeats"][-1]
        worse = summary["peak_seeds_worse_than_drop"]
        if summary["peak_interior"]:
            st.info(
                f"**The hump shows.** Excess test loss rises from "
                f"{summary['excess'][f'{first:g}']:.3f} at k = {k_text(first)} to "
                f"{summary['peak_excess']:.3f} at k = {k_text(summary['peak_k'])} and falls "
                f"back to {summary['excess'][f'{last:g}']:.3f} at k = {k_text(last)}. At "
                "the worst k the run is worse than "
                f"leaving the repeated share out altogether in {worse} of {summary['seeds']} "
                f"seeds, while its repeated examples are fitted down to a training loss of "
                f"{summary['train_loss_repeated'][peak]:.3f} (the Bayes floor is "
                f"{summary['bayes_loss']:.3f})"
                + (": memorized, noise included." if summary["train_loss_repeated"][peak]
                   < summary["bayes_loss"] else "."),
                icon=":material/insights:")
        else:
            st.info(f"**No hump in this run:** the worst k, {k_text(summary['peak_k'])}, is at "
                    "an end of the sweep. Add k values on both sides of it to see whether the "
                    "damage peaks in between.", icon=":material/insights:")
    left, right = st.columns(2)
    frame = charts.repetition_frame(sweep)
    names = list(sweep["names"])
    fresh = float(sweep["excess_mean"][names.index("fresh")])
    drop = float(sweep["excess_mean"][names.index("drop")])
    left.altair_chart(talk.sized(charts.excess_vs_repeats(
        frame, fresh, drop, "Excess test loss against repeats (mean ± 1 σ over seeds)",
        peak_k=summary["peak_k"] if summary else None)))
    right.altair_chart(talk.sized(charts.train_loss_vs_repeats(
        charts.train_loss_frame(sweep), summary["bayes_loss"] if summary else None,
        "Training loss: the repeated examples against once-seen ones")))
    left.caption(f"After {int(sweep['eval_steps'][-1]):,} of {view.config.steps:,} steps. "
                 "Excess loss is the KL divergence from the teacher's label distribution "
                 "to the student's, averaged over test inputs: the test loss above the "
                 "Bayes floor.")
    right.caption("A training loss below the Bayes floor cannot come from learning the "
                  "teacher: the student has stored those examples' sampled labels.")
    example = view.snapshots.get("example_losses")
    left, right = st.columns(2)
    if example:
        left.altair_chart(talk.sized(charts.example_loss_histogram(
            charts.example_loss_frame(example),
            f"Per-example training loss at k = {k_text(example['k'])} (first seed)")))
        left.caption("Repeated examples pile up near zero loss; unique ones stay spread "
                     "around the noise level.")
    else:
        left.caption("Per-example losses are drawn when the run ends.")
    right.altair_chart(talk.sized(base.curves_legend_below(
        base.metrics_long(view.metrics, {repetition.metric_name(n): n for n in names}),
        "Excess test loss while training", "excess test loss", columns=4)))
    run_panel.downloads(view, REP_PAGE)


rep_box = st.container()  # filled at the end of the page, in the order the runs start

# --- 1b. deduplication ----------------------------------------------------------------------

st.divider()
st.header("2. Deduplication: find the copies, then train at equal compute")
talk.prose(
    "Copies are planted among the 1,200 training images of scikit-learn's 8×8 digits "
    "(597 are kept for testing): some exact, "
    "some with a little noise, some shifted by a pixel. Exact copies have identical "
    "pixels, so a hash of the pixel bytes finds them. The others differ in every pixel "
    "but point in almost the same direction: scikit-learn's `NearestNeighbors` finds "
    "every pair whose cosine similarity reaches the threshold, and each image is also "
    "looked up shifted by one pixel each way so that a shifted copy still matches. From "
    "every group of linked images one is kept. Then the same MLP trains for the same "
    "number of steps on four versions of the training set."
)
controls.presets(DEDUP_PAGE, DEDUP)
with controls.section("Settings", expanded=True):
    dedup_config = controls.controls(DEDUP_PAGE, deduplication.Config, layout={
        "Planted copies": ["exact_sources", "near_sources", "copies", "noise"],
        "Detection": ["threshold", "match_shifts"],
        "Training": ["steps", "width", "lr", "seeds", "seed"],
    }, prefix="dd_")


def draw_dedup(view: engine.RunView) -> None:
    det = view.snapshots.get("detection")
    if det is None:
        st.caption("Planting and searching for copies...")
        return
    cols = st.columns(5)
    cols[0].metric("Planted copies", f"{det['planted']:,.0f}")
    cols[1].metric("Found by hashing", f"{det['found_exact']:,.0f}")
    cols[2].metric("Found by cosine", f"{det['found_near']:,.0f}")
    cols[3].metric("Recall", f"{det['recall']:.1%}",
                   help="Share of the planted copies that were removed.")
    cols[4].metric("Precision", f"{det['precision']:.1%}",
                   help="Share of the removed images that were planted copies.")
    st.caption(f"Means over the seeds. By kind of copy, recall is {det['recall_exact']:.0%} "
               f"for exact, {det['recall_noised']:.0%} for noised and "
               f"{det['recall_shifted']:.0%} for shifted copies; "
               f"{det['originals_removed']:.1f} original images were removed as near "
               "duplicates of another original.")
    pairs = view.snapshots.get("pairs")
    if pairs is not None and len(pairs["label"]):
        st.altair_chart(talk.sized(charts.pairs_grid(
            pairs, "Pairs the search linked (top: kept, bottom: removed), and copies it "
                   "missed (top: the original)")), width="content")
        st.caption("A few found pairs of each kind, picked at random, then planted copies "
                   "the search missed. A pair marked *original* is two distinct digits of "
                   "the data set itself that look nearly the same; a missed pair's cosine "
                   "is of the images as they are, unshifted.")
    summary = view.summary
    if summary:
        left, right = st.columns([3, 2])
        left.altair_chart(talk.sized(charts.dedup_loss_bars(
            charts.dedup_loss_frame(summary),
            f"Test loss after {view.config.steps:,} steps of batch {deduplication.BATCH}")))
        with right:
            loss = summary["test_loss"]
            st.markdown(
                f"With the copies, the test loss is **{loss['with copies']:.3f}**; after "
                f"removing exact and near copies, **{loss['exact + near removed']:.3f}** "
                f"(lower in {summary['seeds_dedup_better']} of {summary['seeds']} seeds), "
                f"against **{loss['clean']:.3f}** for the set with nothing planted. "
                f"Removing only the exact copies gives {loss['exact removed']:.3f}.")
            if summary["train_loss_copied"] is not None:
                st.markdown(
                    f"Trained with the copies, the model's training loss on the copied "
                    f"originals is {summary['train_loss_copied']:.3f}, against "
                    f"{summary['train_loss_not_copied']:.3f} on the rest: the copies are "
                    "memorized, and the steps spent on them are missing elsewhere.")
            st.caption("Here the gain comes from the compute the copies take away.")
        receipt.show_for(DEDUP, view.config, None if view.active else summary)
    run_panel.downloads(view, DEDUP_PAGE)


dedup_box = st.container()

# --- 2. active learning --------------------------------------------------------------------

st.divider()
st.header("3. Active learning: ask for the labels the model is unsure about")
talk.prose(
    "A logistic regression starts from 20 labelled digits, two of each, and a pool of "
    "1,203 unlabelled ones. Each round it scores the pool, asks for 10 labels and is "
    "refitted, until 300 labels are used. **Least confidence** asks where the top "
    "probability is lowest, **margin** where the two most likely digits are closest, "
    "**entropy** where the whole distribution is flattest; **random** is the baseline. "
    "A single run can show almost anything, so every strategy runs on several seeds "
    "(new split, new starting labels) and the curves carry ±1 σ bands."
)
controls.presets(AL_PAGE, AL)
with controls.section("Settings", expanded=True):
    al_config = controls.controls(AL_PAGE, active_learning.Config, layout={
        "Labels": ["initial_labels", "batch", "budget"],
        "Model and seeds": ["regularization", "seeds", "seed"],
    }, prefix="al_")


def draw_active(view: engine.RunView) -> None:
    curves = view.snapshots.get("curves")
    if curves is None:
        st.caption("The first rounds are on their way...")
        return
    summary = view.summary
    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.learning_curves(
        charts.learning_curves_frame(curves),
        summary["full_pool_accuracy"] if summary else None,
        "Test accuracy against labels used (mean ± 1 σ over seeds)")))
    if summary:
        s = summary["strategies"]
        with right:
            margin, lc, ent = s["margin"], s["least confidence"], s["entropy"]
            st.markdown(
                f"Averaged over the whole curve, **margin** is "
                f"{100 * margin['gain_over_random']:+.1f} ± "
                f"{100 * margin['gain_over_random_std']:.1f} points from random and ahead "
                f"of it in {margin['seeds_beating_random']} of {summary['seeds']} seeds; "
                f"least confidence {100 * lc['gain_over_random']:+.1f} "
                f"({lc['seeds_beating_random']}/{summary['seeds']}), entropy "
                f"{100 * ent['gain_over_random']:+.1f} "
                f"({ent['seeds_beating_random']}/{summary['seeds']}). Best here: "
                f"**{summary['best_strategy']}**.")
            reach = {n: s[n]["labels_to_reach"]["90%"]["mean_curve"] for n in s}
            st.markdown(
                "Labels until the mean curve reaches 90 %: " + ", ".join(
                    f"{n} {fmt(v, 'd')}" for n, v in reach.items()) + ".")
            cold = [n for n in ("entropy", "least confidence", "margin")
                    if s[n]["behind_random_early"]]
            for name in cold:
                st.markdown(
                    f"**Cold start: {name}** is behind random by "
                    f"{-100 * s[name]['early_gap']:.1f} points on average up to "
                    f"{active_learning.EARLY_LABELS} labels"
                    + (f", and ahead of it for good from {s[name]['ahead_from']} labels."
                       if s[name]["ahead_from"] else ", and never ahead for good."))
            if cold:
                st.caption("With few labels the model's doubts are poor guides: it asks "
                           "about odd images that teach little about the rest.")
            else:
                st.markdown("No cold start in this run: no uncertainty strategy falls "
                            "behind random below "
                            f"{active_learning.EARLY_LABELS} labels on average.")
            st.caption("Settles' survey finds uncertainty sampling usually needs fewer "
                       "labels than random picks, though not always; later studies found "
                       "the gains shrink with strong regularization (Munjal et al. 2020) "
                       "and some strategies below random (Gashi et al. 2024).")
        receipt.show_for(AL, view.config, None if view.active else summary)
        st.dataframe(charts.strategy_table(summary))
        st.caption("Labels to 90 % / 95 %: where the mean curve first gets there (in "
                   "brackets, how many seeds' own curves do). Vs random: the curve's mean "
                   "minus random's, in points, and on how many seeds it is ahead.")
        batch = view.snapshots.get("last_batch")
        if batch is not None and batch.get("strategies"):
            st.altair_chart(talk.sized(charts.queried_grid(
                batch, "The last batch each strategy asked for (first seed)")),
                width="content")
            st.caption("Under each image: its true digit → the model's guess, and m, the "
                       "gap between its two highest probabilities (small m: unsure), just "
                       "before the last round. The uncertainty strategies ask about images "
                       "with small m; random's picks are mostly ones the model is sure of.")
    run_panel.downloads(view, AL_PAGE)


al_box = st.container()

# --- 3. Chinchilla ---------------------------------------------------------------------------

st.divider()
st.header("4. Compute-optimal size: the Chinchilla law and a toy that trains")
talk.prose(
    "A training run's compute is about C ≈ 6·N·D FLOPs for N parameters and D tokens. "
    "For a fixed C, a larger model sees fewer tokens. Hoffmann et al. fitted "
    "L(N, D) = E + A/N^α + B/D^β to over 400 training runs (E = 1.69, A = 406.4, "
    "B = 410.7, α = 0.34, β = 0.28). Along D = C/(6N) this loss has one minimum per "
    "budget: an isoFLOP curve. Below, that minimum computed from the constants; under "
    "it, the same experiment on a toy, trained live."
)
controls.presets(LAW_PAGE, LAW)
with controls.section("Settings of the law", expanded=False):
    law_config = controls.controls(LAW_PAGE, chinchilla.LawConfig, layout={
        "Budgets": ["budgets", "points"],
        "Constants": ["E", "A", "B", "alpha", "beta"],
    }, prefix="law_")


def draw_law(view: engine.RunView) -> None:
    summary, curves = view.summary, view.snapshots.get("curves")
    if not summary or curves is None:
        st.caption("Computing...")
        return
    cols = st.columns(4)
    cols[0].metric("N_opt ∝ C^a, a =", f"{summary['exponent_a']:.3f}")
    cols[1].metric("D_opt ∝ C^b, b =", f"{summary['exponent_b']:.3f}")
    n_c, d_c = summary["law_n_at_chinchilla_budget"], summary["law_d_at_chinchilla_budget"]
    cols[2].metric("Best N at Chinchilla's budget", charts.si(n_c),
                   help=f"C = 6 × 70B × 1.4T = {summary['chinchilla_budget']:.3g} FLOPs")
    cols[3].metric("Tokens per parameter there",
                   f"{summary['law_tokens_per_parameter_at_chinchilla_budget']:.0f}")
    lo, hi = summary["tokens_per_parameter_range"]
    st.info(
        f"**What these constants imply:** at Chinchilla's own budget "
        f"({summary['chinchilla_budget']:.2g} FLOPs) the loss is lowest at "
        f"{charts.si(n_c)} parameters on {charts.si(d_c)} tokens, about "
        f"{summary['law_tokens_per_parameter_at_chinchilla_budget']:.0f} tokens per "
        f"parameter, not 20; over the budgets above the ratio runs from {lo:.0f} to {hi:.0f}, "
        f"growing as C^{summary['ratio_exponent']:.3f} because a < b. The ~20:1 rule "
        "comes from the paper's other two approaches (isoFLOP profiles and the envelope of "
        "training curves), which give a ≈ 0.5, and Chinchilla itself (70B parameters, "
        "1.4T tokens) was sized by them. Besiroglu et al. (2024) refitted this third "
        "approach on data read off the paper's plots and found the published constants "
        "inconsistent with the other two; their own refit agrees with them. The curves "
        "are also flat near the optimum: following 20:1 instead costs at most "
        f"{summary['loss_cost_of_20_max']:.4f} in loss here.",
        icon=":material/calculate:")
    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.isoflop_curves(
        charts.law_curves_frame(curves), charts.law_optima_frame(summary),
        "isoFLOP curves of the fitted law (diamond: the minimum)")))
    right.altair_chart(talk.sized(charts.ratio_chart(charts.law_optima_frame(summary),
                                          chinchilla.RULE_OF_THUMB,
                                          "Tokens per parameter at the optimum")))
    st.dataframe(charts.law_table(summary))
    run_panel.downloads(view, LAW_PAGE)


law_box = st.container()

st.subheader("The toy: isoFLOP profiles, trained live")
talk.prose(
    "A fixed random tanh network with noisy outputs is the data source; students are "
    "ReLU MLPs 8→w→w→1 with N = w² + 11w + 1 parameters. For each budget C every width "
    "trains once on D = C/(6N) fresh samples (larger batches, not more steps, when D "
    "is large; the learning rate follows a cosine over each run, as in the paper). Small "
    "students cannot fit the function; large ones see too few samples: the test loss is "
    "a U in log N. A parabola through the best width and its neighbours gives each "
    "budget's best size, and a line through those gives N_opt ∝ C^a, which predicts the "
    "best size for a budget not yet trained. Turn on **Check the prediction** to train it."
)
controls.presets(ISO_PAGE, ISO)
with controls.section("Settings of the toy", expanded=True):
    iso_config = controls.controls(ISO_PAGE, chinchilla.IsoConfig, layout={
        "Sweep": ["budgets", "widths", "seeds"],
        "Training": ["lr", "steps_max", "noise", "seed"],
        "Prediction": ["check", "check_budget"],
    }, prefix="iso_")


def draw_isoflop(view: engine.RunView) -> None:
    grid = view.snapshots.get("grid")
    if grid is None:
        st.caption("The first students are training...")
        return
    summary = view.summary
    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.toy_isoflop(
        charts.toy_curves_frame(grid), charts.toy_optima_frame(summary) if summary else None,
        "Toy isoFLOP profiles: test loss (MSE, ± 1 σ over seeds)")))
    left.caption(f"Diamond: the best size from the parabola. The noise floor is "
                 f"{view.config.noise ** 2:g}.")
    if summary:
        right.altair_chart(talk.sized(charts.exponent_chart(
            charts.exponent_frame(summary), "Best size against compute")))
        a = summary["exponent_a"]
        with right:
            if a is not None:
                grows = "grows with every budget" if summary["best_size_grows"] else \
                    "does not grow with every budget"
                st.markdown(
                    f"The best size {grows}; the fitted exponent is **a = {a:.2f}** over "
                    f"{len(summary['fitted_on'])} budgets ({summary['interior_budgets']} "
                    f"with the minimum inside the widths tried). The paper's isoFLOP "
                    f"approach gives a ≈ {summary['paper_a']:g}. The toy's a is its own: "
                    "it depends on the teacher, the widths and the optimizer, and moves by "
                    "about ±0.05 between seeds.")
                st.markdown(f"Predicted best size at C = {summary['check_budget']:.2g}: "
                            f"**N ≈ {summary['predicted_n']:,.0f}** (width "
                            f"{summary['predicted_width']}).")
            else:
                st.markdown("One budget only: no exponent to fit. Add budgets.")
            check = summary.get("check")
            if check:
                verdict = "is the best of the three" if check["predicted_is_best"] else \
                    f"is not the best: width {check['best_width']} is"
                st.success(
                    f"**Checked:** at C = {summary['check_budget']:.2g} the predicted width "
                    f"{summary['predicted_width']} {verdict} (test loss " + ", ".join(
                        f"w={w}: {l:.4f}" for w, l in zip(check["widths"], check["loss"]))
                    + f"); the measured best N is {check['measured_n_opt']:,.0f}, "
                      f"{check['measured_over_predicted']:.2f}× the prediction.",
                    icon=":material/task_alt:")
            elif a is not None:
                st.caption("Turn on *Check the prediction* in the settings to train it.")
        receipt.show_for(ISO, view.config, None if view.active else summary)
    run_panel.downloads(view, ISO_PAGE)


iso_box = st.container()

# The law is computed in a moment: it goes first, so that with one worker it does not
# wait behind the three training runs above it on the page.
for box, page, name, config, draw in (
        (law_box, LAW_PAGE, LAW, law_config, draw_law),
        (rep_box, REP_PAGE, REP, rep_config, draw_repetition),
        (dedup_box, DEDUP_PAGE, DEDUP, dedup_config, draw_dedup),
        (al_box, AL_PAGE, AL, al_config, draw_active),
        (iso_box, ISO_PAGE, ISO, iso_config, draw_isoflop)):
    if config is not None:
        with box:
            run_panel.show(page, name, config, draw)
