"""Queries over the compliance read models (keyset-paged, newest first)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.shared.errors import NotFoundError
from infrastructure.readmodels import ReadModelDb

SCREENING = ("id, request_id, instance_id, node, business_type, business_line, initiator, subjects, list_versions,"
             " threshold, hits, hit_count, status, decided_by, decision_reason, decided_at, screened_at, version")


class ComplianceQueries:
    def __init__(self, db: ReadModelDb):
        self.db = db

    def list_loads(self, kind: str | None, after: tuple[datetime, str, int] | None, limit: int
                   ) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT kind, version, entries_hash, entry_count, source_filename, loaded_by, loaded_at"
            " FROM compliance_list_loads WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)"
            " AND (%(at)s::timestamptz IS NULL OR (loaded_at, kind, version) < (%(at)s, %(k)s, %(v)s))"
            " ORDER BY loaded_at DESC, kind DESC, version DESC LIMIT %(limit)s",
            {"kind": kind, "at": after[0] if after else None, "k": after[1] if after else None,
             "v": after[2] if after else None, "limit": limit})

    def screenings(self, statuses: list[str] | None, lines: list[str] | None,
                   after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
        """``lines``: the business lines the caller sees (None: every line)."""
        return self.db.fetch_all(
            f"SELECT {SCREENING} FROM compliance_screenings"
            " WHERE (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))"
            " AND (%(lines)s::text[] IS NULL OR business_line = ANY(%(lines)s))"
            " AND (%(at)s::timestamptz IS NULL OR (screened_at, id) < (%(at)s, %(id)s))"
            " ORDER BY screened_at DESC, id DESC LIMIT %(limit)s",
            {"statuses": statuses, "lines": lines, "at": after[0] if after else None,
             "id": after[1] if after else None, "limit": limit})

    def screening(self, screening_id: UUID) -> dict[str, Any]:
        row = self.db.fetch_one(f"SELECT {SCREENING} FROM compliance_screenings WHERE id = %s", (screening_id,))
        if row is None:
            raise NotFoundError(f"screening {screening_id} does not exist")
        return row
