"""Stopping the real server while a run trains exits cleanly (no abort, exit status 0)."""
import signal
import time

import pytest

from tests.browser import Server, browser_page, require_browser


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_stops_cleanly_mid_training(tmp_path, sig):
    require_browser()
    server = Server(tmp_path / "cache")
    try:
        with browser_page() as page:
            page.goto(f"{server.url}/gradient_descent?steps=20000&seed=3")
            page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
            time.sleep(1.0)  # the worker is inside torch now
            assert "step" in page.locator('[data-testid="stProgress"]').inner_text()
            code = server.stop(sig, timeout=60)
    finally:
        server.stop(signal.SIGKILL)
    output = server.output()
    assert "terminate called" not in output, output[-2000:]
    assert code == 0, f"exit status {code}:\n{output[-2000:]}"
    # The run was cancelled, not waited for: a finished run would be in the disk cache.
    assert not list((tmp_path / "cache").glob("*.json"))
