"""The Data page's claims, with numbers on small configurations: repeated examples are
memorized and hurt at equal compute, planted copies are found and removing them helps,
margin sampling beats random picks, the law's isoFLOP curves have a minimum and the
toy's best size grows with compute; then the page through AppTest and in a browser."""
import math

import numpy as np
import pytest
import torch

from core import engine, params
from core.experiments import active_learning, chinchilla, deduplication, repetition
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                   receipt_lines, run_until_ended)
from tests.browser import browser_page, wait_charts

PAGE = "views/data.py"


def run(name, config):
    torch.set_num_threads(1)
    view = engine.run_sync(name, config).view()
    assert view.status == engine.DONE, view.error
    return view


# --- repetition -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rep():
    # a quarter of the default compute, one seed: the hump is already there
    return run("repetition", repetition.Config(steps=512, seeds=1,
                                               repeats=(1, 16, 64, 256, 4096)))


def test_repeated_examples_are_fitted_far_below_unique_ones(rep):
    s = rep.summary
    for k in ("64", "256", "4096"):
        assert s["train_loss_repeated"][k] < 0.7 * s["train_loss_unique"][k]
    # at k = 1 the "repeated" subset is fresh data too: no gap
    assert abs(s["train_loss_repeated"]["1"] - s["train_loss_unique"]["1"]) < 0.1
    # memorized: below the Bayes floor, which no student of the teacher can reach honestly
    assert s["train_loss_repeated"]["4096"] < 0.5 * s["bayes_loss"]


def test_repetition_hurts_more_than_fresh_data_and_the_harm_peaks_inside(rep):
    s = rep.summary
    assert s["peak_excess"] > s["excess_fresh"] + 0.03
    assert s["peak_excess"] > s["excess_drop"]  # worse than leaving the compute unused
    assert s["peak_interior"] and s["peak_k"] in (64.0, 256.0)
    assert s["excess"]["1"] < s["peak_excess"]


def test_the_repetition_receipt_needs_an_inside_hump_worse_than_dropping(rep):
    s = rep.summary
    config = repetition.Config(steps=512, seeds=1, repeats=(1, 16, 64, 256, 4096))
    real = repetition.EXPERIMENT.receipt(config, s)
    assert real.holds is True
    assert real.live.startswith(f"excess test loss worst at k = {s['peak_k']:,.0f} "
                                f"({s['peak_excess']:.3f}), against {s['excess_fresh']:.3f}")

    def edited(config=config, **changes):
        return repetition.EXPERIMENT.receipt(config, {**s, **changes})

    edge = edited(peak_interior=False)
    assert edge.holds is False and "no hump" in edge.live
    mild = edited(peak_over_drop=-0.01, peak_seeds_worse_than_drop=0)
    assert mild.holds is False and "not clearly worse than dropping" in mild.live
    two = edited(repetition.Config(steps=512, seeds=1, repeats=(1, 64)), repeats=[1.0, 64.0])
    assert two.holds is None


def test_subset_sizes_follow_k_and_oversized_k_is_one_example():
    ks, sizes, k_eff = repetition.subset_sizes(repetition.Config(steps=64, batch_size=16,
                                                                 repeats=(1, 8, 5000)))
    assert ks == [1, 8, 5000] and sizes == [512, 64, 1] and k_eff == [1.0, 8.0, 512.0]


def test_the_work_rule_refuses_runs_far_past_the_default():
    with pytest.raises(params.ParamError, match="'steps'"):
        params.build(repetition.Config, {"steps": "8192", "batch_size": "256",
                                         "seeds": "8"})


# --- deduplication ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def dedup():
    return run("deduplication", deduplication.Config(steps=400, seeds=2))


def test_planted_near_duplicates_are_found(dedup):
    d = dedup.summary["detection"]
    assert d["recall_exact"] == 1.0
    assert d["recall_near"] >= 0.9 and d["recall_shifted"] >= 0.9
    assert d["recall"] >= 0.9 and d["precision"] >= 0.9


