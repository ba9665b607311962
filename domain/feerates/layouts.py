"""The counter's import-file layout: format, columns (CTP field names, in order), header,
encoding, delimiter and decimal places. The back office's own format is not public, so it is
configuration: two built-ins ("ctp2", "other") and any number from a settings file. Rendering is
deterministic — the same records give byte-identical files — so a retry can be recognised."""
from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.feerates.rates import text
from domain.feerates.records import COMMISSION, COMMISSION_FIELDS, MARGIN, MARGIN_FIELDS

ALL_FIELDS = tuple(dict.fromkeys(COMMISSION_FIELDS + MARGIN_FIELDS))


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["csv", "json"]
    columns: tuple[str, ...] = Field(ALL_FIELDS, min_length=1)
    type_column: str | None = Field("RecordType", description="CSV: a first column naming the record kind "
                                    f"({COMMISSION} / {MARGIN}); None: no such column")
    header: bool = True
    encoding: Literal["utf-8", "gbk", "gb18030"] = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)
    line_terminator: Literal["\n", "\r\n"] = "\r\n"
    decimal_places: int | None = Field(None, ge=0, le=12, description="Round rates to this many places "
                                       "(half even) and pad; None: as exact as stated, no trailing zeros")
    extension: str = Field("", pattern=r"^[a-z0-9]{0,8}$", description="File extension; empty: the format's")

    @field_validator("columns")
    @classmethod
    def _known(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in columns if c not in ALL_FIELDS]
        if unknown or len(set(columns)) != len(columns):
            raise ValueError(f"columns: distinct CTP field names ({', '.join(ALL_FIELDS)}); not {unknown}")
        return columns

    @model_validator(mode="after")
    def _plain_delimiter(self) -> Layout:
        if self.delimiter in "\r\n\"":
            raise ValueError("delimiter: not a quote or line break")
        return self

    @property
    def suffix(self) -> str:
        return self.extension or self.format

    @property
    def media_type(self) -> str:
        return "text/csv" if self.format == "csv" else "application/json"

    def cell(self, value: Any) -> str:
        if isinstance(value, Decimal):
            if self.decimal_places is None:
                return text(value)
            return str(value.quantize(Decimal(1).scaleb(-self.decimal_places), rounding=ROUND_HALF_EVEN))
        return str(value)

    def render(self, records: list[tuple[str, dict[str, Any]]]) -> bytes:
        if self.format == "json":
            by_kind: dict[str, list[dict[str, str]]] = {COMMISSION: [], MARGIN: []}
            for kind, record in records:
                by_kind[kind].append({c: self.cell(record[c]) for c in self.columns if c in record})
            body = json.dumps({k: v for k, v in by_kind.items() if v}, ensure_ascii=False, indent=2) + "\n"
            return body.encode(self.encoding)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.delimiter, lineterminator=self.line_terminator)
        lead = [self.type_column] if self.type_column else []
        if self.header:
            writer.writerow(lead + list(self.columns))
        for kind, record in records:
            writer.writerow(([kind] if lead else []) + [self.cell(record[c]) if c in record else ""
                                                         for c in self.columns])
        return out.getvalue().encode(self.encoding)


# CTP2's import: GBK (the back office's Windows tools read it), a header, every field, 8 places.
# "Other counters": JSON in UTF-8, the rates exactly as stated.
BUILT_IN: dict[str, Layout] = {
    "ctp2": Layout(format="csv", encoding="gbk", decimal_places=8),
    "other": Layout(format="json", encoding="utf-8"),
}
