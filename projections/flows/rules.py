"""IF-THEN rules in the flows read model: the timers of task_overdue rules (what the scheduler's
queue is rebuilt from), handlers a rule assigned, and the timeline entries of every firing, with
its inputs and actions as recorded. Mixed into FlowInstancesProjection."""
from __future__ import annotations

from domain.flows.instance import FlowInstance as FI
from projections.flows.rows import InstanceRows
from projections.flows.timeouts import set_handlers
from projections.framework import SqlWriter, handles

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flows_rule_timers (instance_id uuid NOT NULL, task_id text NOT NULL,"
    " rule text NOT NULL, due_at timestamptz NOT NULL, PRIMARY KEY (instance_id, task_id, rule))",
    "CREATE INDEX IF NOT EXISTS flows_rule_timers_due ON flows_rule_timers (due_at)",
)
TABLES = ("flows_rule_timers",)
# kind, instance, key, due: see projections/flows/queries.py TIMERS. Only open tasks' timers count
# (a decided task's timer would be "gone" anyway).
TIMERS = (" UNION ALL SELECT 'rule', r.instance_id, r.task_id || ':' || r.rule, r.due_at FROM flows_rule_timers r"
          " JOIN flows_tasks t ON t.instance_id = r.instance_id AND t.task_id = r.task_id WHERE t.status = 'open'")


PUBLIC = frozenset({"kind", "mode", "to", "reason", "note", "message", "flow", "field", "tasks", "problem"})
# Timers of this instance's tasks that are no longer open (decided, returned, cancelled): dropped
# whenever the instance arms another, so the table holds about one row per open task's rule.
STALE = ("DELETE FROM flows_rule_timers r USING flows_tasks t WHERE r.instance_id = %s"
         " AND t.instance_id = r.instance_id AND t.task_id = r.task_id AND t.status <> 'open'")


class RuleHandlers(InstanceRows):
    @handles(FI.RuleArmed)
    def rule_armed(self, w: SqlWriter, e: FI.RuleArmed, position: int) -> None:
        w.execute(STALE, (e.originator_id,))
        w.execute("INSERT INTO flows_rule_timers VALUES (%s, %s, %s, %s) ON CONFLICT (instance_id, task_id, rule)"
                  " DO UPDATE SET due_at = excluded.due_at", (e.originator_id, e.task, e.rule, e.at))
        self._seen(w, e, position)

    @handles(FI.RuleFired)
    def rule_fired(self, w: SqlWriter, e: FI.RuleFired, position: int) -> None:
        if e.trigger == "task_overdue" and e.task is not None:
            w.execute("DELETE FROM flows_rule_timers WHERE instance_id = %s AND task_id = %s AND rule = %s",
                      (e.originator_id, e.task, e.rule))
        # The timeline says which rule did what, never the values it read or wrote: those are form
        # data that field rules may hide from a reader (the event, in the audit trail, has them all;
        # a field set by a rule is a form_edited entry, presented like any edit).
        self._line(w, e, "rule_fired", node=e.node, task=e.task,
                   detail={"rule": e.rule, "trigger": e.trigger, "held": e.held, "error": e.error,
                           "actions": [{k: v for k, v in a.items() if k in PUBLIC} for a in e.actions]})
        self._seen(w, e, position)

    @handles(FI.RuleAssigned)
    def rule_assigned(self, w: SqlWriter, e: FI.RuleAssigned, position: int) -> None:
        set_handlers(w, e)
        self._inbox(w, e, e.task)
        self._line(w, e, "rule_assigned", node=e.node, task=e.task,
                   detail={"rule": e.rule, "mode": e.mode, "added": e.added, "candidates": e.candidates})
        self._touch(w, e, position)

    @handles(FI.TaskAutoApproved)
    def auto_approved(self, w: SqlWriter, e: FI.TaskAutoApproved, position: int) -> None:
        self._line(w, e, "auto_approved", node=e.node, task=e.task, comment=e.reason, detail={"rule": e.rule})
        self._touch(w, e, position)

    @handles(FI.RuleFlowStarted)
    def flow_started(self, w: SqlWriter, e: FI.RuleFlowStarted, position: int) -> None:
        self._line(w, e, "rule_started_flow", detail={"rule": e.rule, "flow": e.flow,
                                                      "instance": str(e.instance) if e.instance else None,
                                                      "problem": e.problem})
        self._touch(w, e, position)
