"""Fixtures shared by the test modules: a private run registry, and a real server for
the browser tests (one per module that asks for it)."""
import pytest

from core import engine
from tests.browser import Server, require_browser


@pytest.fixture
def tmp_registry(tmp_path):
    """A run registry with one worker and its own disk cache, shut down afterwards."""
    registry = engine.Registry(workers=1, cache_dir=tmp_path / "cache")
    yield registry
    registry.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The Lab served by `streamlit run app.py` with its own cache folder, for the browser
    tests of one module (skips, or fails under REQUIRE_BROWSER=1, without Chromium)."""
    require_browser()
    srv = Server(tmp_path_factory.mktemp("browser") / "cache")
    yield srv
    srv.stop()
