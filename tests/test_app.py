"""The app as a whole rather than one page: the home page links every page of the
catalog in the navigation's order (tests/test_catalog.py checks the catalog itself)."""
from tests.apptest_support import fresh_registry, open_page  # noqa: F401
from pathlib import Path

from core import catalog, engine

THUMBNAILS = Path(__file__).resolve().parent.parent / "ui" / "thumbnails"


def test_home_links_every_page():
    at = open_page()
    assert at.title[0].value == "Deep Learning Intuition Lab"
    links = at.get("page_link")
    assert len(links) == len(catalog.PAGES)
    # (open_page already checked that no exception was raised: check where the links go)
    in_order = [info for _, infos in catalog.by_section() for info in infos]
    assert [(link.proto.page, link.proto.label) for link in links] == \
        [(info.name, info.title) for info in in_order]


def test_home_shows_every_page_with_its_picture_and_its_claim():
    """A card per page: its thumbnail (made from the page by scripts/thumbnails.py), its
    link and its one-line claim."""
    from PIL import Image

    for info in catalog.PAGES:
        picture = THUMBNAILS / f"{info.name}.png"
        assert picture.exists(), f"no thumbnail for {info.name}: run scripts/thumbnails.py"
        with Image.open(picture) as image:
            assert image.size == (360, 240), (info.name, image.size)
            assert len(set(image.convert("L").getdata())) > 20, f"{info.name} is blank"
    at = open_page()
    assert len(at.get("image")) == len(catalog.PAGES)
    captions = [c.value for c in at.caption]
    assert all(info.blurb in captions for info in catalog.PAGES)


def test_home_cards_draw_their_pictures_in_a_browser(server):
    from tests.browser import browser_page, wait_idle
    with browser_page() as page:
        page.goto(server.url, wait_until="domcontentloaded")
        wait_idle(page)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
            f".filter(i => i.complete && i.naturalWidth === 360).length === {len(catalog.PAGES)}",
            timeout=60_000, polling=500)
        first = page.locator('[data-testid="stPageLink"] a').first
        assert "Gradient descent" in first.inner_text()
        page.screenshot(path=str(server.log.parent / "home.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0


def reproduce_lines(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Reproduce from a terminal")]


def test_every_page_keeps_its_settings_when_the_visitor_comes_back():
    """Streamlit forgets a widget's value once a script run ends without drawing it (here:
    a visit to the home page); a widget then starts at its lowest value. Each page's
    settings, its terminal lines among them, must come back as they were."""
    at = open_page()
    for info in catalog.PAGES:
        at.switch_page(info.path).run()
        before = reproduce_lines(at)
        assert before, f"{info.name} shows no terminal line"
        at.switch_page(catalog.HOME.path).run()
        at.switch_page(info.path).run()
        assert not at.exception, (info.name, at.exception)
        assert reproduce_lines(at) == before, info.name
        for run in engine.default_registry().active_runs():
            run.cancel()  # the pages' default runs are not what this test is about


def test_a_changed_setting_survives_a_visit_to_another_page():
    at = open_page("views/gradient_descent.py")
    at.number_input(key="gd.steps").set_value(3000).run()
    at.slider(key="gd.hidden_layers").set_value(3).run()
    at.switch_page("views/hopfield.py").run()
    at.switch_page("views/gradient_descent.py").run()
    assert at.number_input(key="gd.steps").value == 3000
    assert at.slider(key="gd.hidden_layers").value == 3
    assert "--set hidden_layers=3 --set steps=3000" in reproduce_lines(at)[0]
    for run in engine.default_registry().active_runs():
        run.cancel()
