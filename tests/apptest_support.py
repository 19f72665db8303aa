"""AppTest helpers shared by every page's tests.

Import `fresh_registry` into a test module to give each test its own run registry and
cache folder (AppTest runs the app in this process, where the registry is a singleton);
`metric(at, label)` reads a metric's value by its label.
"""
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import engine

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def fresh_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    # Threads start in milliseconds; the server's worker processes are tested in
    # tests/test_engine_trainers.py and through the browser tests.
    monkeypatch.setenv("LAB_WORKER_MODE", "thread")
    engine.reset_default_registry()
    yield
    engine.reset_default_registry()


def metric(at: AppTest, label: str) -> str:
    """The value of the page's metric labelled `label` (fails naming it when none is)."""
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; the page shows {[m.label for m in at.metric]}"
    return values[0]


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
    while engine.default_registry().active_runs():
        if time.monotonic() > deadline:
            raise AssertionError("the runs did not end in time")
        time.sleep(0.3)
    at.run()
    assert not at.exception, at.exception
    return at


def receipt_lines(at: AppTest) -> list[str]:
    """Every receipt line on the page ("Paper: … · This run: …"), top to bottom: a page
    with several experiments draws one per section."""
    return [m.value for m in at.markdown if m.value.startswith("Paper: ")]


def receipt_line(at: AppTest) -> str:
    """The page's receipt line ("Paper: … · This run: …"; fails when none is drawn)."""
    lines = receipt_lines(at)
    assert len(lines) == 1, f"expected one receipt, found {len(lines)}"
    return lines[0]
