"""Sharing a task and the flow: added signers (加签/减签), transfer, delegation (委派), claiming a
pool task (认领), urging (催办), copies (抄送) and remarks. ``Handovers`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable

from domain.flows.instance.errors import AlreadyClaimedError, AlreadyReadError, AlreadySignedError
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import Task
from domain.shared.errors import PermissionDeniedError, RuleViolationError


class Handovers:
    tasks: dict[str, Task]
    cc_to: list[str]
    cc_unread: list[str]
    # from the host: TaskRules, Decisions and the events of FlowInstance
    task: Callable[[str], Task]
    require_running: Callable[[], None]
    require_open: Callable[[str], Task]
    require_own_handler: Callable[[str, str, str], Task]
    require_independent: Callable[..., None]
    _finish_task: Callable[[str, FlowRuntime], None]
    _signer_added: Callable[..., None]
    _signer_removed: Callable[..., None]
    _transferred: Callable[..., None]
    _delegated: Callable[..., None]
    _claimed: Callable[..., None]
    _urged: Callable[..., None]
    _copied: Callable[..., None]
    _cc_read: Callable[..., None]
    _remarked: Callable[..., None]

    def add_signer(self, task_id: str, actor: str, signer: str, position: str, comment: str) -> None:
        """加签: someone else signs before (then it comes back) or after (before the flow goes on)."""
        task = self.require_own_handler(task_id, actor, "add signers")
        if position not in ("before", "after"):
            raise RuleViolationError("position is before or after", field="position")
        if signer in task.candidates or signer in task.before or signer in task.after:
            raise RuleViolationError(f"{signer} already signs this task", field="signer")
        self.require_independent(task, signer, "signer")
        self._signer_added(task=task_id, by=actor, signer=signer, position=position, comment=comment)

    def remove_signer(self, task_id: str, actor: str, signer: str, comment: str, rt: FlowRuntime) -> None:
        """减签: whoever added a signer (before or after) removes them before they have signed. The
        last signer after removed, the task goes on as if they had signed."""
        task = self.require_open(task_id)
        position = "before" if signer in task.before else "after" if signer in task.after else None
        if position is None:
            if signer in task.signed:
                raise AlreadySignedError(f"{signer} has signed already", field="signer")
            raise RuleViolationError(f"{signer} is not a signer added to this task", field="signer")
        if task.added_by.get(signer) != actor or actor not in task.candidates:
            raise PermissionDeniedError("only the handler who added a signer may remove them")
        self._signer_removed(task=task_id, by=actor, signer=signer, position=position, comment=comment)
        if task.after_phase and not task.after:
            self._finish_task(task_id, rt)

    def transfer(self, task_id: str, actor: str, to: str, comment: str) -> None:
        self._require_newcomer(self.require_own_handler(task_id, actor, "transfer it"), to)
        self._transferred(task=task_id, by=actor, to=to, comment=comment)

    def delegate(self, task_id: str, actor: str, to: str, comment: str) -> None:
        self._require_newcomer(self.require_own_handler(task_id, actor, "delegate it"), to)
        self._delegated(task=task_id, by=actor, to=to, comment=comment)

    def _require_newcomer(self, task: Task, to: str) -> None:
        if to in task.candidates:
            raise RuleViolationError(f"{to} already holds this task", field="to")
        self.require_independent(task, to, "to")

    def claim(self, task_id: str, actor: str) -> None:
        """认领: one of a pool task's candidates (single or any-sign, more than one candidate) takes it
        for themselves; the others no longer see it."""
        task = self.task(task_id)
        self.require_running()
        if task.claimed_by and task.claimed_by != actor and actor in task.pool and task.status == "open":
            raise AlreadyClaimedError(f"{task.claimed_by} has claimed this task")
        task = self.require_own_handler(task_id, actor, "claim it")
        if task.mode not in ("single", "any") or len(task.candidates) < 2:
            raise RuleViolationError("only a task offered to several people (a pool) can be claimed",
                                     field="task_id")
        self._claimed(task=task_id, node=task.node, by=actor, pool=list(task.candidates))

    def urge(self, actor: str, task_id: str) -> None:
        self.require_open(task_id)
        self._urged(task=task_id, by=actor)

    def cc(self, actor: str, to: list[str], note: str) -> None:
        if not to:
            raise RuleViolationError("name at least one operator to copy", field="to")
        self._copied(by=actor, to=sorted(set(to)), note=note)

    def mark_cc_read(self, actor: str) -> None:
        """抄送已读: a recipient marks the copies they received as read."""
        if actor not in self.cc_to:
            raise PermissionDeniedError("this flow was not copied to you")
        if actor not in self.cc_unread:
            raise AlreadyReadError("nothing unread was copied to you on this flow")
        self._cc_read(by=actor)

    def remark(self, actor: str, text: str) -> None:
        self._remarked(by=actor, text=text)
