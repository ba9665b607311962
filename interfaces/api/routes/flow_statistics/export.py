"""Statistics as CSV or XLSX: every table of a figure (rows, breakdowns, totals), cells a
spreadsheet will not run as formulas (safe_cell, as every export of the service)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse
from openpyxl import Workbook

from application.shared.spreadsheet import safe_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_200: dict[int | str, dict[str, Any]] = {200: {
    "description": "JSON; CSV with format=csv, XLSX (one sheet per table) with format=xlsx",
    "content": {"text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


def tables(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The figure's tables by name: lists as they are, a single record (totals) as one row, and
    the scalars (a KPI's business type and day length) together as one more row."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, (list, dict))}
    if scalars:
        out.append(("settings", [scalars]))
    for name, value in data.items():
        if isinstance(value, list):
            out.append((name, value))
        elif isinstance(value, dict):
            out.append((name, [value]))
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return safe_cell(value if isinstance(value, (str, int, float, bool)) else str(value))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r))


def export(data: dict[str, Any], fmt: str, name: str) -> StreamingResponse:
    parts = tables(data)
    if fmt == "xlsx":
        book = Workbook(write_only=True)
        for title, rows in parts:
            sheet = book.create_sheet(title[:31])
            columns = _columns(rows)
            sheet.append(columns)
            for r in rows:
                sheet.append([_cell(r.get(c)) for c in columns])
        buf = io.BytesIO()
        book.save(buf)
        return StreamingResponse(iter([buf.getvalue()]), media_type=XLSX,
                                 headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})

    def lines() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        columns = _columns([r for _, rows in parts for r in rows])
        writer.writerow(["table", *columns])
        for title, rows in parts:
            for r in rows:
                writer.writerow([title, *(_cell(r.get(c)) for c in columns)])
        yield out.getvalue().encode("utf-8-sig")
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
