"""Notices from flow instances: tasks that reach someone (opened, handed over, next in line,
returned), urged and SLA-passed tasks, and what the initiator hears (each node's approval or
rejection, completion); copies (抄送). The rules are domain/notifications/recipients.py; this
module keeps what they need from earlier events (a task's handlers, a version's node names)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from domain.flows.definition import FlowDefinition
from domain.flows.instance import FlowInstance
from domain.notifications import recipients as rules
from domain.notifications.recipients import DEDUPLICATED, Notice, TaskView
from domain.notifications.templates import fields
from projections.flows import board
from projections.framework import SqlWriter, handles, json_text
from projections.notifications.delivery import Outlet, Subject

# Any: the event classes are made by @event("Name") today and declared by hand once the flows
# events are explicit classes; handlers name them the same way either way.
FI: Any = FlowInstance
FD: Any = FlowDefinition
INSTANCE = ("SELECT i.*, v.names FROM notifications_flow_instances i LEFT JOIN notifications_flow_versions v"
            " ON v.definition_key = i.definition_key AND v.number = i.definition_version WHERE i.id = %s")


def _view(state: dict[str, Any]) -> TaskView:
    """A task's state as stored (JSON: lists) back as the value it was."""
    return TaskView(node=state["node"], mode=state["mode"], candidates=tuple(state["candidates"]),
                    approvals=tuple(state["approvals"]), before=tuple(state["before"]), after=tuple(state["after"]),
                    after_phase=bool(state["after_phase"]),
                    delegations=tuple((d[0], d[1]) for d in state["delegations"]),
                    opened_version=int(state["opened_version"]))