def test_removing_the_copies_lowers_the_test_loss_at_equal_compute(dedup):
    s = dedup.summary
    loss = s["test_loss"]
    assert loss["exact + near removed"] < loss["with copies"] - 0.01
    assert s["seeds_dedup_better"] == s["seeds"]
    assert s["train_loss_copied"] < s["train_loss_not_copied"]  # the copies are memorized


def test_the_dedup_receipt_needs_the_copies_found_and_the_loss_lowered(dedup):
    s, config = dedup.summary, deduplication.Config(steps=400, seeds=2)
    real = deduplication.EXPERIMENT.receipt(config, s)
    loss = s["test_loss"]
    assert real.holds is True
    assert real.live.startswith(f"test loss {loss['with copies']:.3f} with the copies, "
                                f"{loss['exact + near removed']:.3f} after removing")

    def edited(**changes):
        return deduplication.EXPERIMENT.receipt(config, {**s, **changes})

    missed = edited(detection={**s["detection"], "recall": 0.5})
    assert missed.holds is False and "the search missed 50% of the copies" in missed.live
    no_gain = edited(dedup_gain=-0.01, seeds_dedup_better=0)
    assert no_gain.holds is False and "did not clearly lower" in no_gain.live
    assert edited(detection={**s["detection"], "planted": 0.0}).holds is None


def test_without_the_shifted_lookup_shifted_copies_are_missed():
    data = deduplication.plant(deduplication.Config(exact_sources=0, near_sources=20,
                                                    copies=4), seed=0)
    on = deduplication.detect(data, deduplication.Config(match_shifts=True))
    off = deduplication.detect(data, deduplication.Config(match_shifts=False))
    assert on["recall_shifted"] >= 0.9 > 0.5 > off["recall_shifted"]


def test_exact_hashing_and_shifting():
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    x = np.concatenate([x, x[[1, 3]]])
    assert deduplication.exact_duplicates(x).tolist() == [False] * 5 + [True, True]
    image = np.zeros((1, 64), np.float32)
    image[0, 0] = 1.0
    assert deduplication.shifted(image, 1, 1)[0, 1] == 1.0  # one column right
    assert deduplication.shifted(image, 0, -1).sum() == 0.0  # off the top: blank


# --- active learning ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def al():
    return run("active_learning", active_learning.Config(budget=100, seeds=5))


def test_margin_beats_random_over_the_curve_on_most_seeds(al):
    s = al.summary
    margin = s["strategies"]["margin"]
    assert sum(s["margin_beats_random_per_seed"]) >= 4
    assert margin["curve_mean"] > s["strategies"]["random"]["curve_mean"] + 0.01
    assert margin["seeds_beating_random"] == sum(s["margin_beats_random_per_seed"])


def test_the_active_learning_receipt_follows_margin_against_random(al):
    s, config = al.summary, active_learning.Config(budget=100, seeds=5)
    real = active_learning.EXPERIMENT.receipt(config, s)
    margin = s["strategies"]["margin"]
    assert real.holds is True
    assert real.live.startswith(f"margin {100 * margin['gain_over_random']:+.1f} ± ")
    assert "entropy" in real.live and "cold start" in real.live

    def edited(seeds=5, **changes):
        strategies = {**s["strategies"], "margin": {**margin, **changes}}
        return active_learning.EXPERIMENT.receipt(
            active_learning.Config(budget=100, seeds=seeds),
            {**s, "strategies": strategies, "seeds": seeds})

    behind = edited(gain_over_random=-0.01, seeds_beating_random=1)
    assert behind.holds is False and "did not beat random" in behind.live
    assert edited(seeds_beating_random=2).holds is False  # ahead on average, not in most
    assert edited(seeds=2, seeds_beating_random=2).holds is None


def test_entropy_starts_cold(al):
    entropy = al.summary["strategies"]["entropy"]
    assert entropy["behind_random_early"] and entropy["early_gap"] < 0


