"""Flow instance: one run of a published flow version. Every action is an event; the state is
their replay. The engine walks tokens through the graph (instance/nodes.py, one handler per node
kind); approval nodes open tasks that people decide (decisions.py, handovers.py).

Decisions that must not change on replay are recorded, not recomputed: which branch a gateway
took, who the assignees were when a task opened, when a pause is due.

This module holds the state and the events that change it (their topics name this module, so
the class stays here); the commands live in the capability mixins beside it."""
from __future__ import annotations

from typing import Any, TypeAlias
from uuid import UUID

from eventsourcing.domain import event

from domain.flows.instance import events, rules, system_work, timeouts
from domain.flows.instance.calls import Calls
from domain.flows.instance.decisions import Decisions
from domain.flows.instance.handovers import Handovers
from domain.flows.instance.migrating import Migrating
from domain.flows.instance.nodes import NodeEngine
from domain.flows.instance.overrides import Overrides
from domain.flows.instance.rules import RuleEngine
from domain.flows.instance.runtime import Evaluate, FlowRuntime, Resolve
from domain.flows.instance.state import State
from domain.flows.instance.system_work import SystemWork
from domain.flows.instance.tasks import RESUBMIT, Task, TaskRules
from domain.flows.instance.timeouts import Timeouts
from domain.flows.instance.timers import Timers
from domain.flows.migration import apply_migration
from domain.shared.aggregate import LedgerAggregate

__all__ = ["RESUBMIT", "Evaluate", "FlowInstance", "FlowRuntime", "Resolve", "Task"]


