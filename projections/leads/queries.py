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
FILTERS = ("status", "flag", "channel_code", "owner", "lifecycle", "opening_intent")
# A phone is found by its keyed hash (ADR 0028); leads from before keyed hashes by the clear phone.
PHONE = (" AND (%(phone)s::text IS NULL OR l.phone_hash = %(phone_hash)s"
         " OR (l.phone_hash IS NULL AND l.phone = %(phone)s))")
FILTER_PARAMS = (*FILTERS, "phone", "phone_hash", "department", "unassigned", "since", "until")
CATEGORIES = ("intake", "follow_up", "transfer", "call", "activity")
SORTS = {"newest": ("l.last_intake_at DESC, l.id DESC", "<"), "oldest": ("l.last_intake_at ASC, l.id ASC", ">")}


SEGMENT = (
    "l.business_line = %(line)s"
    " AND (%(status)s::text IS NULL OR l.status = %(status)s)"
    " AND (%(flag)s::text IS NULL OR l.flag = %(flag)s)"
    " AND (%(channels)s::text[] IS NULL OR l.channel_code = ANY(%(channels)s))"
    " AND (%(owner)s::text IS NULL OR l.owner = %(owner)s)"
    " AND (%(lifecycles)s::text[] IS NULL OR l.lifecycle = ANY(%(lifecycles)s))"
    " AND (%(opening_intents)s::text[] IS NULL OR l.opening_intent = ANY(%(opening_intents)s))"
    " AND (%(followed_up)s::boolean IS NULL OR (l.follow_ups > 0) = %(followed_up)s)"
    " AND (%(ever_connected)s::boolean IS NULL OR (l.connected_calls > 0 OR l.connected_follow_ups > 0)"
    " = %(ever_connected)s)"
    " AND (%(reassigned)s::boolean IS NULL OR (l.recycle_count > 0) = %(reassigned)s)"
    " AND (%(in_opening)s::boolean IS NULL OR (l.opening_kind IS NOT NULL) = %(in_opening)s)"
    " AND (%(opening_kinds)s::text[] IS NULL OR l.opening_kind = ANY(%(opening_kinds)s))"
    " AND (%(intake)s::text IS NULL OR (%(intake)s = 'today' AND l.last_intake_at >= %(today)s)"
    " OR (%(intake)s = 'before_today' AND l.last_intake_at < %(today)s))"
    " AND (%(follow_up_due_today)s::boolean IS NULL OR (l.next_follow_up_at >= %(today)s"
    " AND l.next_follow_up_at < %(tomorrow)s) = %(follow_up_due_today)s)")


def _segment_params(line: str, spec: dict[str, Any], today: datetime, tomorrow: datetime) -> dict[str, Any]:
    keys = ("status", "flag", "channels", "owner", "lifecycles", "opening_intents", "followed_up", "ever_connected",
            "reassigned", "in_opening", "opening_kinds", "intake", "follow_up_due_today")
    return {**{k: spec.get(k) for k in keys}, "line": line, "today": today, "tomorrow": tomorrow}


