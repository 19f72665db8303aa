"""What a public deployment relies on, checked on the source and the config: XSRF and
CORS protection on, no HTML from anywhere reaches the page, nothing is unpickled, and
no setting names a file."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from core import experiments, params

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("core", "ui", "views") for p in (ROOT / folder).rglob("*.py")] \
    + [ROOT / "app.py"]


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def test_xsrf_and_cors_protection_stay_on():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["browser"]["gatherUsageStats"] is False


def test_no_page_passes_html_through_and_nothing_is_unpickled():
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for call in calls(tree):
            for kw in call.keywords:
                if kw.arg == "unsafe_allow_html":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, \
                        f"{path}:{call.lineno} passes unsafe_allow_html"
                if kw.arg == "allow_pickle":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, \
                        f"{path}:{call.lineno} allows pickle"
            name = ast.unparse(call.func)
            assert name not in ("pickle.load", "pickle.loads", "torch.load", "st.html",
                                "components.html"), f"{path}:{call.lineno} calls {name}"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] in ("pickle", "dill", "cloudpickle", "joblib")
                               for n in names), f"{path}:{node.lineno} imports a pickler"


def test_no_declared_setting_is_free_text():
    """A field is a number, a bool, a list of numbers or one of declared choices: no
    setting can carry a path (or any other free text) to a file name or a shell."""
    for name in experiments.names():
        for spec in params.specs(experiments.get(name).Config):
            assert spec.kind in ("int", "float", "bool", "int_list", "float_list", "choice")
            if spec.kind == "choice":
                assert all(c.replace("_", "").isalnum() for c in spec.choices), (name, spec)
