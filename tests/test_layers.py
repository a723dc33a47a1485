"""The house rules, read from the code itself: imports run pages → dashboard → services, with no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("pages", "dashboard", "services")


def _module(path: Path) -> str:
    if not path.is_relative_to(ROOT):
        return path.stem
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (late imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def _files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _files("services"), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_never_import_streamlit_or_the_dashboard(path: Path) -> None:
    bad = {name for name in _imports(path) if name.split(".")[0] in ("streamlit", "dashboard", "pages")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: services know nothing of screens"


@pytest.mark.parametrize("path", _files("pages"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_import_only_the_dashboard_and_services_never_a_data_source(path: Path) -> None:
    bad = {name for name in _imports(path)
           if name.split(".")[0] in ("pyairtable", "sqlite3", "requests")
           or name.startswith("services.store")}
    assert not bad, f"{path.relative_to(ROOT)} reaches a data source directly: {sorted(bad)}"


@pytest.mark.parametrize("path", _files("dashboard"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_dashboard_never_imports_a_page(path: Path) -> None:
    bad = {name for name in _imports(path) if name.split(".")[0] == "pages"}
    assert not bad, f"{path.relative_to(ROOT)} imports a page: {sorted(bad)}"


def test_no_module_of_ours_imports_itself_back_through_others() -> None:
    modules = {_module(path): path for layer in LAYERS for path in _files(layer)}
    graph = {
        name: {target for target in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" → ".join(cycle) for cycle in cycles)


def test_the_layer_check_sees_a_violation_when_there_is_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import streamlit as st\n    from dashboard import state\n")
    assert {"streamlit", "dashboard.state"} <= _imports(bad)
