"""The Memorization → generalization and Grokking pages in a real Chromium against a real
server."""
import pytest

from tests.browser import Server, browser_page, require_browser, wait_idle


def wait_done(page, runs: int, charts: int) -> None:
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
        f".length === {runs}", timeout=150_000)
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length"
        f" === {charts}", timeout=60_000)
    wait_idle(page)
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == charts
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser-dd") / "cache")
    yield srv
    srv.stop()


def test_double_descent_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/double_descent?steps=200&train_sizes=3,30,100")
        # the sweep and the repeated-data run (its defaults) both finish
        wait_done(page, 2, 8)
        assert page.get_by_text("Peak at T").count() == 1
        assert page.get_by_text("Look inside the model trained on T examples").count() == 1
        assert page.get_by_text("D of a repeated example").count() == 1


def test_grokking_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/grokking?steps=300")
        wait_done(page, 2, 4)
        assert page.get_by_text("Train ≥ 99% at step", exact=True).count() == 1
        assert page.get_by_text("Without weight decay").count() >= 1
