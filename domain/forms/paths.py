"""Field paths of a form schema (JSON Schema 2020-12 objects; sub-tables are arrays of objects):
what a field rule on form data may name."""
from __future__ import annotations

from typing import Any


def schema_has_path(schema: dict[str, Any], path: str) -> bool:
    """Whether ``path`` (dotted; a sub-table column is ``table.column``) names a field, a section
    or a sub-table column of ``schema``."""
    node: Any = schema
    for part in path.split("."):
        while isinstance(node, dict) and node.get("type") == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
        properties = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(properties, dict) or part not in properties:
            return False
        node = properties[part]
    return True


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
