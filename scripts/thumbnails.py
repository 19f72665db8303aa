"""Make the home page's thumbnails: one picture per page, cut from the page itself.

Starts the Lab (its own server and a fresh cache unless --url is given), opens each page
in Chromium with its defaults, waits until its runs have ended, and saves one chart of
it (`CHART`: the one that shows the page's idea best) as `ui/thumbnails/<page>.png`,
360 × 240 pixels. Run it again after a page's charts change:

    .venv/bin/python scripts/thumbnails.py [--url http://localhost:8501] [PAGE ...]
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from core import catalog  # noqa: E402
from tests.browser import Server, browser_page  # noqa: E402

OUT = ROOT / "ui" / "thumbnails"
WIDTH, HEIGHT = 360, 240  # every card's picture the same size: the chart fitted, centred
CHARTS = '[data-testid="stVegaLiteChart"]'
# which chart of the page (in page order) shows its idea best; the first by default
CHART = {"gradient_descent": 2, "dropout": 1}


def capture(page, url: str, name: str) -> Path:
    page.goto(f"{url}/{name}", wait_until="domcontentloaded")
    page.wait_for_selector(CHARTS, timeout=120_000)
    # the runs have ended when no progress bar is left and the script is idle
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stProgress\"]') && "
        "document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'",
        timeout=600_000, polling=1000)
    page.wait_for_timeout(1500)  # Vega draws after the script has ended
    charts = page.locator(CHARTS)
    chart = charts.nth(min(CHART.get(name, 0), charts.count() - 1))
    chart.scroll_into_view_if_needed()
    png = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    scale = min(WIDTH / png.width, HEIGHT / png.height)
    png = png.resize((round(png.width * scale), round(png.height * scale)), Image.LANCZOS)
    card = Image.new("RGB", (WIDTH, HEIGHT), "white")
    card.paste(png, ((WIDTH - png.width) // 2, (HEIGHT - png.height) // 2))
    path = OUT / f"{name}.png"
    card.save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running Lab (default: start one)")
    parser.add_argument("pages", nargs="*", help="page names (default: all)")
    args = parser.parse_args()
    names = args.pages or [p.name for p in catalog.PAGES]
    OUT.mkdir(exist_ok=True)
    server = None if args.url else Server(Path(tempfile.mkdtemp()) / "cache", workers=2)
    url = args.url or server.url
    try:
        with browser_page() as page:
            for name in names:
                print(f"{name}: {capture(page, url, name)}", flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
