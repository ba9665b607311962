"""Form integrity per node: which sections the start may leave out (a later node owns them),
what a node requires before it is approved, and numbers as the form's schema types them.

Pure: the form's JSON Schema and the graph come in, paths and data go out."""
from __future__ import annotations

from typing import Any

from domain.flows.fields import access_of
from domain.flows.graph import Graph

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


def _is_number(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "number" in kinds and "integer" not in kinds


def numbers_as_declared(schema: Any, value: Any) -> Any:
    """Integers sent where the schema says ``number`` become floats (a browser sends 2 for 2.0):
    CEL has no int/double overloads, so ``row.rate / 0.5`` would fail on 2 and work on 2.0."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and _is_number(schema):
        return float(value)
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        return {k: numbers_as_declared(props.get(k), v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [numbers_as_declared(schema["items"], v) for v in value]
    return value
