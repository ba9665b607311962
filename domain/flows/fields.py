"""Field permissions of flow nodes (节点字段权限) and what a viewer may see of form data.

Permissions name top-level sections (``rates``) or dotted paths (``settlement.bank_account``);
the most specific entry wins. **Deny by default**: a field no entry covers is read-only, and a
node without field permissions lets nothing be edited.

An edit is merged server-side: hidden fields are always taken from the stored data (never
compared, so a refusal can never confirm a guess), read-only fields must come back unchanged,
editable fields take the sent value. Pure: no I/O, no policy object."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from domain.shared.errors import PermissionDeniedError

_ABSENT = object()


def access_of(permissions: Mapping[str, str], path: str) -> str:
    """The access at ``path``: the most specific permission covering it, else read-only."""
    best: tuple[str, str] | None = None
    for key, access in permissions.items():
        if (path == key or path.startswith(key + ".")) and (best is None or len(key) > len(best[0])):
            best = (key, access)
    return best[1] if best else "readonly"


def _deeper(permissions: Mapping[str, str], path: str) -> bool:
    return any(key.startswith(path + ".") for key in permissions)


def merge_edit(stored: dict[str, Any], sent: dict[str, Any], permissions: Mapping[str, str], where: str
               ) -> dict[str, Any]:
    """The data after an edit within ``permissions``; 403 naming the first read-only field changed."""
    return _merge(stored, sent, permissions, "", where)


def _merge(stored: dict[str, Any], sent: dict[str, Any], permissions: Mapping[str, str], prefix: str,
           where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in list(stored) + [k for k in sent if k not in stored]:
        path = f"{prefix}{key}"
        old, new = stored.get(key, _ABSENT), sent.get(key, _ABSENT)
        if _deeper(permissions, path) and isinstance(old if old is not _ABSENT else {}, dict) \
                and isinstance(new if new is not _ABSENT else {}, dict):
            inner = _merge(old if old is not _ABSENT else {}, new if new is not _ABSENT else {}, permissions,
                           path + ".", where)
            if inner or old is not _ABSENT:
                out[key] = inner
            continue
        access = access_of(permissions, path)
        if access == "hidden":
            if old is not _ABSENT:
                out[key] = copy.deepcopy(old)  # never compared: the client may not know it
            continue
        if access != "editable" and new != old:
            raise PermissionDeniedError(f"at {where} you may not change {path!r}", field=path)
        if new is not _ABSENT:
            out[key] = new
    return out


def restore_unseen(sent: Any, view: Any, stored: Any) -> Any:
    """What the client sent, with what it could not see put back from the stored data: values it
    echoes in their masked form (as shown to it) and fields hidden from it that it left out."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        view = view if isinstance(view, dict) else {}
        out = {k: restore_unseen(v, view.get(k, _ABSENT), stored.get(k, _ABSENT)) for k, v in sent.items()}
        for k, v in stored.items():
            if k not in out and k not in view:  # hidden from this viewer: not theirs to remove
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(sent, list) and isinstance(stored, list) and isinstance(view, list) \
            and len(sent) == len(stored) == len(view):
        return [restore_unseen(s, v, o) for s, v, o in zip(sent, view, stored, strict=True)]
    if stored is not _ABSENT and view is not _ABSENT and sent == view and view != stored:
        return copy.deepcopy(stored)  # the masked form echoed back: unchanged
    return sent


def drop_paths(record: Any, paths: Iterable[str]) -> Any:
    """``record`` without the given dotted paths (node-hidden fields)."""
    out = copy.deepcopy(record)
    for path in paths:
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out


def hidden_paths(permissions: Mapping[str, str]) -> set[str]:
    return {path for path, access in permissions.items() if access == "hidden"}


def _covers(hidden: Iterable[str], path: str) -> bool:
    return any(path == h or path.startswith(h + ".") for h in hidden)


def pointer_to_dotted(pointer: str) -> list[str]:
    """RFC 6901 pointer -> path segments (``/settlement/bank_account`` -> settlement, bank_account)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def present_change(segments: list[str], value: Any, present: Callable[[dict[str, Any]], dict[str, Any]],
                   hidden: set[str]) -> Any:
    """One changed value as the viewer may see it: ``_ABSENT`` when a hidden field covers it, else
    the value with field rules applied (matched by name at any depth, as in the form data)."""
    dotted = ".".join(segments)
    if _covers(hidden, dotted):
        return _ABSENT
    nested: Any = value
    for part in reversed(segments):
        nested = {part: nested}
    shown = present(drop_paths(nested, hidden))
    for part in segments:
        if not isinstance(shown, dict) or part not in shown:
            return _ABSENT
        shown = shown[part]
    return shown


def present_form_edit(detail: dict[str, Any], present: Callable[[dict[str, Any]], dict[str, Any]],
                      hidden: set[str]) -> dict[str, Any]:
    """A ``form_edited`` timeline entry as the viewer may see it: patch values and old values of
    hidden fields are dropped, masked ones masked (paths are JSON pointers; rules match names)."""
    patch = []
    for op in detail.get("patch") or []:
        segments = pointer_to_dotted(op.get("path", ""))
        if _covers(hidden, ".".join(segments)):
            continue
        shown = dict(op)
        if "value" in op:
            value = present_change(segments, op["value"], present, hidden)
            if value is _ABSENT:
                shown.pop("value")
                shown["value_hidden"] = True
            else:
                shown["value"] = value
        patch.append(shown)
    old_values = {}
    for pointer, value in (detail.get("old_values") or {}).items():
        segments = pointer_to_dotted(pointer)
        shown_value = present_change(segments, value, present, hidden)
        if shown_value is not _ABSENT:
            old_values[pointer] = shown_value
    return {**detail, "patch": patch, "old_values": old_values}
