"""A real server and a real Chromium for the browser tests.

Without Chromium (or the playwright package) the browser tests skip with a message;
with REQUIRE_BROWSER=1 (set by .ci/run) they fail instead.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def require_browser():
    """Skip (or fail under REQUIRE_BROWSER=1) when no browser can be driven here."""
    missing = None
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser test skipped: {missing}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cache_dir: Path, workers: int = 1, mode: str = "process"):
        """`mode`: LAB_WORKER_MODE, stated, since the AppTest fixtures set it to `thread`
        in this process's environment, and a server started from such a test would
        otherwise train inside its own GIL (the server default is `process`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cache_dir.parent / f"server-{self.port}.log"
        env = dict(os.environ, LAB_CACHE_DIR=str(cache_dir), LAB_WORKERS=str(workers),
                   LAB_WORKER_MODE=mode)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the server did not answer within 90 s")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


@contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            browser.close()


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_ms)


CHARTS = '[data-testid="stVegaLiteChart"]'
SETTLED = f"""(count) => document.querySelectorAll('{CHARTS}').length === count
    && document.querySelector('{IDLE}') !== null
    && document.querySelector('[data-testid="stProgress"]') === null
    && !/in the queue/.test(document.body.textContent)"""


def wait_charts(page, count: int, timeout_s: float = 150, calm_s: float = 1.5) -> None:
    """Wait until the page has settled with all its `count` charts: no run training or
    queued, the script idle, and all of that still so `calm_s` later. The run's end
    reruns the whole page once, and for a moment in between the charts may be drawn
    while the script is idle, so one look is not enough."""
    deadline = time.monotonic() + timeout_s
    calm_since = None
    while time.monotonic() < deadline:
        if page.evaluate(SETTLED, count):
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= calm_s:
                return
        else:
            calm_since = None
        time.sleep(0.25)
    raise AssertionError(f"the page did not settle with {count} charts within {timeout_s:.0f} s"
                         f" (it shows {page.locator(CHARTS).count()})")


def wait_done(page, runs: int, charts: int) -> None:
    """Wait until `runs` runs have ended (their success boxes) and the page has settled
    with all its `charts`, showing no exception box."""
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
        f".length === {runs}", timeout=150_000)
    wait_charts(page, charts)
    assert page.locator('[data-testid="stException"]').count() == 0
