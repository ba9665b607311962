"""Pure archive rules: filename sanitising, the media-type allow-list, retention and export-rule
matching. No I/O."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.shared.errors import RuleViolationError
from domain.shared.text import text_problem

# Sniffed media type -> extensions a declared filename may carry for it.
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/tiff": ("tif", "tiff"),
    "image/webp": ("webp",),
    "video/mp4": ("mp4", "m4v"),
    "audio/mpeg": ("mp3",),
    "audio/x-wav": ("wav",),
    "audio/wav": ("wav",),
}
# Content the platform generates itself (the fee-rate import file for the counter, issue 16): text
# has no magic number to sniff, so these are kept only when the producer names the type; an upload
# never does (documents.Documents.upload ``generated_type``).
GENERATED_TYPES: dict[str, tuple[str, ...]] = {"text/csv": ("csv",), "application/json": ("json",)}
# Declared Content-Type aliases that mean the same thing as the sniffed type.
TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/wav": "audio/x-wav",
                "audio/wave": "audio/x-wav", "audio/mp3": "audio/mpeg", "application/x-pdf": "application/pdf"}
# Generic declarations that claim nothing about the type (browsers send them for unknown files).
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
MAX_FILENAME = 200
CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Customer numbers and fund accounts: they become folder names in export packages and cells in
# manifest.csv, so they are plain identifiers, nothing else (no path, no formula, no NUL).
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_TEXT = 2000


class UnsafeFilenameError(RuleViolationError):
    code = "unsafe_filename"


class UnsupportedMediaTypeError(RuleViolationError):
    code = "unsupported_media_type"


class MediaTypeMismatchError(RuleViolationError):
    code = "media_type_mismatch"


def sanitise_filename(raw: str) -> str:
    """The name kept as metadata. A name that tries to leave its folder (``../``, absolute paths,
    drive letters) is refused outright rather than silently trimmed: it is an attack or a bug,
    and the caller should know. Control characters and reserved device names are refused too."""
    if raw is None or not raw.strip():
        raise UnsafeFilenameError("the file needs a name", field="filename")
    name = unicodedata.normalize("NFC", raw.strip())
    parts = re.split(r"[\\/]", name)
    if len(parts) > 1 or re.match(r"^[A-Za-z]:", name):
        raise UnsafeFilenameError(f"filename {raw!r} contains a path; send the bare file name", field="filename")
    if name in (".", "..") or name.startswith(".."):
        raise UnsafeFilenameError(f"filename {raw!r} is not a file name", field="filename")
    if _UNSAFE.search(name):
        raise UnsafeFilenameError("the filename contains control or reserved characters", field="filename")
    stem = name.split(".")[0].strip().lower()
    if stem in _RESERVED:
        raise UnsafeFilenameError(f"{name!r} is a reserved device name", field="filename")
    if len(name) > MAX_FILENAME:
        raise UnsafeFilenameError(f"the filename is longer than {MAX_FILENAME} characters", field="filename")
    return name.rstrip(". ")


def extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def check_media_type(sniffed: str | None, declared: str | None, filename: str, generated: str | None = None) -> str:
    """The media type to store: what the content is. Refused when the content is of a type we
    do not keep, or when the declared type or the extension says something else."""
    if generated is not None:
        if generated not in GENERATED_TYPES or extension(filename) not in GENERATED_TYPES[generated]:
            raise UnsupportedMediaTypeError(f"generated content {generated} named {filename!r} is not kept",
                                            field="file")
        return generated
    if sniffed is None or sniffed not in ALLOWED_TYPES:
        kinds = ", ".join(sorted({e for exts in ALLOWED_TYPES.values() for e in exts}))
        raise UnsupportedMediaTypeError(
            f"the content is {'of an unrecognised type' if sniffed is None else sniffed}; accepted: {kinds}",
            field="file")
    declared_type = TYPE_ALIASES.get((declared or "").split(";")[0].strip().lower(),
                                     (declared or "").split(";")[0].strip().lower())
    if declared_type not in GENERIC_TYPES and TYPE_ALIASES.get(sniffed, sniffed) != declared_type:
        raise MediaTypeMismatchError(f"declared as {declared_type} but the content is {sniffed}", field="file")
    ext = extension(filename)
    if ext not in ALLOWED_TYPES[sniffed]:
        raise MediaTypeMismatchError(
            f"the extension .{ext or '(none)'} does not match the content ({sniffed}: "
            f".{', .'.join(ALLOWED_TYPES[sniffed])})", field="filename")
    return sniffed


def check_identifier(value: str | None, field: str) -> str | None:
    """A customer number or fund account: letters, digits, ``_`` and ``-``, 1 to 32 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise RuleViolationError(f"{field} is an identifier of 1 to 32 letters, digits, _ or -", field=field)
    return value