class FlowNotices:
    outlet: Outlet

    # -- what later events need to know ---------------------------------------------------------
    @handles(FD.Created)
    def definition_created(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO notifications_flow_keys VALUES (%s, %s) ON CONFLICT DO NOTHING",
                  (e.originator_id, e.key))

    @handles(FD.Published)
    def definition_published(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO notifications_flow_versions SELECT key, %s, %s::jsonb, %s FROM notifications_flow_keys"
                  " WHERE id = %s ON CONFLICT (definition_key, number) DO UPDATE SET names = excluded.names,"
                  " summary_fields = excluded.summary_fields",
                  (e.number, json_text(board.node_names(e.graph)), board.summary_fields(e.settings),
                   e.originator_id))

    @handles(FI.Started)
    def started(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("INSERT INTO notifications_flow_instances (id, title, initiator, business_line, department_id,"
                  " definition_key, definition_version) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                  (e.originator_id, e.title, e.initiator, e.business_line, e.department_id, e.definition_key,
                   e.definition_version))
        self._summarise(w, e.originator_id, e.data)

    @handles(FI.FormEdited)
    def form_edited(self, w: SqlWriter, e: Any, position: int) -> None:
        self._summarise(w, e.originator_id, e.data)

    def _summarise(self, w: SqlWriter, instance_id: Any, data: Any) -> None:
        """The OA summary (摘要): the version's summary fields read from the form data."""
        row = w.execute("SELECT v.summary_fields FROM notifications_flow_instances i JOIN notifications_flow_versions"
                        " v ON v.definition_key = i.definition_key AND v.number = i.definition_version"
                        " WHERE i.id = %s", (instance_id,)).fetchone()
        summary = board.summary_of(data, list(row["summary_fields"] or [])) if row else {}
        w.execute("UPDATE notifications_flow_instances SET summary = %s::jsonb WHERE id = %s",
                  (json_text(summary, default=str), instance_id))

    @handles(FI.DepartmentMoved)
    def department_moved(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE notifications_flow_instances SET department_id = %s WHERE id = %s",
                  (e.to_department, e.originator_id))

    @handles(FI.Migrated)
    def migrated(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE notifications_flow_instances SET definition_version = %s WHERE id = %s",
                  (e.to_version, e.originator_id))
        for row in w.execute("SELECT task_id, state FROM notifications_flow_tasks WHERE instance_id = %s",
                             (e.originator_id,)).fetchall():
            node = row["state"]["node"]
            self._save(w, e, row["task_id"], {**row["state"], "node": e.renames.get(node, node)})

    @handles(FI.Returned)
    def returned(self, w: SqlWriter, e: Any, position: int) -> None:
        # The task the return opens (at the target, or the initiator's resubmission) comes next.
        w.execute("UPDATE notifications_flow_instances SET returned_token = %s WHERE id = %s",
                  (e.token, e.originator_id))

    # -- tasks ------------------------------------------------------------------------------------
    @handles(FI.TaskOpened)
    def task_opened(self, w: SqlWriter, e: Any, position: int) -> None:
        task = TaskView(node=e.node, mode=e.mode, candidates=tuple(e.candidates),
                        opened_version=e.originator_version)
        self._save(w, e, e.task, asdict(task))
        row = w.execute(INSTANCE, (e.originator_id,)).fetchone()
        returned = row is not None and row["returned_token"] == e.token
        if returned:
            w.execute("UPDATE notifications_flow_instances SET returned_token = NULL WHERE id = %s",
                      (e.originator_id,))
        self._flow_notice(w, e, position, rules.task_opened(task, returned=returned), e.task, task.node)

    @handles(FI.TaskApproved)
    def task_approved(self, w: SqlWriter, e: Any, position: int) -> None:
        if e.comment == DEDUPLICATED:
            # Approved by de-duplication as it opened: nobody is waited for, so nobody is told.
            self._withdraw_opening(w, e, keep=[])
        self._change(w, e, position, lambda t: t.approved(e.by))

    @handles(FI.SignerApproved)
    def signer_approved(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, TaskView.signer_approved)

    @handles(FI.AfterSignersPending)
    def after_signers_pending(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, TaskView.after_signers_pending)

    @handles(FI.SignerAdded)
    def signer_added(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.signer_added(e.signer, e.position))

    @handles(FI.SignerRemoved)
    def signer_removed(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.signer_removed(e.signer, e.position))

    @handles(FI.TaskTransferred, FI.TaskDelegated)
    def handed(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.handed(e.by, e.to, delegated=isinstance(e, FI.TaskDelegated)))

    @handles(FI.DelegationAnswered)
    def delegation_answered(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.delegation_answered(e.by))

    @handles(FI.TaskReassigned)
    def reassigned(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.reassigned(e.candidates))

    @handles(FI.TaskClaimed)
    def claimed(self, w: SqlWriter, e: Any, position: int) -> None:
        self._change(w, e, position, lambda t: t.claimed(e.by))

    @handles(FI.Urged)
    def urged(self, w: SqlWriter, e: Any, position: int) -> None:
        task = self._task(w, e)
        if task is not None:
            self._flow_notice(w, e, position, rules.urged(task), e.task, task.node)

    @handles(FI.SlaWarned, FI.SlaBreached)
    def sla_passed(self, w: SqlWriter, e: Any, position: int) -> None:
        task = self._task(w, e)
        if task is not None:
            notice = rules.sla_passed(task, breached=isinstance(e, FI.SlaBreached))
            self._flow_notice(w, e, position, notice, e.task, task.node, due_at=str(e.due_at or ""))

    @handles(FI.SlaReminded)
    def sla_reminded(self, w: SqlWriter, e: Any, position: int) -> None:
        """A timeout's reminder (超时提醒) reaches the task's handlers as an urge does."""
        task = self._task(w, e)
        if task is not None:
            self._flow_notice(w, e, position, rules.urged(task), e.task, task.node)

    @handles(FI.TaskEscalated)
    def escalated(self, w: SqlWriter, e: Any, position: int) -> None:
        """超时升级: whoever the task was escalated to hears of it (sla_escalated)."""
        task = self._task(w, e)
        if task is None:
            return
        after = task.reassigned(e.candidates) if e.mode == "reassign" else replace(task, candidates=tuple(e.candidates))
        self._save(w, e, e.task, asdict(after))
        self._flow_notice(w, e, position, rules.escalated(e.added), e.task, after.node)

    @handles(FI.RuleAssigned)
    def rule_assigned(self, w: SqlWriter, e: Any, position: int) -> None:
        """A rule routed the task (e.g. by region): whoever holds it now and did not before; the
        unread notice of its opening is withdrawn from whoever no longer holds it."""
        if e.mode == "reassign":
            self._withdraw_opening(w, e, keep=list(e.candidates))
        self._change(w, e, position, lambda t: t.reassigned(e.candidates) if e.mode == "reassign"
                     else replace(t, candidates=tuple(e.candidates)))

    @handles(FI.TaskAutoApproved)
    def auto_approved(self, w: SqlWriter, e: Any, position: int) -> None:
        """Approved by a rule: nobody is waited for any more (the initiator hears of the approval
        from TaskClosed)."""
        self._withdraw_opening(w, e, keep=[])

    def _withdraw_opening(self, w: SqlWriter, e: Any, keep: list[str]) -> None:
        """Unread in-app notices of the task's opening, for those not in ``keep`` (an external
        message already enqueued stays: the projection only ever inserts into the outbox)."""
        task = self._task(w, e)
        if task is not None:
            w.execute("DELETE FROM notifications WHERE source_id = %s AND source_version = %s AND task_id = %s"
                      " AND read_at IS NULL AND NOT (recipient = ANY(%s))",
                      (e.originator_id, task.opened_version, e.task, keep))

    @handles(FI.RuleFired)
    def rule_fired(self, w: SqlWriter, e: Any, position: int) -> None:
        """A rule's notify actions, to the recipients the firing recorded (one notice per recipient
        and firing: a second notify action of the same rule reaches only those the first did not)."""
        told: set[str] = set()
        for action in e.actions:
            if action["kind"] == "notify" and not action.get("problem"):
                to = [r for r in action["to"] if r not in told]
                told.update(to)
                self._flow_notice(w, e, position, rules.rule_notice(to), e.task, e.node, message=action["message"])

    @handles(FI.TaskClosed)
    def task_closed(self, w: SqlWriter, e: Any, position: int) -> None:
        task = self._task(w, e)
        row = w.execute("SELECT initiator FROM notifications_flow_instances WHERE id = %s",
                        (e.originator_id,)).fetchone()
        if task is not None and row is not None:
            self._flow_notice(w, e, position, rules.task_closed(e.outcome, row["initiator"]), e.task, task.node)
        w.execute("DELETE FROM notifications_flow_tasks WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))

    # -- the flow as a whole ----------------------------------------------------------------------
    @handles(FI.Completed, FI.Finished)
    def ended(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("DELETE FROM notifications_flow_tasks WHERE instance_id = %s", (e.originator_id,))
        if isinstance(e, FI.Completed):
            row = w.execute("SELECT initiator FROM notifications_flow_instances WHERE id = %s",
                            (e.originator_id,)).fetchone()
            if row is not None:
                self._flow_notice(w, e, position, rules.completed(row["initiator"]), None, None)

    @handles(FI.CarbonCopied)
    def copied(self, w: SqlWriter, e: Any, position: int) -> None:
        self._flow_notice(w, e, position, rules.copied(e.to), None, None)

    # -- helpers ----------------------------------------------------------------------------------
    def _task(self, w: SqlWriter, e: Any) -> TaskView | None:
        row = w.execute("SELECT state FROM notifications_flow_tasks WHERE instance_id = %s AND task_id = %s",
                        (e.originator_id, e.task)).fetchone()
        return _view(row["state"]) if row else None

    def _save(self, w: SqlWriter, e: Any, task_id: str, state: dict[str, Any]) -> None:
        w.execute("INSERT INTO notifications_flow_tasks VALUES (%s, %s, %s::jsonb) ON CONFLICT (instance_id, task_id)"
                  " DO UPDATE SET state = excluded.state", (e.originator_id, task_id, json_text(state)))

    def _change(self, w: SqlWriter, e: Any, position: int, change: Callable[[TaskView], TaskView]) -> None:
        """A task changed: whoever holds it now and did not before hears of it."""
        before = self._task(w, e)
        if before is None:
            return
        after = change(before)
        self._save(w, e, e.task, asdict(after))
        self._flow_notice(w, e, position, rules.handed_over(before, after), e.task, after.node)

    def _flow_notice(self, w: SqlWriter, e: Any, position: int, notice: Notice | None, task_id: str | None,
                node: str | None, due_at: str = "", message: str = "") -> None:
        if notice is None or not notice.to(e.actor):
            return
        row = w.execute(INSTANCE, (e.originator_id,)).fetchone()
        if row is None:
            return
        name = str((row["names"] or {}).get(node, node)) if node else ""
        link = f"/flows/instances/{e.originator_id}"
        values = fields(title=row["title"], node=name, instance_id=str(e.originator_id), link=link, due_at=due_at,
                        message=message)
        oa = {"instance_id": str(e.originator_id), "title": row["title"], "node": name, "summary": row["summary"]}
        self.outlet.send(w, e, position, notice, values,
                         Subject(link, e.originator_id, task_id, None, row["business_line"], row["department_id"], oa))
