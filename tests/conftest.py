import pytest

from core import runs


@pytest.fixture
def tmp_registry(tmp_path):
    """A run registry with one worker and its own disk cache, shut down afterwards."""
    registry = runs.Registry(workers=1, cache_dir=tmp_path / "cache")
    yield registry
    registry.shutdown()
