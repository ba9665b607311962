"""Static mount (静态资料挂载): bulk import of historical loose documents from a folder or a zip,
described by a manifest (manifest.csv: filename, customer, fund_account, business_line, category,
business_type, title). The zip is checked as a whole before a single member is read: member
count, per-member and total uncompressed size, compression ratio, and member names (absolute or
``..`` paths are refused). Each file is then imported through the normal upload intake, and the
report says per file what happened."""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from application.archive.service import ArchiveApplication, Filing
from domain.shared.context import CommandContext
from domain.shared.errors import DomainError, RuleViolationError
from infrastructure.archive.blobs import read_chunks

MANIFEST = "manifest.csv"
REQUIRED_COLUMNS = ("filename", "business_line")


class UnsafeArchiveError(RuleViolationError):
    code = "unsafe_archive"


@dataclass(frozen=True)
class MountLimits:
    max_files: int = 10_000
    max_file_bytes: int = 100 * 1_048_576
    max_total_bytes: int = 2 * 1024 * 1_048_576
    max_ratio: int = 100


@dataclass
class MountReport:
    total: int = 0
    imported: int = 0
    failed: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "imported": self.imported, "failed": self.failed, "files": self.files}


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not (path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]))


def check_zip(zf: zipfile.ZipFile, limits: MountLimits) -> None:
    """Refuse a zip bomb or a path-traversal zip from its central directory alone."""
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) > limits.max_files:
        raise UnsafeArchiveError(f"the zip holds {len(members)} files; at most {limits.max_files} are accepted")
    total = 0
    for info in members:
        if not _safe_member(info.filename):
            raise UnsafeArchiveError(f"member {info.filename!r} points outside the archive (absolute or ..)")
        if info.file_size > limits.max_file_bytes:
            raise UnsafeArchiveError(f"member {info.filename!r} expands to {info.file_size} bytes; "
                                     f"the limit is {limits.max_file_bytes}")
        if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
            raise UnsafeArchiveError(f"member {info.filename!r} is compressed {info.file_size // info.compress_size}"
                                     f":1, above the {limits.max_ratio}:1 limit (a zip bomb?)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(f"the zip expands to more than {limits.max_total_bytes} bytes")


def _bounded(stream: Any, limit: int) -> Iterator[bytes]:
    """Never trust the declared size: stop reading past the limit."""
    read = 0
    for chunk in read_chunks(stream):
        read += len(chunk)
        if read > limit:
            raise UnsafeArchiveError("a member is larger than its zip entry declares")
        yield chunk


def _manifest(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise RuleViolationError("the manifest lists no files", field=MANIFEST)
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise RuleViolationError(f"the manifest lacks the column(s) {', '.join(missing)}", field=MANIFEST)
    return rows


def mount(archive: ArchiveApplication, ctx: CommandContext, source: Path, limits: MountLimits,
          progress: Callable[[int, int], None] | None = None) -> MountReport:
    if source.is_dir():
        manifest_path = source / MANIFEST
        if not manifest_path.exists():
            raise RuleViolationError(f"{source} has no {MANIFEST}", field=MANIFEST)
        rows = _manifest(manifest_path.read_text(encoding="utf-8"))
        root = source.resolve()

        def opener(name: str) -> Any:
            if not _safe_member(name) or not (root / name).resolve().is_relative_to(root):
                raise UnsafeArchiveError(f"{name!r} points outside the folder")
            return (root / name).open("rb")

        return _import(archive, ctx, rows, opener, limits, progress)
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise RuleViolationError(f"{source.name} is not a zip file") from None
    with zf:
        check_zip(zf, limits)
        try:
            rows = _manifest(zf.read(MANIFEST).decode("utf-8"))
        except KeyError:
            raise RuleViolationError(f"the zip has no {MANIFEST}", field=MANIFEST) from None
        return _import(archive, ctx, rows, lambda name: zf.open(name), limits, progress)


def _import(archive: ArchiveApplication, ctx: CommandContext, rows: list[dict[str, str]],
            opener: Callable[[str], Any], limits: MountLimits,
            progress: Callable[[int, int], None] | None) -> MountReport:
    report = MountReport(total=len(rows))
    for i, row in enumerate(rows, 1):
        name = (row.get("filename") or "").strip()
        entry: dict[str, Any] = {"filename": name}
        try:
            with opener(name) as stream:
                filing = Filing(customer=row.get("customer") or row.get("fund_account") or None,
                                fund_account=row.get("fund_account") or None,
                                business_line=row.get("business_line", ""),
                                business_type=row.get("business_type") or None,
                                category=row.get("category") or "other")
                got = archive.upload(ctx, _bounded(stream, limits.max_file_bytes),
                                     filename=PurePosixPath(name).name, declared_type=None, filing=filing,
                                     metadata={"title": row["title"]} if row.get("title") else {}, source="mount")
            entry.update(status="imported", document_id=str(got.result.id), sha256=got.sha256)
            report.imported += 1
        except (DomainError, KeyError, FileNotFoundError) as exc:
            message = exc.message if isinstance(exc, DomainError) else f"not found in the source: {exc}"
            entry.update(status="failed", error=message)
            report.failed += 1
        report.files.append(entry)
        if progress:
            progress(i, len(rows))
    return report
