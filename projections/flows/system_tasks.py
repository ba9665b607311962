"""System work handed to hooks (issue 16) in the flows read model: one ``flows_system_tasks`` row
per request — what the scheduler re-drives while the hook has not answered (kind ``system``, due
at once: work left over, not a timer) and what an instance's page shows while it waits (the
signing link, the counter file) — and the timeline entries. Mixed into FlowInstancesProjection."""
from __future__ import annotations

from domain.flows.instance import FlowInstance as FI
from projections.flows.rows import InstanceRows
from projections.framework import SqlWriter, handles, json_text

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flows_system_tasks (request_id text PRIMARY KEY, instance_id uuid NOT NULL,"
    " token text NOT NULL, node text NOT NULL, hook text NOT NULL, status text NOT NULL, result jsonb,"
    " requested_at timestamptz NOT NULL, answered_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS flows_system_tasks_open ON flows_system_tasks (status) WHERE status = 'requested'",
    "CREATE INDEX IF NOT EXISTS flows_system_tasks_instance ON flows_system_tasks (instance_id, requested_at)",
)
TABLES = ("flows_system_tasks",)
# kind, instance, key, due: see projections/flows/queries.py TIMERS (requests of running flows only).
# A request whose hook has not answered is due at once; one waiting for the outside is asked again
# from WAITING_RECHECK on, at every reconciliation (once a minute): the hook answers from its own
# context's state, so an answer whose callback was lost (a crash between the context's save and
# the flow's, a lost race) still reaches the flow, and a signing link expires on time.
WAITING_RECHECK = "10 minutes"
TIMERS = (" UNION ALL SELECT 'system', s.instance_id, s.request_id, CASE s.status WHEN 'requested'"
          f" THEN 'epoch'::timestamptz ELSE s.requested_at + interval '{WAITING_RECHECK}' END"
          " FROM flows_system_tasks s JOIN flows_instances i ON i.id = s.instance_id"
          " WHERE s.status IN ('requested', 'waiting') AND i.status = 'running'")
OF_INSTANCE = ("SELECT request_id, node, hook, status, result, requested_at, answered_at FROM flows_system_tasks"
               " WHERE instance_id = %s ORDER BY requested_at, request_id")


class SystemTaskHandlers(InstanceRows):
    @handles(FI.SystemTaskRequested)
    def requested(self, w: SqlWriter, e: FI.SystemTaskRequested, position: int) -> None:
        w.execute("INSERT INTO flows_system_tasks (request_id, instance_id, token, node, hook, status, requested_at)"
                  " VALUES (%s, %s, %s, %s, %s, 'requested', %s) ON CONFLICT (request_id) DO NOTHING",
                  (e.request_id, e.originator_id, e.token, e.node, e.hook, e.timestamp))
        self._line(w, e, "system_requested", node=e.node, detail={"hook": e.hook, "request_id": e.request_id})
        self._touch(w, e, position)

    @handles(FI.SystemTaskWaiting)
    def waiting(self, w: SqlWriter, e: FI.SystemTaskWaiting, position: int) -> None:
        w.execute("UPDATE flows_system_tasks SET status = 'waiting', result = %s::jsonb WHERE request_id = %s",
                  (json_text(e.result), e.request_id))
        self._line(w, e, "system_waiting", node=e.node, detail={"request_id": e.request_id})
        self._touch(w, e, position)

    @handles(FI.SystemTaskCompleted)
    def completed(self, w: SqlWriter, e: FI.SystemTaskCompleted, position: int) -> None:
        w.execute("UPDATE flows_system_tasks SET status = %s, result = %s::jsonb, answered_at = %s"
                  " WHERE request_id = %s", (e.status, json_text(e.result), e.timestamp, e.request_id))
        self._line(w, e, "system_completed", node=e.node, detail={"request_id": e.request_id, "status": e.status})
        self._touch(w, e, position)
