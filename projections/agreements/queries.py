"""Queries over the agreements read models (keyset-paged, scoped like flow instances)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

SCOPE = ("(%(all_lines)s OR a.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR a.department_id = ANY(%(departments)s) OR a.fund_account = ANY(%(accounts)s))")


class AgreementQueries:
    def __init__(self, db: Any):
        self.db = db

    def templates(self, scope: dict[str, Any], *, business_type: str | None, after: Sequence[Any] | None,
                  limit: int) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT * FROM agreements_templates t WHERE (%(all_lines)s OR t.business_line = ANY(%(lines)s))"
            " AND (%(bt)s::text IS NULL OR t.business_type = %(bt)s)"
            " AND (%(k)s::text IS NULL OR (t.key, t.language) > (%(k)s, %(l)s))"
            " ORDER BY t.key, t.language LIMIT %(limit)s",
            {**scope, "bt": business_type, "k": after[0] if after else None, "l": after[1] if after else None,
             "limit": limit})

    def agreements(self, scope: dict[str, Any], *, instance_id: UUID | None, after: Sequence[Any] | None,
                   limit: int) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT * FROM agreements_agreements a WHERE " + SCOPE +
            " AND (%(fi)s::uuid IS NULL OR a.instance_id = %(fi)s)"
            " AND (%(at)s::timestamptz IS NULL OR (a.created_at, a.id) > (%(at)s, %(id)s::uuid))"
            " ORDER BY a.created_at, a.id LIMIT %(limit)s",
            {**scope, "fi": instance_id, "at": after[0] if after else None, "id": after[1] if after else None,
             "limit": limit})
