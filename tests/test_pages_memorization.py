"""The memorization page through AppTest and in a real Chromium."""
import pytest

from core import runs
from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401
from tests.browser import Server, browser_page, require_browser, wait_idle

PATH, URL = "views/memorization.py", "/memorization"
FAST = {"steps": "300"}


def texts(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_page_shows_both_models_and_memorization_in_numbers():
    at = open_page(PATH, query=dict(FAST, random_labels="true", label_noise="0"))
    for key in ("mem.dataset",):
        assert at.selectbox(key=key) is not None
    for key in ("mem.max_depth", "mem.min_samples_leaf", "mem.width", "mem.label_noise",
                "mem.dropout", "mem.weight_decay"):
        assert at.slider(key=key) is not None
    assert at.toggle(key="mem.random_labels").value is True
    assert at.toggle(key="mem.early_stopping").value is False
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    # tree: bins, accuracy vs depth; network: regions, regions curve, loss, accuracy
    assert len(at.get("vega_lite_chart")) == 6
    labels = [m.label for m in at.metric]
    assert labels == ["Leaves (bins)", "Depth", "Train accuracy", "Test accuracy",
                      "Linear regions", "Step", "Train accuracy", "Test accuracy"]
    assert at.metric[2].value == "100%"  # the tree fits the shuffled labels...
    assert abs(float(at.metric[3].value.rstrip("%")) - 50) <= 15  # ...and guesses the test
    assert "The tree fits **100%** of its training labels" in texts(at)
    assert "(chance: 50.0%)" in texts(at)
    assert any("without weight decay" in i.value for i in at.info)
    assert len(at.get("download_button")) == 4
    # tracing another point redraws its path through the rules
    def traced():
        return next(c.value for c in at.code if c.value.startswith(" 1. "))
    first = traced()
    at.number_input(key="mem.tree.point").set_value(5).run()
    assert not at.exception
    assert traced() != first and "class:" in traced().splitlines()[-1]


def test_regularization_is_compared_with_the_cached_unregularized_run():
    at = open_page(PATH, query=dict(FAST, label_noise="0.2"))
    run_until_ended(at)
    assert runs.default_registry().trainings_started == 2
    at.slider(key="mem.weight_decay").set_value(0.01).run()
    run_until_ended(at)
    # only the regularized network trained: the baseline is the run already on screen
    assert runs.default_registry().trainings_started == 3
    assert len(at.success) == 3
    assert len(at.get("vega_lite_chart")) == 7
    assert "Gap in accuracy" in texts(at) and "with regularization" in texts(at)
    assert at.query_params["weight_decay"] in (["0.01"], "0.01")


def test_a_preset_sets_its_controls():
    at = open_page(PATH, query=FAST)
    at.button(key="mem.preset.A depth-3 tree").click().run()
    assert at.slider(key="mem.max_depth").value == 3
    assert at.slider(key="mem.label_noise").value == pytest.approx(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser") / "cache")
    yield srv
    srv.stop()


def test_the_page_draws_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}{URL}?steps=300&label_noise=0.2")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
            ".length == 2", timeout=90_000)
        wait_idle(page)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length == 6",
            timeout=30_000)
        body = page.locator("body").inner_text()
        assert "linear regions at step 300" in body
        assert "leaves, drawn as bins" in body
        assert page.locator('[data-testid="stException"]').count() == 0
