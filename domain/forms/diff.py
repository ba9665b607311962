"""Differences between two submissions of a form.

Each save stores an RFC 6902 JSON Patch (library ``jsonpatch``), which replays exactly, and
the diff view is computed from old and new values with sub-table rows matched by their
``id`` — never by position — so a reordered table shows no change and a deleted row shows as
removed, whatever its index was.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

ROW_ID = "id"


def make_patch(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return jsonpatch.make_patch(old, new).patch


def patch_with_old_values(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What an edit records: the RFC 6902 patch and the values it replaced or removed, by pointer."""
    patch = make_patch(old, new)
    replaced = {op["path"]: copy.deepcopy(jsonpointer.resolve_pointer(old, op["path"]))
                for op in patch if op["op"] in ("replace", "remove")}
    return patch, replaced


def apply_patch(old: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    patched: dict[str, Any] = jsonpatch.apply_patch(old, patch, in_place=False)  # jsonpatch is untyped
    return patched


@dataclass(frozen=True)
class Change:
    kind: str            # added | changed | removed
    path: str            # dotted, rows by id: items[id=r2].qty
    old: Any = None
    new: Any = None


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(r, dict) and ROW_ID in r for r in value)


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    changes: list[Change] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else key
            if key not in new:
                changes.append(Change("removed", sub, old=old[key]))
            elif key not in old:
                changes.append(Change("added", sub, new=new[key]))
            else:
                changes += diff(old[key], new[key], sub)
        return changes
    if (_is_rows(old) or old == []) and (_is_rows(new) or new == []) and (old or new):
        before = {str(r[ROW_ID]): r for r in old}
        after = {str(r[ROW_ID]): r for r in new}
        for row_id in list(before) + [i for i in after if i not in before]:
            sub = f"{path}[id={row_id}]"
            if row_id not in after:
                changes.append(Change("removed", sub, old=before[row_id]))
            elif row_id not in before:
                changes.append(Change("added", sub, new=after[row_id]))
            else:
                changes += diff(before[row_id], after[row_id], sub)
        return changes
    if old != new:
        changes.append(Change("changed", path, old=old, new=new))
    return changes
