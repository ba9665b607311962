"""Administrator overrides and department moves in the flows read model: the requests waiting for
a second administrator (四眼原则), firm-wide, and the timeline entries of requests, approvals,
refusals and moves (流程部门调整). Mixed into FlowInstancesProjection: the rows live and are
rebuilt with the instance tables, in the same transaction as the instance's other events."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.flows.instance import FlowInstance as FI
from domain.shared.aggregate import LedgerAggregate
from projections.flows.monitor import scope_sql
from projections.flows.rows import InstanceRows
from projections.framework import SqlWriter, handles

TABLES = ("flows_overrides",)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flows_overrides (instance_id uuid NOT NULL, override_id text NOT NULL,"
    " action text NOT NULL, params jsonb NOT NULL, requested_by text NOT NULL, reason text NOT NULL,"
    " status text NOT NULL, decided_by text, decision_reason text, requested_at timestamptz NOT NULL,"
    " decided_at timestamptz, PRIMARY KEY (instance_id, override_id))",
    "CREATE INDEX IF NOT EXISTS flows_overrides_status ON flows_overrides (status, requested_at DESC, instance_id)",
)
# What a timeline entry shows of a request: the action's arguments, never a form edit's old values.
SHOWN = {"jump": ("target",), "reassign": ("task_id", "assignees", "candidates"), "terminate": (),
         "move_department": ("department_id",), "edit_form": ("node", "patch")}


def _shown(action: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in SHOWN.get(action, ()) if k in params}


class OverrideHandlers(InstanceRows):
    """Handlers of FlowInstancesProjection."""

    @handles(FI.OverrideRequested)
    def override_requested(self, w: SqlWriter, e: FI.OverrideRequested, position: int) -> None:
        w.execute("INSERT INTO flows_overrides VALUES (%s, %s, %s, %s::jsonb, %s, %s, 'pending', NULL, NULL, %s,"
                  " NULL) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.override, e.action, orjson.dumps(e.params).decode(), e.by, e.reason,
                   e.timestamp))
        self._line(w, e, "override_requested", task=e.params.get("task_id"), comment=e.reason,
                   detail={"override": e.override, "action": e.action, **_shown(e.action, e.params)})
        self._touch(w, e, position)

    @handles(FI.OverrideApproved, FI.OverrideDeclined)
    def override_decided(self, w: SqlWriter, e: FI.OverrideApproved | FI.OverrideDeclined, position: int) -> None:
        approved = isinstance(e, FI.OverrideApproved)
        reason = None if isinstance(e, FI.OverrideApproved) else e.reason
        w.execute("UPDATE flows_overrides SET status = %s, decided_by = %s, decision_reason = %s, decided_at = %s"
                  " WHERE instance_id = %s AND override_id = %s",
                  ("approved" if approved else "declined", e.by, reason, e.timestamp, e.originator_id, e.override))
        self._line(w, e, "override_approved" if approved else "override_declined",
                   comment=reason, detail={"override": e.override})
        self._touch(w, e, position)

    @handles(FI.DepartmentMoved)
    def department_moved(self, w: SqlWriter, e: FI.DepartmentMoved, position: int) -> None:
        # Every row that carries the instance's department follows it (lists, board, todo, CC).
        for table, key in (("flows_instances", "id"), ("flows_tasks", "instance_id"),
                           ("flows_todo_inbox", "instance_id"), ("flows_cc", "instance_id")):
            w.execute(f"UPDATE {table} SET department_id = %s WHERE {key} = %s",  # fixed names
                      (e.to_department, e.originator_id))
        self._line(w, e, "department_moved", comment=e.reason,
                   detail={"from": str(e.from_department) if e.from_department else None,
                           "to": str(e.to_department), "by": e.by})
        self._touch(w, e, position)


def lapse_pending(w: SqlWriter, e: LedgerAggregate.Event) -> None:
    """A flow that finished leaves its pending requests nothing to apply to."""
    w.execute("UPDATE flows_overrides SET status = 'lapsed', decided_at = %s WHERE instance_id = %s"
              " AND status = 'pending'", (e.timestamp, e.originator_id))


class OverrideQueries:
    def __init__(self, db: Any):
        self.db = db

    def overrides(self, scope: dict[str, Any], *, status: str | None, instance_id: UUID | None = None,
                  after: tuple[datetime, UUID, str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Requests in the caller's lines and data scope, newest first, keyset-paged."""
        where = ["true", *scope_sql(scope)]
        params: dict[str, Any] = {**scope, "limit": limit,
                                  "department_1": scope["departments"][0] if len(scope["departments"]) == 1
                                  else None}
        if status is not None:
            where.append("o.status = %(status)s")
            params["status"] = status
        if instance_id is not None:
            where.append("o.instance_id = %(instance)s")
            params["instance"] = instance_id
        if after is not None:
            where.append("(o.requested_at, o.instance_id, o.override_id) < (%(a_at)s, %(a_id)s, %(a_o)s)")
            params.update(a_at=after[0], a_id=after[1], a_o=after[2])
        return self.db.fetch_all(
            "SELECT o.*, t.title, t.business_line, t.department_id, t.fund_account, t.status AS instance_status"
            " FROM flows_overrides o JOIN flows_instances t ON t.id = o.instance_id"
            f" WHERE {' AND '.join(where)}"
            " ORDER BY o.requested_at DESC, o.instance_id DESC, o.override_id DESC LIMIT %(limit)s", params)