def test_the_curves_start_from_the_same_labels_and_the_last_batch_is_kept(al):
    s = al.summary
    starts = {name: v["accuracy_mean"][0] for name, v in s["strategies"].items()}
    assert len(set(starts.values())) == 1
    assert s["labels"][0] == 20 and s["labels"][-1] == 100
    batch = al.snapshots["last_batch"]
    assert np.asarray(batch["margin_images"]).shape == (10, 64)
    # margin asks about images with a smaller top-two gap than random picks
    assert np.mean(batch["margin_margin"]) < np.mean(batch["random_margin"])


def test_scores_rank_uncertain_first():
    prob = np.array([[0.98, 0.01, 0.01], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0]])
    assert np.argmax(active_learning.scores(prob, "least confidence")) == 1
    assert np.argmax(active_learning.scores(prob, "margin")) == 2
    assert np.argmax(active_learning.scores(prob, "entropy")) == 1
    start = active_learning.balanced_start(np.repeat(np.arange(10), 5), 20,
                                           np.random.default_rng(0))
    assert np.bincount(np.repeat(np.arange(10), 5)[start]).tolist() == [2] * 10


# --- Chinchilla ----------------------------------------------------------------------------

def test_every_isoflop_curve_of_the_law_has_its_minimum_inside():
    view = run("chinchilla_law", chinchilla.LawConfig())
    s = view.summary
    assert s["all_interior"]
    for row in s["budgets"]:
        assert row["grid_min_interior"]
        assert row["grid_min_n"] == pytest.approx(row["n_opt"], rel=0.2)
        assert row["budget"] == pytest.approx(6 * row["n_opt"] * row["d_opt"])
    assert s["exponent_a"] == pytest.approx(0.28 / 0.62)
    # the published constants imply far more than 20 tokens per parameter at
    # Chinchilla's budget, and a ratio that grows with compute
    assert 80 < s["law_tokens_per_parameter_at_chinchilla_budget"] < 110
    ratios = [r["tokens_per_parameter"] for r in s["budgets"]]
    assert ratios == sorted(ratios)


def test_equal_exponents_keep_the_ratio_fixed():
    s = run("chinchilla_law", chinchilla.LawConfig(alpha=0.3, beta=0.3)).summary
    lo, hi = s["tokens_per_parameter_range"]
    assert s["exponent_a"] == pytest.approx(0.5) and hi == pytest.approx(lo)


def test_the_toy_best_size_grows_with_compute():
    # budgets and widths a quarter of the default's: the same U-shapes, 4x cheaper
    s = run("isoflop", chinchilla.IsoConfig(seeds=1, budgets=(2.5e7, 1e8, 4e8),
                                            widths=(4, 8, 16, 32, 64),
                                            check_budget=1.6e9)).summary
    assert s["interior_budgets"] == 3
    assert s["exponent_a"] is not None and s["exponent_a"] > 0
    assert s["best_size_grows"] and s["n_opt"][-1] > 3 * s["n_opt"][0]
    assert s["predicted_n"] > max(s["n_opt"])
    config = chinchilla.IsoConfig(seeds=1, budgets=(2.5e7, 1e8, 4e8), widths=(4, 8, 16, 32, 64))
    real = chinchilla.ISOFLOP.receipt(config, s)
    assert real.holds is True and f"a = {s['exponent_a']:.2f}" in real.live
    assert real.live.startswith(f"best size {s['n_opt'][0]:,.0f} → ")
    shrinking = chinchilla.ISOFLOP.receipt(config, {**s, "best_size_grows": False})
    assert shrinking.holds is False and "did not grow" in shrinking.live
    edge = chinchilla.ISOFLOP.receipt(config, {**s, "interior_budgets": 1})
    assert edge.holds is False and "widen the range" in edge.live
    one = chinchilla.ISOFLOP.receipt(config, {**s, "n_opt": s["n_opt"][:1], "exponent_a": None})
    assert one.holds is None


