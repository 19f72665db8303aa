"""The Memorization → generalization page: its science, AppTest and browser tests, in
three sections in that order. The science: double descent and repeated data on the
superposition toy model (Henighan et al. 2023), the claims with numbers, on small setups."""
import numpy as np
import pytest
import torch

from core import engine
from core.charts import double_descent as charts
from core.experiments import double_descent as dd
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                    receipt_line, run_until_ended)
from tests.browser import browser_page, wait_done


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


@pytest.fixture(scope="module")
def sweep_run():
    torch.set_num_threads(1)
    run = engine.run_sync("double_descent", dd.Config(train_sizes=(3, 30, 500)))
    assert run.status == engine.DONE, run.error
    return run


@pytest.fixture(scope="module")
def sweep(sweep_run):
    return sweep_run.summary


def test_test_loss_peaks_between_memorizing_and_generalizing(sweep):
    test = dict(zip(sweep["train_sizes"], sweep["test_loss"]))
    peak = sweep["peak_train_size"]
    assert peak == 30
    assert test[peak] > 1.3 * test[3] and test[peak] > 1.3 * test[500]
    # small T is fitted almost perfectly (memorized), large T is not
    train = dict(zip(sweep["train_sizes"], sweep["train_loss"]))
    assert train[3] < 0.2 < train[500]


def test_data_owns_the_dimensions_at_small_t_and_features_at_large_t(sweep):
    data, feat = sweep["data_top_dimensionality"], sweep["feature_top_dimensionality"]
    assert data[0] > 1.5 and data[0] > 1.5 * feat[0]
    assert feat[-1] > 1.5 and feat[-1] > 3 * data[-1]
    # the trap: the summed dimensionality is about m at every T and shows nothing
    assert np.allclose(sweep["data_dimensionality"], 2, atol=0.15)


def test_each_sizes_top_dimensionality_arrives_with_its_geometry(sweep_run):
    s, geometry = sweep_run.summary, sweep_run.snapshots["geometry"]
    for i, t in enumerate(s["train_sizes"]):
        g = geometry[str(t)]
        assert g["data_top"] == s["data_top_dimensionality"][i]
        assert g["feature_top"] == s["feature_top_dimensionality"][i]
        assert len(charts.example_vectors(g)) == t
        assert len(charts.feature_vectors(g["W"], g["feature_dims"])) == 100


def test_the_peak_is_the_highest_interior_size_or_with_two_sizes_the_higher():
    assert dd.peak_index([0.2, 0.9, 0.5, 0.1]) == 1
    assert dd.peak_index([0.9, 0.2, 0.5, 0.1]) == 2  # an end is never the peak...
    assert dd.peak_index([0.3, 0.5]) == 1  # ...unless there is no interior size
    assert dd.peak_index([0.3]) == 0 and dd.peak_index([]) is None


def test_the_receipt_finds_the_peak_and_says_when_there_is_none(sweep):
    real = dd.EXPERIMENT.receipt(dd.Config(train_sizes=(3, 30, 500)), sweep)
    test = dict(zip(sweep["train_sizes"], sweep["test_loss"]))
    assert real.holds is True
    assert real.live.startswith(f"test loss highest at T = 30 ({test[30]:.2f} of")
    assert "fewer features" not in real.smaller and "100 features at S = 0.9" in real.smaller

    def made(test_loss, sizes=(3, 30, 500), **config):
        summary = {"train_sizes": list(sizes), "test_loss": list(test_loss),
                   "peak_train_size": sizes[dd.peak_index(list(test_loss))]}
        return dd.EXPERIMENT.receipt(dd.Config(train_sizes=sizes, **config), summary)

    flat = made([1.03, 0.99, 0.92])  # falls all the way: no double descent in this run
    assert flat.holds is False and "no clear peak" in flat.live and "T = 30 (0.99" in flat.live
    assert made([1.1, 1.2, 1.0]).holds is False  # 1.09×: too small a bump to count
    assert made([1.0, 2.0], sizes=(3, 10)).holds is None
    henighan = dict(n_features=1000, sparsity=0.99)
    sizes = (3, 30, 300, 2000)
    assert made([1.1, 1.0, 2.6, 1.0], sizes=sizes, **henighan).holds is True
    early = made([1.1, 2.6, 1.0, 1.0], sizes=sizes, **henighan)
    assert early.holds is False and "outside T = 100–500" in early.live


def test_dimensionality_of_known_shapes():
    angles = np.arange(5) * 2 * np.pi / 5
    pentagon = np.stack([np.cos(angles), np.sin(angles)])
    assert np.allclose(dd.dimensionality(pentagon), 0.4)
    pair = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(dd.dimensionality(pair), [0.5, 0.5, 1.0])


