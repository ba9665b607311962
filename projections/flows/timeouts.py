"""Timeouts (超时处理) in the flows read model: the time of a task's next timeout step (what the
scheduler's queue is rebuilt from), escalations that change a task's handlers, and the timeline
entries of reminders, escalations and automatic decisions. Mixed into FlowInstancesProjection."""
from __future__ import annotations

from domain.flows.instance import FlowInstance as FI
from projections.flows.rows import InstanceRows
from projections.framework import SqlWriter, handles

SCHEMA = (
    "ALTER TABLE flows_tasks ADD COLUMN IF NOT EXISTS timeout_at timestamptz",
    "CREATE INDEX IF NOT EXISTS flows_tasks_timeout ON flows_tasks (timeout_at) WHERE status = 'open'"
    " AND timeout_at IS NOT NULL",
)
# kind, instance, key, due: see projections/flows/queries.py TIMERS.
TIMERS = (" UNION ALL SELECT 'timeout', instance_id, task_id, timeout_at FROM flows_tasks"
          " WHERE status = 'open' AND timeout_at IS NOT NULL")
SET_TIMEOUT = "UPDATE flows_tasks SET timeout_at = %s WHERE instance_id = %s AND task_id = %s"


def set_handlers(w: SqlWriter, e: FI.TaskEscalated | FI.RuleAssigned) -> None:
    """An escalation or a rule's assignment: the task's candidates as the event says; as a
    reassignment, added signers go with the old handlers (as in FlowInstance)."""
    reassign = e.mode == "reassign"
    w.execute("UPDATE flows_tasks SET candidates = %s, timeout_at = CASE WHEN %s THEN NULL ELSE timeout_at END,"
              " signers_before = CASE WHEN %s THEN '{}' ELSE signers_before END,"
              " signers_after = CASE WHEN %s THEN '{}' ELSE signers_after END,"
              " after_phase = after_phase AND NOT %s WHERE instance_id = %s AND task_id = %s",
              (e.candidates, isinstance(e, FI.TaskEscalated), reassign, reassign, reassign, e.originator_id, e.task))


class TimeoutHandlers(InstanceRows):
    @handles(FI.TimeoutArmed)
    def timeout_armed(self, w: SqlWriter, e: FI.TimeoutArmed, position: int) -> None:
        w.execute(SET_TIMEOUT, (e.at, e.originator_id, e.task))
        self._seen(w, e, position)

    @handles(FI.SlaReminded)
    def sla_reminded(self, w: SqlWriter, e: FI.SlaReminded, position: int) -> None:
        w.execute(SET_TIMEOUT, (e.next_at, e.originator_id, e.task))
        self._line(w, e, "sla_reminded", node=e.node, task=e.task,
                   detail={"count": e.count, "next_at": e.next_at, "rule": e.rule})
        self._seen(w, e, position)

    @handles(FI.TaskEscalated)
    def escalated(self, w: SqlWriter, e: FI.TaskEscalated, position: int) -> None:
        set_handlers(w, e)
        self._inbox(w, e, e.task)
        self._line(w, e, "escalated", node=e.node, task=e.task,
                   detail={"mode": e.mode, "added": e.added, "candidates": e.candidates, "rule": e.rule})
        self._touch(w, e, position)

    @handles(FI.TimeoutActed)
    def timeout_acted(self, w: SqlWriter, e: FI.TimeoutActed, position: int) -> None:
        w.execute(SET_TIMEOUT, (None, e.originator_id, e.task))
        self._line(w, e, "timeout_acted", node=e.node, task=e.task, comment=e.comment,
                   detail={"action": e.action, "rule": e.rule, "problem": e.problem})
        self._touch(w, e, position)
