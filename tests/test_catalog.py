"""core/catalog.py is the one place a page is named: its file, its URL and its experiments."""
from pathlib import Path

from core import catalog, experiments

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_has_its_view_and_registered_experiments():
    names = [p.name for p in catalog.PAGES]
    assert len(names) == len(set(names))
    for page in catalog.PAGES:
        assert (ROOT / page.path).is_file(), page.path
        assert page.section in catalog.SECTIONS, page.section
        assert page.experiments, f"{page.name} lists no experiment"
        for name in page.experiments:
            experiments.get(name)  # raises for an unknown name
        # the view takes its experiment names from the catalog instead of spelling them
        assert "catalog.here(__file__)" in (ROOT / page.path).read_text(), page.path


def test_every_experiment_is_shown_on_exactly_one_page():
    shown = [name for page in catalog.PAGES for name in dict.fromkeys(page.experiments)]
    assert sorted(shown) == sorted(experiments.names())


def test_here_finds_a_page_from_its_script_path():
    page = catalog.PAGES[0]
    assert catalog.here(str(ROOT / page.path)) is page
