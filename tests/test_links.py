"""Crafted share links on every page: values from a link are shown as literal text
(never Markdown, links, images or HTML), signed zeros are plain zeros, and a bad value
falls back to the default with a warning, never an exception box."""
from __future__ import annotations

import math
import re

import pytest

from core import catalog, experiments, params
from tests.apptest_support import fresh_registry, open_page  # noqa: F401

TRAP = "http://127.0.0.1:8699"
EVIL = [f"![t]({TRAP}/track.png)", f"[Claim your prize]({TRAP}/phish)",
        "<img src=x onerror=alert(1)>", "<b>bold</b>", ":red[alarm] **loud**",
        "a`b``c", "x" * 3000]
PAGES = [p for p in catalog.PAGES if p.experiments]


def evil_query(config_cls: type) -> dict[str, str]:
    """One crafted value per field (as many fields as there are crafted values)."""
    fields = [s.name for s in params.specs(config_cls)]
    return {name: EVIL[i % len(EVIL)] for i, name in enumerate(fields[:len(EVIL)])}


def code_spans(markdown: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"(`+)(.+?)\1(?!`)", markdown)]


def outside_code(markdown: str) -> str:
    return re.sub(r"(`+)(.+?)\1(?!`)", "", markdown)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_crafted_link_values_are_shown_literally_and_the_defaults_used(page):
    config_cls = experiments.get(page.experiments[0]).Config
    query = evil_query(config_cls)
    at = open_page(page.path, query=query)
    assert not at.exception
    shown = [w.value for w in at.warning if "The link's configuration" in w.value]
    assert len(shown) == len(query), [w.value for w in at.warning]
    for body in shown:
        rest = outside_code(body)
        # nothing a reader could take for a link, an image or markup outside the quotes
        for bad in ("](", "![", "<img", "<b>", ":red[", TRAP):
            assert bad not in rest, body
        assert any(span.strip().strip("'")[:20] in "".join(EVIL) for span in code_spans(body))
        assert len(body) < 400
    # the controls hold the defaults of the fields the link got wrong
    assert not at.error


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_signed_zero_in_a_link_is_taken_as_zero(page):
    config_cls = experiments.get(page.experiments[0]).Config
    zeros = {s.name: "-0" for s in params.specs(config_cls)
             if s.kind == "float" and s.low is not None and s.low <= 0 <= s.high}
    if not zeros:
        pytest.skip(f"{page.name} has no float field that admits 0")
    config, warnings = params.from_query(config_cls, zeros)
    assert warnings == []
    for name in zeros:
        value = getattr(config, name)
        assert value == 0 and math.copysign(1.0, value) == 1.0
    at = open_page(page.path, query=zeros)
    assert not at.exception
    assert not [w.value for w in at.warning if "The link's configuration" in w.value]


# --- in a real browser ---------------------------------------------------------------

BROWSER_PAGES = [p.name for p in PAGES]  # every page


def test_crafted_links_load_nothing_from_another_host_and_show_text(own_server):
    server = own_server
    from urllib.parse import urlencode

    from tests.browser import browser_page, wait_idle
    requests: list[str] = []
    with browser_page() as page:
        page.on("request", lambda r: requests.append(r.url))
        for name in BROWSER_PAGES:
            info = next(p for p in catalog.PAGES if p.name == name)
            query = evil_query(experiments.get(info.experiments[0]).Config)
            page.goto(f"{server.url}/{name}?{urlencode(query)}")
            wait_idle(page)
            page.wait_for_selector('[data-testid="stAlertContentWarning"]', timeout=30_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            warnings = page.locator('[data-testid="stAlertContentWarning"]')
            text = " ".join(warnings.all_inner_texts())
            assert f"![t]({TRAP}/track.png)" in text or "[Claim your prize]" in text
            # shown as code, not turned into an image, a link or markup
            assert warnings.locator("img").count() == 0
            assert warnings.locator(f'a[href^="{TRAP}"]').count() == 0
            assert warnings.locator("b").count() == 0
            assert warnings.locator("code").count() >= 1
    foreign = [u for u in requests if not (u.startswith(server.url) or u.startswith("data:")
                                           or u.startswith("blob:"))]
    assert not foreign, foreign
