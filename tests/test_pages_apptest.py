"""Every page through Streamlit's AppTest: no exception, the expected widgets and charts."""
import time

import pytest

from core import runs
from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401
from ui import catalog

def test_home_links_every_page():
    at = open_page()
    assert at.title[0].value == "Deep Learning Intuition Lab"
    links = at.get("page_link")
    assert len(links) == len(catalog.PAGES)
    assert not at.exception


def test_gradient_descent_page_shows_controls_and_streams_charts():
    at = open_page("views/gradient_descent.py")
    for key in ("gd.dataset", "gd.activation", "gd.loss", "gd.optimizer"):
        assert at.selectbox(key=key) is not None
    for key in ("gd.hidden_layers", "gd.width", "gd.noise", "gd.test_fraction"):
        assert at.slider(key=key) is not None
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.01)
    assert at.number_input(key="gd.steps").value == 1000
    run_until_ended(at)
    assert "Done" in at.success[0].value
    assert len(at.get("vega_lite_chart")) == 5  # loss, accuracy, boundary, embedding, grads
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Train loss", "Test loss", "Train accuracy", "Test accuracy"]
    assert float(at.metric[3].value.rstrip("%")) >= 95.0
    assert len(at.get("download_button")) == 2
    # The chain-rule tables: forward values and one row per weight.
    forward, backward = at.dataframe[0].value, at.dataframe[1].value
    assert list(forward["quantity"])[-1] == "loss"
    assert len(backward) == 9
    assert (abs(backward["by hand"] - backward["autograd"]) < 1e-9).all()


def test_a_preset_sets_its_controls():
    at = open_page("views/gradient_descent.py")
    at.button(key="gd.preset.XOR defeats a line").click().run()
    assert at.selectbox(key="gd.dataset").value == "xor"
    assert at.slider(key="gd.hidden_layers").value == 0
    assert at.query_params["dataset"] == ["xor"] or at.query_params["dataset"] == "xor"


def test_a_diverging_run_is_reported_as_such():
    at = open_page("views/gradient_descent.py")
    at.button(key="gd.preset.Too large a step").click().run()
    run_until_ended(at)
    assert not at.success
    assert any("diverged" in w.value.lower() and "learning rate" in w.value.lower()
               for w in at.warning)


def test_a_shared_link_restores_its_configuration():
    at = open_page("views/gradient_descent.py",
                   query={"dataset": "spiral", "width": "32", "lr": "0.03", "steps": "200"})
    assert at.selectbox(key="gd.dataset").value == "spiral"
    assert at.slider(key="gd.width").value == 32
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.03)
    assert not at.warning


def test_a_bad_link_warns_and_falls_back_to_defaults():
    at = open_page("views/gradient_descent.py",
                   query={"lr": "20", "dataset": "banana", "steps": "200"})
    warnings = " ".join(w.value for w in at.warning)
    assert "'lr' must be a float in [0.0001, 10]" in warnings
    assert "'dataset' must be one of moons" in warnings
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.01)
    assert at.selectbox(key="gd.dataset").value == "moons"
    assert at.number_input(key="gd.steps").value == 200
    run_until_ended(at)  # the warning stays while the link's configuration is on screen
    assert any("'lr' must be" in w.value for w in at.warning)
    at.selectbox(key="gd.dataset").select("circles").run()
    assert not any("'lr' must be" in w.value for w in at.warning)


def test_take_one_step_shows_the_loss_change():
    at = open_page("views/gradient_descent.py", query={"steps": "50"})
    before = at.dataframe[1].value.copy()
    step = next(b for b in at.button if b.label == "Take one step")
    step.click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The last step" in text
    moved = at.dataframe[-1].value
    assert list(moved.columns) == ["weight", "before", "gradient", "−lr × gradient", "after"]
    assert (abs(moved["after"] - (moved["before"] + moved["−lr × gradient"])) < 1e-12).all()
    assert list(moved["before"]) == list(before["value"])


def test_cancel_stops_the_run_and_rerun_trains_it_again():
    at = open_page("views/gradient_descent.py", query={"steps": "20000", "seed": "5"})
    at.button(key="gd.cancel").click().run()
    deadline = time.monotonic() + 30
    while not any("Cancelled" in i.value for i in at.info):
        assert time.monotonic() < deadline, "the run was not cancelled"
        time.sleep(0.3)
        at.run()
    for _ in range(3):  # later reruns keep showing the cancelled run, not a new one
        time.sleep(0.3)
        at.run()
        assert any("Cancelled" in i.value for i in at.info)
    assert not runs.default_registry().active_runs()
    at.button(key="gd.rerun").click().run()
    assert len(runs.default_registry().active_runs()) == 1
    at.button(key="gd.cancel").click().run()


def test_every_page_is_in_a_known_section_and_exists():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    for info in catalog.PAGES:
        assert info.section in catalog.SECTIONS, info
        assert (root / info.path).is_file(), info.path
