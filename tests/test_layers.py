"""The import rules of docs/architecture.md, checked on the source (every import counts:
module level, inside functions, and under ``TYPE_CHECKING``): the SDK's pure core
does no I/O, the CLI talks to the SDK's public names, the server's HTTP layer sees
only its store's interface, neither side imports the other, and no module imports
itself back through others."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p, SRC): p for p in (SRC / "jobctl").rglob("*.py")}
    found.update({_module_name(p, ROOT): p for p in (ROOT / "mock_server").rglob("*.py")})
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """The modules ``name`` imports (a ``from pkg import sub`` names the submodule)."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno


GRAPH = {name: sorted({m for m, _ in _imports(name, path)}) for name, path in MODULES.items()}


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(
    prefix: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    bad = []
    for name, path in MODULES.items():
        if not _under(name, (prefix,)):
            continue
        for target, line in _imports(name, path):
            if _under(target, forbidden) and not _under(target, allowed):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return bad


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (
            "jobctl._core",
            (
                "jobctl._io",
                "jobctl.cli",
                "jobctl.config",
                "jobctl.testing",
                "mock_server",
                "asyncio",
                "socket",
                "subprocess",
                "threading",
                "tempfile",
                "shutil",
            ),
        ),
        ("jobctl._io", ("jobctl.cli", "mock_server", "jobctl.testing")),
        ("jobctl.cli", ("jobctl._io", "mock_server")),
        ("jobctl.errors", ("jobctl",)),
        ("jobctl.models", ("jobctl._core", "jobctl._io", "jobctl.cli")),
        ("jobctl.config", ("jobctl._core", "jobctl._io", "jobctl.cli")),
        ("jobctl.testing", ("jobctl._core", "jobctl._io", "jobctl.cli", "mock_server")),
        ("mock_server", ("jobctl",)),
    ],
)
def test_layer_imports(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(layer, forbidden) == []


@pytest.mark.parametrize(
    ("layer", "forbidden", "allowed"),
    [
        # the store: nothing above it
        ("mock_server.store", ("mock_server.engine", "mock_server.http", "mock_server.app"), ()),
        # the engine: never the HTTP layer; of the store, the interface (and the factory)
        (
            "mock_server.engine",
            ("mock_server.http", "mock_server.app", "mock_server.store", "fastapi", "starlette"),
            ("mock_server.store.base", "mock_server.store.factory"),
        ),
        # the HTTP layer: the store's interface only, never an implementation or its client
        (
            "mock_server.http",
            ("mock_server.store", "mock_server.app", "sqlite3", "redis"),
            ("mock_server.store.base",),
        ),
    ],
)
def test_server_layer_imports(
    layer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    assert _violations(layer, forbidden, allowed) == []


def test_only_the_wiring_names_the_store_factory() -> None:
    users = {
        str(path.relative_to(ROOT))
        for name, path in MODULES.items()
        if name.startswith("mock_server")
        for target, _ in _imports(name, path)
        if target == "mock_server.store.factory"
    }
    wiring = {"mock_server/app.py", "mock_server/__main__.py", "mock_server/engine/runtime.py"}
    assert users == wiring


def test_the_sdk_never_imports_the_server() -> None:
    assert _violations("jobctl", ("mock_server",)) == []


def test_the_core_reads_no_clock_and_never_sleeps() -> None:
    """Time comes in through ``Runtime`` (and pauses are ``Sleep`` effects)."""
    bad = []
    for name, path in MODULES.items():
        if not name.startswith("jobctl._core"):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls time.{node.func.attr}")
    assert bad == []


def test_effects_are_made_only_by_the_typed_helpers() -> None:
    """Flows ``yield from send_once(...)`` etc.; only ``effects.py`` builds the effects."""
    effects = {"Send", "Open", "Read", "Close", "Sleep", "Emit", "Connect", "Transmit"}
    bad = []
    for name, path in MODULES.items():
        if not name.startswith("jobctl._core") or name == "jobctl._core.effects":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in effects
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} builds {node.func.id}")
    assert bad == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, []):
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    # A package and the modules it re-exports are one unit (jobctl/__init__ names the
    # clients lazily; subpackages import their own __init__ only for shared names).
    cycles = [c for c in _cycles() if not all(m == c[0] or m.startswith(c[0] + ".") for m in c[1:])]
    assert cycles == []
