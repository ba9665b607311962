"""Queries over the flow-instance read models: todo, done, initiated, detail, due pauses."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from projections.flows import calls, rules, system_tasks, timeouts
from projections.flows.board import SCOPE
from projections.flows.monitor import MonitorQueries
from projections.flows.overrides import OverrideQueries

INBOX_COLUMNS = ", ".join(f"t.{c}" for c in (
    "instance_id", "task_id", "node", "mode", "status", "candidates", "decided_by", "business_type", "business_line",
    "department_id", "fund_account", "initiator", "title", "urgent", "opened_at", "closed_at", "current_nodes",
    "sla_due_at", "sla_warned", "overdue"))
DUE = "coalesce(t.sla_due_at, 'infinity'::timestamptz)"
# sort -> (ORDER BY, keyset row, cursor row): the cursor row is (at, urgent, instance, task).
SORTS = {
    "opened_desc": ("t.opened_at DESC, t.instance_id DESC, t.task_id DESC",
                    "(t.opened_at, t.instance_id, t.task_id) < (%(a_at)s, %(a_id)s::uuid, %(a_task)s)"),
    "opened_asc": ("t.opened_at ASC, t.instance_id ASC, t.task_id ASC",
                   "(t.opened_at, t.instance_id, t.task_id) > (%(a_at)s, %(a_id)s::uuid, %(a_task)s)"),
    "sla_due": (f"{DUE} ASC, t.instance_id ASC, t.task_id ASC",
                f"({DUE}, t.instance_id, t.task_id) > (coalesce(%(a_at)s, 'infinity'::timestamptz),"
                " %(a_id)s::uuid, %(a_task)s)"),
    "urgency": (f"NOT t.urgent ASC, {DUE} ASC, t.instance_id ASC, t.task_id ASC",
                f"(NOT t.urgent, {DUE}, t.instance_id, t.task_id) > (NOT %(a_urgent)s,"
                " coalesce(%(a_at)s, 'infinity'::timestamptz), %(a_id)s::uuid, %(a_task)s)"),
}
# The task's node name and the instance's summary, joined for the page's rows only.
TODO_DECORATION = (", coalesce(v.names->>t.node, t.node) AS node_name, i.summary FROM ({page}) t"
                   " JOIN flows_instances i ON i.id = t.instance_id LEFT JOIN flows_version_facts v"
                   " ON v.definition_key = i.definition_key AND v.number = i.definition_version")


TODO_FILTERS = (
    " AND (%(bt)s::text IS NULL OR t.business_type = %(bt)s)"
    " AND (%(line)s::text IS NULL OR t.business_line = %(line)s)"
    " AND (%(initiator)s::text IS NULL OR t.initiator = %(initiator)s)"
    " AND (%(account)s::text IS NULL OR t.fund_account = %(account)s)"
    " AND (%(node)s::text IS NULL OR t.node = %(node)s)"
    " AND (%(urgent)s::boolean IS NULL OR t.urgent = %(urgent)s)"
    " AND (%(since)s::timestamptz IS NULL OR t.opened_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR t.opened_at < %(until)s)"
    " AND (%(keyword)s::text IS NULL OR EXISTS (SELECT 1 FROM flows_instances k WHERE k.id = t.instance_id"
    " AND strpos(k.search, lower(%(keyword)s)) > 0))")
INSTANCE_COLUMNS = ", ".join(f"t.{c}" for c in (
    "id", "definition_key", "definition_version", "business_type", "title", "status", "business_line",
    "department_id", "fund_account", "initiator", "current_nodes", "started_at", "updated_at", "version"))


TASK_FIELDS = ("task_id", "node", "mode", "status", "candidates", "decided_by", "signers_before", "signers_after",
               "opened_at", "closed_at")
DETAIL = (
    "SELECT i.*, coalesce(d.data, '{}'::jsonb) AS data,"
    " (SELECT coalesce(jsonb_agg(jsonb_build_object("
    + ", ".join(f"'{c}', t.{c}" for c in TASK_FIELDS) +
    ") ORDER BY t.opened_at, t.task_id), '[]'::jsonb) FROM flows_tasks t WHERE t.instance_id = i.id) AS tasks,"
    " ARRAY(SELECT DISTINCT x.candidate FROM flows_todo_inbox x WHERE x.instance_id = i.id ORDER BY 1) AS handlers"
    " FROM flows_instances i LEFT JOIN flows_instance_data d ON d.instance_id = i.id WHERE i.id = %s")


def _filters(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: filters.get(k) for k in ("bt", "line", "initiator", "account", "node", "urgent", "since", "until",
                                        "keyword")}


class FlowInstanceQueries:
    def __init__(self, db: Any):
        self.db = db
        self.monitor = MonitorQueries(db)
        self.overrides = OverrideQueries(db)

    def todo(self, actor: str, scope: dict[str, Any], *, filters: dict[str, Any], sort: str = "opened_desc",
             after: tuple[datetime | None, bool, UUID, str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        order, keyset = SORTS[sort]
        # The inbox holds one row per (open task, candidate) with a covering index (ADR 0008);
        # names and summaries are joined for the page's rows only.
        page = ("SELECT " + INBOX_COLUMNS + " FROM flows_todo_inbox t WHERE t.candidate = %(actor)s AND " + SCOPE +
                TODO_FILTERS + (f" AND {keyset}" if after else "") + f" ORDER BY {order} LIMIT %(limit)s")
        return self.db.fetch_all(
            "SELECT t.*" + TODO_DECORATION.format(page=page) + f" ORDER BY {order}",
            {**scope, **_filters(filters), "actor": actor, "limit": limit,
             **(dict(zip(("a_at", "a_urgent", "a_id", "a_task"), after, strict=True)) if after else {})})

    def todo_counts(self, actor: str, scope: dict[str, Any], filters: dict[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
        """Open and urgent tasks per business type, under the same filters as the list."""
        return self.db.fetch_all(
            "SELECT t.business_type, count(*) AS open, count(*) FILTER (WHERE t.urgent) AS urgent"
            " FROM flows_todo_inbox t WHERE t.candidate = %(actor)s AND " + SCOPE + TODO_FILTERS +
            " GROUP BY t.business_type ORDER BY t.business_type", {**scope, **_filters(filters or {}), "actor": actor})

    def done(self, actor: str, scope: dict[str, Any], *, after: tuple[datetime | None, UUID, str] | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
        """Still-open tasks you decided (all-sign) first, then by closing time, newest first."""
        closed = "coalesce(t.closed_at, 'infinity'::timestamptz)"
        return self.db.fetch_all(
            "SELECT t.* FROM flows_tasks t WHERE t.decided_by @> ARRAY[%(actor)s]::text[] AND " + SCOPE +
            (f" AND ({closed}, t.instance_id, t.task_id) < (coalesce(%(a_at)s::timestamptz,"
             " 'infinity'::timestamptz), %(a_id)s::uuid, %(a_task)s)" if after else "") +
            f" ORDER BY {closed} DESC, t.instance_id DESC, t.task_id DESC LIMIT %(limit)s",
            {**scope, "actor": actor, "limit": limit,
             **(dict(zip(("a_at", "a_id", "a_task"), after, strict=True)) if after else {})})

    def copied_to(self, actor: str, scope: dict[str, Any], *, after: tuple[datetime, UUID] | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT t.* FROM flows_cc t WHERE t.recipient = %(actor)s AND " + SCOPE +
            (" AND (t.copied_at, t.instance_id) < (%(a_at)s::timestamptz, %(a_id)s::uuid)" if after else "") +
            " ORDER BY t.copied_at DESC, t.instance_id DESC LIMIT %(limit)s",
            {**scope, "actor": actor, "limit": limit,
             **(dict(zip(("a_at", "a_id"), after, strict=True)) if after else {})})

    def initiated(self, actor: str, scope: dict[str, Any], *, after: tuple[datetime, UUID] | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
        return self.db.fetch_all(
            "SELECT " + INSTANCE_COLUMNS + ", t.summary FROM flows_instances t WHERE t.initiator = %(actor)s AND "
            + SCOPE + (" AND (t.started_at, t.id) < (%(a_at)s::timestamptz, %(a_id)s::uuid)" if after else "") +
            " ORDER BY t.started_at DESC, t.id DESC LIMIT %(limit)s",
            {**scope, "actor": actor, "limit": limit,
             **(dict(zip(("a_at", "a_id"), after, strict=True)) if after else {})})

    def instance(self, instance_id: UUID) -> dict[str, Any] | None:
        return self.db.fetch_one("SELECT * FROM flows_instances WHERE id = %s", (instance_id,))

    def detail(self, instance_id: UUID) -> dict[str, Any] | None:
        """What an instance's detail shows, read in one statement (so one snapshot): the row, its
        form data (``data``), its tasks with everyone who is or was a handler (``tasks``, in
        opening order) and its current handlers (``handlers``)."""
        return self.db.fetch_one(DETAIL, (instance_id,))

    def tasks(self, instance_id: UUID) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT task_id, node, mode, status, candidates, decided_by, opened_at, closed_at"
                                 " FROM flows_tasks WHERE instance_id = %s ORDER BY opened_at, task_id",
                                 (instance_id,))

    def timeline(self, instance_id: UUID, *, after: int | None = None, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        return self.db.fetch_all("SELECT seq, kind, node, task_id, actor, via, comment, detail, occurred_at"
                                 " FROM flows_timeline WHERE instance_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                                 (instance_id, after or 0, limit))

    TIMERS = ("SELECT 'pause' AS kind, instance_id, token AS key, due_at FROM flows_pauses"
              " UNION ALL SELECT 'sla', instance_id, task_id, sla_due_at FROM flows_tasks"
              " WHERE status = 'open' AND NOT overdue AND sla_due_at IS NOT NULL"
              " UNION ALL SELECT 'sla_warn', instance_id, task_id, sla_warn_at FROM flows_tasks"
              " WHERE status = 'open' AND NOT overdue AND NOT sla_warned AND sla_warn_at IS NOT NULL"
              + timeouts.TIMERS + rules.TIMERS + calls.TIMERS  # timeouts, timed rules, calls to re-drive
              + system_tasks.TIMERS)  # hooks to run

    def system_tasks(self, instance_id: UUID) -> list[dict[str, Any]]:
        """The work this instance handed to hooks: waiting, answered, and what each answered."""
        return self.db.fetch_all(system_tasks.OF_INSTANCE, (instance_id,))

    def calls(self, instance_id: UUID) -> dict[str, Any]:
        """父子流程: the parent this instance reports to (or None) and the children it called."""
        return {"parent": self.db.fetch_one(calls.PARENT, (instance_id,)),
                "children": self.db.fetch_all(calls.CHILDREN, (instance_id,))}

    def timers(self) -> list[dict[str, Any]]:
        """Every running timer (pause ends, SLA deadlines): what the scheduler's queue is rebuilt from."""
        return self.db.fetch_all(f"SELECT * FROM ({self.TIMERS}) t ORDER BY due_at")

    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        return self.db.fetch_all(f"SELECT * FROM ({self.TIMERS}) t WHERE due_at <= %s ORDER BY due_at LIMIT %s",
                                 (now, limit))
