"""Reading a screening list file (CSV or JSON) into validated entries, at the boundary: a file
with a bad row is refused whole, with every bad row named (up to 50), never half-loaded.

CSV: UTF-8 (a BOM is allowed), a header row with ``entry_id`` and ``name`` and any of
``aliases`` (separated by ``|``), ``id_type``, ``id_number``, ``birth_date`` (YYYY-MM-DD),
``remarks``; an unknown column is refused (a misspelt ``id_numbr`` would drop every ID).
JSON: a list of objects with the same keys (``aliases`` a list), or ``{"entries": [...]}``."""
from __future__ import annotations

import csv
import io
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from domain.compliance.lists import MAX_ENTRIES, ListEntry
from domain.shared.errors import InvalidInputError

Format = Literal["csv", "json"]
COLUMNS = ("entry_id", "name", "aliases", "id_type", "id_number", "birth_date", "remarks")
MAX_ERRORS = 50
CODE = "invalid_list_file"


def _refuse(message: str, errors: list[dict[str, Any]] | None = None) -> InvalidInputError:
    return InvalidInputError(message, errors or [{"path": "file", "message": message}], code=CODE)


def list_format(filename: str, declared: str | None = None) -> Format:
    """The format a media type declares, else the file name's extension."""
    media = (declared or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media == "application/json":
        return "json"
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in ("csv", "json"):
        return suffix  # type: ignore[return-value]
    raise _refuse("a list file is CSV (text/csv, .csv) or JSON (application/json, .json)")


def _csv_rows(content: bytes) -> list[dict[str, Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse("the file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [c.strip() for c in reader.fieldnames or []]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or not {"entry_id", "name"} <= set(header):
        raise _refuse(f"the header must have entry_id and name, and only columns of {', '.join(COLUMNS)}"
                      + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    for row in reader:
        if None in row:
            raise _refuse(f"row {len(rows) + 1} has more cells than the header")
        cells = {k: v for k, v in row.items() if v is not None and v.strip() != ""}
        if "aliases" in cells:
            cells["aliases"] = [a for a in cells["aliases"].split("|")]
        rows.append(cells)
    return rows


def _json_rows(content: bytes) -> list[Any]:
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise _refuse("the file is not JSON") from None
    if isinstance(data, dict) and set(data) == {"entries"}:
        data = data["entries"]
    if not isinstance(data, list):
        raise _refuse('a JSON list file is a list of entries, or {"entries": [...]}')
    return data


def read_list_file(content: bytes, fmt: Format) -> list[ListEntry]:
    rows = _csv_rows(content) if fmt == "csv" else _json_rows(content)
    if not rows:
        raise _refuse("the file has no entries: an empty list would empty the screening list")
    if len(rows) > MAX_ENTRIES:
        raise _refuse(f"the file has {len(rows)} entries; a list takes at most {MAX_ENTRIES}")
    entries: list[ListEntry] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        try:
            entry = ListEntry.model_validate(row)
        except ValidationError as exc:
            for problem in exc.errors(include_url=False, include_input=False):
                where = ".".join(str(p) for p in problem["loc"])
                errors.append({"path": f"entries[{index}]" + (f".{where}" if where else ""),
                               "message": problem["msg"]})
        else:
            if entry.entry_id in seen:
                errors.append({"path": f"entries[{index}].entry_id",
                               "message": f"entry_id {entry.entry_id!r} appears twice"})
            seen.add(entry.entry_id)
            entries.append(entry)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise _refuse(f"the list file has invalid entries (first: {errors[0]['path']}: {errors[0]['message']})",
                      errors[:MAX_ERRORS])
    return entries
