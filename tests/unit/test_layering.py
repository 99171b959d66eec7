"""Imports go one way: no module of ``bridge`` imports, directly or through others, a module that
imports it — type-only imports (``if TYPE_CHECKING:``) and imports inside functions included, as
a reader follows them too. The app assembles the pieces; the API modules, the daemon's state and
the extension contexts never import the app, nor one another in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import bridge

PACKAGE = Path(bridge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``bridge`` that ``path`` imports (a name imported from a package counts as
    the submodule when there is one)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it() -> None:
    # A package's __init__ re-exporting its own modules is no circle of dependencies.
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    graph = {
        name: {target for target in targets if not (target in packages and name.startswith(f"{target}."))}
        for name, targets in import_graph().items()
    }
    assert cycles(graph) == []


def test_the_api_modules_and_the_daemon_state_do_not_import_the_app() -> None:
    graph = import_graph()
    api = {name for name in graph if name.startswith("bridge.api.")}
    for name in (*api, "bridge.daemon", "bridge.context", "bridge.connection"):
        assert "bridge.app" not in graph[name], name
    for name in ("bridge.daemon", "bridge.context", "bridge.connection"):
        assert not graph[name] & api, f"{name} imports {graph[name] & api}"


def test_the_finder_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