def test_the_toy_helpers():
    assert chinchilla.parameters(8) == 153 and chinchilla.parameters(128) == 17793
    for w in (2, 8, 87, 300):
        assert chinchilla.width_for(chinchilla.parameters(w)) == w
    log_n, ok = chinchilla.parabola_vertex(np.log([1, 10, 100]), np.array([2.0, 1.0, 2.0]))
    assert ok and math.exp(log_n) == pytest.approx(10)
    assert chinchilla.parabola_vertex(np.log([1, 10, 100]), np.array([3.0, 2.0, 1.0]))[1] \
        is False
    a, _ = chinchilla.fit_exponent([1e8, 1e9], [100.0, 1000.0])
    assert a == pytest.approx(1.0)
    with pytest.raises(params.ParamError, match="'check_budget'"):
        params.build(chinchilla.IsoConfig, {"check_budget": "1e9"})


# --- the page -----------------------------------------------------------------------------

SMALL = {"steps": "64", "batch_size": "16", "width": "16", "seeds": "1",
         "repeats": "1,16,256",
         "dd_steps": "20", "dd_seeds": "1", "dd_exact_sources": "5", "dd_near_sources": "5",
         "dd_copies": "3",
         "al_budget": "40", "al_seeds": "2",
         "iso_budgets": "1e5,4e5,1.6e6", "iso_widths": "2,4,8", "iso_seeds": "1",
         "iso_steps_max": "20", "iso_check_budget": "6.4e6"}


def test_the_page_draws_every_part():
    at = open_page(PAGE, query=SMALL)
    assert at.text_input(key="data.repeats").value == "1,16,256"
    assert at.number_input(key="data_dd.steps").value == 20
    for key in ("data.repeated_share", "data_dd.threshold", "data_al.initial_labels"):
        assert at.slider(key=key) is not None
    assert at.toggle(key="data_iso.check").value is False
    run_until_ended(at)
    assert len(at.success) == 5 and all("Done" in s.value for s in at.success)
    # repetition 4, dedup pairs + bars 2, active learning curves + images 2, law 2, toy 2
    assert len(at.get("vega_lite_chart")) == 12
    assert metric(at, "Recall").endswith("%")
    assert metric(at, "N_opt ∝ C^a, a =") == "0.452"
    assert any("tokens per parameter" in i.value for i in at.info)
    assert len(at.dataframe) == 2  # the strategies and the law's budgets
    assert len(at.get("download_button")) == 11  # + the page's SVG button
    # one receipt per trained section, in page order (the law is computed, not trained)
    rep, dedup, al, iso = receipt_lines(at)
    assert "This run: excess test loss worst at k = " in rep
    assert "This run: test loss " in dedup and "with the copies" in dedup
    assert "This run: margin " in al and "This run cannot tell" in al  # two seeds
    assert "This run: best size " in iso and "FLOPs" in iso


def test_a_preset_changes_the_config_and_a_bad_value_names_the_field():
    at = open_page(PAGE, query=SMALL)
    at.button(key="data_dd.preset.Noisier copies").click().run()
    assert at.slider(key="data_dd.noise").value == pytest.approx(0.1)
    at.button(key="data_law.preset.Equal exponents").click().run()
    assert at.slider(key="data_law.alpha").value == pytest.approx(0.31)
    assert at.slider(key="data_law.beta").value == pytest.approx(0.31)
    at.text_input(key="data.repeats").set_value("1, 0").run()
    assert not at.exception
    assert any("'repeats'" in e.value for e in at.error)
    at.text_input(key="data_iso.budgets").set_value("1e5,1e7").run()
    assert any("'check_budget'" in e.value for e in at.error)
    assert not at.exception


def test_the_page_in_a_browser(server):
    query = "&".join(f"{k}={v}" for k, v in SMALL.items())
    with browser_page() as page:
        page.goto(f"{server.url}/data?{query}")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
            ".length === 5", timeout=120_000)
        wait_charts(page, 12)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Test accuracy against labels used").count() >= 1
