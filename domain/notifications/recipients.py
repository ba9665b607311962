"""Who hears of what: pure rules from an event's fields (and, for a task, what the instance's
earlier events made of it) to a kind of notification and its recipients.

A task's handlers are the flow engine's own rule (``TaskRules.current_handlers``: a signer added
before comes first, one added after once the node's rule is met, otherwise the candidates who
have not decided — sequential: the next in line). Whoever *becomes* a handler hears of it, by
whatever event made them one (opening, transfer, delegation and its answer, added signers,
reassignment, the next in a sequential node). Nobody is told of their own act."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from domain.flows.instance.tasks import RESUBMIT, Task, TaskRules
from domain.notifications.kinds import is_operator

_RULES = TaskRules()  # current_handlers reads nothing but the task it is given
# The comment the engine records on an approval it made by de-duplication as the task opened
# (domain/flows/instance/nodes.py, Approval): nobody needs to hear of that task.
DEDUPLICATED = "approved earlier in this flow (de-duplicated)"


@dataclass(frozen=True)
class TaskView:
    """A task as far as who holds it, rebuilt from the instance's events in their order."""
    node: str
    mode: str
    candidates: tuple[str, ...]
    approvals: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    after_phase: bool = False
    delegations: tuple[tuple[str, str], ...] = ()   # (delegate, delegator) while a delegation is open
    opened_version: int = 0                          # the instance's version at TaskOpened

    def handlers(self) -> list[str]:
        task = Task(id="", token="", node=self.node, mode=self.mode, candidates=list(self.candidates),
                    approvals=list(self.approvals), before=list(self.before), after=list(self.after),
                    after_phase=self.after_phase)
        return _RULES.current_handlers(task)

    # -- what the instance's events do to it (as FlowInstance's own event methods do) ----------
    def approved(self, by: str) -> TaskView:
        return replace(self, approvals=(*self.approvals, by))

    def signer_added(self, signer: str, position: str) -> TaskView:
        if position == "before":
            return replace(self, before=(*self.before, signer))
        return replace(self, after=(*self.after, signer))

    def signer_approved(self) -> TaskView:
        if self.before:
            return replace(self, before=self.before[1:])
        return replace(self, after=self.after[1:])

    def after_signers_pending(self) -> TaskView:
        return replace(self, after_phase=True)

    def signer_removed(self, signer: str, position: str) -> TaskView:
        if position == "before":
            return replace(self, before=tuple(s for s in self.before if s != signer))
        return replace(self, after=tuple(s for s in self.after if s != signer))

    def handed(self, by: str, to: str, *, delegated: bool = False) -> TaskView:
        """Transferred (转交) or delegated (委派): ``to`` takes ``by``'s place among the candidates."""
        delegations = (*self.delegations, (to, by)) if delegated else self.delegations
        return replace(self, candidates=tuple(to if c == by else c for c in self.candidates),
                       delegations=delegations)

    def delegation_answered(self, by: str) -> TaskView:
        delegator = dict(self.delegations).get(by)
        if delegator is None:
            return self
        return replace(self, candidates=tuple(delegator if c == by else c for c in self.candidates),
                       delegations=tuple(d for d in self.delegations if d[0] != by))

    def reassigned(self, candidates: Iterable[str]) -> TaskView:
        return replace(self, candidates=tuple(candidates), before=(), after=(), after_phase=False, delegations=())

    def claimed(self, by: str) -> TaskView:
        return replace(self, candidates=(by,))


@dataclass(frozen=True)
class Notice:
    """A kind of notification and whom it goes to (before leaving out the one who acted)."""
    kind: str
    recipients: tuple[str, ...] = field(default=())

    def to(self, actor: str) -> list[str]:
        """The operators to notify: each once, in order, never the one whose act this is."""
        return list(dict.fromkeys(r for r in self.recipients if is_operator(r) and r != actor))


def task_opened(task: TaskView, *, returned: bool) -> Notice:
    """A task opens: its handlers hear of it; after a return (or when the flow waits for its
    initiator to resubmit) as "returned to you"."""
    kind = "returned_to_you" if returned or task.mode == RESUBMIT else "task_arrived"
    return Notice(kind, tuple(task.handlers()))


def handed_over(before: TaskView, after: TaskView) -> Notice:
    """Any other change to a task: whoever holds it now and did not before."""
    held = set(before.handlers())
    return Notice("task_arrived", tuple(h for h in after.handlers() if h not in held))


def urged(task: TaskView) -> Notice:
    return Notice("task_urged", tuple(task.handlers()))


def sla_passed(task: TaskView, *, breached: bool) -> Notice:
    return Notice("sla_breached" if breached else "sla_warning", tuple(task.handlers()))


def escalated(to: Iterable[str]) -> Notice:
    """An overdue task escalated (超时升级): whoever it was escalated to (a supervisor)."""
    return Notice("sla_escalated", tuple(to))


def task_closed(outcome: str, initiator: str) -> Notice | None:
    """The initiator hears of each node that approved (or rejected) their flow."""
    kinds = {"approved": "instance_approved", "rejected": "instance_rejected"}
    return Notice(kinds[outcome], (initiator,)) if outcome in kinds else None


def completed(initiator: str) -> Notice:
    return Notice("instance_completed", (initiator,))


def copied(to: Iterable[str]) -> Notice:
    return Notice("copied", tuple(to))


def lead_owned(previous: str | None, owner: str | None) -> Notice | None:
    """A lead placed with an owner (at intake, by hand, by a rule after recycling): the new owner."""
    return Notice("lead_assigned", (owner,)) if owner and owner != previous else None


def lead_opening(kind: str, owner: str | None) -> Notice | None:
    """开户: the lead's owner hears that their lead opened an account."""
    return Notice("lead_account_opened", (owner,)) if kind == "opened" and owner else None


def rule_notice(to: Iterable[str]) -> Notice:
    """An IF-THEN rule's notify action (e.g. 超时预警 at 1.5 h): the recipients it resolved."""
    return Notice("rule_notice", tuple(to))
