"""The Memorization → generalization and Grokking pages through AppTest (the browser tests
are in test_browser_double_descent_grokking.py)."""
import pytest

from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401

DD, GK = "views/double_descent.py", "views/grokking.py"


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


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
    for key in ("dd.n_hidden", "dd.sparsity", "rep.n_repeated", "rep.sparsity"):
        assert at.slider(key=key) is not None
    small_repeat(at)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    assert metric(at, "Sizes done") == "3 of 3"
    assert metric(at, "Peak at T") == "30"  # the only interior size
    # loss vs T, data plane, feature plane, dimensionality; examples, test-loss bars,
    # features without and with repetition
    assert len(at.get("vega_lite_chart")) == 8
    assert at.select_slider(key="dd.view_t").value == 3
    at.select_slider(key="dd.view_t").set_value(100).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 8
    assert float(metric(at, "D of a repeated example")) > float(
        metric(at, "D of a unique example"))
    assert len(at.get("download_button")) == 4


def test_double_descent_preset_and_bad_input():
    at = open_page(DD, query={"steps": "50", "train_sizes": "3,10"})
    small_repeat(at)
    at.button(key="dd.preset.Fewer T values").click().run()
    assert at.text_input(key="dd.train_sizes").value == "3,30,500"
    at.text_input(key="dd.train_sizes").set_value("3, 0").run()
    assert not at.exception
    assert any("'train_sizes'" in e.value for e in at.error)
    # too many copies for the training set: said plainly, nothing crashes
    at.number_input(key="rep.repeat_count").set_value(100)
    at.slider(key="rep.n_repeated").set_value(5).run()
    assert any("must leave room" in e.value for e in at.error)
    assert not at.exception


def test_grokking_page_draws_both_runs():
    at = open_page(GK, query={"steps": "300"})
    assert at.slider(key="gk.modulus").value == 67
    assert at.select_slider(key="gk.lr").value == pytest.approx(0.01)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    # accuracy, weight norms, loss; the weight-decay comparison
    assert len(at.get("vega_lite_chart")) == 4
    assert metric(at, "Train accuracy") == "100.0%"
    assert metric(at, "Train ≥ 99% at step") != "–"
    assert any("Memorized (train ≥ 99%) at step" in i.value for i in at.info)
    assert any("Without weight decay" in c.value for c in at.caption)


def test_grokking_preset():
    at = open_page(GK, query={"steps": "100"})
    at.button(key="gk.preset.No weight decay").click().run()
    assert at.slider(key="gk.weight_decay").value == 0.0
    run_until_ended(at)
    assert not at.exception
    # with weight decay 0 the comparison is the same run
    assert len(at.success) == 2
