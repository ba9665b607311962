"""Form integrity per node: which sections the start may leave out (a later node owns them),
what a node requires before it is approved, and numbers as the form's schema types them.

Pure: the form's JSON Schema and the graph come in, paths and data go out."""
from __future__ import annotations

from typing import Any

from domain.flows.fields import access_of
from domain.flows.graph import Graph
from domain.forms.paths import numbers_as_declared

__all__ = ["deferred_sections", "missing_required", "numbers_as_declared"]

EMPTY: tuple[Any, ...] = (None, "", [], {})


def deferred_sections(graph: Graph, schema: dict[str, Any]) -> set[str]:
    """Top-level sections the form requires that the start node may not edit but a later
    approval node may: the start does not demand them (their owner fills them, and the owner's
    ``required_fields`` demands them). A start without field permissions defers nothing: its
    initiator fills the whole form."""
    start = next(n for n in graph.nodes if n.type == "start")
    if not start.field_permissions:
        return set()
    return {section for section in schema.get("required") or []
            if access_of(start.field_permissions, section) != "editable"
            and any(n.type == "approval" and access_of(n.field_permissions, section) == "editable"
                    for n in graph.nodes)}


def value_at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def missing_required(data: dict[str, Any], required: list[str], errors: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """Every required path that is absent or empty, and every validation error inside one."""
    found = [{"path": p, "pointer": "/" + p.replace(".", "/"), "rule": "required_at_node",
              "message": f"{p} must be filled in before this node is approved"}
             for p in required if value_at(data, p) in EMPTY]
    absent = {f["path"] for f in found}
    found += [e for e in errors if any(e["path"] == p or e["path"].startswith(p + ".") for p in required)
              and e["path"] not in absent]
    return found
