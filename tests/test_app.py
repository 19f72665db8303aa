"""The app as a whole rather than one page: the home page links every page of the
catalog in the navigation's order (tests/test_catalog.py checks the catalog itself)."""
from tests.apptest_support import fresh_registry, open_page  # noqa: F401
from core import catalog


def test_home_links_every_page():
    at = open_page()
    assert at.title[0].value == "Deep Learning Intuition Lab"
    links = at.get("page_link")
    assert len(links) == len(catalog.PAGES)
    # (open_page already checked that no exception was raised: check where the links go)
    in_order = [info for _, infos in catalog.by_section() for info in infos]
    assert [(link.proto.page, link.proto.label) for link in links] == \
        [(info.name, info.title) for info in in_order]
