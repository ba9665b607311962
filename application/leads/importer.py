"""Lead import from CSV or XLSX (手动导入): streamed row by row, taken in chunks of
``CHUNK`` rows (one intake batch = one transaction each), with a result per row and a
progress callback after every chunk. A chunk once accepted stays accepted whatever happens
to later rows; a duplicate phone inside the file is reported against the row it repeats."""
from __future__ import annotations

import codecs
import csv
import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from application.shared.spreadsheet import safe_cell
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.shared.context import CommandContext
from domain.shared.errors import RuleViolationError
from domain.shared.text import text_problem

CHUNK = 500
PHONE_HEADERS = ("phone", "mobile", "手机号", "手机号码", "电话")
NAME_HEADERS = ("name", "姓名", "客户姓名")
MAX_COLUMNS = 30
XLSX_MAGIC = b"PK\x03\x04"
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # every part of an XLSX file together, uncompressed
MAX_RATIO = 100                          # uncompressed / compressed, for parts above 1 MB
MAX_ZIP_ENTRIES = 1000


class ImportFileError(RuleViolationError):
    code = "invalid_import_file"


def _csv_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    head = stream.read(4096)
    stream.seek(0)
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the sample's end
            encoding = "gb18030"   # Excel's CSV on Chinese Windows
    text = codecs.getreader(encoding)(stream, "strict")  # errors: positional in the StreamReader protocol
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError:
        raise ImportFileError(f"the file is not valid {encoding} text") from None
    except csv.Error as exc:
        raise ImportFileError(f"the CSV is malformed: {exc}") from None


def _check_zip(stream: IO[bytes]) -> None:
    """Refuse a zip bomb before openpyxl inflates anything (it reads sharedStrings.xml whole):
    the declared sizes of the entries are bounded in total and in compression ratio."""
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError(f"the XLSX file cannot be read: {exc}") from None
    finally:
        stream.seek(0)
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ImportFileError(f"the XLSX file has more than {MAX_ZIP_ENTRIES} parts")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportFileError(f"the XLSX part {info.filename[:60]!r} expands more than {MAX_RATIO}x "
                                  "(refused as a possible zip bomb)")
    if total > MAX_UNPACKED_BYTES:
        raise ImportFileError(f"the XLSX file unpacks to {total} bytes; the limit is {MAX_UNPACKED_BYTES}")


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    _check_zip(stream)
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"the XLSX file cannot be read: {exc}") from None
    sheet = book.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield ["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
               for v in values]
    book.close()


def rows_of(stream: IO[bytes]) -> Iterator[list[str]]:
    magic = stream.read(4)
    stream.seek(0)
    return _xlsx_rows(stream) if magic == XLSX_MAGIC else _csv_rows(stream)


class Importer:
    def __init__(self, leads: Any):
        self.leads = leads

    def run(self, ctx: CommandContext, channel: str, stream: IO[bytes], *,
            progress: Callable[[dict[str, Any]], None] | None = None, import_id: str | None = None
            ) -> dict[str, Any]:
        """Import every row; returns {import_id, counts, results} (results in file row order)."""
        self.leads.channel(channel)  # 404 before reading anything
        import_id = import_id or uuid.uuid4().hex
        rows = rows_of(stream)
        header = next(rows, None)
        if header is None:
            raise ImportFileError("the file is empty")
        header = [h.strip().lower() for h in header]
        for i, h in enumerate(header):
            problem = text_problem(h)
            if problem:
                raise ImportFileError(f"header column {i + 1} {problem}")
            if len(h) > 64:
                raise ImportFileError(f"header column {i + 1} is longer than 64 characters")
        phone_col = next((i for i, h in enumerate(header) if h in PHONE_HEADERS), None)
        if phone_col is None:
            raise ImportFileError(f"no phone column: the header needs one of {', '.join(PHONE_HEADERS)}")
        if len(header) > MAX_COLUMNS:
            raise ImportFileError(f"more than {MAX_COLUMNS} columns")
        name_col = next((i for i, h in enumerate(header) if h in NAME_HEADERS), None)
        results: list[dict[str, Any]] = []
        counts = {"valid": 0, "filtered": 0, "rejected": 0}
        seen: dict[str, int] = {}
        chunk: list[tuple[int, dict[str, Any]]] = []

        def flush() -> None:
            if not chunk:
                return
            out = self.leads.intake(ctx, channel, [r for _, r in chunk], "import")
            for (line, _), r in zip(chunk, sorted(out["results"], key=lambda r: r["row"]), strict=True):
                results.append({**r, "row": line})
                counts[r["status"]] += 1
            chunk.clear()
            if progress:
                progress({"import_id": import_id, "rows": len(results), "counts": dict(counts), "status": "running"})

        failure: str | None = None
        line = 1
        numbered = enumerate(rows, start=2)
        while True:
            try:
                line, values = next(numbered)
            except StopIteration:
                break
            except ImportFileError as exc:
                # A reader error after the header: what was read stays imported and reported;
                # the rest of the file is one rejection with the reason (status partial).
                failure = exc.message
                results.append({"row": line + 1, "status": "rejected", "phone": None,
                                "reason": f"the rest of the file could not be read: {exc.message}"})
                counts["rejected"] += 1
                break
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                results.append({"row": line, "status": "rejected", "reason": f"{len(values)} cells but the header "
                                f"has {len(header)} columns", "phone": None})
                counts["rejected"] += 1
                continue
            raw = values[phone_col].strip() if phone_col < len(values) else ""
            try:
                phone = normalise_phone(raw)
            except InvalidPhoneError as exc:
                results.append({"row": line, "status": "rejected", "reason": exc.message,
                                "phone": raw[:32] or None})
                counts["rejected"] += 1
                continue
            if phone in seen:
                results.append({"row": line, "status": "rejected", "phone": phone,
                                "reason": f"duplicate of row {seen[phone]} in this file"})
                counts["rejected"] += 1
                continue
            seen[phone] = line
            fields = {header[i]: v for i, v in enumerate(values) if i != phone_col and v.strip() and header[i]}
            if name_col is not None and name_col < len(values) and values[name_col].strip():
                fields["name"] = values[name_col].strip()
            chunk.append((line, {"phone": phone, "fields": fields}))
            if len(chunk) >= CHUNK:
                flush()
        flush()
        results.sort(key=lambda r: r["row"])
        summary: dict[str, Any] = {"import_id": import_id, "rows": len(results), "counts": counts,
                                   "status": "done" if failure is None else "partial"}
        if failure is not None:
            summary["error"] = failure
        if progress:
            progress(summary)
        return {**summary, "results": results}

    def run_file(self, ctx: CommandContext, channel: str, path: Path, max_bytes: int,
                 progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImportFileError(f"the file is {size} bytes; the limit is {max_bytes} bytes")
        with path.open("rb") as f:
            return self.run(ctx, channel, f, progress=progress)


def csv_bytes(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([safe_cell(v) for v in row] for row in rows)
    return buf.getvalue().encode()
