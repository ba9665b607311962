"""Queries over the leads read models (parameterised statements only)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

SCOPE = ("(%(all_lines)s OR l.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR l.department_id = ANY(%(departments)s))")
LIST_COLUMNS = ("l.id, l.business_line, l.phone, l.name, l.status, l.reason, l.flag, l.channel_code, l.department_id,"
                " l.owner, l.assigned_at, l.recycle_count, l.lifecycle, l.intakes, l.first_intake_at,"
                " l.last_intake_at, l.calls, l.connected_calls, l.follow_ups, l.next_follow_up_at, l.wechat_added,"
                " l.opening_intent, l.deposit_intent, l.opening_kind, l.opening_node, l.opened_at, l.version")
FILTERS = ("status", "flag", "channel_code", "owner", "lifecycle", "opening_intent", "phone")
CATEGORIES = ("intake", "follow_up", "transfer", "call", "activity")


class LeadQueries:
    def __init__(self, db: Any):
        self.db = db

    def leads(self, scope: dict[str, Any], *, filters: dict[str, Any], after: tuple[datetime, UUID] | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
        """Newest intake first; keyset on (last_intake_at, id)."""
        return self.db.fetch_all(
            "SELECT " + LIST_COLUMNS + " FROM leads_leads l WHERE " + SCOPE +
            "".join(f" AND (%({f})s::text IS NULL OR l.{f} = %({f})s)" for f in FILTERS) +
            " AND (%(department)s::uuid IS NULL OR l.department_id = %(department)s)"
            " AND (%(unassigned)s::boolean IS NULL OR (l.owner IS NULL) = %(unassigned)s)"
            " AND (%(since)s::timestamptz IS NULL OR l.last_intake_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR l.last_intake_at < %(until)s)"
            " AND (%(a_at)s::timestamptz IS NULL OR (l.last_intake_at, l.id) < (%(a_at)s, %(a_id)s::uuid))"
            " ORDER BY l.last_intake_at DESC, l.id DESC LIMIT %(limit)s",
            {**scope, **{f: filters.get(f) for f in (*FILTERS, "department", "unassigned", "since", "until")},
             "a_at": after[0] if after else None, "a_id": after[1] if after else None, "limit": limit})

    def count(self, scope: dict[str, Any], filters: dict[str, Any]) -> int:
        row = self.db.fetch_one(
            "SELECT count(*) AS n FROM leads_leads l WHERE " + SCOPE +
            "".join(f" AND (%({f})s::text IS NULL OR l.{f} = %({f})s)" for f in FILTERS) +
            " AND (%(department)s::uuid IS NULL OR l.department_id = %(department)s)"
            " AND (%(unassigned)s::boolean IS NULL OR (l.owner IS NULL) = %(unassigned)s)"
            " AND (%(since)s::timestamptz IS NULL OR l.last_intake_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR l.last_intake_at < %(until)s)",
            {**scope, **{f: filters.get(f) for f in (*FILTERS, "department", "unassigned", "since", "until")}})
        return row["n"] if row else 0

    def lead(self, lead_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM leads_leads WHERE id = %s", (lead_id,))

    def intakes(self, lead_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT seq, phone, source, status, reason, flag, channel_code, channel_name,"
                                 " channel_type, promotion_type, at, fields FROM leads_intakes WHERE lead_id = %s"
                                 " ORDER BY seq DESC", (lead_id,))

    def timeline(self, lead_id: UUID, category: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT position, kind, category, at, actor, detail FROM leads_timeline"
                                 " WHERE lead_id = %s AND (%s::text IS NULL OR category = %s)"
                                 " ORDER BY position DESC LIMIT %s", (lead_id, category, category, limit))

    def recycle_candidates(self, business_line: str, departments: list[str], cutoff: datetime,
                           limit: int = 5000) -> list[UUID]:
        rows = self.db.fetch_all(
            "SELECT id FROM leads_leads WHERE business_line = %s AND department_id = ANY(%s::uuid[])"
            " AND owner IS NOT NULL AND lifecycle = 'prospect' AND assigned_at <= %s ORDER BY assigned_at, id"
            " LIMIT %s", (business_line, departments, cutoff, limit))
        return [r["id"] for r in rows]

    def channels(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT code, name, channel_type, promotion_type, business_line, department_id, enabled,"
            " token_issued_at, landing_pages, version FROM leads_channels"
            " WHERE (%(all_lines)s OR business_line = ANY(%(lines)s)) ORDER BY code", scope)

    def channel(self, code: str) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM leads_channels WHERE code = %s", (code,))

    def business_lines(self) -> list[str]:
        return [r["business_line"] for r in self.db.fetch_all(
            "SELECT DISTINCT business_line FROM leads_channels ORDER BY 1")]
