"""AppTest helpers shared by every page's tests.

Import `fresh_registry` into a test module to give each test its own run registry and
cache folder (AppTest runs the app in this process, where the registry is a singleton).
"""
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import runs

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def fresh_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    # Threads start in milliseconds; the server's worker processes are tested in
    # tests/test_workers.py and through the browser tests.
    monkeypatch.setenv("LAB_WORKER_MODE", "thread")
    runs.reset_default_registry()
    yield
    runs.reset_default_registry()


def open_page(path: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    if path:
        at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def run_until_ended(at: AppTest, timeout: float = 120) -> AppTest:
    """AppTest never fires run_every: rerun the script until no run is queued or training
    (pages that start several runs wait for all of them), then once more to draw."""
    deadline = time.monotonic() + timeout
    while runs.default_registry().active_runs():
        if time.monotonic() > deadline:
            raise AssertionError("the runs did not end in time")
        time.sleep(0.3)
    at.run()
    assert not at.exception, at.exception
    return at
