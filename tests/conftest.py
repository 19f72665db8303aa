"""Fixtures shared by the test modules: a private run registry, and a real server for
the browser tests (one for the whole run)."""
import os

import pytest

from core import engine
from tests.browser import Server, require_browser

# Altair's schema check on every chart a page draws (AppTest here, and the servers the
# browser tests start, which inherit this environment); the app skips it (base.unchecked)
os.environ["LAB_CHECK_CHARTS"] = "1"


@pytest.fixture
def tmp_registry(tmp_path):
    """A run registry with one worker and its own disk cache, shut down afterwards."""
    registry = engine.Registry(workers=1, cache_dir=tmp_path / "cache")
    yield registry
    registry.shutdown()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The Lab served by `streamlit run app.py` with its own cache folder, shared by the
    browser tests of every module (skips, or fails under REQUIRE_BROWSER=1, without
    Chromium). A server's first page costs ~15 s here (its imports, the worker's start),
    so one server for all of them saves minutes of `make test`. A test that uses it lets
    its runs end (or cancels them): its one worker is the next module's too."""
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser") / "cache")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A server of this module's own, for tests that leave runs training behind them
    (every page's defaults, started from crafted links): stopped with the module."""
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser") / "cache")
    yield srv
    srv.stop()
