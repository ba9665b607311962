"""Read model: the fee-rate templates, for their paged list (the full versions are read from the
aggregate by key)."""
from __future__ import annotations

from typing import Any

from domain.feerates.template import FeeRateTemplate
from projections.framework import PostgresProjection, SqlWriter, handles


class FeeRateTemplatesProjection(PostgresProjection):
    name = "feerates.templates"
    tables = ("feerates_templates",)
    schema = (
        "CREATE TABLE IF NOT EXISTS feerates_templates (key text PRIMARY KEY, id uuid NOT NULL, name text NOT NULL,"
        " business_line text NOT NULL, latest int NOT NULL, published int, entries int NOT NULL,"
        " version int NOT NULL, updated_at timestamptz NOT NULL)",
    )

    @handles(FeeRateTemplate.Created)
    def created(self, w: SqlWriter, e: FeeRateTemplate.Created, position: int) -> None:
        w.execute("INSERT INTO feerates_templates (key, id, name, business_line, latest, entries, version, updated_at)"
                  " VALUES (%s, %s, %s, %s, 1, %s, %s, %s)",
                  (e.key, e.originator_id, e.name, e.business_line, len(e.entries), e.originator_version,
                   e.timestamp))

    @handles(FeeRateTemplate.Revised)
    def revised(self, w: SqlWriter, e: FeeRateTemplate.Revised, position: int) -> None:
        w.execute("UPDATE feerates_templates SET name = %s, latest = %s, entries = %s, version = %s, updated_at = %s"
                  " WHERE id = %s", (e.name, e.number, len(e.entries), e.originator_version, e.timestamp,
                                     e.originator_id))

    @handles(FeeRateTemplate.Published)
    def published(self, w: SqlWriter, e: FeeRateTemplate.Published, position: int) -> None:
        w.execute("UPDATE feerates_templates SET published = %s, version = %s, updated_at = %s WHERE id = %s",
                  (e.number, e.originator_version, e.timestamp, e.originator_id))


class FeeRateQueries:
    def __init__(self, db: Any):
        self.db = db

    def templates(self, *, lines: list[str] | None, after: str | None, limit: int) -> list[dict[str, Any]]:
        """``lines``: the caller's business lines (None: all)."""
        return self.db.fetch_all(
            "SELECT key, name, business_line, latest, published, entries, version, updated_at"
            " FROM feerates_templates WHERE (%(all)s OR business_line = ANY(%(lines)s))"
            " AND (%(after)s::text IS NULL OR key > %(after)s) ORDER BY key LIMIT %(limit)s",
            {"all": lines is None, "lines": lines or [], "after": after, "limit": limit})