def test_repeated_examples_are_memorized():
    torch.set_num_threads(1)
    config = dd.RepeatConfig(train_size=600, n_repeated=3, repeat_count=100)
    run = engine.run_sync("repeated_data", config)
    assert run.status == engine.DONE, run.error
    s = run.summary
    repeated = np.array(s["repeated_dimensionality"])
    assert repeated.mean() > 100 * s["unique_dimensionality_mean"]
    assert s["repeated_dimensionality_mean"] == pytest.approx(repeated.mean())
    # one point per distinct example: the 3 repeated ones (D summed over their 100
    # copies) and the 300 unique ones
    state = run.snapshots["repeat"]
    assert state["example_hidden"].shape == (303, 2)
    assert state["example_dims"][:3] == pytest.approx(repeated)
    frame = charts.repeated_vectors(state)
    assert (frame["kind"] == "repeated example").sum() == 3 and frame["dim"].max() <= 1.0
    assert repeated.min() > s["unique_dimensionality_max"]
    # the same examples without repetition are ordinary
    assert repeated.mean() > 10 * np.mean(s["baseline_same_examples_dimensionality"])
    assert s["test_loss"]["with_repetition"] > s["test_loss"]["without_repetition"] + 0.01


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


DD = "views/double_descent.py"


def small_repeat(at):
    """The repeated-data section starts with its (slower) defaults: make it small; the
    default run is released and cancelled."""
    at.number_input(key="rep.steps").set_value(200)
    at.slider(key="rep.n_repeated").set_value(2)
    at.number_input(key="rep.train_size").set_value(400).run()
    assert not at.exception


def test_double_descent_page_fills_the_curve_and_looks_inside():
    at = open_page(DD, query={"train_sizes": "3,30,100", "steps": "300"})
    assert at.text_input(key="dd.train_sizes").value == "3,30,100"
    assert at.select_slider(key="dd.lr").value == pytest.approx(6e-3)
    # the other sliders hold their Config's defaults (a lookup by key raises when the key
    # is missing: compare the values instead)
    expected = {"dd.n_hidden": dd.Config().n_hidden, "dd.sparsity": dd.Config().sparsity,
                "rep.n_repeated": dd.RepeatConfig().n_repeated,
                "rep.sparsity": dd.RepeatConfig().sparsity}
    assert {key: at.slider(key=key).value for key in expected} == pytest.approx(expected)
    small_repeat(at)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    assert metric(at, "Sizes done") == "3 of 3"
    assert metric(at, "Peak at T") == "30"  # the only interior size
    assert "This run: test loss highest at T = 30 (" in receipt_line(at)
    # loss vs T, data plane, feature plane, dimensionality; examples, test-loss bars,
    # features without and with repetition
    assert len(at.get("vega_lite_chart")) == 8
    assert at.select_slider(key="dd.view_t").value == 3
    at.select_slider(key="dd.view_t").set_value(100).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 8
    assert float(metric(at, "D of a repeated example")) > float(
        metric(at, "D of a unique example"))
    assert len(at.get("download_button")) == 5  # + the page's SVG button


def test_double_descent_preset_and_bad_input():
    at = open_page(DD, query={"steps": "50", "train_sizes": "3,10"})
    small_repeat(at)
    at.button(key="dd.preset.Fewer T values").click().run()
    assert at.text_input(key="dd.train_sizes").value == "3,30,500"
    at.text_input(key="dd.train_sizes").set_value("3, 0").run()
    assert not at.exception
    assert any("'train_sizes'" in e.value for e in at.error)
    # too many copies for the training set: said plainly (the Config's rule, naming the
    # field to change), nothing crashes
    at.number_input(key="rep.repeat_count").set_value(100)
    at.slider(key="rep.n_repeated").set_value(5).run()
    assert any("'train_size' must be larger than n_repeated × repeat_count" in e.value
               for e in at.error)
    assert not at.exception


def test_with_two_sizes_the_page_shows_the_experiments_peak():
    at = open_page(DD, query={"steps": "50", "train_sizes": "3,10"})
    small_repeat(at)
    run_until_ended(at)
    expected = engine.run_sync("double_descent", dd.Config(steps=50, train_sizes=(3, 10)))
    peak = expected.summary["peak_train_size"]
    assert peak in (3, 10)  # with no interior size the higher of the two
    assert metric(at, "Peak at T") == str(peak)
    test = dict(zip(expected.summary["train_sizes"], expected.summary["test_loss"]))
    assert metric(at, "Test loss at the peak") == f"{test[peak]:.2f}"
    assert "no interior peak" in receipt_line(at) and "cannot tell" in receipt_line(at)


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


def test_double_descent_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/double_descent?steps=200&train_sizes=3,30,100")
        # the sweep and the repeated-data run (its defaults) both finish
        wait_done(page, 2, 8)
        assert page.get_by_text("Peak at T").count() == 1
        assert page.get_by_text("Look inside the model trained on T examples").count() == 1
        assert page.get_by_text("D of a repeated example").count() == 1
