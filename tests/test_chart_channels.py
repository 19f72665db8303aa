"""Every `encode()` in core/charts passes channel objects (alt.X("step:Q"), alt.XValue(0),
alt.Tooltip("series:N")), never a bare "field:type" string, alt.value() or alt.datum().

Altair matches a bare string or a plain dict against its schema classes one by one:
about 3 ms per channel on this machine, against 0.04 ms for an object, and a page
builds its charts again on every redraw (the data page had ~30 such channels). The
specs are the same either way (checked chart by chart when they were converted).
"""
import ast
from pathlib import Path

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
