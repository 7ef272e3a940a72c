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


# -- the rooms ----------------------------------------------------------------------------------
COMMANDS = "ray101.commands"
# The commands' shared modules: what they take (options), what they print (output), and the
# table of --json shapes the docs are generated from (shapes). Every other module in
# ray101.commands is a command family: it lists its commands in COMMANDS.
SHARED_COMMAND_MODULES = {f"{COMMANDS}.options", f"{COMMANDS}.output", f"{COMMANDS}.shapes"}
# The subsystems, each a folder: what a newcomer should find there.
SUBSYSTEMS = {
    "ray101.local": ("cluster", "network", "plan", "registered", "lab", "chaos"),
    "ray101.mongo": ("server", "ferretdb"),
    "ray101.head": ("client", "jobs"),
    "ray101.kube": ("client", "discovery", "readiness", "token", "portforward", "connection", "chaos"),
}
# A file name used in more than one folder must name the same verb in each (kind's providers:
# the same file names for the same verbs): the subsystem's API client, its faults on purpose.
SAME_VERB = {"client": "the subsystem's API client", "chaos": "faults on purpose, per kind of cluster"}


def _command_modules() -> list[str]:
    return sorted(n for n in MODULES if n.startswith(COMMANDS + ".")
                  and n not in SHARED_COMMAND_MODULES)


def test_every_command_module_lists_commands_and_the_shared_ones_do_not():
    for name in _command_modules():
        assert "\nCOMMANDS = [" in MODULES[name].read_text(), f"{name} lists no COMMANDS"
    for name in SHARED_COMMAND_MODULES:
        assert "\nCOMMANDS = [" not in MODULES[name].read_text(), f"{name} is shared: no commands"


def test_no_command_module_imports_another():
    offending = [f"{MODULES[name].relative_to(REPO)}:{line} imports {target}"
                 for name in _command_modules() for target, line in GRAPH[name]
                 if target.startswith(COMMANDS + ".") and target not in SHARED_COMMAND_MODULES]
    assert not offending, "command modules importing each other:\n" + "\n".join(offending)


def test_only_the_cli_entry_point_imports_the_commands():
    offending = [f"{MODULES[name].relative_to(REPO)}:{line} imports {target}"
                 for name, edges in GRAPH.items() if not name.startswith(COMMANDS)
                 and name != "ray101.main" for target, line in edges
                 if target == COMMANDS or target.startswith(COMMANDS + ".")]
    assert not offending, "the core importing the CLI's commands:\n" + "\n".join(offending)


def test_the_bench_uses_the_core_and_the_cli_knows_no_bench():
    users = _users()
    bench = {name: _imports(name, path) for name, path in users.items() if name.startswith("bench")}
    offending = [f"{users[name].relative_to(REPO)}:{line} imports {target}"
                 for name, edges in bench.items() for target, line in edges
                 if target == COMMANDS or target.startswith(COMMANDS + ".")]
    assert not offending, "bench/ importing ray101.commands (use the core):\n" + "\n".join(offending)
    for path in MODULES.values():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "bench" or n.startswith("bench.") for n in names), \
                f"{path.relative_to(REPO)}:{node.lineno} imports bench"


def test_the_subsystems_are_folders_with_the_modules_they_promise():
    for package, files in SUBSYSTEMS.items():
        assert MODULES[package].name == "__init__.py", f"{package} is not a folder"
        for file in files:
            assert f"{package}.{file}" in MODULES, f"{package}.{file} is missing"
    flat = [n for n in MODULES if n.startswith("ray101.") and n.count(".") == 1 and n.split(".")[1].startswith(
        ("local", "mongo", "jobsapi", "clusterhttp", "registry"))
        and MODULES[n].name != "__init__.py"]
    assert not flat, f"subsystem modules outside their folders: {flat}"


def test_one_meaning_per_file_name():
    files = ([p for root in ROOTS.values() for p in root.rglob("*.py")]
             + list((REPO / "bench").rglob("*.py")))
    by_name: dict[str, list[Path]] = {}
    for path in files:
        if path.stem not in ("__init__", "__main__") and path.parent.name != "commands":
            by_name.setdefault(path.stem, []).append(path)
    shared = {stem: sorted(str(p.relative_to(REPO)) for p in paths)
              for stem, paths in by_name.items() if len(paths) > 1 and stem not in SAME_VERB}
    assert not shared, f"one file name, several meanings: {shared}"
