"""The package's layers, checked from its source: no import circle, and what each layer loads.

Imports are read with ``ast``, type-only ones (under ``if TYPE_CHECKING:``) included, so a
circle hidden from the interpreter is still a circle here.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "realtime"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package, and the package modules it imports."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                found = [t for t in targets if t in modules]
                if found:
                    graph[name].update(found)
                elif node.module in modules:
                    graph[name].add(node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in modules)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or of one importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_anywhere_in_the_package() -> None:
    assert cycles(import_graph()) == []


def test_transports_import_neither_the_app_nor_a_backend_implementation() -> None:
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith("realtime.transports."):
            forbidden = {
                target
                for target in imported
                if target == "realtime.app"
                or target.startswith(("realtime.backends.memory", "realtime.backends.redis"))
                or target == "realtime.server.supervisor"
            }
            assert forbidden == set(), name


def test_the_core_and_the_client_import_nothing_of_the_server() -> None:
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith(("realtime.protocol", "realtime.client")):
            server_side = {
                target
                for target in imported
                if target.startswith(
                    ("realtime.server", "realtime.transports", "realtime.backends")
                )
                or target == "realtime.app"
            }
            assert server_side == set(), name


@pytest.mark.parametrize("module", ["realtime.client", "realtime.protocol.frames", "realtime"])
def test_importing_the_client_or_the_core_loads_no_starlette_transport_or_backend(
    module: str,
) -> None:
    probe = (
        f"import sys, {module}\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('realtime', 'starlette')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert [m for m in loaded if m.startswith("starlette")] == []
    assert [m for m in loaded if m.startswith(("realtime.transports", "realtime.backends"))] == []
    assert "realtime.server.engine" not in loaded and "realtime.app" not in loaded


def test_the_lazy_top_level_names_are_the_modules_own() -> None:
    import realtime

    homes = {
        "RealtimeApp": "realtime.app",
        "Session": "realtime.server.session",
        "Hub": "realtime.server.hub",
        "Settings": "realtime.server.settings",
        "CloseCode": "realtime.protocol.codes",
        "MemoryBackend": "realtime.backends.memory",
        "SessionClosed": "realtime.exceptions",
    }
    for name, module in homes.items():
        assert getattr(realtime, name) is getattr(importlib.import_module(module), name)
    assert all(hasattr(realtime, name) for name in realtime.__all__)
    with pytest.raises(AttributeError):
        realtime.NoSuchName  # noqa: B018
