"""The package's shape: every import between the project's modules names a file at the path its
name says, and no module imports one that imports it back (imports inside functions count too).

Reads the source with ``ast``; imports nothing of the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = {"ray101": REPO / "cli" / "ray101", "ray101_jobs": REPO / "jobs" / "ray101_jobs"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder in ROOTS.values():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """The project modules ``name`` imports (anywhere in the file), with line numbers."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # ``from pkg import mod`` imports a module; ``from mod import name`` a name in it.
                out.append((sub if sub in MODULES else base, node.lineno))
    return [(m, line) for m, line in out if m.split(".")[0] in ROOTS]


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _users() -> dict[str, Path]:
    """The benchmarks and the tests: they import the packages, and must name real modules too."""
    files = sorted((REPO / "bench").rglob("*.py")) + sorted((REPO / "tests").rglob("*.py"))
    return {".".join(p.relative_to(REPO).with_suffix("").parts): p for p in files}


def test_every_project_import_names_a_module_file():
    users = _users()
    edges = {**GRAPH, **{name: _imports(name, path) for name, path in users.items()}}
    files = {**MODULES, **users}
    missing = [f"{files[name].relative_to(REPO)}:{line} imports {target}"
               for name, found in edges.items() for target, line in found
               if target not in MODULES]
    assert not missing, "imports of modules that have no file at the path their name says:\n" + \
        "\n".join(missing)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: {t for t, _ in edges if t in MODULES and t != name}
             for name, edges in GRAPH.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(n for n, p in MODULES.items() if "cli" in p.parts))
def test_cli_modules_stay_readable_in_one_sitting(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= 400, f"{MODULES[name].relative_to(REPO)} has {lines} lines (at most 400)"
