"""The first page in a real Chromium against a real server."""
import re
import time

import pytest

from tests.browser import Server, browser_page, require_browser

PAGE = "/gradient_descent"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser") / "cache")
    yield srv
    srv.stop()


def progress_step(page) -> int | None:
    bar = page.locator('[data-testid="stProgress"]')
    if not bar.count():
        return None
    match = re.search(r"step ([\d,]+) of", bar.first.inner_text())
    return int(match.group(1).replace(",", "")) if match else None


def test_the_loss_chart_fills_in_while_training(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?steps=6000&seed=11")
        page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
        first = progress_step(page)
        assert first is not None, "the progress bar shows no step count"
        deadline = time.monotonic() + 30
        later = first
        while later == first and time.monotonic() < deadline:
            time.sleep(0.5)
            later = progress_step(page) or later
        assert later > first, "the progress did not move while the page was open"
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        assert "Done: 6,000 steps" in page.locator(
            '[data-testid="stAlertContentSuccess"]').inner_text()
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 5
        assert page.locator('[data-testid="stException"]').count() == 0


def test_changing_a_control_starts_a_new_run(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?steps=3000&seed=21")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").click()
        page.get_by_role("option", name="circles", exact=True).click()
        page.wait_for_url(re.compile(r"dataset=circles"), timeout=30_000)
        # the new run shows up training (its progress bar), then done
        page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
        page.wait_for_function(
            "() => document.body.innerText.includes('--set dataset=circles')", timeout=30_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        success = page.locator('[data-testid="stAlertContentSuccess"]').inner_text()
        assert "Done: 3,000 steps" in success and "from the cache" not in success
        assert page.locator('[data-testid="stException"]').count() == 0


def test_a_shared_url_restores_its_configuration(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?dataset=xor&hidden_layers=0&steps=200")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        dataset = page.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset")
        assert "xor" in dataset.inner_text() + dataset.locator("input").first.input_value()
        # A direct link opens the page inside the app: its navigation and sidebar.
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Foundations" in sidebar and "Training on" in sidebar
        layers = page.locator('[data-testid="stSlider"]').filter(has_text="Hidden layers")
        assert layers.locator('[data-testid="stSliderThumbValue"]').inner_text() == "0"
        page.wait_for_function(
            "() => document.body.innerText.includes('--set dataset=xor --set hidden_layers=0')",
            timeout=60_000)


def test_a_bad_url_warns_and_the_page_keeps_working(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?lr=50&steps=100")
        page.wait_for_function(
            "() => document.body.innerText.includes(\"'lr' must be a float in [0.0001, 10]\")",
            timeout=90_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        assert page.locator('[data-testid="stException"]').count() == 0
