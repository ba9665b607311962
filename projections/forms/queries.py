"""Queries over the forms read models."""
from __future__ import annotations

from typing import Any
from uuid import UUID

SCOPE = ("(%(all_lines)s OR business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR department_id = ANY(%(departments)s) OR fund_account = ANY(%(accounts)s))")


class FormsQueries:
    def __init__(self, db: Any):
        self.db = db

    def business_types(self, scope: dict[str, Any], *, after: str | None = None, limit: int | None = None
                       ) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT id, code, name, business_line, description, subjects, latest_version, version, updated_at"
            " FROM forms_business_types WHERE (%(all_lines)s OR business_line = ANY(%(lines)s))"
            " AND (%(after)s::text IS NULL OR code > %(after)s) ORDER BY code LIMIT %(limit)s",
            {**scope, "after": after, "limit": limit})

    def business_type(self, code: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM forms_business_types WHERE code = %s", (code,))

    def versions(self, business_type_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT number, published_at, published_by FROM forms_versions"
                                 " WHERE business_type_id = %s ORDER BY number", (business_type_id,))

    def data_sources(self) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT key, name, kind, config, version FROM forms_data_sources ORDER BY key")

    def customer(self, fund_account: str) -> dict[str, Any] | None:
        row = self.db.fetch_one("SELECT * FROM forms_customers WHERE fund_account = %s", (fund_account,))
        if row:
            row.pop("position", None)
        return row

    def record(self, record_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM forms_records WHERE id = %s", (record_id,))

    def records(self, scope: dict[str, Any], *, business_type: str | None, after: UUID | None,
                limit: int) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT * FROM forms_records WHERE " + SCOPE +
            " AND (%(bt)s::text IS NULL OR business_type = %(bt)s)"
            " AND (%(after)s::uuid IS NULL OR (updated_at, id) < (SELECT updated_at, id FROM forms_records"
            " WHERE id = %(after)s::uuid)) ORDER BY updated_at DESC, id DESC LIMIT %(limit)s",
            {**scope, "bt": business_type, "after": after, "limit": limit})

    def changes(self, record_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT record_version, seq, kind, path, old_value, new_value, node, actor,"
                                 " occurred_at FROM forms_record_changes WHERE record_id = %s"
                                 " ORDER BY record_version, seq", (record_id,))
