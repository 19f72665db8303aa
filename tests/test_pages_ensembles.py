"""The Ensembles & distillation and Dropout pages through AppTest (the browser tests are
in test_browser_ensembles_dropout.py)."""
import pytest

from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401

ENS, DO = "views/ensembles.py", "views/dropout.py"
SMALL_ENS = {"n_models": "4", "steps": "60", "student_steps": "60", "n_train": "150",
             "n_test": "200", "random_features": "false"}
SMALL_DO = {"steps": "60", "width": "64", "mv_steps": "40"}


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_ensembles_page_draws_bars_views_and_curves():
    at = open_page(ENS, query=SMALL_ENS)
    assert at.slider(key="ens.n_models").value == 4
    assert at.selectbox(key="ens.dataset").value == "multi_view"
    assert at.toggle(key="ens.random_features").value is False
    for key in ("ens.n_classes", "ens.neurons", "ens.rf_projections"):
        assert at.slider(key=key) is not None
    assert at.number_input(key="ens.steps").value == 60
    assert at.number_input(key="ens.student_steps").value == 60
    run_until_ended(at)
    assert "Done" in at.success[0].value
    # grouped bars, view heatmaps, accuracy curves, losses
    assert len(at.get("vega_lite_chart")) == 4
    assert metric(at, "Ensemble single-view accuracy").endswith("%")
    table = at.dataframe[0].value
    assert list(table["model"]) == ["individual (mean)", "ensemble", "distilled",
                                    "self-distilled", "equal-budget control"]
    assert {"multi-view", "single-view"} <= set(table.columns)
    assert len(at.get("download_button")) == 2


def test_ensembles_gaussian_mixture_preset():
    at = open_page(ENS, query=SMALL_ENS)
    at.button(key="ens.preset.No views: Gaussian mixture").click().run()
    assert at.selectbox(key="ens.dataset").value == "gaussian_mixture"
    at.slider(key="ens.n_models").set_value(3).run()
    at.number_input(key="ens.steps").set_value(40).run()
    at.toggle(key="ens.random_features").set_value(False).run()
    run_until_ended(at)
    assert not at.exception
    assert metric(at, "Ensemble accuracy").endswith("%")
    # no views on a Gaussian mixture: bars and two curves, no heatmap
    assert len(at.get("vega_lite_chart")) == 3
    assert list(at.dataframe[0].value.columns) == ["model", "accuracy"]


def test_ensembles_bad_link_is_refused():
    at = open_page(ENS, query={**SMALL_ENS, "temperature": "50"})
    assert any("'temperature' must be a float in [0.5, 10]" in w.value for w in at.warning)
    assert at.slider(key="ens.temperature").value == pytest.approx(2.0)


def test_dropout_page_draws_both_datasets():
    at = open_page(DO, query=SMALL_DO)
    assert at.slider(key="do.patch_dropout").value == pytest.approx(0.5)
    assert at.slider(key="do.input_dropout").value == pytest.approx(0.2)
    run_until_ended(at)
    assert "Done" in at.success[0].value
    # digits curves ×2, multi-view curves ×2, reliance, sub-network disagreement
    assert len(at.get("vega_lite_chart")) == 6
    for label in ("Gap without dropout", "Gap with dropout", "Dropout left on at test",
                  "Views learned per class, with"):
        assert metric(at, label)
    assert len(at.get("download_button")) == 2


def test_dropout_preset_sets_rates():
    at = open_page(DO, query=SMALL_DO)
    at.button(key="do.preset.No dropout at all").click().run()
    assert at.slider(key="do.patch_dropout").value == 0.0
    assert at.slider(key="do.hidden_dropout").value == 0.0
    assert not at.exception
