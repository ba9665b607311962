"""The events of a flow instance, in the order the engine records them. ``FlowInstance`` binds
each (domain/flows/instance/__init__.py); stored events name them ``FlowInstance.<Name>`` of
``domain.flows.instance`` (tests/unit/test_event_topics.py freezes topics and fields)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.shared.aggregate import LedgerAggregate


class Started(LedgerAggregate.Created):
    definition_key: str
    definition_version: int
    business_type: str
    form_version: int
    subject: str
    business_line: str
    fund_account: str | None
    department_id: UUID | None
    initiator: str
    title: str
    data: dict[str, Any]
    empty_assignee: str
    deduplication: str
    chained_from: UUID | None
    initiator_facts: dict[str, Any] | None
    parent_instance: UUID | None
    parent_token: str | None


class NodeEntered(LedgerAggregate.Event):
    token: str
    node: str


class NodeSkipped(LedgerAggregate.Event):
    token: str
    node: str
    reason: str


class SystemTaskDone(LedgerAggregate.Event):
    token: str
    node: str
    hook: str


class BranchTaken(LedgerAggregate.Event):
    token: str
    gateway: str
    targets: list[str]
    inputs: dict[str, Any]


class Forked(LedgerAggregate.Event):
    token: str
    node: str
    children: dict[str, str]
    join: str | None


class ArrivedAtJoin(LedgerAggregate.Event):
    node: str
    token: str


class Joined(LedgerAggregate.Event):
    node: str
    tokens: list[str]
    token: str


class PauseStarted(LedgerAggregate.Event):
    token: str
    node: str
    due_at: str


class PauseEnded(LedgerAggregate.Event):
    token: str
    node: str
    early_by: str | None
    reason: str


class TokenEnded(LedgerAggregate.Event):
    token: str
    node: str


class Completed(LedgerAggregate.Event):
    pass


class Finished(LedgerAggregate.Event):
    status: str
    reason: str


class TaskOpened(LedgerAggregate.Event):
    task: str
    token: str
    node: str
    mode: str
    candidates: list[str]
    threshold: float | None
    sla_due_at: str | None
    sla_warn_at: str | None
    independent_of: list[str] | None
    excluded: list[str] | None


class SlaWarned(LedgerAggregate.Event):
    task: str
    node: str
    due_at: str


class SlaBreached(LedgerAggregate.Event):
    task: str
    node: str
    due_at: str


class TaskApproved(LedgerAggregate.Event):
    task: str
    node: str
    by: str
    comment: str


class TaskRejected(LedgerAggregate.Event):
    task: str
    node: str
    by: str
    comment: str
    reason_code: str | None


class TaskClosed(LedgerAggregate.Event):
    task: str
    outcome: str


class Returned(LedgerAggregate.Event):
    task: str
    node: str
    by: str
    target: str
    comment: str
    token: str
    reason_code: str | None


class TaskTakenBack(LedgerAggregate.Event):
    task: str
    node: str
    by: str
    comment: str
    token: str
    cancelled: list[str]


class Jumped(LedgerAggregate.Event):
    from_nodes: list[str]
    target: str
    by: str
    reason: str
    token: str
    cancelled: list[str]


class Resubmitted(LedgerAggregate.Event):
    by: str


class SignerAdded(LedgerAggregate.Event):
    task: str
    by: str
    signer: str
    position: str
    comment: str


class SignerApproved(LedgerAggregate.Event):
    task: str
    by: str
    comment: str


class AfterSignersPending(LedgerAggregate.Event):
    task: str


class SignerRemoved(LedgerAggregate.Event):
    task: str
    by: str
    signer: str
    position: str
    comment: str


class TaskTransferred(LedgerAggregate.Event):
    task: str
    by: str
    to: str
    comment: str


class TaskDelegated(LedgerAggregate.Event):
    task: str
    by: str
    to: str
    comment: str


class DelegationAnswered(LedgerAggregate.Event):
    task: str
    by: str
    comment: str


class TaskReassigned(LedgerAggregate.Event):
    task: str
    by: str
    candidates: list[str]
    reason: str


class TaskClaimed(LedgerAggregate.Event):
    task: str
    node: str
    by: str
    pool: list[str]


class Urged(LedgerAggregate.Event):
    task: str
    by: str


class CarbonCopied(LedgerAggregate.Event):
    by: str
    to: list[str]
    note: str


class CarbonCopyRead(LedgerAggregate.Event):
    by: str


class Remarked(LedgerAggregate.Event):
    by: str
    text: str


class FormEdited(LedgerAggregate.Event):
    node: str
    patch: list[dict[str, Any]]
    old_values: dict[str, Any]
    data: dict[str, Any]
    by: str | None
    task: str | None
    reason: str | None


class DepartmentMoved(LedgerAggregate.Event):
    from_department: UUID | None
    to_department: UUID
    by: str
    reason: str


class OverrideRequested(LedgerAggregate.Event):
    override: str
    action: str
    params: dict[str, Any]
    by: str
    reason: str


class OverrideApproved(LedgerAggregate.Event):
    override: str
    action: str
    by: str


class OverrideDeclined(LedgerAggregate.Event):
    override: str
    by: str
    reason: str


class Chained(LedgerAggregate.Event):
    next_flow: str
    next_instance: UUID | None
    problem: str | None


class ChildStarted(LedgerAggregate.Event):
    token: str
    node: str
    child_flow: str
    child_instance: UUID


class ChildNotStarted(LedgerAggregate.Event):
    token: str
    node: str
    child_flow: str
    problem: str


class ChildFinished(LedgerAggregate.Event):
    token: str
    node: str
    child_instance: UUID
    outcome: str
    data: dict[str, Any]


class ChildCancelled(LedgerAggregate.Event):
    token: str
    node: str
    child_instance: UUID
    reason: str


class Migrated(LedgerAggregate.Event):
    from_version: int
    to_version: int
    mapping: dict[str, str]
    renames: dict[str, str]
    moves: list[dict[str, Any]]
    settings: dict[str, str]
    retired_hidden: dict[str, list[str]]
    by: str
    reason: str
    migration_id: UUID


# -- timeouts (超时处理, domain/flows/timeouts.py) ----------------------------------------------
class TimeoutArmed(LedgerAggregate.Event):
    task: str
    node: str
    at: str             # when the timeout's first step falls due
    rule: str


class SlaReminded(LedgerAggregate.Event):
    task: str
    node: str
    count: int
    next_at: str | None  # the next step (another reminder, or the action); None: nothing follows
    rule: str


class TaskEscalated(LedgerAggregate.Event):
    task: str
    node: str
    mode: str            # add | reassign
    added: list[str]
    candidates: list[str]
    rule: str


class TimeoutActed(LedgerAggregate.Event):
    task: str
    node: str
    action: str          # auto_approve | auto_reject | auto_return | escalate (nobody to escalate to)
    comment: str
    rule: str
    problem: str | None


# -- IF-THEN rules (domain/flows/rules.py): recorded by system:rules -------------------------------
class RuleFired(LedgerAggregate.Event):
    rule: str
    trigger: str
    node: str | None
    task: str | None
    held: bool                   # the condition held (a timed rule is recorded either way: its timer is spent)
    inputs: dict[str, Any]       # what the condition saw: the rule context and the form values it names
    actions: list[dict[str, Any]]  # the actions as resolved (recipients as operator:<login>)
    error: str | None            # why the condition could not be evaluated (it then does not hold)


class RuleArmed(LedgerAggregate.Event):
    task: str
    node: str
    rule: str
    at: str                      # when the task_overdue rule falls due for this task


class RuleAssigned(LedgerAggregate.Event):
    task: str
    node: str
    rule: str
    mode: str                    # reassign | add
    added: list[str]
    candidates: list[str]


class TaskAutoApproved(LedgerAggregate.Event):
    task: str
    node: str
    rule: str
    reason: str


class RuleFlowStarted(LedgerAggregate.Event):
    rule: str
    flow: str
    instance: UUID | None        # the flow started, saved with this event; None: it could not start
    problem: str | None


class SystemTaskRequested(LedgerAggregate.Event):
    """A system node handed its work to a hook (application/flows/system_hooks.py); the token waits."""
    token: str
    node: str
    hook: str
    request_id: str


class SystemTaskWaiting(LedgerAggregate.Event):
    """The hook ran and now waits for something outside (the counter's import result, a signature)."""
    request_id: str
    node: str
    result: dict[str, Any]


class SystemTaskCompleted(LedgerAggregate.Event):
    """The hook's answer: ``done`` or ``failed``; its result is ``outputs.<node>`` for conditions."""
    request_id: str
    token: str
    node: str
    status: str
    result: dict[str, Any]
