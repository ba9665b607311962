"""Tasks in the flow instance read model: ``flows_tasks`` (one row per task: candidates, who
decided, signers added before and after, SLA flags) and the todo inbox derived from it (one row per
open task and current handler), from opening to closing, through handovers, returns, take-backs
and jumps. Mixed into FlowInstancesProjection: the rows live and are rebuilt with the instance
tables, in the same transaction as the instance's other events."""
from __future__ import annotations

from domain.flows.instance import FlowInstance as FI
from projections.flows import board
from projections.flows.rows import InstanceRows
from projections.framework import SqlWriter, handles

ADD_SIGNER = {position: f"UPDATE flows_tasks SET signers_{position} = array_append(signers_{position}, %s)"
                        " WHERE instance_id = %s AND task_id = %s" for position in ("before", "after")}


class TaskHandlers(InstanceRows):
    @handles(FI.TaskOpened)
    def task_opened(self, w: SqlWriter, e: FI.TaskOpened, position: int) -> None:
        w.execute("INSERT INTO flows_tasks (instance_id, task_id, node, mode, status, candidates, business_type,"
                  " business_line, department_id, fund_account, initiator, title, opened_at, sla_due_at, sla_warn_at)"
                  " SELECT id, %s, %s, %s, 'open', %s, business_type, business_line, department_id, fund_account,"
                  " initiator, title, %s, %s, %s FROM flows_instances WHERE id = %s",
                  (e.task, e.node, e.mode, e.candidates, e.timestamp, getattr(e, "sla_due_at", None),
                   getattr(e, "sla_warn_at", None), e.originator_id))
        self._inbox(w, e, e.task)
        self._line(w, e, "task_opened", node=e.node, task=e.task, detail={"candidates": e.candidates})
        self._touch(w, e, position)

    @handles(FI.TaskApproved, FI.TaskRejected)
    def decided(self, w: SqlWriter, e: FI.TaskApproved | FI.TaskRejected, position: int) -> None:
        w.execute("UPDATE flows_tasks SET decided_by = array_append(decided_by, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        kind = "approved" if isinstance(e, FI.TaskApproved) else "rejected"
        code = getattr(e, "reason_code", None)
        self._line(w, e, kind, node=e.node, task=e.task, comment=e.comment,
                   detail={"reason_code": code} if code else None)
        self._touch(w, e, position)

    @handles(FI.TaskClosed)
    def closed(self, w: SqlWriter, e: FI.TaskClosed, position: int) -> None:
        w.execute("UPDATE flows_tasks SET status = %s, closed_at = %s WHERE instance_id = %s AND task_id = %s",
                  (e.outcome, e.timestamp, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._touch(w, e, position)

    @handles(FI.TaskDelegated)
    def delegated(self, w: SqlWriter, e: FI.TaskDelegated, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.to, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "delegated", task=e.task, comment=e.comment, detail={"to": e.to})
        self._touch(w, e, position)

    @handles(FI.DelegationAnswered)
    def delegation_answered(self, w: SqlWriter, e: FI.DelegationAnswered, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, (SELECT actor FROM flows_timeline"
                  " WHERE instance_id = %s AND task_id = %s AND kind = 'delegated' AND detail->>'to' = %s"
                  " ORDER BY seq DESC LIMIT 1)) WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task, e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "delegation_answered", task=e.task, comment=e.comment)
        self._touch(w, e, position)

    @handles(FI.SignerAdded)
    def signer_added(self, w: SqlWriter, e: FI.SignerAdded, position: int) -> None:
        w.execute(ADD_SIGNER[e.position], (e.signer, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_added", task=e.task, comment=e.comment,
                   detail={"signer": e.signer, "position": e.position})
        self._touch(w, e, position)

    @handles(FI.SignerApproved)
    def signer_approved(self, w: SqlWriter, e: FI.SignerApproved, position: int) -> None:
        w.execute("UPDATE flows_tasks SET decided_by = array_append(decided_by, %s),"
                  " signers_before = CASE WHEN cardinality(signers_before) > 0 THEN signers_before[2:]"
                  " ELSE signers_before END,"
                  " signers_after = CASE WHEN cardinality(signers_before) = 0 THEN signers_after[2:]"
                  " ELSE signers_after END WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_approved", task=e.task, comment=e.comment)
        self._touch(w, e, position)

    @handles(FI.AfterSignersPending)
    def after_signers_pending(self, w: SqlWriter, e: FI.AfterSignersPending, position: int) -> None:
        w.execute("UPDATE flows_tasks SET after_phase = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._touch(w, e, position)

    @handles(FI.TaskReassigned)
    def reassigned(self, w: SqlWriter, e: FI.TaskReassigned, position: int) -> None:
        # Signers added before or after belonged to the old handlers' decision: they go too (as
        # in FlowInstance), so the inbox holds the new candidates, not a signer left over.
        w.execute("UPDATE flows_tasks SET candidates = %s, signers_before = '{}', signers_after = '{}',"
                  " after_phase = false WHERE instance_id = %s AND task_id = %s",
                  (e.candidates, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "reassigned", task=e.task, comment=e.reason, detail={"candidates": e.candidates})
        self._touch(w, e, position)

    @handles(FI.SlaWarned)
    def sla_warned(self, w: SqlWriter, e: FI.SlaWarned, position: int) -> None:
        w.execute("UPDATE flows_tasks SET sla_warned = true, urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "sla_warning", node=e.node, task=e.task, detail={"due_at": e.due_at})
        self._seen(w, e, position)

    @handles(FI.SlaBreached)
    def sla_breached(self, w: SqlWriter, e: FI.SlaBreached, position: int) -> None:
        w.execute("UPDATE flows_tasks SET overdue = true, urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "sla_breached", node=e.node, task=e.task, detail={"due_at": e.due_at})
        self._seen(w, e, position)

    @handles(FI.Urged)
    def urged(self, w: SqlWriter, e: FI.Urged, position: int) -> None:
        w.execute("UPDATE flows_tasks SET urgent = true WHERE instance_id = %s AND task_id = %s",
                  (e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "urged", task=e.task)
        self._seen(w, e, position)

    @handles(FI.TaskTransferred)
    def transferred(self, w: SqlWriter, e: FI.TaskTransferred, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = array_replace(candidates, %s, %s) WHERE instance_id = %s"
                  " AND task_id = %s", (e.by, e.to, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "transferred", task=e.task, comment=e.comment, detail={"to": e.to})
        self._touch(w, e, position)

    @handles(FI.Returned)
    def returned(self, w: SqlWriter, e: FI.Returned, position: int) -> None:
        w.execute("UPDATE flows_tasks SET status = CASE WHEN task_id = %s THEN 'returned' ELSE 'cancelled' END,"
                  " closed_at = %s WHERE instance_id = %s AND status = 'open'", (e.task, e.timestamp, e.originator_id))
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s", (e.originator_id,))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s", (e.originator_id,))
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (e.target, e.originator_id))
        self._tokens(w, e, "jsonb_build_object(%s::text, %s::text)", (e.token, e.target))
        w.execute(board.ROLL_UP, (e.originator_id,))
        # node = where the return was decided (as in the audit trail); the detail names both ends.
        self._line(w, e, "returned", node=e.node, task=e.task, comment=e.comment,
                   detail={"origin": e.node, "target": e.target,
                           **({"reason_code": e.reason_code} if getattr(e, "reason_code", None) else {})})
        self._touch(w, e, position)

    def _cancel_and_move(self, w: SqlWriter, e: FI.TaskTakenBack | FI.Jumped, cancelled: list[str], token: str,
                         node: str) -> None:
        """Take-back and jump: the listed open tasks are cancelled, one token stands at ``node``."""
        w.execute("UPDATE flows_tasks SET status = 'cancelled', closed_at = %s WHERE instance_id = %s"
                  " AND task_id = ANY(%s) AND status = 'open'", (e.timestamp, e.originator_id, list(cancelled)))
        w.execute("DELETE FROM flows_todo_inbox WHERE instance_id = %s AND task_id = ANY(%s)",
                  (e.originator_id, list(cancelled)))
        w.execute("DELETE FROM flows_pauses WHERE instance_id = %s", (e.originator_id,))
        w.execute("UPDATE flows_instances SET visited = array_append(visited, %s) WHERE id = %s",
                  (node, e.originator_id))
        self._tokens(w, e, "jsonb_build_object(%s::text, %s::text)", (token, node))
        w.execute(board.ROLL_UP, (e.originator_id,))

    @handles(FI.TaskTakenBack)
    def taken_back(self, w: SqlWriter, e: FI.TaskTakenBack, position: int) -> None:
        self._cancel_and_move(w, e, e.cancelled, e.token, e.node)
        self._line(w, e, "taken_back", node=e.node, task=e.task, comment=e.comment or None,
                   detail={"cancelled": e.cancelled})
        self._touch(w, e, position)

    @handles(FI.SignerRemoved)
    def signer_removed(self, w: SqlWriter, e: FI.SignerRemoved, position: int) -> None:
        w.execute(f"UPDATE flows_tasks SET signers_{'before' if e.position == 'before' else 'after'} ="
                  f" array_remove(signers_{'before' if e.position == 'before' else 'after'}, %s)"
                  " WHERE instance_id = %s AND task_id = %s", (e.signer, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "signer_removed", task=e.task, comment=e.comment or None,
                   detail={"signer": e.signer, "position": e.position})
        self._touch(w, e, position)

    @handles(FI.Jumped)
    def jumped(self, w: SqlWriter, e: FI.Jumped, position: int) -> None:
        self._cancel_and_move(w, e, e.cancelled, e.token, e.target)
        # node = the target (a jump may leave several nodes at once: detail.from lists them).
        self._line(w, e, "jumped", node=e.target, comment=e.reason,
                   detail={"from": e.from_nodes, "target": e.target, "by": e.by, "cancelled": e.cancelled})
        self._touch(w, e, position)

    @handles(FI.TaskClaimed)
    def claimed(self, w: SqlWriter, e: FI.TaskClaimed, position: int) -> None:
        w.execute("UPDATE flows_tasks SET candidates = ARRAY[%s] WHERE instance_id = %s AND task_id = %s",
                  (e.by, e.originator_id, e.task))
        self._inbox(w, e, e.task)
        self._line(w, e, "claimed", node=e.node, task=e.task, detail={"pool": e.pool})
        self._touch(w, e, position)
