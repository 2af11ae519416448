"""The reference server's layers import only what docs/architecture.md allows.

Every import in a module (also the lazy ones inside functions) is resolved to an
absolute module name and checked against the rules: the store imports nothing
above it; the engine never the HTTP layer; the HTTP layer only the store's
interface; the server never ``jobctl``, and ``jobctl`` never the server.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT / "src" if path.is_relative_to(ROOT / "src") else ROOT)
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` of every import in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield node.lineno, target
            if not node.module:  # from . import name: the names are modules
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"


def _violations(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, target in _imports(path):
            hit = any(target == f or target.startswith(f + ".") for f in forbidden)
            if hit and not any(target == a or target.startswith(a + ".") for a in allowed):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def test_module_names_resolve_relative_imports() -> None:
    path = ROOT / "mock_server" / "http" / "routes_jobs.py"
    assert _module_name(path) == "mock_server.http.routes_jobs"
    assert "mock_server.store.base" in {target for _, target in _imports(path)}


@pytest.mark.parametrize(
    ("folder", "forbidden", "allowed"),
    [
        # the store: nothing above it
        ("mock_server/store", ("mock_server.engine", "mock_server.http", "mock_server.app"), ()),
        # the engine: never the HTTP layer; of the store, the interface (and the factory)
        (
            "mock_server/engine",
            ("mock_server.http", "mock_server.app", "mock_server.store", "fastapi", "starlette"),
            ("mock_server.store.base", "mock_server.store.factory"),
        ),
        # the HTTP layer: the store's interface only, never an implementation or its client
        (
            "mock_server/http",
            ("mock_server.store", "mock_server.app", "sqlite3", "redis"),
            ("mock_server.store.base",),
        ),
        ("mock_server", ("jobctl",), ()),
        ("src/jobctl", ("mock_server",), ()),
    ],
)
def test_layer_imports(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    assert _violations(folder, forbidden, allowed) == []


def test_only_the_wiring_names_the_store_factory() -> None:
    users = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "mock_server").rglob("*.py")
        for _, target in _imports(path)
        if target == "mock_server.store.factory"
    }
    wiring = {"mock_server/app.py", "mock_server/__main__.py", "mock_server/engine/runtime.py"}
    assert users == wiring
