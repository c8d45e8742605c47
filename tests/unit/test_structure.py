"""The house rules of tagservice's layout (issue 14), checked on every run.

A newcomer finds each concern in its package; these tests keep it that way:
no import cycles (counting imports inside functions), no module past 450 lines,
at most 12 modules flat in tagservice/, one module for raw SQL, one reader of
the environment and one clock.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGE = ROOT / "tagservice"
MAX_LINES = 450
MAX_FLAT = 12


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every tagservice module `name` imports, at the top or inside a function."""
    path, is_package = MODULES[name]
    edges = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    edges.add(f"{base}.{alias.name}")
                elif base in MODULES:
                    edges.add(base)
        elif isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name in MODULES)
    return edges - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


def test_no_module_imports_itself_back_through_others():
    graph = {name: _imports(name) for name in MODULES}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    # Given two modules that import each other, one of them inside a function
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(graph) == [["a", "b"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_450_lines(name):
    path, _ = MODULES[name]
    assert len(path.read_text("utf-8").splitlines()) <= MAX_LINES, f"split {name} by concern"


def test_at_most_twelve_modules_sit_flat_in_the_package():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= MAX_FLAT, flat


def test_the_mission_paths_are_where_the_readme_says():
    for path in ("crypto.py", "views.py", "unlock.py", "store/statements.py", "audit/chain.py"):
        assert (PACKAGE / path).is_file(), path


def _sources():
    return [(name, path.read_text("utf-8")) for name, (path, _) in MODULES.items()]


def test_every_raw_sql_statement_is_in_store_statements():
    raw = re.compile(r"DriverStatement\(|\btext\(\s*[\"'](SELECT|INSERT|UPDATE|DELETE)", re.I)
    holders = {name for name, text in _sources() if raw.search(text)}
    assert holders == {"tagservice.store.statements"}


def test_only_the_settings_read_the_environment():
    readers = {name for name, text in _sources() if re.search(r"os\.environ|os\.getenv", text)}
    assert readers == {"tagservice.config"}


def test_only_the_clock_asks_the_system_for_the_time():
    asking = {name for name, text in _sources() if re.search(r"datetime\.now\(|time\.time\(", text)}
    # errors.py reads the rate limiter's own clock, to say when its window resets
    assert asking == {"tagservice.clock", "tagservice.web.errors"}