class LeadQueries:
    def __init__(self, db: Any):
        self.db = db

    def leads(self, scope: dict[str, Any], *, filters: dict[str, Any], after: tuple[datetime, UUID] | None = None,
              limit: int = 50, sort: str = "newest") -> list[dict[str, Any]]:
        """Newest (or oldest) intake first; keyset on (last_intake_at, id)."""
        order, cmp = SORTS[sort]
        return self.db.fetch_all(
            "SELECT " + LIST_COLUMNS + " FROM leads_leads l WHERE " + SCOPE +
            "".join(f" AND (%({f})s::text IS NULL OR l.{f} = %({f})s)" for f in FILTERS) + PHONE +
            " AND (%(department)s::uuid IS NULL OR l.department_id = %(department)s)"
            " AND (%(unassigned)s::boolean IS NULL OR (l.owner IS NULL) = %(unassigned)s)"
            " AND (%(since)s::timestamptz IS NULL OR l.last_intake_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR l.last_intake_at < %(until)s)"
            f" AND (%(a_at)s::timestamptz IS NULL OR (l.last_intake_at, l.id) {cmp} (%(a_at)s, %(a_id)s::uuid))"
            f" ORDER BY {order} LIMIT %(limit)s",
            {**scope, **{f: filters.get(f) for f in FILTER_PARAMS},
             "a_at": after[0] if after else None, "a_id": after[1] if after else None, "limit": limit})

    def count(self, scope: dict[str, Any], filters: dict[str, Any]) -> int:
        row = self.db.fetch_one(
            "SELECT count(*) AS n FROM leads_leads l WHERE " + SCOPE +
            "".join(f" AND (%({f})s::text IS NULL OR l.{f} = %({f})s)" for f in FILTERS) + PHONE +
            " AND (%(department)s::uuid IS NULL OR l.department_id = %(department)s)"
            " AND (%(unassigned)s::boolean IS NULL OR (l.owner IS NULL) = %(unassigned)s)"
            " AND (%(since)s::timestamptz IS NULL OR l.last_intake_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR l.last_intake_at < %(until)s)",
            {**scope, **{f: filters.get(f) for f in FILTER_PARAMS}})
        return row["n"] if row else 0

    def lead(self, lead_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM leads_leads WHERE id = %s", (lead_id,))

    def intakes(self, lead_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT seq, phone, source, status, reason, flag, channel_code, channel_name,"
                                 " channel_type, promotion_type, at, fields FROM leads_intakes WHERE lead_id = %s"
                                 " ORDER BY seq DESC", (lead_id,))

    def timeline(self, lead_id: UUID, category: str | None = None, limit: int = 200,
                 before: int | None = None) -> list[dict[str, Any]]:
        """Newest first; keyset on position (``before``: the last position of the previous page)."""
        return self.db.fetch_all("SELECT position, kind, category, at, actor, detail FROM leads_timeline"
                                 " WHERE lead_id = %s AND (%s::text IS NULL OR category = %s)"
                                 " AND (%s::bigint IS NULL OR position < %s)"
                                 " ORDER BY position DESC LIMIT %s", (lead_id, category, category, before, before,
                                                                      limit))

    def recycle_candidates(self, business_line: str, departments: list[str], cutoff: datetime,
                           limit: int = 5000) -> list[UUID]:
        rows = self.db.fetch_all(
            "SELECT id FROM leads_leads WHERE business_line = %s AND department_id = ANY(%s::uuid[])"
            " AND owner IS NOT NULL AND lifecycle = 'prospect' AND assigned_at < %s ORDER BY assigned_at, id"
            " LIMIT %s", (business_line, departments, cutoff, limit))
        return [r["id"] for r in rows]

    def sensitive_hits(self, line: str, *, before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Every outgoing text that hit a sensitive word (blocked or sent flagged), newest first."""
        return self.db.fetch_all(
            "SELECT t.position, t.lead_id, l.phone, t.kind, t.at, t.actor, t.detail->>'content' AS content,"
            " t.detail->'sensitive_hits' AS hits FROM leads_timeline t JOIN leads_leads l ON l.id = t.lead_id"
            " WHERE l.business_line = %s AND t.kind IN ('sms', 'content_blocked', 'sop_sms')"
            " AND jsonb_array_length(t.detail->'sensitive_hits') > 0"
            " AND (%s::bigint IS NULL OR t.position < %s) ORDER BY t.position DESC LIMIT %s",
            (line, before, before, limit))

    def segment_count(self, scope: dict[str, Any], line: str, spec: dict[str, Any], today: datetime,
                      tomorrow: datetime) -> int:
        row = self.db.fetch_one("SELECT count(*) AS n FROM leads_leads l WHERE " + SEGMENT + " AND " + SCOPE,
                                {**scope, **_segment_params(line, spec, today, tomorrow)})
        return row["n"] if row else 0

    def segment_members(self, line: str, spec: dict[str, Any], today: datetime, tomorrow: datetime,
                        limit: int = 10_000, departments: list[str] | None = None) -> list[tuple[UUID, str]]:
        """The segment's leads; with ``departments``, only leads of these departments (the SOP
        task's data scope)."""
        # An erased lead is reached no more (ADR 0028).
        rows = self.db.fetch_all("SELECT l.id, l.phone FROM leads_leads l WHERE l.phone <> 'erased' AND " + SEGMENT +
                                 " AND (%(departments)s::uuid[] IS NULL OR l.department_id = ANY(%(departments)s))"
                                 " ORDER BY l.last_intake_at, l.id LIMIT %(limit)s",
                                 {**_segment_params(line, spec, today, tomorrow), "limit": limit,
                                  "departments": departments})
        return [(r["id"], r["phone"]) for r in rows]

    def segments(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT business_line, key, name, filter FROM leads_segments"
                                 " WHERE (%(all_lines)s OR business_line = ANY(%(lines)s))"
                                 " ORDER BY business_line, key", scope)

    def sop_tasks(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT business_line, key, config, reached, last_run_on FROM leads_sop_tasks"
                                 " WHERE (%(all_lines)s OR business_line = ANY(%(lines)s))"
                                 " ORDER BY business_line, key", scope)

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
