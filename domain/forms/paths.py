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
