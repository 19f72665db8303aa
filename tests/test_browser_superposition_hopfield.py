"""The Superposition and Hopfield pages in a real Chromium against a real server."""
import pytest

from tests.browser import Server, browser_page, require_browser, wait_charts


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser-sp") / "cache")
    yield srv
    srv.stop()


def test_superposition_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/superposition?steps=200&sparsities=0,0.9")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
            ".length === 2", timeout=120_000)
        wait_charts(page, 7)
        assert page.get_by_text("Recovered vectors").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0


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
