"""The text boundary of the HTTP API: one canonical decoding of every request body, then one
check of what may be stored (domain/shared/text.py), before any route sees the request.

A check that looks for one encoding of a bad byte is no check: a JSON body is decoded as
UTF-8 (the only charset RFC 8259 allows between systems) or refused with 415, its nesting is
bounded before it is parsed, and then every key and value is checked once, for every
context. The event store repeats the value check on every event it stores (the last line
for bodies this layer does not parse, such as multipart forms)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message as MimeHeader

from domain.shared.text import MAX_DEPTH, value_problem

# Media types a request body may have. JSON everywhere; multipart for archive uploads and
# mounts; raw files for lead imports (CSV/XLSX) and zip batches.
FILE_TYPES = frozenset({
    "multipart/form-data", "text/csv", "application/octet-stream", "application/zip",
    "application/x-zip-compressed", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str
    field: str | None = None


def media_type(content_type: str) -> tuple[str, str | None]:
    """(lower-case media type, charset or None); an absent header is JSON (FastAPI's reading)."""
    if not content_type.strip():
        return "application/json", None
    header = MimeHeader()
    header["content-type"] = content_type
    charset = header.get_param("charset")
    return header.get_content_type().lower(), (str(charset).lower() if charset else None)


def is_json(kind: str) -> bool:
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def check_media_type(content_type: str) -> Refusal | None:
    kind, charset = media_type(content_type)
    if is_json(kind) or kind in FILE_TYPES:
        if charset is not None and charset not in ("utf-8", "utf8") and kind != "multipart/form-data":
            return Refusal(415, "unsupported_media_type",
                           f"request bodies must be UTF-8; charset {charset!r} is not accepted")
        return None
    return Refusal(415, "unsupported_media_type",
                   f"content type {kind!r} is not accepted; send application/json (UTF-8)")


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest nesting of arrays/objects, counted without parsing (strings removed first);
    stops counting once past ``limit``."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def check_json_body(body: bytes) -> Refusal | None:
    """Why a JSON request body must be refused, or None (syntax errors are left to the
    framework, which names the position)."""
    if not body:
        return None
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return Refusal(415, "unsupported_media_type", "JSON bodies must be UTF-8 without a byte-order mark")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(415, "unsupported_media_type", "JSON bodies must be encoded as UTF-8")
    if nesting_depth(text) > MAX_DEPTH:
        return Refusal(422, "nesting_too_deep", f"JSON nested deeper than {MAX_DEPTH} levels is not accepted")
    try:
        # The parser FastAPI uses, on the text decoded above. A body this parse refuses is refused
        # here: the framework's own parse of the bytes would guess UTF-16/32 and read a different
        # document than the one checked.
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Refusal(422, "invalid_json", f"the body is not valid JSON: {str(exc)[:200]}", field="body")
    found = value_problem(value)
    if found is None:
        return None
    path, why = found
    code = ("nul_character" if "NUL" in why else "invalid_text" if "character" in why
            else "nesting_too_deep" if "nested" in why else "number_out_of_range")
    where = path or "body"
    return Refusal(422, code, f"{where} {why}", field=where)
