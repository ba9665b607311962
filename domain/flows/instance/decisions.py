"""Deciding a task — approve, reject, return (驳回/退回), take back (拿回) — and the initiator's
answers to a return: resubmit or withdraw. ``Decisions`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable

from domain.flows.graph import return_targets_allowed
from domain.flows.instance.errors import AlreadyActedError
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import RESUBMIT, Segregation, Task, seq_of, sla_times
from domain.flows.timeouts import SLA_ACTOR
from domain.shared.errors import PermissionDeniedError, RuleViolationError


class Decisions:
    status: str
    initiator: str
    tokens: dict[str, str]
    tasks: dict[str, Task]
    visited: list[str]
    acted: dict[str, list[str]]
    delegations: dict[str, dict[str, str]]
    pauses: dict[str, str]
    arrivals: dict[str, list[str]]
    decisions: int
    system_done_at: int
    # from the host: TaskRules, NodeEngine and the events of FlowInstance
    task: Callable[[str], Task]
    require_running: Callable[[], None]
    require_decidable: Callable[[str, str], Task]
    require_own_handler: Callable[[str, str, str], Task]
    open_task: Callable[[str], Task | None]
    advance: Callable[[FlowRuntime], None]
    _next_id: Callable[[str], str]
    _move: Callable[[str, str], None]
    _delegation_answered: Callable[..., None]
    _signer_approved: Callable[..., None]
    _after_phase: Callable[..., None]
    _approved: Callable[..., None]
    _task_closed: Callable[..., None]
    _task_opened: Callable[..., None]
    _rejected_task: Callable[..., None]
    _finished: Callable[..., None]
    _returned: Callable[..., None]
    _taken_back: Callable[..., None]
    _resubmitted: Callable[..., None]

    def approve(self, task_id: str, actor: str, comment: str, rt: FlowRuntime) -> None:
        self.require_decidable(task_id, actor)
        if actor in self.delegations.get(task_id, {}):
            # 委派: the delegate gives an opinion; the task goes back to the delegator to decide.
            self._delegation_answered(task=task_id, by=actor, comment=comment)
            return
        task = self.tasks[task_id]
        if task.before or task.after_phase:
            # 加签: an added signer approves; the task returns to its candidates or goes on.
            self._signer_approved(task=task_id, by=actor, comment=comment)
            if task.after_phase and not task.after:
                self._finish_task(task_id, rt)
            return
        self._approved(task=task_id, node=task.node, by=actor, comment=comment)
        if task.passes():
            if task.after:
                self._after_phase(task=task_id)
                return
            self._finish_task(task_id, rt)

    def _finish_task(self, task_id: str, rt: FlowRuntime) -> None:
        task = self.tasks[task_id]
        self._task_closed(task=task_id, outcome="approved")
        self._move(task.token, rt.next_after(task.node))
        self.advance(rt)

    def reject(self, task_id: str, actor: str, comment: str, reason_code: str | None = None) -> None:
        """拒绝: the flow ends as rejected (a vote only fails once the threshold is out of reach).
        ``reason_code`` comes from the definition's catalogue (checked by the application)."""
        task = self.require_own_handler(task_id, actor, "reject")
        self._rejected_task(task=task_id, node=task.node, by=actor, comment=comment, reason_code=reason_code)
        if task.mode == "vote" and task.vote_still_open():
            return
        self._task_closed(task=task_id, outcome="rejected")
        self._finished(status="rejected", reason=comment)

    def return_to(self, task_id: str, actor: str, target: str, comment: str, rt: FlowRuntime,
                  reason_code: str | None = None) -> None:
        """驳回/退回 to the initiator (start), the previous node or any allowed earlier node."""
        task = self.require_own_handler(task_id, actor, "return it")
        self._return_task(task, actor, target, comment, rt, reason_code)

    def _return_target(self, task: Task, target: str, rt: FlowRuntime, *, any_visited: bool = False) -> str:
        """Where a return of ``task`` goes: ``target`` resolved ("previous") and allowed by the node
        (``any_visited``: any visited approval or the start, as a timeout may), else 422."""
        node = rt.node(task.node)
        returnable = return_targets_allowed(rt.graph)
        allowed = [n for n in self.visited if n != node.id] if node.return_targets == "any_earlier" \
            else list(node.return_targets)
        if node.return_to_any_visited or any_visited:  # any visited approval or the start (filtered below)
            allowed += [n for n in self.visited if n != node.id]
        allowed = list(dict.fromkeys(n for n in allowed if n in returnable))
        if target == "previous":  # the last person-facing node before this one
            here = len(self.visited) - 1 - self.visited[::-1].index(node.id)
            earlier = [n for n in self.visited[:here] if n in returnable and n != node.id]
            target = earlier[-1] if earlier else "start"
            allowed.append(target)
        if target not in allowed or target not in self.visited:
            raise RuleViolationError(f"this node may return to: {', '.join(allowed) or 'nowhere'}", field="target")
        return target

    def _return_task(self, task: Task, actor: str, target: str, comment: str, rt: FlowRuntime,
                     reason_code: str | None = None) -> None:
        target = self._return_target(task, target, rt, any_visited=actor == SLA_ACTOR)
        node = rt.node(task.node)
        token = self._next_id("t")
        self._returned(task=task.id, node=node.id, by=actor, target=target, comment=comment, token=token,
                       reason_code=reason_code)
        if target == "start":
            self._await_resubmission(token)
        self.advance(rt)  # a start token waits for the initiator to resubmit

    def _await_resubmission(self, token: str) -> None:
        """The flow waits for its initiator: a task of theirs puts it in their todo (current handler)."""
        self._task_opened(task=self._next_id("k"), token=token, node="start", mode=RESUBMIT,
                          candidates=[self.initiator], threshold=None)

    def take_back(self, task_id: str, actor: str, comment: str, rt: FlowRuntime) -> None:
        """拿回: whoever approved a task reclaims it while nobody after it has acted. The open
        task(s) that followed are cancelled and the node reopens for the same person alone."""
        task = self.task(task_id)
        self.require_running()
        if task.status == "open":
            raise RuleViolationError("this task is still open: decide it instead", field="task_id")
        if task.status != "approved" or actor not in task.approvals:
            raise PermissionDeniedError("only whoever approved this task may take it back")
        if task.node not in return_targets_allowed(rt.graph):
            raise RuleViolationError("a task inside a parallel or inclusive branch cannot be taken back",
                                     field="task_id")
        opened_at = seq_of(task_id)
        later = [t for t in self.tasks.values() if seq_of(t.id) > opened_at]
        waiting = {t.token for t in later if t.status == "open"}
        if (any(t.status != "open" or t.approvals or t.rejections or t.signed or self.acted.get(t.node)
                or t.id in self.delegations for t in later)
                or not self.tokens or set(self.tokens) != waiting or self.pauses or any(self.arrivals.values())
                or self.system_done_at > opened_at):
            raise AlreadyActedError("someone after this task has acted (or the flow moved on): "
                                    "it can no longer be taken back")
        node = rt.node(task.node)
        token = self._next_id("t")
        self._taken_back(task=task_id, node=node.id, by=actor, comment=comment, token=token,
                         cancelled=[t.id for t in later if t.status == "open"])
        segregation: Segregation = {"independent_of": list(task.independent_of),
                                    "excluded": list(task.excluded)} if task.independent_of else {}
        self._task_opened(task=self._next_id("k"), token=token, node=node.id, mode="single", candidates=[actor],
                          threshold=None, **sla_times(node, rt), **segregation)

    def resubmit(self, actor: str, rt: FlowRuntime) -> None:
        self.require_running()
        if actor != self.initiator or "start" not in self.tokens.values():
            raise RuleViolationError("only the initiator resubmits a flow returned to them")
        token = next(t for t, n in self.tokens.items() if n == "start")
        waiting = self.open_task(token)
        if waiting is not None:
            self._task_closed(task=waiting.id, outcome="resubmitted")
        self._resubmitted(by=actor)
        self._move(token, rt.next_after("start"))
        self.advance(rt)

    def withdraw(self, actor: str, reason: str) -> None:
        if actor != self.initiator:
            raise PermissionDeniedError("only the initiator may withdraw")
        self.require_running()
        if self.decisions:
            raise RuleViolationError("too late to withdraw: someone has already decided")
        self._finished(status="withdrawn", reason=reason)
