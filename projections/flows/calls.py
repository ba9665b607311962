"""Call activities (父子流程) in the instance read model: one ``flows_calls`` row per call a parent
made (its child, or why none started), the timeline entries, and what the scheduler re-drives:
a child that ended while its parent still waits (kind ``call``), and a child its parent cancelled
that still runs (kind ``call_cancel``). Both are due at once (``epoch``): they are work left over,
not timers, so they fire whatever the clock says."""
from __future__ import annotations

from domain.flows.instance import FlowInstance as FI
from projections.flows.rows import InstanceRows
from projections.framework import SqlWriter, handles

TABLES = ("flows_calls",)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flows_calls (parent_id uuid NOT NULL, seq int NOT NULL, token text NOT NULL,"
    " node text NOT NULL, child_flow text NOT NULL, child_id uuid, state text NOT NULL, problem text,"
    " outcome text, reason text, started_at timestamptz NOT NULL, ended_at timestamptz,"
    " PRIMARY KEY (parent_id, seq))",
    "CREATE UNIQUE INDEX IF NOT EXISTS flows_calls_child ON flows_calls (child_id) WHERE child_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS flows_calls_open ON flows_calls (state) WHERE state IN ('waiting', 'cancelled')",
)
# kind, instance to act on, the other instance (as the key), due: see application/flows/calls.py.
TIMERS = (
    " UNION ALL SELECT 'call', c.parent_id, c.child_id::text, 'epoch'::timestamptz FROM flows_calls c"
    " JOIN flows_instances ch ON ch.id = c.child_id WHERE c.state = 'waiting' AND ch.status <> 'running'"
    " UNION ALL SELECT 'call_cancel', c.child_id, c.parent_id::text, 'epoch'::timestamptz FROM flows_calls c"
    " JOIN flows_instances ch ON ch.id = c.child_id WHERE c.state = 'cancelled' AND ch.status = 'running'")
LINKED = ("i.definition_key, i.title, i.status, i.business_line, i.department_id, i.fund_account")
PARENT = (f"SELECT c.parent_id AS instance_id, c.node, {LINKED} FROM flows_calls c"
          " JOIN flows_instances i ON i.id = c.parent_id WHERE c.child_id = %s")
CHILDREN = (f"SELECT c.child_id AS instance_id, c.node, c.child_flow, c.state, c.problem, c.outcome,"
            f" c.started_at, c.ended_at, {LINKED} FROM flows_calls c LEFT JOIN flows_instances i"
            " ON i.id = c.child_id WHERE c.parent_id = %s ORDER BY c.seq")


class CallsView(InstanceRows):
    """Mixed into FlowInstancesProjection (``_line`` and ``_touch`` write the timeline)."""

    @handles(FI.ChildStarted, FI.ChildNotStarted)
    def child_started(self, w: SqlWriter, e: FI.ChildStarted | FI.ChildNotStarted, position: int) -> None:
        child = getattr(e, "child_instance", None)
        problem = getattr(e, "problem", None)
        w.execute("INSERT INTO flows_calls (parent_id, seq, token, node, child_flow, child_id, state, problem,"
                  " started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.originator_version, e.token, e.node, e.child_flow, child,
                   "waiting" if child else "not_started", problem, e.timestamp))
        kind = "child_started" if child else "child_not_started"
        self._line(w, e, kind, node=e.node, comment=problem,
                   detail={"child_flow": e.child_flow, "child_instance": str(child) if child else None})
        self._touch(w, e, position)

    @handles(FI.ChildFinished)
    def child_finished(self, w: SqlWriter, e: FI.ChildFinished, position: int) -> None:
        w.execute("UPDATE flows_calls SET state = 'finished', outcome = %s, ended_at = %s WHERE child_id = %s",
                  (e.outcome, e.timestamp, e.child_instance))
        self._line(w, e, "child_finished", node=e.node,
                   detail={"child_instance": str(e.child_instance), "outcome": e.outcome})
        self._touch(w, e, position)

    @handles(FI.ChildCancelled)
    def child_cancelled(self, w: SqlWriter, e: FI.ChildCancelled, position: int) -> None:
        w.execute("UPDATE flows_calls SET state = 'cancelled', reason = %s, ended_at = %s WHERE child_id = %s",
                  (e.reason, e.timestamp, e.child_instance))
        self._line(w, e, "child_cancelled", node=e.node, comment=e.reason,
                   detail={"child_instance": str(e.child_instance)})
        self._touch(w, e, position)
