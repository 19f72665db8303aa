"""The shape DESIGN.md draws, checked on the source: arrows point one way inside core/
(no two modules import each other, the engine is run <- trainers <- registry), core never
imports Streamlit, and no module writes another module's underscored attributes."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(folder: Path = CORE) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(folder.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `path` imports anywhere (at the top or inside a
    function): `from core.engine import run` counts as importing core.engine.run."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .run import y
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            if name in known:
                found.add(name)
                # `from core.engine import run` imports the submodule, not the package
                if isinstance(node, ast.ImportFrom) and name == node.module and any(
                        f"{name}.{a.name}" in known for a in node.names):
                    found.discard(name)
    found.discard(module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, found by a depth-first search (each reported once)."""
    found, done = [], set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            found.append(stack[stack.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, stack + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_the_graph_sees_the_imports():
    """The check below is only as good as this graph: it finds known edges."""
    graph = import_graph()
    assert {"core.engine.run", "core.engine.trainers", "core.engine.registry",
            "core.engine.cache", "core.__main__"} <= set(graph)
    assert "core.engine.run" in graph["core.engine.trainers"]
    assert "core.engine" in graph["core.__main__"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_of_core_import_each_other():
    graph = import_graph()
    mutual = sorted((a, b) for a, deps in graph.items() for b in deps
                    if a < b and a in graph.get(b, ()))
    assert mutual == [], f"modules that import each other: {mutual}"
    assert cycles(graph) == [], "import cycles in core/"


def test_the_engine_is_one_way_run_then_trainers_then_registry():
    graph = import_graph()
    engine = {name: {d for d in deps if d.startswith("core.engine")}
              for name, deps in graph.items() if name.startswith("core.engine.")}
    assert engine == {
        "core.engine.run": set(),
        "core.engine.cache": set(),
        "core.engine.ray_trainer": {"core.engine.run"},
        "core.engine.trainers": {"core.engine.run", "core.engine.ray_trainer"},
        "core.engine.registry": {"core.engine.run", "core.engine.trainers",
                                 "core.engine.cache", "core.engine.ray_trainer"},
    }
    # the rest of core goes through core.engine, not into its parts; but the Ray board's
    # training task is the engine's far end on the cluster: it trains through
    # core.engine.run itself (core.engine would be a cycle: registry -> Ray trainer ->
    # board)
    for name, deps in graph.items():
        if not name.startswith("core.engine"):
            into = {d for d in deps if d.startswith("core.engine.")}
            assert into <= ({"core.engine.run"} if name == "core.ray_board" else set()), name
    assert not (CORE / "runs.py").exists() and not (CORE / "workers.py").exists()
    assert not (CORE / "cache.py").exists()


def test_core_never_imports_streamlit_in_its_source():
    offenders = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module or ""]
            else:
                continue
            offenders += [f"{name}: {t}" for t in targets if t.split(".")[0] == "streamlit"]
    assert offenders == []


def test_core_never_imports_the_ui_or_the_views():
    offenders = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{name}: {t}" for t in targets if t.split(".")[0] in ("ui", "views")]
    assert not offenders, offenders


def test_importing_all_of_core_loads_no_streamlit():
    names = sorted(n for n in modules() if n != "core.__main__")
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "import core.experiments as e\n"
            "[e.get(n) for n in e.names()]\n"
            "core = [m for m in sys.modules if m == 'core' or m.startswith('core.')]\n"
            "print(len(core), sorted(m for m in sys.modules if m.startswith('streamlit')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    count, streamlit = out.stdout.split(" ", 1)
    assert int(count) >= len(names)  # every module of core was imported...
    assert streamlit.strip() == "[]"  # ...and none of them brought Streamlit in


def foreign_private_accesses(path: Path, label: str | None = None) -> list[str]:
    """`obj._name` (read or write) where obj is neither self nor cls, outside a class that
    itself defines `_name`: another module's (or class's) private state."""
    tree = ast.parse(path.read_text())
    imported = {a.asname or a.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for a in node.names}
    out: list[str] = []

    def own_names(cls: ast.ClassDef) -> set[str]:
        names = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef,
                                                            ast.AsyncFunctionDef))}
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "self" and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
        return names

    def check(node: ast.AST, allowed: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                check(child, own_names(child))
                continue
            if isinstance(child, ast.Attribute) and child.attr.startswith("_") and \
                    not child.attr.startswith("__"):
                base = child.value
                name = base.id if isinstance(base, ast.Name) else None
                stdlib = name in imported and name not in ("core",)
                if name not in ("self", "cls") and not stdlib and child.attr not in allowed:
                    out.append(f"{label or path.relative_to(ROOT)}:{child.lineno} "
                               f"{ast.unparse(child)}")
            check(child, allowed)

    check(tree, set())
    return out


def test_the_guard_finds_what_the_old_engine_did(tmp_path):
    """The old code: a worker wrote a Run's lock and end, the CLI its cancel event."""
    sample = tmp_path / "sample.py"
    sample.write_text("import threading\n"
                      "def execute(run):\n"
                      "    with run._lock:\n"
                      "        run.status = 'running'\n"
                      "    run._cancel = threading.Event()\n"
                      "    threading._register_atexit(print)\n"
                      "class Run:\n"
                      "    def __init__(self):\n"
                      "        self._lock = None\n"
                      "    @classmethod\n"
                      "    def make(cls):\n"
                      "        run = cls()\n"
                      "        run._lock = 1\n"
                      "        return run\n")
    assert foreign_private_accesses(sample, "sample") == ["sample:3 run._lock",
                                                          "sample:5 run._cancel"]


@pytest.mark.parametrize("folder", ["core", "ui"])
def test_no_module_reaches_into_another_modules_private_state(folder):
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        found += foreign_private_accesses(path)
    assert found == []
