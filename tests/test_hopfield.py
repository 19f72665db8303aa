"""The Hopfield memory page: its science, AppTest and browser tests, in three sections in
that order (N = 100 neurons)."""
import numpy as np
import pytest
import torch

from core import engine, params
from core.experiments.hopfield import Config, corrupt, hebbian, pattern_counts
from core.experiments.hopfield import EXPERIMENT as HOPFIELD
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                    receipt_line, run_until_ended)
from tests.browser import browser_page, wait_charts


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


@pytest.fixture(scope="module")
def sweep():
    torch.set_num_threads(1)
    return engine.run_sync("hopfield", Config(dimension=100, n_patterns_max=40, trials=20))


def accuracy(run, key, count):
    s = run.summary
    return s[key][s["pattern_counts"].index(count)]


def test_classical_recall_is_perfect_at_5_and_breaks_down_by_30(sweep):
    assert sweep.status == "done", sweep.error
    assert sweep.summary["pattern_counts"] == list(range(1, 41))
    assert accuracy(sweep, "classical_accuracy", 5) >= 0.99
    assert accuracy(sweep, "classical_accuracy", 30) < 0.85
    # capacity near 0.138·N = 13.8: the first drop below 99 % comes between 5 and 20
    assert 5 <= sweep.summary["classical_capacity"] < 20


def test_modern_recalls_patterns_far_past_the_classical_limit(sweep):
    for count in (14, 30, 40):  # 40 ≈ 2.9 × 0.138·N
        assert accuracy(sweep, "modern_accuracy", count) >= 0.99
    assert accuracy(sweep, "classical_accuracy", 40) < accuracy(sweep, "modern_bit_accuracy", 40)


def test_the_curves_stream_one_point_per_count(sweep):
    assert sweep.metrics["patterns"][1] == list(map(float, range(1, 41)))
    assert len(sweep.metrics["classical_accuracy"][1]) == 40


def test_energies_only_go_down(sweep):
    ex = sweep.snapshots["example"]
    classical = np.asarray(ex["classical_energy"])
    assert (np.diff(classical) <= 1e-5).all()
    assert classical[-1] < classical[0]
    modern = np.asarray(ex["modern_energy"])
    assert (np.diff(modern) <= 1e-4).all()


def test_a_small_beta_gives_a_mixture_a_large_one_a_single_pattern():
    small = engine.run_sync("hopfield", Config(beta=0.005, shown_patterns=6, n_patterns_max=4))
    ex = small.snapshots["example"]
    assert ex["modern_weights"][0].max() < 0.5  # no pattern dominates the update
    assert np.abs(ex["modern_states"][1]).mean() < 0.8  # a blend, not a ±1 pattern
    top = dict(zip(np.round(ex["betas"], 6), ex["top_weight"]))
    assert top[1.0] > 0.99


def test_digits_are_64_pixel_images_and_the_modern_net_holds_them():
    run = engine.run_sync("hopfield", Config(patterns="digits", beta=1.0, n_patterns_max=12,
                                           corruption=0.1, trials=10))
    s = run.summary
    assert s["dimension"] == 64 and run.snapshots["example"]["side"] == 8
    assert min(s["modern_accuracy"]) >= 0.9
    # similar-looking digits overload the classical net after a few
    assert s["classical_accuracy"][-1] < 0.9


def test_building_blocks():
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(2, 3, 50)).astype(np.float32)
    w = hebbian(torch.as_tensor(x))
    assert torch.count_nonzero(torch.diagonal(w, dim1=1, dim2=2)) == 0
    assert torch.allclose(w, w.transpose(1, 2))
    flipped = corrupt(x[:, 0], 0.2, rng)
    assert ((flipped != x[:, 0]).sum(1) == 10).all()
    assert pattern_counts(5) == [1, 2, 3, 4, 5]
    counts = pattern_counts(200)
    assert counts[0] == 1 and counts[-1] == 200 and len(counts) <= 40


def test_the_receipt_carries_the_measured_capacity_and_its_verdict(sweep):
    real = HOPFIELD.receipt(Config(dimension=100, n_patterns_max=40, trials=20), sweep.summary)
    capacity = sweep.summary["classical_capacity"]
    assert real.holds is True and real.live.startswith(f"{capacity} patterns for N = 100")
    assert "13.8 patterns" in real.paper

    def made(capacity, counts=40, **config):
        summary = {"dimension": 100, "classical_capacity": capacity,
                   "pattern_counts": list(range(1, counts + 1))}
        return HOPFIELD.receipt(Config(**config), summary)

    assert made(12).holds is True and "12 patterns" in made(12).live
    low = made(3)
    assert low.holds is False and low.live.startswith("3 patterns") and "22%" in low.live
    assert made(30).holds is False
    assert made(10, counts=10).holds is None  # recall never broke inside the sweep
    assert made(4, patterns="digits").holds is None


def test_bad_values_are_refused_with_the_field_named():
    with pytest.raises(params.ParamError, match="'beta' must be a float in"):
        params.build(Config, {"beta": "100"})
    with pytest.raises(params.ParamError, match="'patterns' must be one of random, digits"):
        params.build(Config, {"patterns": "faces"})


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


HOP = "views/hopfield.py"


def test_hopfield_page_draws_curves_strips_and_energies():
    at = open_page(HOP, query={"n_patterns_max": "20", "trials": "5"})
    assert at.selectbox(key="hop.patterns").value == "random"
    assert at.select_slider(key="hop.beta").value == pytest.approx(0.1)
    run_until_ended(at)
    assert "Done" in at.success[0].value
    # capacity, β sweep, two step-by-step strips, two energies, softmax weights
    assert len(at.get("vega_lite_chart")) == 7
    assert metric(at, "Neurons N") == "100"
    assert 3 <= int(metric(at, "Classical capacity")) <= 20
    assert metric(at, "Modern at 20 patterns") == "100%"
    line = receipt_line(at)
    assert "13.8 patterns for N = 100" in line
    assert f"This run: {metric(at, 'Classical capacity')} patterns" in line


def test_hopfield_digits_preset_and_a_bad_link():
    at = open_page(HOP, query={"beta": "100", "trials": "3"})
    assert any("'beta' must be a float in [0.001, 10]" in w.value for w in at.warning)
    assert at.select_slider(key="hop.beta").value == pytest.approx(0.1)
    at.button(key="hop.preset.Digits").click().run()
    assert at.selectbox(key="hop.patterns").value == "digits"
    run_until_ended(at)
    assert not at.exception
    assert metric(at, "Neurons N") == "64"


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


def test_hopfield_in_a_browser_with_a_bad_value(server):
    with browser_page() as page:
        page.goto(f"{server.url}/hopfield?n_patterns_max=10&trials=4&corruption=0.9")
        # the warning shows on the first run of the page (the end of the run redraws it)
        page.wait_for_function(
            "() => document.body.innerText.includes(\"'corruption' must be a float in "
            "[0, 0.5]\")", timeout=60_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        wait_charts(page, 7)
        assert page.locator('[data-testid="stException"]').count() == 0