def check_code(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CODE.fullmatch(value):
        raise RuleViolationError(f"{field} is a lower-case code (a-z, 0-9, _)", field=field)
    return value


def check_text(value: Any, field: str) -> Any:
    """Free text kept in events and read models: storable (domain/shared/text.py: no NUL, no
    lone surrogate — an event no read model can apply must never be stored), bounded length. Lists and
    objects (tags) are checked item by item."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise RuleViolationError(f"{field} {problem}", field=field)
        if len(value) > MAX_TEXT:
            raise RuleViolationError(f"{field} is longer than {MAX_TEXT} characters", field=field)
        return value
    if isinstance(value, list):
        return [check_text(v, field) for v in value]
    if isinstance(value, dict):
        return {check_text(str(k), field): check_text(v, field) for k, v in value.items()}
    raise RuleViolationError(f"{field} must be text", field=field)


def check_category(category: str) -> str:
    if not CATEGORY.fullmatch(category or ""):
        raise RuleViolationError("category is a lower-case code (a-z, 0-9, _), e.g. id_card", field="category")
    return category


@dataclass(frozen=True)
class RetentionRule:
    """Content of a deleted document may be purged once it has been deleted this long. Some
    categories are kept longer (e.g. account-opening records, which regulators expect to be kept
    for decades); ``None`` means never purge."""

    default_days: int | None = 365 * 20
    by_category: dict[str, int | None] = field(default_factory=dict)

    def purge_after(self, category: str) -> timedelta | None:
        days = self.by_category.get(category, self.default_days)
        return None if days is None else timedelta(days=days)

    def purgeable(self, category: str, deleted_at: datetime, now: datetime) -> bool:
        after = self.purge_after(category)
        return after is not None and deleted_at + after <= now


@dataclass(frozen=True)
class ExportRule:
    """What a regulator's package holds: any of customers, business types, categories, and a
    date range on the upload day (inclusive)."""

    customers: tuple[str, ...] = ()
    business_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    include_deleted: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ExportRule:
        def day(key: str) -> date | None:
            value = raw.get(key)
            if value in (None, ""):
                return None
            try:
                parsed = date.fromisoformat(str(value))
            except ValueError:
                raise RuleViolationError(f"{key} must be a date (YYYY-MM-DD)", field=key) from None
            if not 1900 <= parsed.year <= 9000:
                raise RuleViolationError(f"{key} must lie between the years 1900 and 9000", field=key)
            return parsed

        def texts(key: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
            value = raw.get(key)
            if value in (None, ""):
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
                raise RuleViolationError(f"{key} must be a list of codes matching {pattern.pattern}", field=key)
            if len(value) > 1000:
                raise RuleViolationError(f"{key} lists more than 1000 values", field=key)
            return tuple(value)

        if not isinstance(raw, dict):
            raise RuleViolationError("an export rule is an object", field="rule")
        include_deleted = raw.get("include_deleted", False)
        if not isinstance(include_deleted, bool):
            raise RuleViolationError("include_deleted must be true or false", field="include_deleted")
        rule = cls(texts("customers", IDENTIFIER), texts("business_types", CODE), texts("categories", CATEGORY),
                   day("date_from"), day("date_to"), include_deleted)
        if rule.date_from and rule.date_to and rule.date_from > rule.date_to:
            raise RuleViolationError("date_from is after date_to", field="date_from")
        return rule

    def as_dict(self) -> dict[str, Any]:
        return {"customers": list(self.customers), "business_types": list(self.business_types),
                "categories": list(self.categories),
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None,
                "include_deleted": self.include_deleted}
