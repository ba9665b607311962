"""Which people a screening looks at: the names (and ID numbers) in configured form fields.

Field paths are dotted keys; ``[]`` after a key means "each item of this list":
``tenant_name``, ``legal_rep.name``, ``contacts[].name``. An ID field is paired with the name
field at the same position of ``id_fields`` and read from the same list item
(``contacts[].name`` with ``contacts[].id_number``); an ID path with fewer ``[]`` is shared by the
items (``tenant_name`` with ``id_number``). Empty or missing values are skipped."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from domain.compliance.matching import Subject
from domain.shared.errors import InvalidInputError

_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\[\])?$")
MAX_FIELDS = 20
MAX_SUBJECTS = 200


def check_path(path: str, where: str) -> list[tuple[str, bool]]:
    """A path's segments as (key, is_list); a malformed path is an invalid configuration."""
    segments = path.split(".") if isinstance(path, str) and path else [""]
    if len(segments) > 8 or not all(_SEGMENT.match(s) for s in segments):
        message = f"{where}: {path!r} is not a field path (dotted keys, [] after a list: contacts[].name)"
        raise InvalidInputError(message, [{"path": where, "message": message}])
    return [(s.removesuffix("[]"), s.endswith("[]")) for s in segments]


def _walk(value: Any, segments: list[tuple[str, bool]], ref: str, at: tuple[int, ...]
          ) -> Iterator[tuple[str, tuple[int, ...], Any]]:
    if not segments:
        yield ref, at, value
        return
    (key, is_list), rest = segments[0], segments[1:]
    if not isinstance(value, dict) or key not in value:
        return
    here = f"{ref}.{key}" if ref else key
    item = value[key]
    if not is_list:
        yield from _walk(item, rest, here, at)
    elif isinstance(item, list):
        for index, element in enumerate(item):
            yield from _walk(element, rest, f"{here}[{index}]", (*at, index))


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)      # an ID number a form kept as a number
    return value.strip() if isinstance(value, str) else ""


def subjects_of(form: dict[str, Any], fields: list[str], id_fields: list[str | None] | None = None
                ) -> list[Subject]:
    """The subjects the form names in ``fields`` (paths checked first), with their ID numbers."""
    if not fields or len(fields) > MAX_FIELDS:
        message = f"fields: 1 to {MAX_FIELDS} field paths"
        raise InvalidInputError(message, [{"path": "fields", "message": message}])
    ids = list(id_fields or [])
    if len(ids) > len(fields):
        message = "id_fields: at most one per name field, in the same order (null where a name has none)"
        raise InvalidInputError(message, [{"path": "id_fields", "message": message}])
    ids += [None] * (len(fields) - len(ids))
    found: list[Subject] = []
    for position, (name_path, id_path) in enumerate(zip(fields, ids, strict=True)):
        names = check_path(name_path, f"fields[{position}]")
        id_segments = check_path(id_path, f"id_fields[{position}]") if id_path else None
        numbers: dict[tuple[int, ...], str] = {}
        if id_segments is not None:
            numbers = {at: _text(v) for _, at, v in _walk(form, id_segments, "", ())}
        depth = sum(1 for _, is_list in id_segments or [] if is_list)
        for ref, at, value in _walk(form, names, "", ()):
            name, number = _text(value), numbers.get(at[:depth], "")
            if name or number:
                found.append(Subject(ref, name, number))
    if len(found) > MAX_SUBJECTS:  # screening only some of them would pass the rest unseen
        message = f"the form names {len(found)} people in these fields; a screening takes at most {MAX_SUBJECTS}"
        raise InvalidInputError(message, [{"path": "fields", "message": message}])
    return found
