"""The Ensembles & distillation and Dropout pages in a real Chromium against a real
server, on small configurations."""
import pytest

from tests.browser import Server, browser_page, require_browser, wait_charts


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser-ens") / "cache")
    yield srv
    srv.stop()


def test_ensembles_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/ensembles?n_models=4&steps=60&student_steps=60&n_train=150"
                  "&n_test=200&random_features=false")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        wait_charts(page, 4)
        assert page.get_by_text("Ensemble single-view accuracy").count() == 1
        assert page.get_by_text("Which view of each class each network learned").count() >= 1
        assert page.locator('[data-testid="stException"]').count() == 0


def test_dropout_in_a_browser_with_a_bad_value(server):
    with browser_page() as page:
        page.goto(f"{server.url}/dropout?steps=60&width=64&mv_steps=40&patch_dropout=0.95")
        page.wait_for_function(
            "() => document.body.innerText.includes(\"'patch_dropout' must be a float in "
            "[0, 0.9]\")", timeout=60_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        wait_charts(page, 6)
        assert page.get_by_text("Dropout left on at test").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