class FlowInstance(State, RuleEngine, Timeouts, NodeEngine, Decisions, Handovers, Overrides, Calls, Timers, Migrating,
                   TaskRules, SystemWork, LedgerAggregate):
    # The events (declared in events.py), bound here: the aggregate's metaclass re-declares each as
    # FlowInstance.<Name> of this module, the topic every stored event carries.
    Started: TypeAlias = events.Started
    NodeEntered: TypeAlias = events.NodeEntered
    NodeSkipped: TypeAlias = events.NodeSkipped
    SystemTaskDone: TypeAlias = events.SystemTaskDone
    BranchTaken: TypeAlias = events.BranchTaken
    Forked: TypeAlias = events.Forked
    ArrivedAtJoin: TypeAlias = events.ArrivedAtJoin
    Joined: TypeAlias = events.Joined
    PauseStarted: TypeAlias = events.PauseStarted
    PauseEnded: TypeAlias = events.PauseEnded
    TokenEnded: TypeAlias = events.TokenEnded
    Completed: TypeAlias = events.Completed
    Finished: TypeAlias = events.Finished
    TaskOpened: TypeAlias = events.TaskOpened
    SlaWarned: TypeAlias = events.SlaWarned
    SlaBreached: TypeAlias = events.SlaBreached
    TaskApproved: TypeAlias = events.TaskApproved
    TaskRejected: TypeAlias = events.TaskRejected
    TaskClosed: TypeAlias = events.TaskClosed
    Returned: TypeAlias = events.Returned
    TaskTakenBack: TypeAlias = events.TaskTakenBack
    Jumped: TypeAlias = events.Jumped
    Resubmitted: TypeAlias = events.Resubmitted
    SignerAdded: TypeAlias = events.SignerAdded
    SignerApproved: TypeAlias = events.SignerApproved
    AfterSignersPending: TypeAlias = events.AfterSignersPending
    SignerRemoved: TypeAlias = events.SignerRemoved
    TaskTransferred: TypeAlias = events.TaskTransferred
    TaskDelegated: TypeAlias = events.TaskDelegated
    DelegationAnswered: TypeAlias = events.DelegationAnswered
    TaskReassigned: TypeAlias = events.TaskReassigned
    TaskClaimed: TypeAlias = events.TaskClaimed
    Urged: TypeAlias = events.Urged
    CarbonCopied: TypeAlias = events.CarbonCopied
    CarbonCopyRead: TypeAlias = events.CarbonCopyRead
    Remarked: TypeAlias = events.Remarked
    FormEdited: TypeAlias = events.FormEdited
    DepartmentMoved: TypeAlias = events.DepartmentMoved
    OverrideRequested: TypeAlias = events.OverrideRequested
    OverrideApproved: TypeAlias = events.OverrideApproved
    OverrideDeclined: TypeAlias = events.OverrideDeclined
    Chained: TypeAlias = events.Chained
    ChildStarted: TypeAlias = events.ChildStarted
    ChildNotStarted: TypeAlias = events.ChildNotStarted
    ChildFinished: TypeAlias = events.ChildFinished
    ChildCancelled: TypeAlias = events.ChildCancelled
    Migrated: TypeAlias = events.Migrated
    TimeoutArmed: TypeAlias = events.TimeoutArmed
    SlaReminded: TypeAlias = events.SlaReminded
    TaskEscalated: TypeAlias = events.TaskEscalated
    TimeoutActed: TypeAlias = events.TimeoutActed
    RuleFired: TypeAlias = events.RuleFired
    RuleArmed: TypeAlias = events.RuleArmed
    RuleAssigned: TypeAlias = events.RuleAssigned
    TaskAutoApproved: TypeAlias = events.TaskAutoApproved
    RuleFlowStarted: TypeAlias = events.RuleFlowStarted
    # 超时处理 and IF-THEN rules: their mutators live with their commands (instance/timeouts.py, rules.py)
    _timeout_armed, _sla_reminded = timeouts.timeout_armed, timeouts.sla_reminded
    _escalated, _timeout_acted = timeouts.escalated, timeouts.timeout_acted
    _rule_fired, _rule_armed, _rule_assigned = rules.rule_fired, rules.rule_armed, rules.rule_assigned
    _task_auto_approved, _rule_flow_started = rules.task_auto_approved, rules.rule_flow_started
    SystemTaskRequested: TypeAlias = events.SystemTaskRequested
    SystemTaskWaiting: TypeAlias = events.SystemTaskWaiting
    SystemTaskCompleted: TypeAlias = events.SystemTaskCompleted
    # System work handed to hooks (instance/system_work.py)
    _system_requested, _system_waiting = system_work.system_requested, system_work.system_waiting
    _system_completed = system_work.system_completed

    @event(Started)
    def __init__(self, definition_key: str, definition_version: int, business_type: str, form_version: int,
                 subject: str, business_line: str, fund_account: str | None, department_id: UUID | None,
                 initiator: str, title: str, data: dict[str, Any], empty_assignee: str = "block",
                 deduplication: str = "none", chained_from: UUID | None = None,
                 initiator_facts: dict[str, Any] | None = None, parent_instance: UUID | None = None,
                 parent_token: str | None = None):
        self.definition_key, self.definition_version = definition_key, definition_version
        self.business_type, self.form_version, self.subject = business_type, form_version, subject
        self.business_line: str = business_line   # always one: its definition's
        self.fund_account, self.department_id = fund_account, department_id
        self.initiator, self.title, self.data = initiator, title, data
        self.empty_assignee = empty_assignee      # skip | to_admin | block (to_admin is resolved upstream)
        self.deduplication = deduplication        # none | approve_all | approve_consecutive
        self.chained_from = chained_from          # the flow whose completion started this one
        self.initiator_facts = initiator_facts or {}  # department, roles... as they were at start
        self.parent_instance, self.parent_token = parent_instance, parent_token  # 父子流程: the parent
        self._empty_state()

    # -- tokens ---------------------------------------------------------------------------------
    @event(NodeEntered)
    def _entered(self, token: str, node: str) -> None:
        self._seq += 1
        self.tokens = {**self.tokens, token: node}
        self.visited = [*self.visited, node]

    @event(NodeSkipped)
    def _skipped(self, token: str, node: str, reason: str) -> None:
        pass

    @event(SystemTaskDone)
    def _system_done(self, token: str, node: str, hook: str) -> None:
        self.system_done_at = self._seq

    @event(BranchTaken)
    def _branch_taken(self, token: str, gateway: str, targets: list[str], inputs: dict[str, Any]) -> None:
        pass

    @event(Forked)
    def _forked(self, token: str, node: str, children: dict[str, str], join: str | None = None) -> None:
        tokens = {k: v for k, v in self.tokens.items() if k != token}
        self.tokens = {**tokens, **children}
        self.visited = [*self.visited, *children.values()]
        if join is not None:
            self.expected = {**self.expected, join: len(children)}

    @event(ArrivedAtJoin)
    def _arrived(self, node: str, token: str) -> None:
        self.arrivals = {**self.arrivals, node: [*self.arrivals.get(node, []), token]}

    @event(Joined)
    def _joined(self, node: str, tokens: list[str], token: str) -> None:
        self._seq += 1
        remaining = {k: v for k, v in self.tokens.items() if k not in tokens}
        self.tokens = {**remaining, token: node}
        self.arrivals = {k: v for k, v in self.arrivals.items() if k != node}
        self.expected = {k: v for k, v in self.expected.items() if k != node}

    @event(PauseStarted)
    def _pause_started(self, token: str, node: str, due_at: str) -> None:
        self.pauses = {**self.pauses, token: due_at}

    @event(PauseEnded)
    def _pause_ended(self, token: str, node: str, early_by: str | None, reason: str) -> None:
        self.pauses = {k: v for k, v in self.pauses.items() if k != token}

    @event(TokenEnded)
    def _token_ended(self, token: str, node: str) -> None:
        self.tokens = {k: v for k, v in self.tokens.items() if k != token}

    @event(Completed)
    def _completed(self) -> None:
        self.status = "completed"

    @event(Finished)
    def _finished(self, status: str, reason: str) -> None:
        self.status = status
        self.tokens, self.pauses = {}, {}
        for t in self.tasks.values():
            if t.status == "open":
                t.status = "cancelled"

    # -- tasks ----------------------------------------------------------------------------------
    @event(TaskOpened)
    def _task_opened(self, task: str, token: str, node: str, mode: str, candidates: list[str],
                     threshold: float | None, sla_due_at: str | None = None, sla_warn_at: str | None = None,
                     independent_of: list[str] | None = None, excluded: list[str] | None = None) -> None:
        self._seq += 1
        self.tasks[task] = Task(id=task, token=token, node=node, mode=mode, candidates=candidates,
                                threshold=threshold, sla_due_at=sla_due_at, sla_warn_at=sla_warn_at,
                                independent_of=independent_of or [], excluded=excluded or [])
        self.acted = {**self.acted, node: []}  # a new round at this node

    @event(SlaWarned)
    def _sla_warned(self, task: str, node: str, due_at: str) -> None:
        self.tasks[task].sla_warned = True

    @event(SlaBreached)
    def _sla_breached(self, task: str, node: str, due_at: str) -> None:
        self.tasks[task].overdue = True

    @event(TaskApproved)
    def _approved(self, task: str, node: str, by: str, comment: str) -> None:
        t = self.tasks[task]
        t.approvals = [*t.approvals, by]
        self.decisions += 1
        self.approvers = [*self.approvers, by]
        self._acted_at(node, by)

    @event(TaskRejected)
    def _rejected_task(self, task: str, node: str, by: str, comment: str, reason_code: str | None = None) -> None:
        t = self.tasks[task]
        t.rejections = [*t.rejections, by]

    @event(TaskClosed)
    def _task_closed(self, task: str, outcome: str) -> None:
        self.tasks[task].status = outcome

    @event(Returned)
    def _returned(self, task: str, node: str, by: str, target: str, comment: str, token: str,
                  reason_code: str | None = None) -> None:
        for k, t in self.tasks.items():
            if t.status == "open":
                t.status = "returned" if k == task else "cancelled"
        self._restart_at(token, target)
        self.decisions = 0
        self.awaiting_resubmit = target == "start"
        # A return breaks the chain of consecutive approvals: the returned work is redone by a
        # person, never approved again on someone's earlier say-so (de-duplication).
        self.approvers = [*self.approvers, ""]

    @event(TaskTakenBack)
    def _taken_back(self, task: str, node: str, by: str, comment: str, token: str, cancelled: list[str]) -> None:
        self._cancel(cancelled)
        self._restart_at(token, node)
        self.approvers = [*self.approvers, ""]  # the retaken decision is made again, never de-duplicated

    @event(Jumped)
    def _jumped(self, from_nodes: list[str], target: str, by: str, reason: str, token: str,
                cancelled: list[str]) -> None:
        self._cancel(cancelled)
        self._restart_at(token, target)
        self.awaiting_resubmit = target == "start"
        self.approvers = [*self.approvers, ""]

    @event(Resubmitted)
    def _resubmitted(self, by: str) -> None:
        self.awaiting_resubmit = False

    @event(SignerAdded)
    def _signer_added(self, task: str, by: str, signer: str, position: str, comment: str) -> None:
        t = self.tasks[task]
        setattr(t, position, [*getattr(t, position), signer])
        t.added_by = {**t.added_by, signer: by}

    @event(SignerApproved)
    def _signer_approved(self, task: str, by: str, comment: str) -> None:
        t = self.tasks[task]
        if t.before:
            t.before = t.before[1:]
        else:
            t.after = t.after[1:]
        t.signed = [*t.signed, by]
        self.approvers = [*self.approvers, by]
        self._acted_at(t.node, by)

    @event(AfterSignersPending)
    def _after_phase(self, task: str) -> None:
        self.tasks[task].after_phase = True

    @event(SignerRemoved)
    def _signer_removed(self, task: str, by: str, signer: str, position: str, comment: str) -> None:
        t = self.tasks[task]
        setattr(t, position, [s for s in getattr(t, position) if s != signer])

    @event(TaskTransferred)
    def _transferred(self, task: str, by: str, to: str, comment: str) -> None:
        t = self.tasks[task]
        t.candidates = [to if c == by else c for c in t.candidates]

    @event(TaskDelegated)
    def _delegated(self, task: str, by: str, to: str, comment: str) -> None:
        t = self.tasks[task]
        t.candidates = [to if c == by else c for c in t.candidates]
        self.delegations = {**self.delegations, task: {**self.delegations.get(task, {}), to: by}}

    @event(DelegationAnswered)
    def _delegation_answered(self, task: str, by: str, comment: str) -> None:
        delegator = self.delegations[task][by]
        t = self.tasks[task]
        t.candidates = [delegator if c == by else c for c in t.candidates]
        self.delegations = {**self.delegations, task: {k: v for k, v in self.delegations[task].items() if k != by}}

    @event(TaskReassigned)
    def _reassigned(self, task: str, by: str, candidates: list[str], reason: str) -> None:
        # Signers added before or after belonged to the old handlers' decision: they go too.
        t = self.tasks[task]
        t.candidates, t.before, t.after, t.after_phase, t.claimed_by = candidates, [], [], False, None
        self.delegations = {k: v for k, v in self.delegations.items() if k != task}

    @event(TaskClaimed)
    def _claimed(self, task: str, node: str, by: str, pool: list[str]) -> None:
        t = self.tasks[task]
        t.candidates, t.claimed_by, t.pool = [by], by, pool

    @event(Urged)
    def _urged(self, task: str, by: str) -> None:
        pass

    # -- the flow as a whole --------------------------------------------------------------------
    @event(CarbonCopied)
    def _copied(self, by: str, to: list[str], note: str) -> None:
        self.cc_unread = [*self.cc_unread, *(r for r in to if r not in self.cc_unread)]
        self.cc_to = [*self.cc_to, *(r for r in to if r not in self.cc_to)]

    @event(CarbonCopyRead)
    def _cc_read(self, by: str) -> None:
        self.cc_unread = [r for r in self.cc_unread if r != by]

    @event(Remarked)
    def _remarked(self, by: str, text: str) -> None:
        pass

    @event(FormEdited)
    def edit_form(self, node: str, patch: list[dict[str, Any]], old_values: dict[str, Any],
                  data: dict[str, Any], by: str | None = None, task: str | None = None,
                  reason: str | None = None) -> None:
        """``by`` and ``task`` name a handler's edit at their task (it counts as acting there for
        segregation of duties); ``reason`` an administrator's override."""
        self.data = data
        if by is not None and task is not None and task in self.tasks:
            self._acted_at(self.tasks[task].node, by)

    @event(DepartmentMoved)
    def _department_moved(self, from_department: UUID | None, to_department: UUID, by: str, reason: str) -> None:
        self.department_id = to_department

    @event(OverrideRequested)
    def _override_requested(self, override: str, action: str, params: dict[str, Any], by: str, reason: str) -> None:
        self.overrides = {**self.overrides, override: {"id": override, "action": action, "params": params,
                                                       "by": by, "reason": reason, "status": "pending"}}

    @event(OverrideApproved)
    def _override_approved(self, override: str, action: str, by: str) -> None:
        self.overrides = {**self.overrides, override: {**self.overrides[override], "status": "approved",
                                                       "decided_by": by}}

    @event(OverrideDeclined)
    def _override_declined(self, override: str, by: str, reason: str) -> None:
        self.overrides = {**self.overrides, override: {**self.overrides[override], "status": "declined",
                                                       "decided_by": by}}

    @event(Chained)
    def _chained(self, next_flow: str, next_instance: UUID | None, problem: str | None) -> None:
        self.chain = {"next_flow": next_flow, "next_instance": next_instance, "problem": problem}

    # -- 父子流程 ----------------------------------------------------------------------------------
    @event(ChildStarted)
    def _child_started(self, token: str, node: str, child_flow: str, child_instance: UUID) -> None:
        self.calls = [*self.calls, {"token": token, "node": node, "child_flow": child_flow,
                                    "child_instance": child_instance, "status": "running"}]

    @event(ChildNotStarted)
    def _child_not_started(self, token: str, node: str, child_flow: str, problem: str) -> None:
        self.calls = [*self.calls, {"token": token, "node": node, "child_flow": child_flow, "child_instance": None,
                                    "status": "not_started", "problem": problem}]

    @event(ChildFinished)
    def _child_finished(self, token: str, node: str, child_instance: UUID, outcome: str,
                        data: dict[str, Any]) -> None:
        self.calls = [{**c, "status": "finished", "outcome": outcome} if c["child_instance"] == child_instance
                      else c for c in self.calls]
        self.call_results = {**self.call_results, node: {"outcome": outcome, "data": data,
                                                         "instance": str(child_instance)}}

    @event(ChildCancelled)
    def _child_cancelled(self, token: str, node: str, child_instance: UUID, reason: str) -> None:
        self.calls = [{**c, "status": "cancelled", "reason": reason} if c["child_instance"] == child_instance
                      else c for c in self.calls]

    # -- migration (ADR 0012) ---------------------------------------------------------------------
    @event(Migrated)
    def _migrated(self, from_version: int, to_version: int, mapping: dict[str, str], renames: dict[str, str],
                  moves: list[dict[str, Any]], settings: dict[str, str], retired_hidden: dict[str, list[str]],
                  by: str, reason: str, migration_id: UUID) -> None:
        apply_migration(self, to_version=to_version, renames=renames, moves=moves, settings=settings,
                        retired_hidden=retired_hidden)
