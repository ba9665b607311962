"""Static mount (静态资料挂载): bulk import of historical loose documents from a folder or a zip,
described by a manifest (manifest.csv: filename, customer, fund_account, business_line, category,
business_type, title). The zip is checked as a whole before a single member is read: member
count, per-member and total uncompressed size, compression ratio, and member names (absolute or
``..`` paths are refused). Each file is then imported through the normal upload intake, and the
report says per file what happened."""
from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from application.archive.documents import Uploaded
from application.archive.filing import Filing
from domain.archive.content import MAX_MANIFEST_BYTES, CloudBatchError, read_chunks, read_member
from domain.shared.context import CommandContext
from domain.shared.errors import DomainError, RuleViolationError

# What a member, a folder entry or a row may raise while it is read; each fails that row only.
ROW_ERRORS = (DomainError, KeyError, OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError,
              ValueError, UnicodeError)

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


def _manifest(text: str, max_rows: int = MountLimits.max_files) -> list[dict[str, str]]:
    try:
        rows = []
        for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
            rows.append(row)
            if len(rows) > max_rows:
                raise RuleViolationError(f"the manifest lists more than {max_rows} files", field=MANIFEST)
    except csv.Error as exc:
        raise RuleViolationError(f"the manifest is not valid CSV: {exc}", field=MANIFEST) from None
    if not rows:
        raise RuleViolationError("the manifest lists no files", field=MANIFEST)
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise RuleViolationError(f"the manifest lacks the column(s) {', '.join(missing)}", field=MANIFEST)
    return rows


def zip_manifest(zf: zipfile.ZipFile, limits: MountLimits) -> list[dict[str, str]]:
    """The manifest of a mount zip: the whole zip is judged first (bombs, ``..``), then the
    manifest is read bounded (10 MB) and parsed; every failure is a 422, never a 500."""
    check_zip(zf, limits)
    try:
        raw = read_member(zf, MANIFEST, MAX_MANIFEST_BYTES, limits.max_ratio)
    except KeyError:
        raise RuleViolationError(f"the zip has no {MANIFEST}", field=MANIFEST) from None
    except CloudBatchError as exc:
        raise UnsafeArchiveError(str(exc), field=MANIFEST) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RuleViolationError(f"{MANIFEST} is not UTF-8", field=MANIFEST) from None
    return _manifest(text, limits.max_files)


def _open_regular(root: Path, name: str) -> Any:
    """A folder entry opened for reading only if it is a regular file inside the folder: no
    symlink followed at the last component (O_NOFOLLOW), no FIFO or device (O_NONBLOCK, then
    fstat on the opened descriptor, so what is checked is what is read)."""
    if not _safe_member(name) or not (root / name).resolve().is_relative_to(root):
        raise UnsafeArchiveError(f"{name!r} points outside the folder")
    fd = os.open(root / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeArchiveError(f"{name!r} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class Mounts:
    # Given at composition:
    mount_limits: MountLimits
    # From the host (Documents):
    upload: Callable[..., Uploaded]

    def mount_manifest(self, zf: zipfile.ZipFile) -> list[dict[str, str]]:
        """The manifest of a mount zip under this archive's limits (see ``zip_manifest``)."""
        return zip_manifest(zf, self.mount_limits)

    def mount(self, ctx: CommandContext, source: Path, progress: Callable[[int, int], None] | None = None, *,
              department_id: Any = None, allowed: Callable[[Filing], bool] | None = None) -> MountReport:
        """``allowed`` (the caller's scope) is asked for every row; rows outside it fail. Documents
        are filed under ``department_id`` (the caller's department)."""
        if source.is_dir():
            manifest_path = source / MANIFEST
            if not manifest_path.is_file():
                raise RuleViolationError(f"{source} has no {MANIFEST}", field=MANIFEST)
            if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
                raise RuleViolationError(f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes", field=MANIFEST)
            rows = _manifest(manifest_path.read_text(encoding="utf-8"), self.mount_limits.max_files)
            root = source.resolve()
            return self._import(ctx, rows, lambda name: _open_regular(root, name), progress, department_id,
                                allowed)
        try:
            zf = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError):
            raise RuleViolationError(f"{source.name} is not a zip file") from None
        with zf:
            rows = self.mount_manifest(zf)
            return self._import(ctx, rows, lambda name: zf.open(name), progress, department_id, allowed)

    def _import(self, ctx: CommandContext, rows: list[dict[str, str]], opener: Callable[[str], Any],
                progress: Callable[[int, int], None] | None, department_id: Any = None,
                allowed: Callable[[Filing], bool] | None = None) -> MountReport:
        report = MountReport(total=len(rows))
        for i, row in enumerate(rows, 1):
            name = (row.get("filename") or "").strip()
            entry: dict[str, Any] = {"filename": name}
            try:
                filing = Filing(customer=row.get("customer") or row.get("fund_account") or None,
                                fund_account=row.get("fund_account") or None,
                                business_line=row.get("business_line") or "", department_id=department_id,
                                business_type=row.get("business_type") or None,
                                category=row.get("category") or "other")
                if allowed is not None and not allowed(filing):
                    raise RuleViolationError("this business line, department or account is outside your scope")
                with opener(name) as stream:
                    got = self.upload(ctx, _bounded(stream, self.mount_limits.max_file_bytes),
                                      filename=PurePosixPath(name).name, declared_type=None, filing=filing,
                                      metadata={"title": row["title"]} if row.get("title") else {}, source="mount")
                entry.update(status="imported", document_id=str(got.result.id), sha256=got.sha256)
                report.imported += 1
            except ROW_ERRORS as exc:
                message = (exc.message if isinstance(exc, DomainError) else f"not found in the source: {exc}"
                           if isinstance(exc, (KeyError, FileNotFoundError)) else f"cannot be read: {exc}")
                entry.update(status="failed", error=message)
                report.failed += 1
            report.files.append(entry)
            if progress:
                progress(i, len(rows))
        return report
