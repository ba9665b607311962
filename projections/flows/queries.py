"""Queries over the flow-instance read models: todo, done, initiated, detail, due pauses."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

SCOPE = ("(%(all_lines)s OR t.business_line = ANY(%(lines)s)) AND (%(all_departments)s"
         " OR t.department_id = ANY(%(departments)s) OR t.fund_account = ANY(%(accounts)s))")
INBOX_COLUMNS = ", ".join(f"t.{c}" for c in (
    "instance_id", "task_id", "node", "mode", "status", "candidates", "decided_by", "business_type", "business_line",
    "department_id", "fund_account", "initiator", "title", "urgent", "opened_at", "closed_at", "current_nodes",
    "sla_due_at", "sla_warned", "overdue"))
SORTS = {"opened_desc": ("t.opened_at DESC, t.instance_id DESC, t.task_id DESC", "<"),
         "opened_asc": ("t.opened_at ASC, t.instance_id ASC, t.task_id ASC", ">")}


TODO_FILTERS = (
    " AND (%(bt)s::text IS NULL OR t.business_type = %(bt)s)"
    " AND (%(line)s::text IS NULL OR t.business_line = %(line)s)"
    " AND (%(initiator)s::text IS NULL OR t.initiator = %(initiator)s)"
    " AND (%(account)s::text IS NULL OR t.fund_account = %(account)s)"
    " AND (%(node)s::text IS NULL OR t.node = %(node)s)"
    " AND (%(urgent)s::boolean IS NULL OR t.urgent = %(urgent)s)"
    " AND (%(since)s::timestamptz IS NULL OR t.opened_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR t.opened_at < %(until)s)")
INSTANCE_COLUMNS = ", ".join(f"t.{c}" for c in (
    "id", "definition_key", "definition_version", "business_type", "title", "status", "business_line",
    "department_id", "fund_account", "initiator", "current_nodes", "started_at", "updated_at", "version"))


def _filters(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: filters.get(k) for k in ("bt", "line", "initiator", "account", "node", "urgent", "since", "until")}


class FlowInstanceQueries:
    def __init__(self, db: Any):
        self.db = db

    def todo(self, actor: str, scope: dict[str, Any], *, filters: dict[str, Any], sort: str = "opened_desc",
             after: tuple[datetime, UUID, str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        order, cmp = SORTS[sort]
        # The inbox holds one row per (open task, candidate) with a covering index (ADR 0008).
        return self.db.fetch_all(
            "SELECT " + INBOX_COLUMNS + " FROM flows_todo_inbox t WHERE t.candidate = %(actor)s AND " + SCOPE +
            TODO_FILTERS +
            f" AND (%(a_at)s::timestamptz IS NULL OR (t.opened_at, t.instance_id, t.task_id) {cmp}"
            " (%(a_at)s, %(a_id)s::uuid, %(a_task)s))"
            f" ORDER BY {order} LIMIT %(limit)s",
            {**scope, **_filters(filters),
             "actor": actor, "a_at": after[0] if after else None, "a_id": after[1] if after else None,
             "a_task": after[2] if after else None, "limit": limit})

    def todo_counts(self, actor: str, scope: dict[str, Any], filters: dict[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
        """Open and urgent tasks per business type, under the same filters as the list."""
        return self.db.fetch_all(
            "SELECT t.business_type, count(*) AS open, count(*) FILTER (WHERE t.urgent) AS urgent"
            " FROM flows_todo_inbox t WHERE t.candidate = %(actor)s AND " + SCOPE + TODO_FILTERS +
            " GROUP BY t.business_type ORDER BY t.business_type", {**scope, **_filters(filters or {}), "actor": actor})

    def done(self, actor: str, scope: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT t.* FROM flows_tasks t WHERE t.decided_by @> ARRAY[%(actor)s]::text[] AND " + SCOPE +
            " ORDER BY t.closed_at DESC NULLS FIRST LIMIT %(limit)s", {**scope, "actor": actor, "limit": limit})

    def copied_to(self, actor: str, scope: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT t.* FROM flows_cc t WHERE t.recipient = %(actor)s AND " + SCOPE +
            " ORDER BY t.copied_at DESC LIMIT %(limit)s",
            {**scope, "actor": actor, "limit": limit})

    def initiated(self, actor: str, scope: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT " + INSTANCE_COLUMNS + " FROM flows_instances t WHERE t.initiator = %(actor)s AND " + SCOPE +
            " ORDER BY t.started_at DESC LIMIT %(limit)s", {**scope, "actor": actor, "limit": limit})

    def instance(self, instance_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM flows_instances WHERE id = %s", (instance_id,))

    def tasks(self, instance_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT task_id, node, mode, status, candidates, decided_by, opened_at, closed_at"
                                 " FROM flows_tasks WHERE instance_id = %s ORDER BY opened_at, task_id",
                                 (instance_id,))

    def timeline(self, instance_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT seq, kind, node, task_id, actor, comment, detail, occurred_at"
                                 " FROM flows_timeline WHERE instance_id = %s ORDER BY seq", (instance_id,))

    TIMERS = ("SELECT 'pause' AS kind, instance_id, token AS key, due_at FROM flows_pauses"
              " UNION ALL SELECT 'sla', instance_id, task_id, sla_due_at FROM flows_tasks"
              " WHERE status = 'open' AND NOT overdue AND sla_due_at IS NOT NULL"
              " UNION ALL SELECT 'sla_warn', instance_id, task_id, sla_warn_at FROM flows_tasks"
              " WHERE status = 'open' AND NOT overdue AND NOT sla_warned AND sla_warn_at IS NOT NULL")

    def timers(self) -> list[dict[str, Any]]:
        """Every running timer (pause ends, SLA deadlines): what the scheduler's queue is rebuilt from."""
        return self.db.fetch_all(f"SELECT * FROM ({self.TIMERS}) t ORDER BY due_at")

    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        return self.db.fetch_all(f"SELECT * FROM ({self.TIMERS}) t WHERE due_at <= %s ORDER BY due_at LIMIT %s",
                                 (now, limit))
