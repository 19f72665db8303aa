"""The Superposition and Hopfield pages through AppTest (the browser tests are in
test_browser_superposition_hopfield.py)."""
import pytest

from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401

SP, HOP = "views/superposition.py", "views/hopfield.py"


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_superposition_page_draws_both_runs():
    at = open_page(SP, query={"steps": "300", "sparsities": "0,0.95"})
    assert at.text_input(key="sp.sparsities").value == "0,0.95"
    for key in ("sp.n_features", "sp.n_hidden", "sp.importance_decay", "ae.n_vectors",
                "ae.n_hidden", "ae.sparsity"):
        assert at.slider(key=key) is not None
    assert at.select_slider(key="sp.lr").value == pytest.approx(0.01)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    # directions, norms, WᵀW, dimensionality, losses; hidden points, losses
    assert len(at.get("vega_lite_chart")) == 7
    assert metric(at, "Features / hidden units") == "5 / 2"
    recovered, total = metric(at, "Recovered vectors").split(" of ")
    assert total == "8" and int(recovered) > 2
    table = at.dataframe[0].value
    assert list(table["sparsity"]) == [0.0, 0.95]
    assert len(at.get("download_button")) == 4


def test_superposition_preset_and_bad_input():
    at = open_page(SP, query={"steps": "100"})
    at.button(key="sp.preset.Pentagon").click().run()
    assert at.text_input(key="sp.sparsities").value == "0.9,0.95,0.99"
    at.text_input(key="sp.sparsities").set_value("0.5, 2").run()
    assert not at.exception
    assert any("'sparsities' must be a comma-separated list of floats in [0, 0.999]" in e.value
               for e in at.error)
    # the memory section below keeps working
    at.button(key="ae.preset.One hidden unit").click().run()
    assert at.slider(key="ae.n_hidden").value == 1
    run_until_ended(at)
    assert any("Done" in s.value for s in at.success)


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


def test_hopfield_digits_preset_and_a_bad_link():
    at = open_page(HOP, query={"beta": "100", "trials": "3"})
    assert any("'beta' must be a float in [0.001, 10]" in w.value for w in at.warning)
    assert at.select_slider(key="hop.beta").value == pytest.approx(0.1)
    at.button(key="hop.preset.Digits").click().run()
    assert at.selectbox(key="hop.patterns").value == "digits"
    run_until_ended(at)
    assert not at.exception
    assert metric(at, "Neurons N") == "64"
