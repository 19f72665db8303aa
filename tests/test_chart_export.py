"""Every chart can be saved: PNG from its own menu (Streamlit's), SVG for all of a
page's charts at once (core/charts/export.py, ui/export.py): the files, the page's
button (AppTest) and the download in Chromium."""
import io
import xml.etree.ElementTree as ET
import zipfile

import pandas as pd

from core.charts import base, export
from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401


def frame():
    return pd.DataFrame({"step": [1, 2, 3, 1, 2, 3], "value": [3.0, 2.0, 1.5, 3.1, 2.5, 2.4],
                         "series": ["train"] * 3 + ["test"] * 3})


def svg_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_a_pages_charts_become_one_zip_of_svgs_named_by_their_titles():
    charts = [base.curves(frame(), "Loss at step 1,000", "loss"),
              base.curves(frame(), "Accuracy", "accuracy").properties(title="")]
    files = svg_files(export.svg_zip(charts))
    assert list(files) == ["01-loss-at-step-1-000.svg", "02-chart.svg"]
    for text in files.values():
        root = ET.fromstring(text)
        assert root.tag.endswith("svg") and float(root.get("width")) > 100
    assert "Loss at step 1,000" in files["01-loss-at-step-1-000.svg"]
    assert "train" in files["01-loss-at-step-1-000.svg"]  # the legend, drawn


def test_file_names_keep_only_plain_characters():
    assert export.file_name("W_i · x̂ / ‖W‖ (T = 30)", 3) == "03-w-i-x-w-t-30.svg"
    assert export.file_name("", 12) == "12-chart.svg"
    assert len(export.file_name("x" * 200, 1)) == len("01-") + 60 + len(".svg")


def test_the_page_offers_its_charts_as_svg_once_they_are_drawn():
    at = open_page("views/gradient_descent.py")
    run_until_ended(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Save this page's 5 charts as SVG (ZIP)" in labels  # the 5 charts it draws
    assert not any("SVG" in label for label in
                   [b.proto.label for b in open_page().get("download_button")])  # home


def test_the_svg_button_downloads_every_chart_in_a_browser(server, tmp_path):
    from tests.browser import browser_page, wait_charts
    with browser_page() as page:
        page.goto(f"{server.url}/gradient_descent?steps=300", wait_until="domcontentloaded")
        wait_charts(page, 5)
        button = page.get_by_role("button", name="Save this page's 5 charts as SVG (ZIP)")
        with page.expect_download(timeout=60_000) as info:
            button.click()
        path = tmp_path / "charts.zip"
        info.value.save_as(path)
        # the run's metrics, also made only when their button is clicked
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Metrics (CSV)").click()
        metrics = (tmp_path / "metrics.csv")
        info.value.save_as(metrics)
    lines = metrics.read_text().splitlines()
    assert lines[0].startswith("step,") and "train_loss" in lines[0] and len(lines) > 10
    files = svg_files(path.read_bytes())
    assert len(files) == 5 and all(name.endswith(".svg") for name in files)
    assert any("decision-boundary" in name for name in files)
    assert all(ET.fromstring(text).tag.endswith("svg") for text in files.values())


def test_titles_are_read_without_building_the_spec_and_big_charts_export():
    import altair as alt
    import numpy as np
    big = pd.DataFrame({"x": np.arange(6561) % 81, "y": np.arange(6561) // 81,
                        "v": np.random.default_rng(0).random(6561)})
    heat = alt.Chart(big, title=alt.TitleParams("A grid of 6,561 cells", subtitle="sub")) \
        .mark_rect().encode(x="x:O", y="y:O", color="v:Q")
    layered = alt.layer(base.curves(frame(), "Inner title", "loss"), base.curves(frame(), "b", "l"))
    assert export.title_of(heat) == "A grid of 6,561 cells"
    assert export.title_of(layered) == "Inner title"
    assert export.title_of(alt.Chart(frame()).mark_line()) == ""
    files = svg_files(export.svg_zip([heat]))  # more rows than Altair's default limit
    assert list(files) == ["01-a-grid-of-6-561-cells.svg"]
