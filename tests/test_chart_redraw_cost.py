"""What a redraw costs in Altair. A live page builds its charts again and Streamlit turns
each into a Vega-Lite dict every second, so:

- every `encode()` in core/charts passes channel objects (alt.X("step:Q"), alt.XValue(0),
  alt.Tooltip("series:N")), never a bare "field:type" string, alt.value() or
  alt.datum(): Altair matches those against its schema classes one by one, about 3 ms
  per channel on this machine against 0.04 ms for an object (the data page had ~30);
- the app draws charts without Altair's JSON-schema check (`base.unchecked`, a third to
  a half of a redraw); the tests keep the check on (LAB_CHECK_CHARTS=1, conftest.py).
The specs are the same either way.
"""
import ast
import json
from pathlib import Path

import altair as alt
import pandas as pd
import pytest
from altair.utils.schemapi import SchemaValidationError

from core.charts import base
from tests.apptest_support import fresh_registry, open_page, run_until_ended  # noqa: F401

CHARTS = Path(__file__).resolve().parent.parent / "core" / "charts"


def _slow(node: ast.AST) -> bool:
    """A value that Altair has to match against its schema: a string, an f-string, a
    list holding one, or a call of alt.value / alt.datum / alt.condition over those."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return isinstance(node, ast.JoinedStr) or isinstance(node.value, str)
    if isinstance(node, ast.List):
        return any(_slow(item) for item in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "alt":
        if node.func.attr in ("value", "datum"):
            return True
        if node.func.attr == "condition":
            return any(_slow(arg) for arg in node.args[1:])
    return False


def slow_channels(source: str) -> list[str]:
    """`line: channel` of every encode() keyword in `source` that Altair must match."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "encode":
            found += [f"{kw.value.lineno}: {kw.arg}" for kw in node.keywords
                      if kw.arg and _slow(kw.value)]
    return found


def test_the_check_finds_each_slow_form():
    for slow in ('x="step:Q"', 'x=f"{name}:Q"', 'tooltip=["series:N", alt.Tooltip("v:Q")]',
                 "x=alt.value(0)", "x2=alt.datum(0)",
                 'stroke=alt.condition("datum.f", alt.value("black"), alt.value("white"))'):
        assert slow_channels(f"chart.encode({slow})"), slow
    for fast in ('x=alt.X("step:Q")', 'tooltip=[alt.Tooltip("series:N")]', "x=alt.XValue(0)",
                 "x2=alt.X2Datum(0)", "color=color",
                 'stroke=alt.condition("datum.f", alt.StrokeValue("b"), alt.StrokeValue("w"))'):
        assert not slow_channels(f"chart.encode({fast})"), fast


def test_every_chart_module_passes_channel_objects():
    slow = {path.name: found for path in sorted(CHARTS.glob("*.py"))
            if (found := slow_channels(path.read_text()))}
    assert not slow, f"encode() given strings or plain dicts (line: channel): {slow}"


def _charts(valid: bool) -> alt.Chart:
    frame = pd.DataFrame({"step": [1, 2], "value": [0.5, 0.25]})
    x = alt.X("step:Q", bin=True) if valid else alt.X("step:Q", bin="yes")  # invalid only
    return alt.Chart(frame).mark_line().encode(x=x, y=alt.Y("value:Q"))  # in to_dict()


def test_the_app_draws_charts_without_the_schema_check_and_the_tests_keep_it(monkeypatch):
    monkeypatch.delenv("LAB_CHECK_CHARTS", raising=False)
    assert base.unchecked(_charts(valid=True)).to_dict() == _charts(valid=True).to_dict()
    assert "to_dict" not in base.unchecked(_charts(valid=True)).to_dict()["encoding"]
    assert base.unchecked(_charts(valid=False)).to_dict()["encoding"]["x"]["bin"] == "yes"
    monkeypatch.setenv("LAB_CHECK_CHARTS", "1")
    with pytest.raises(SchemaValidationError):
        base.unchecked(_charts(valid=False)).to_dict()


def test_a_page_draws_the_same_specs_with_and_without_the_check(monkeypatch):
    monkeypatch.delenv("LAB_CHECK_CHARTS", raising=False)
    at = run_until_ended(open_page("views/gradient_descent.py", query={"steps": "50"}))
    unchecked = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    monkeypatch.setenv("LAB_CHECK_CHARTS", "1")
    at.run()
    checked = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert len(unchecked) == 5 and unchecked == checked
