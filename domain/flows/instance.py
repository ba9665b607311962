"""Flow instance: one run of a published flow version. Every action is an event; the state is
their replay. The engine walks tokens through the graph: gateways, splits, joins, pauses and
system tasks advance on their own; approval nodes open tasks that people decide.

Decisions that must not change on replay are recorded, not recomputed: which branch a gateway
took, who the assignees were when a task opened, when a pause is due."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.flows.graph import (
    INITIATOR,
    Graph,
    Node,
    jump_targets_allowed,
    matching_join,
    return_targets_allowed,
)
from domain.flows.migration import InstancePlan, MigrationTarget, apply_migration
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConflictError, NotFoundError, PermissionDeniedError, RuleViolationError

Resolve = Callable[[Node], list[str]]           # node -> candidate actors (operator:<login>)
# A CEL condition over the activation (form fields, initiator, fund_account); answers whether it
# holds and the data-source values it consulted, which the branch decision records.
Evaluate = Callable[[str, dict[str, Any]], tuple[bool, dict[str, Any]]]


class TaskAlreadyDecidedError(ConflictError):
    code = "task_already_decided"


class InstanceNotRunningError(TaskAlreadyDecidedError):
    """The flow is withdrawn, terminated, rejected or completed: nothing on it can be decided."""
    code = "instance_not_running"


class AlreadyActedError(ConflictError):
    """拿回: someone after the task has acted (or the flow moved on): it can no longer be taken back."""
    code = "already_acted"


class AlreadySignedError(ConflictError):
    """减签: the added signer has signed already."""
    code = "already_signed"


class AlreadyClaimedError(ConflictError):
    """认领: someone else of the pool claimed the task first."""
    code = "already_claimed"


class AlreadyReadError(ConflictError):
    """抄送已读: the copy was marked read already (a new copy may be read again)."""
    code = "already_read"


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class OverrideNotFoundError(NotFoundError):
    code = "override_not_found"


class OverrideDecidedError(ConflictError):
    """The override request was approved or declined already."""
    code = "override_already_decided"


class SecondAdministratorRequiredError(PermissionDeniedError):
    """四眼原则: an override the flow requires a second administrator for, approved by its requester."""
    code = "second_administrator_required"


class SegregationOfDutiesError(PermissionDeniedError):
    """The node is independent of the initiator or of earlier nodes' handlers, and this is one."""
    code = "segregation_of_duties"


RESUBMIT = "resubmit"  # the mode of the task that puts a returned flow in the initiator's todo


class FlowInstance(LedgerAggregate):
    @event("Started")
    def __init__(self, definition_key: str, definition_version: int, business_type: str, form_version: int,
                 subject: str, business_line: str, fund_account: str | None, department_id: UUID | None,
                 initiator: str, title: str, data: dict[str, Any], empty_assignee: str = "block",
                 deduplication: str = "none", chained_from: UUID | None = None,
                 initiator_facts: dict[str, Any] | None = None, parent_instance: UUID | None = None,
                 parent_token: str | None = None):
        self.definition_key, self.definition_version = definition_key, definition_version
        self.business_type, self.form_version, self.subject = business_type, form_version, subject
        self.business_line, self.fund_account, self.department_id = business_line, fund_account, department_id
        self.initiator, self.title, self.data = initiator, title, data
        self.empty_assignee = empty_assignee      # skip | to_admin | block (to_admin is resolved upstream)
        self.deduplication = deduplication        # none | approve_all | approve_consecutive
        self.chained_from = chained_from          # the flow whose completion started this one
        self.initiator_facts = initiator_facts or {}  # department, roles... as they were at start
        self.chain: dict[str, Any] | None = None  # what happened to the follow-up flow
        self.approvers: list[str] = []            # who approved, in order (for de-duplication)
        self.delegations: dict[str, dict[str, str]] = {}  # task -> {delegate: delegator}
        self.status = "running"
        self.tokens: dict[str, str] = {}          # token -> node
        self.tasks: dict[str, dict[str, Any]] = {}
        self.arrivals: dict[str, list[str]] = {}  # join node -> tokens arrived
        self.expected: dict[str, int] = {}        # inclusive join -> branches taken
        self.pauses: dict[str, str] = {}          # token -> due at (ISO)
        self.visited: list[str] = []
        self.decisions = 0                         # approvals so far (withdrawal allowed while 0)
        self.awaiting_resubmit = False             # returned to the initiator
        self.acted: dict[str, list[str]] = {}     # node -> who approved or edited there since its task opened
        self.system_done_at = 0                    # _seq when a system task last ran (take-back stops there)
        self.cc_to: list[str] = []                 # everyone copied (抄送)
        self.cc_unread: list[str] = []             # copied to, not marked read yet
        self.overrides: dict[str, dict[str, Any]] = {}  # administrator overrides awaiting a second one
        self._seq = 0
        # 父子流程: the parent this child reports to, the children called, their outcomes per node
        self.parent_instance, self.parent_token = parent_instance, parent_token
        self.calls: list[dict[str, Any]] = []
        self.call_results: dict[str, dict[str, Any]] = {}

    # -- the engine ----------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._seq + 1}"

    def advance(self, graph: Graph, resolve: Resolve, evaluate: Evaluate, now: datetime) -> None:
        """Move every token that is not waiting on people or time as far as it can go."""
        if self.status != "running":
            return
        if not self.tokens and not self.visited:
            start = next(n for n in graph.nodes if n.type == "start")
            self._entered(token=self._next_id("t"), node=start.id)
        out = graph.outgoing()
        moved, rounds, limit = True, 0, 10 * len(graph.nodes) + 10
        while moved and self.status == "running":
            moved = False
            rounds += 1
            if rounds > limit:  # publishing refuses loops without a waiting node; never spin anyway
                raise RuleViolationError(f"the flow did not come to rest within {limit} steps (a loop?)")
            for token, node_id in list(self.tokens.items()):
                node = graph.node(node_id)
                if node.type == "start" and self.awaiting_resubmit:
                    continue
                if node.type == "approval" and self._open_task(token) is None:
                    found = resolve(node)
                    excluded = self.excluded_for(node.independent_of)
                    candidates = [c for c in found if c not in excluded]
                    removed = [c for c in found if c in excluded]
                    why = ("no assignee independent of " + ", ".join(node.independent_of)) if removed \
                        else "no assignee"
                    if not candidates and self.empty_assignee == "skip":
                        self._skipped(token=token, node=node.id, reason=why)
                        self._move(token, out[node.id][0].target)
                        moved = True
                        continue
                    if not candidates:
                        raise RuleViolationError(f"nobody can take node {node.name!r}: {why} resolved")
                    mode = node.mode or "single"
                    task_id = self._next_id("k")
                    sla = warn = None
                    if node.sla_seconds:
                        sla = (now + timedelta(seconds=node.sla_seconds)).isoformat()
                        if node.sla_warning_seconds:
                            warn = (now + timedelta(seconds=node.sla_seconds - node.sla_warning_seconds)).isoformat()
                    segregation = {"independent_of": list(node.independent_of),
                                   "excluded": removed} if node.independent_of else {}
                    self._task_opened(task=task_id, token=token, node=node.id, mode=mode,
                                      candidates=candidates, threshold=node.vote_threshold, sla_due_at=sla,
                                      sla_warn_at=warn, **segregation)
                    # An independent node is never approved on someone's earlier approval.
                    # De-duplication never decides for an independent review, nor for an entry whose
                    # required sections someone must fill.
                    if (mode in ("single", "any") and not node.independent_of and not node.required_fields
                            and self._dedup_approver(candidates)):
                        who = self._dedup_approver(candidates)
                        self._approved(task=task_id, node=node.id, by=who,
                                       comment="approved earlier in this flow (de-duplicated)")
                        self._task_closed(task=task_id, outcome="approved")
                        self._move(token, out[node.id][0].target)
                    moved = True
                elif node.type in ("start", "system"):
                    if node.type == "system":
                        self._system_done(token=token, node=node.id, hook=node.hook or "")
                    self._move(token, out[node.id][0].target)
                    moved = True
                elif node.type == "exclusive":
                    edges = out[node.id]
                    inputs: dict[str, Any] = {}
                    chosen = None
                    for e in edges:
                        if not e.default and e.condition:
                            holds, used = evaluate(e.condition, self._activation())
                            inputs.update(used)
                            if holds:
                                chosen = e
                                break
                    target = (chosen or next(e for e in edges if e.default)).target
                    self._branch_taken(token=token, gateway=node.id, targets=[target], inputs=inputs)
                    self._move(token, target)
                    moved = True
                elif node.type in ("parallel_split", "inclusive"):
                    edges = out[node.id]
                    if node.type == "inclusive":
                        inputs, taken = {}, []
                        for e in edges:
                            if not e.default and e.condition:
                                holds, used = evaluate(e.condition, self._activation())
                                inputs.update(used)
                                if holds:
                                    taken.append(e.target)
                        taken = taken or [e.target for e in edges if e.default]
                        if not taken:  # publishing requires a default; never pass an approval silently
                            raise RuleViolationError(f"no branch of {node.name!r} applies and it has no default")
                        self._branch_taken(token=token, gateway=node.id, targets=taken, inputs=inputs)
                    else:
                        taken = [e.target for e in edges]
                    # The matching join waits for the branches taken, not for every incoming edge.
                    self._forked(token=token, node=node.id, children={
                        f"{token}.{i}": target for i, target in enumerate(taken, 1)},
                        join=matching_join(graph, node.id))
                    moved = True
                elif node.type in ("parallel_join", "inclusive_join"):
                    arrived = self.arrivals.get(node.id, [])
                    needed = self.expected.get(node.id) or len(graph.incoming()[node.id])
                    if token not in arrived:
                        arrived = arrived + [token]
                    if len(arrived) >= needed:
                        joined = self._next_id("t")
                        self._joined(node=node.id, tokens=arrived, token=joined)
                        # On past the join: left on it, the new token would count as an arrival.
                        self._move(joined, out[node.id][0].target)
                        moved = True
                    elif token not in self.arrivals.get(node.id, []):
                        self._arrived(node=node.id, token=token)
                elif node.type == "pause" and token not in self.pauses:
                    if node.pause_seconds:
                        due = now + timedelta(seconds=node.pause_seconds)
                    else:
                        raw = str(self.data.get(node.pause_until_field or "", ""))
                        try:
                            due = datetime.fromisoformat(raw)
                        except ValueError:
                            raise RuleViolationError(f"pause needs a date in field {node.pause_until_field!r}") \
                                from None
                        if due.tzinfo is None:
                            due = due.replace(tzinfo=now.tzinfo)
                    self._pause_started(token=token, node=node.id, due_at=due.isoformat())
                elif node.type == "end":
                    self._token_ended(token=token, node=node.id)
                    moved = True
            if not self.tokens and self.status == "running":
                self._completed()

    def excluded_for(self, independent_of: list[str] | None) -> set[str]:
        """Who may not act at a node independent of these (the initiator, and whoever approved or
        edited at a named node since its latest task there opened: "in this round")."""
        out: set[str] = set()
        for ref in independent_of or []:
            out |= {self.initiator} if ref == INITIATOR else set(self.acted.get(ref, []))
        return out

    def _require_independent(self, task: dict[str, Any], who: str, field: str | None = None) -> None:
        refs = task.get("independent_of") or []
        if who in self.excluded_for(refs):
            raise SegregationOfDutiesError(
                f"{who} may not act at {task['node']!r}: it must be independent of {', '.join(refs)}", field=field)

    def _acted_at(self, node: str, who: str) -> None:
        if who not in self.acted.get(node, []):
            self.acted = {**self.acted, node: [*self.acted.get(node, []), who]}

    def _dedup_approver(self, candidates: list[str]) -> str | None:
        """approve_all: someone who already approved in this flow; approve_consecutive: whoever
        approved the step just before."""
        if self.deduplication == "approve_all":
            return next((c for c in candidates if c in self.approvers), None)
        if self.deduplication == "approve_consecutive" and self.approvers and self.approvers[-1] in candidates:
            return self.approvers[-1]
        return None

    def _open_task(self, token: str) -> dict[str, Any] | None:
        return next((t for t in self.tasks.values() if t["token"] == token and t["status"] == "open"), None)

    def _move(self, token: str, target: str) -> None:
        self._entered(token=token, node=target)

    @event("NodeEntered")
    def _entered(self, token: str, node: str) -> None:
        self._seq += 1
        self.tokens = {**self.tokens, token: node}
        self.visited = [*self.visited, node]

    @event("NodeSkipped")
    def _skipped(self, token: str, node: str, reason: str) -> None:
        pass

    @event("SystemTaskDone")
    def _system_done(self, token: str, node: str, hook: str) -> None:
        self.system_done_at = self._seq

    def _activation(self) -> dict[str, Any]:
        return {**self.data, "initiator": {"actor": self.initiator, **self.initiator_facts},
                "fund_account": self.fund_account, "calls": self.call_results}

    @event("BranchTaken")
    def _branch_taken(self, token: str, gateway: str, targets: list[str], inputs: dict[str, Any]) -> None:
        pass

    @event("Forked")
    def _forked(self, token: str, node: str, children: dict[str, str], join: str | None = None) -> None:
        tokens = {k: v for k, v in self.tokens.items() if k != token}
        self.tokens = {**tokens, **children}
        self.visited = [*self.visited, *children.values()]
        if join is not None:
            self.expected = {**self.expected, join: len(children)}

    @event("ArrivedAtJoin")
    def _arrived(self, node: str, token: str) -> None:
        self.arrivals = {**self.arrivals, node: [*self.arrivals.get(node, []), token]}

    @event("Joined")
    def _joined(self, node: str, tokens: list[str], token: str) -> None:
        self._seq += 1
        remaining = {k: v for k, v in self.tokens.items() if k not in tokens}
        self.tokens = {**remaining, token: node}
        self.arrivals = {k: v for k, v in self.arrivals.items() if k != node}
        self.expected = {k: v for k, v in self.expected.items() if k != node}

    @event("PauseStarted")
    def _pause_started(self, token: str, node: str, due_at: str) -> None:
        self.pauses = {**self.pauses, token: due_at}

    @event("TokenEnded")
    def _token_ended(self, token: str, node: str) -> None:
        self.tokens = {k: v for k, v in self.tokens.items() if k != token}

    @event("Completed")
    def _completed(self) -> None:
        self.status = "completed"

    # -- people -------------------------------------------------------------------------------
    @event("TaskOpened")
    def _task_opened(self, task: str, token: str, node: str, mode: str, candidates: list[str],
                     threshold: float | None, sla_due_at: str | None = None, sla_warn_at: str | None = None,
                     independent_of: list[str] | None = None, excluded: list[str] | None = None) -> None:
        self._seq += 1
        self.tasks = {**self.tasks, task: {"id": task, "token": token, "node": node, "mode": mode,
                                           "candidates": candidates, "threshold": threshold, "status": "open",
                                           "approvals": [], "rejections": [], "sla_due_at": sla_due_at,
                                           "sla_warn_at": sla_warn_at, "sla_warned": False,
                                           "overdue": False, "before": [], "after": [], "after_phase": False,
                                           "independent_of": independent_of or [], "excluded": excluded or []}}
        self.acted = {**self.acted, node: []}  # a new round at this node

    def sla_timer(self, task_id: str, kind: str, now: datetime) -> str:
        """The scheduler asks when an SLA timer of a task falls due — ``sla_warn`` (the warning
        before the deadline) or ``sla`` (the deadline): "warned"/"breached", "not_due" or "gone"."""
        due_key, done_key, record, outcome = {
            "sla_warn": ("sla_warn_at", "sla_warned", self._sla_warned, "warned"),
            "sla": ("sla_due_at", "overdue", self._sla_breached, "breached")}[kind]
        task = self.tasks.get(task_id)
        if task is None or task["status"] != "open" or task["overdue"] or task.get(done_key) \
                or not task.get(due_key) or self.status != "running":
            return "gone"
        if now < datetime.fromisoformat(task[due_key]):
            return "not_due"
        record(task=task_id, node=task["node"], due_at=task["sla_due_at"])
        return outcome

    @event("SlaWarned")
    def _sla_warned(self, task: str, node: str, due_at: str) -> None:
        self.tasks[task] = {**self.tasks[task], "sla_warned": True}

    @event("SlaBreached")
    def _sla_breached(self, task: str, node: str, due_at: str) -> None:
        self.tasks[task] = {**self.tasks[task], "overdue": True}

    def task(self, task_id: str) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise TaskNotFoundError(f"no task {task_id!r} in this instance", field="task_id")
        return self.tasks[task_id]

    def _require_running(self) -> None:
        if self.status != "running":
            raise InstanceNotRunningError(f"the flow is {self.status}")

    def current_handlers(self, task: dict[str, Any]) -> list[str]:
        """Who may act on the task now: a signer added before comes first, one added after comes
        once the node's own rule is met; otherwise the candidates (sequential: the next in line)."""
        if task.get("before"):
            return task["before"][:1]
        if task.get("after_phase"):
            return task["after"][:1]
        done = set(task["approvals"])
        pending = [c for c in task["candidates"] if c not in done]
        return pending[:1] if task["mode"] == "sequential" else pending

    def _require_handler(self, task_id: str, actor: str) -> dict[str, Any]:
        task = self.task(task_id)
        self._require_running()
        if task["status"] != "open":
            raise TaskAlreadyDecidedError("this task has already been decided by someone else")
        self._require_independent(task, actor)
        if actor not in self.current_handlers(task):
            raise PermissionDeniedError("you are not a current handler of this task")
        return task

    def _require_decidable(self, task_id: str, actor: str) -> dict[str, Any]:
        """A handler deciding (approve, reject, return, hand over): a flow returned to its initiator
        is answered by resubmitting or withdrawing it, not by deciding its resubmission task."""
        task = self._require_handler(task_id, actor)
        if task["mode"] == RESUBMIT:
            raise RuleViolationError("this flow was returned to you: resubmit it (or withdraw it)", field="task_id")
        return task

    def _require_own_handler(self, task_id: str, actor: str, what: str) -> dict[str, Any]:
        """A current handler acting in their own right: a delegate (委派) only answers by approving,
        and an added signer (加签) only signs."""
        task = self._require_decidable(task_id, actor)
        if actor in self.delegations.get(task_id, {}):
            raise PermissionDeniedError(f"a delegate gives an opinion by approving; only the delegator may {what}")
        if actor not in task["candidates"]:
            raise PermissionDeniedError(f"an added signer signs by approving; only the task's candidates may {what}")
        return task

    def approve(self, task_id: str, actor: str, comment: str, graph: Graph, resolve: Resolve,
                evaluate: Evaluate, now: datetime) -> None:
        self._require_decidable(task_id, actor)
        if actor in self.delegations.get(task_id, {}):
            # 委派: the delegate gives an opinion; the task goes back to the delegator to decide.
            self._delegation_answered(task=task_id, by=actor, comment=comment)
            return
        task = self.tasks[task_id]
        if task.get("before") or task.get("after_phase"):
            # 加签: an added signer approves; the task returns to its candidates or goes on.
            self._signer_approved(task=task_id, by=actor, comment=comment)
            task = self.tasks[task_id]
            if task["after_phase"] and not task["after"]:
                self._finish_task(task_id, graph, resolve, evaluate, now)
            return
        self._approved(task=task_id, node=task["node"], by=actor, comment=comment)
        task = self.tasks[task_id]
        if self._node_passes(task):
            if task["after"]:
                self._after_phase(task=task_id)
                return
            self._finish_task(task_id, graph, resolve, evaluate, now)

    def _finish_task(self, task_id: str, graph: Graph, resolve: Resolve, evaluate: Evaluate,
                     now: datetime) -> None:
        task = self.tasks[task_id]
        self._task_closed(task=task_id, outcome="approved")
        self._move(task["token"], graph.outgoing()[task["node"]][0].target)
        self.advance(graph, resolve, evaluate, now)

    def add_signer(self, task_id: str, actor: str, signer: str, position: str, comment: str) -> None:
        """加签: someone else signs before (then it comes back) or after (before the flow goes on)."""
        task = self._require_own_handler(task_id, actor, "add signers")
        if position not in ("before", "after"):
            raise RuleViolationError("position is before or after", field="position")
        if signer in task["candidates"] or signer in task["before"] or signer in task["after"]:
            raise RuleViolationError(f"{signer} already signs this task", field="signer")
        self._require_independent(task, signer, "signer")
        self._signer_added(task=task_id, by=actor, signer=signer, position=position, comment=comment)

    @event("SignerAdded")
    def _signer_added(self, task: str, by: str, signer: str, position: str, comment: str) -> None:
        t = self.tasks[task]
        self.tasks[task] = {**t, position: [*t[position], signer], "added_by": {**t.get("added_by", {}), signer: by}}

    @event("SignerApproved")
    def _signer_approved(self, task: str, by: str, comment: str) -> None:
        t = self.tasks[task]
        key = "before" if t["before"] else "after"
        self.tasks[task] = {**t, key: t[key][1:], "signed": [*t.get("signed", []), by]}
        self.approvers = [*self.approvers, by]
        self._acted_at(t["node"], by)

    @event("AfterSignersPending")
    def _after_phase(self, task: str) -> None:
        self.tasks[task] = {**self.tasks[task], "after_phase": True}

    @staticmethod
    def _counted(task: dict[str, Any], key: str) -> int:
        """Approvals (or rejections) by the task's current candidates: after a reassignment the
        old candidates' decisions no longer count."""
        return len(set(task[key]) & set(task["candidates"]))

    def _node_passes(self, task: dict[str, Any]) -> bool:
        approvals, candidates = self._counted(task, "approvals"), len(task["candidates"])
        if task["mode"] in ("single", "any"):
            return approvals >= 1
        if task["mode"] == "vote":
            return approvals / candidates >= (task["threshold"] or 1.0)
        return approvals >= candidates  # all, sequential

    @event("TaskApproved")
    def _approved(self, task: str, node: str, by: str, comment: str) -> None:
        self.tasks[task] = {**self.tasks[task], "approvals": [*self.tasks[task]["approvals"], by]}
        self.decisions += 1
        self.approvers = [*self.approvers, by]
        self._acted_at(node, by)

    @event("TaskClosed")
    def _task_closed(self, task: str, outcome: str) -> None:
        self.tasks[task] = {**self.tasks[task], "status": outcome}

    def reject(self, task_id: str, actor: str, comment: str, reason_code: str | None = None) -> None:
        """拒绝: the flow ends as rejected (a vote only fails once the threshold is out of reach).
        ``reason_code`` comes from the definition's catalogue (checked by the application)."""
        self._require_own_handler(task_id, actor, "reject")
        self._rejected_task(task=task_id, node=self.tasks[task_id]["node"], by=actor, comment=comment,
                            reason_code=reason_code)
        task = self.tasks[task_id]
        if task["mode"] == "vote":
            approvals = self._counted(task, "approvals")
            remaining = len(task["candidates"]) - approvals - self._counted(task, "rejections")
            if (approvals + remaining) / len(task["candidates"]) >= (task["threshold"] or 1.0):
                return
        self._task_closed(task=task_id, outcome="rejected")
        self._finished(status="rejected", reason=comment)

    @event("TaskRejected")
    def _rejected_task(self, task: str, node: str, by: str, comment: str, reason_code: str | None = None) -> None:
        self.tasks[task] = {**self.tasks[task], "rejections": [*self.tasks[task]["rejections"], by]}

    @event("Finished")
    def _finished(self, status: str, reason: str) -> None:
        self.status = status
        self.tokens, self.pauses = {}, {}
        self.tasks = {k: ({**t, "status": "cancelled"} if t["status"] == "open" else t) for k, t in self.tasks.items()}

    def return_to(self, task_id: str, actor: str, target: str, comment: str, graph: Graph, resolve: Resolve,
                  evaluate: Evaluate, now: datetime, reason_code: str | None = None) -> None:
        """驳回/退回 to the initiator (start), the previous node or any allowed earlier node."""
        task = self._require_own_handler(task_id, actor, "return it")
        node = graph.node(task["node"])
        returnable = return_targets_allowed(graph)
        allowed = [n for n in self.visited if n != node.id] if node.return_targets == "any_earlier" \
            else list(node.return_targets)
        if node.return_to_any_visited:  # any visited approval or the start (filtered just below)
            allowed += [n for n in self.visited if n != node.id]
        allowed = list(dict.fromkeys(n for n in allowed if n in returnable))
        if target == "previous":  # the last person-facing node before this one
            here = len(self.visited) - 1 - self.visited[::-1].index(node.id)
            earlier = [n for n in self.visited[:here] if n in returnable and n != node.id]
            target = earlier[-1] if earlier else "start"
            allowed.append(target)
        if target not in allowed or target not in self.visited:
            raise RuleViolationError(f"this node may return to: {', '.join(allowed) or 'nowhere'}", field="target")
        token = self._next_id("t")
        self._returned(task=task_id, node=node.id, by=actor, target=target, comment=comment, token=token,
                       reason_code=reason_code)
        if target == "start":
            # The flow waits for its initiator: a task of theirs puts it in their todo (current handler).
            self._task_opened(task=self._next_id("k"), token=token, node="start", mode=RESUBMIT,
                              candidates=[self.initiator], threshold=None)
        self.advance(graph, resolve, evaluate, now)  # a start token waits for the initiator to resubmit

    @event("Returned")
    def _returned(self, task: str, node: str, by: str, target: str, comment: str, token: str,
                  reason_code: str | None = None) -> None:
        self._seq += 1
        self.tasks = {k: ({**t, "status": "returned" if k == task else "cancelled"} if t["status"] == "open" else t)
                      for k, t in self.tasks.items()}
        self.tokens, self.pauses, self.arrivals, self.expected = {token: target}, {}, {}, {}
        self.visited = [*self.visited, target]
        self.decisions = 0
        self.awaiting_resubmit = target == "start"
        # A return breaks the chain of consecutive approvals: the returned work is redone by a
        # person, never approved again on someone's earlier say-so (de-duplication).
        self.approvers = [*self.approvers, ""]

    # -- 拿回, 减签, 跳转 ----------------------------------------------------------------------------
    def take_back(self, task_id: str, actor: str, comment: str, graph: Graph, resolve: Resolve,
                  evaluate: Evaluate, now: datetime) -> None:
        """拿回: whoever approved a task reclaims it while nobody after it has acted. The open
        task(s) that followed are cancelled and the node reopens for the same person alone."""
        task = self.task(task_id)
        self._require_running()
        if task["status"] == "open":
            raise RuleViolationError("this task is still open: decide it instead", field="task_id")
        if task["status"] != "approved" or actor not in task["approvals"]:
            raise PermissionDeniedError("only whoever approved this task may take it back")
        if task["node"] not in return_targets_allowed(graph):
            raise RuleViolationError("a task inside a parallel or inclusive branch cannot be taken back",
                                     field="task_id")
        opened_at = _seq_of(task_id)
        later = [t for t in self.tasks.values() if _seq_of(t["id"]) > opened_at]
        waiting = {t["token"] for t in later if t["status"] == "open"}
        if (any(t["status"] != "open" or t["approvals"] or t["rejections"] or t.get("signed")
                or self.acted.get(t["node"]) or t["id"] in self.delegations for t in later)
                or not self.tokens or set(self.tokens) != waiting or self.pauses or any(self.arrivals.values())
                or self.system_done_at > opened_at):
            raise AlreadyActedError("someone after this task has acted (or the flow moved on): "
                                    "it can no longer be taken back")
        node = graph.node(task["node"])
        token = self._next_id("t")
        self._taken_back(task=task_id, node=node.id, by=actor, comment=comment, token=token,
                         cancelled=[t["id"] for t in later if t["status"] == "open"])
        sla = warn = None
        if node.sla_seconds:
            sla = (now + timedelta(seconds=node.sla_seconds)).isoformat()
            if node.sla_warning_seconds:
                warn = (now + timedelta(seconds=node.sla_seconds - node.sla_warning_seconds)).isoformat()
        segregation = {"independent_of": list(task.get("independent_of") or []),
                       "excluded": list(task.get("excluded") or [])} if task.get("independent_of") else {}
        self._task_opened(task=self._next_id("k"), token=token, node=node.id, mode="single", candidates=[actor],
                          threshold=None, sla_due_at=sla, sla_warn_at=warn, **segregation)

    @event("TaskTakenBack")
    def _taken_back(self, task: str, node: str, by: str, comment: str, token: str, cancelled: list[str]) -> None:
        self._seq += 1
        self.tasks = {k: ({**t, "status": "cancelled"} if k in cancelled else t) for k, t in self.tasks.items()}
        self.delegations = {k: v for k, v in self.delegations.items() if k not in cancelled}
        self.tokens, self.pauses, self.arrivals, self.expected = {token: node}, {}, {}, {}
        self.visited = [*self.visited, node]
        self.approvers = [*self.approvers, ""]  # the retaken decision is made again, never de-duplicated

    def remove_signer(self, task_id: str, actor: str, signer: str, comment: str, graph: Graph, resolve: Resolve,
                      evaluate: Evaluate, now: datetime) -> None:
        """减签: whoever added a signer (before or after) removes them before they have signed. The
        last signer after removed, the task goes on as if they had signed."""
        task = self.task(task_id)
        self._require_running()
        if task["status"] != "open":
            raise TaskAlreadyDecidedError("this task is no longer open")
        position = "before" if signer in task["before"] else "after" if signer in task["after"] else None
        if position is None:
            if signer in task.get("signed", []):
                raise AlreadySignedError(f"{signer} has signed already", field="signer")
            raise RuleViolationError(f"{signer} is not a signer added to this task", field="signer")
        if task.get("added_by", {}).get(signer) != actor or actor not in task["candidates"]:
            raise PermissionDeniedError("only the handler who added a signer may remove them")
        self._signer_removed(task=task_id, by=actor, signer=signer, position=position, comment=comment)
        task = self.tasks[task_id]
        if task["after_phase"] and not task["after"]:
            self._finish_task(task_id, graph, resolve, evaluate, now)

    @event("SignerRemoved")
    def _signer_removed(self, task: str, by: str, signer: str, position: str, comment: str) -> None:
        t = self.tasks[task]
        self.tasks[task] = {**t, position: [s for s in t[position] if s != signer]}

    def jump(self, actor: str, target: str, reason: str, graph: Graph, resolve: Resolve, evaluate: Evaluate,
             now: datetime) -> None:
        """跳转: an administrator moves the flow to a node, with a reason. Open tasks are cancelled;
        targets inside parallel/inclusive regions, joins and ends are refused (as for returns)."""
        self._require_running()
        if not reason.strip():
            raise RuleViolationError("a jump needs a reason", field="reason")
        if target not in {n.id for n in graph.nodes}:
            raise RuleViolationError(f"no node {target!r} in this flow", field="target")
        if target not in jump_targets_allowed(graph):
            raise RuleViolationError(f"a flow cannot jump to {target!r}: end nodes, joins and nodes inside a "
                                     "parallel or inclusive branch are refused", field="target")
        token = self._next_id("t")
        self._jumped(from_nodes=sorted(set(self.tokens.values())), target=target, by=actor, reason=reason,
                     token=token, cancelled=[k for k, t in self.tasks.items() if t["status"] == "open"])
        if target == "start":
            self._task_opened(task=self._next_id("k"), token=token, node="start", mode=RESUBMIT,
                              candidates=[self.initiator], threshold=None)
        self.advance(graph, resolve, evaluate, now)

    @event("Jumped")
    def _jumped(self, from_nodes: list[str], target: str, by: str, reason: str, token: str,
                cancelled: list[str]) -> None:
        self._seq += 1
        self.tasks = {k: ({**t, "status": "cancelled"} if k in cancelled else t) for k, t in self.tasks.items()}
        self.delegations = {k: v for k, v in self.delegations.items() if k not in cancelled}
        self.tokens, self.pauses, self.arrivals, self.expected = {token: target}, {}, {}, {}
        self.visited = [*self.visited, target]
        self.awaiting_resubmit = target == "start"
        self.approvers = [*self.approvers, ""]

    def resubmit(self, actor: str, graph: Graph, resolve: Resolve, evaluate: Evaluate, now: datetime) -> None:
        self._require_running()
        if actor != self.initiator or "start" not in self.tokens.values():
            raise RuleViolationError("only the initiator resubmits a flow returned to them")
        token = next(t for t, n in self.tokens.items() if n == "start")
        waiting = self._open_task(token)
        if waiting is not None:
            self._task_closed(task=waiting["id"], outcome="resubmitted")
        self._resubmitted(by=actor)
        self._move(token, graph.outgoing()["start"][0].target)
        self.advance(graph, resolve, evaluate, now)

    @event("Resubmitted")
    def _resubmitted(self, by: str) -> None:
        self.awaiting_resubmit = False

    def withdraw(self, actor: str, reason: str) -> None:
        if actor != self.initiator:
            raise PermissionDeniedError("only the initiator may withdraw")
        self._require_running()
        if self.decisions:
            raise RuleViolationError("too late to withdraw: someone has already decided")
        self._finished(status="withdrawn", reason=reason)

    def terminate(self, actor: str, reason: str) -> None:
        self._require_running()
        self._finished(status="terminated", reason=reason)

    def transfer(self, task_id: str, actor: str, to: str, comment: str) -> None:
        self._require_own_handler(task_id, actor, "transfer it")
        if to in self.tasks[task_id]["candidates"]:
            raise RuleViolationError(f"{to} already holds this task", field="to")
        self._require_independent(self.tasks[task_id], to, "to")
        self._transferred(task=task_id, by=actor, to=to, comment=comment)

    @event("TaskTransferred")
    def _transferred(self, task: str, by: str, to: str, comment: str) -> None:
        t = self.tasks[task]
        self.tasks[task] = {**t, "candidates": [to if c == by else c for c in t["candidates"]]}

    def delegate(self, task_id: str, actor: str, to: str, comment: str) -> None:
        self._require_own_handler(task_id, actor, "delegate it")
        if to in self.tasks[task_id]["candidates"]:
            raise RuleViolationError(f"{to} already holds this task", field="to")
        self._require_independent(self.tasks[task_id], to, "to")
        self._delegated(task=task_id, by=actor, to=to, comment=comment)

    @event("TaskDelegated")
    def _delegated(self, task: str, by: str, to: str, comment: str) -> None:
        t = self.tasks[task]
        self.tasks[task] = {**t, "candidates": [to if c == by else c for c in t["candidates"]]}
        self.delegations = {**self.delegations, task: {**self.delegations.get(task, {}), to: by}}

    @event("DelegationAnswered")
    def _delegation_answered(self, task: str, by: str, comment: str) -> None:
        delegator = self.delegations[task][by]
        t = self.tasks[task]
        self.tasks[task] = {**t, "candidates": [delegator if c == by else c for c in t["candidates"]]}
        self.delegations = {**self.delegations, task: {k: v for k, v in self.delegations[task].items() if k != by}}

    def reassign(self, task_id: str, actor: str, candidates: list[str], reason: str) -> None:
        """流程监控: an administrator gives an open task to another role or department. People the
        node must be independent of are left out (segregation of duties binds administrators too)."""
        task = self.task(task_id)
        self._require_running()
        if task["status"] != "open":
            raise TaskAlreadyDecidedError("this task is no longer open")
        if task["mode"] == RESUBMIT:
            raise RuleViolationError("a flow returned to its initiator waits for them", field="task_id")
        candidates = [c for c in candidates if c not in self.excluded_for(task.get("independent_of"))]
        if not candidates:
            raise RuleViolationError("nobody matches the new assignees (independent of "
                                     f"{', '.join(task.get('independent_of') or []) or 'nobody'})",
                                     field="assignees")
        self._reassigned(task=task_id, by=actor, candidates=candidates, reason=reason)

    @event("TaskReassigned")
    def _reassigned(self, task: str, by: str, candidates: list[str], reason: str) -> None:
        # Signers added before or after belonged to the old handlers' decision: they go too.
        self.tasks[task] = {**self.tasks[task], "candidates": candidates, "before": [], "after": [],
                            "after_phase": False, "claimed_by": None}
        self.delegations = {k: v for k, v in self.delegations.items() if k != task}

    def move_department(self, to: UUID, by: str, reason: str) -> None:
        """流程部门调整: an administrator files the flow under another owning department (who sees
        it, which board it counts on, whose department head later nodes resolve to)."""
        self._require_running()
        if not reason.strip():
            raise RuleViolationError("moving a flow to another department needs a reason", field="reason")
        if to == self.department_id:
            raise RuleViolationError("the flow already belongs to that department", field="department_id")
        self._department_moved(from_department=self.department_id, to_department=to, by=by, reason=reason)

    @event("DepartmentMoved")
    def _department_moved(self, from_department: UUID | None, to_department: UUID, by: str, reason: str) -> None:
        self.department_id = to_department

    # -- overrides a second administrator approves (四眼原则) --------------------------------------
    def request_override(self, action: str, params: dict[str, Any], by: str, reason: str) -> str:
        """Record an administrator's override (jump, form edit, reassign, terminate, department
        move) that waits for a second administrator; the application checked it could apply now."""
        self._require_running()
        if not reason.strip():
            raise RuleViolationError("an override needs a reason", field="reason")
        override = f"o{len(self.overrides) + 1}"
        self._override_requested(override=override, action=action, params=params, by=by, reason=reason)
        return override

    @event("OverrideRequested")
    def _override_requested(self, override: str, action: str, params: dict[str, Any], by: str, reason: str) -> None:
        self.overrides = {**self.overrides, override: {"id": override, "action": action, "params": params,
                                                       "by": by, "reason": reason, "status": "pending"}}

    def _pending_override(self, override_id: str) -> dict[str, Any]:
        found = self.overrides.get(override_id)
        if found is None:
            raise OverrideNotFoundError(f"no override request {override_id!r} on this flow", field="override_id")
        if found["status"] != "pending":
            raise OverrideDecidedError(f"override request {override_id} was {found['status']} already")
        self._require_running()
        return found

    def approve_override(self, override_id: str, by: str) -> dict[str, Any]:
        """The second administrator approves: the application then applies the action as its
        requester's (in the same save, so an action that cannot apply any more stores nothing)."""
        found = self._pending_override(override_id)
        if by == found["by"]:
            raise SecondAdministratorRequiredError(
                "this flow requires a second administrator to approve an override: not the one who asked")
        self._override_approved(override=override_id, action=found["action"], by=by)
        return found

    @event("OverrideApproved")
    def _override_approved(self, override: str, action: str, by: str) -> None:
        self.overrides = {**self.overrides, override: {**self.overrides[override], "status": "approved",
                                                       "decided_by": by}}

    def decline_override(self, override_id: str, by: str, reason: str) -> None:
        """Another administrator declines the request, or its requester withdraws it."""
        self._pending_override(override_id)
        if not reason.strip():
            raise RuleViolationError("declining an override needs a reason", field="reason")
        self._override_declined(override=override_id, by=by, reason=reason)

    @event("OverrideDeclined")
    def _override_declined(self, override: str, by: str, reason: str) -> None:
        self.overrides = {**self.overrides, override: {**self.overrides[override], "status": "declined",
                                                       "decided_by": by}}

    def urge(self, actor: str, task_id: str) -> None:
        task = self.task(task_id)
        self._require_running()
        if task["status"] != "open":
            raise TaskAlreadyDecidedError("this task is no longer open")
        self._urged(task=task_id, by=actor)

    @event("Urged")
    def _urged(self, task: str, by: str) -> None:
        pass

    def cc(self, actor: str, to: list[str], note: str) -> None:
        if not to:
            raise RuleViolationError("name at least one operator to copy", field="to")
        self._copied(by=actor, to=sorted(set(to)), note=note)

    @event("CarbonCopied")
    def _copied(self, by: str, to: list[str], note: str) -> None:
        self.cc_unread = [*self.cc_unread, *(r for r in to if r not in self.cc_unread)]
        self.cc_to = [*self.cc_to, *(r for r in to if r not in self.cc_to)]

    def mark_cc_read(self, actor: str) -> None:
        """抄送已读: a recipient marks the copies they received as read."""
        if actor not in self.cc_to:
            raise PermissionDeniedError("this flow was not copied to you")
        if actor not in self.cc_unread:
            raise AlreadyReadError("nothing unread was copied to you on this flow")
        self._cc_read(by=actor)

    @event("CarbonCopyRead")
    def _cc_read(self, by: str) -> None:
        self.cc_unread = [r for r in self.cc_unread if r != by]

    def claim(self, task_id: str, actor: str) -> None:
        """认领: one of a pool task's candidates (single or any-sign, more than one candidate) takes it
        for themselves; the others no longer see it."""
        task = self.task(task_id)
        self._require_running()
        if (task.get("claimed_by") and task["claimed_by"] != actor and actor in task.get("pool", [])
                and task["status"] == "open"):
            raise AlreadyClaimedError(f"{task['claimed_by']} has claimed this task")
        task = self._require_own_handler(task_id, actor, "claim it")
        if task["mode"] not in ("single", "any") or len(task["candidates"]) < 2:
            raise RuleViolationError("only a task offered to several people (a pool) can be claimed",
                                     field="task_id")
        self._claimed(task=task_id, node=task["node"], by=actor, pool=list(task["candidates"]))

    @event("TaskClaimed")
    def _claimed(self, task: str, node: str, by: str, pool: list[str]) -> None:
        self.tasks[task] = {**self.tasks[task], "candidates": [by], "claimed_by": by, "pool": pool}

    def remark(self, actor: str, text: str) -> None:
        self._remarked(by=actor, text=text)

    def record_chain(self, next_flow: str, next_instance: UUID | None, problem: str | None) -> None:
        """流程接龙: the follow-up flow started (or could not start) when this one completed."""
        if self.status != "completed" or self.chain is not None:
            raise RuleViolationError("only a completed flow chains, and only once")
        self._chained(next_flow=next_flow, next_instance=next_instance, problem=problem)

    @event("Chained")
    def _chained(self, next_flow: str, next_instance: UUID | None, problem: str | None) -> None:
        self.chain = {"next_flow": next_flow, "next_instance": next_instance, "problem": problem}

    @event("Remarked")
    def _remarked(self, by: str, text: str) -> None:
        pass

    # -- 父子流程: call activities -------------------------------------------------------------------
    def calls_to_start(self, graph: Graph) -> list[tuple[str, Node]]:
        """Tokens standing on a call node with no child running or refused for this visit (a loop
        back to the node, or a jump onto it, calls again). The application starts the children."""
        if self.status != "running":
            return []
        taken = {(c["token"], c["node"]) for c in self.calls if c["status"] in ("running", "not_started")}
        return [(token, graph.node(node)) for token, node in self.tokens.items()
                if graph.node(node).type == "call" and (token, node) not in taken]

    def record_child(self, token: str, node: str, child_flow: str, child_instance: UUID | None,
                     problem: str | None = None) -> None:
        """The child started (saved with this event), or could not start: the token then waits at
        the call node with the problem shown until an administrator jumps (onto the node: retry)."""
        if child_instance is not None:
            self._child_started(token=token, node=node, child_flow=child_flow, child_instance=child_instance)
        else:
            self._child_not_started(token=token, node=node, child_flow=child_flow, problem=problem or "")

    @event("ChildStarted")
    def _child_started(self, token: str, node: str, child_flow: str, child_instance: UUID) -> None:
        self.calls = [*self.calls, {"token": token, "node": node, "child_flow": child_flow,
                                    "child_instance": child_instance, "status": "running"}]

    @event("ChildNotStarted")
    def _child_not_started(self, token: str, node: str, child_flow: str, problem: str) -> None:
        self.calls = [*self.calls, {"token": token, "node": node, "child_flow": child_flow, "child_instance": None,
                                    "status": "not_started", "problem": problem}]

    def call_of(self, child_instance: UUID) -> dict[str, Any] | None:
        return next((c for c in self.calls if c["child_instance"] == child_instance), None)

    def child_finished(self, child_instance: UUID, outcome: str, data: dict[str, Any], graph: Graph,
                       resolve: Resolve, evaluate: Evaluate, now: datetime) -> str:
        """The child ended (completed, rejected, terminated or withdrawn): its outcome and final form
        data are recorded (conditions read them as ``calls.<node>``) and the token goes on; a child
        that did not complete rejects this flow unless the node says ``on_child_failure: continue``.
        "resumed", "rejected", or "gone" when this flow no longer waits for it (told twice)."""
        call = self.call_of(child_instance)
        if (call is None or call["status"] != "running" or self.status != "running"
                or self.tokens.get(call["token"]) != call["node"]):
            return "gone"
        node = graph.node(call["node"])
        self._child_finished(token=call["token"], node=node.id, child_instance=child_instance, outcome=outcome,
                             data=data)
        if outcome != "completed" and (node.on_child_failure or "reject") == "reject":
            self._finished(status="rejected", reason=f"the child flow {call['child_flow']} was {outcome}")
            return "rejected"
        self._move(call["token"], graph.outgoing()[node.id][0].target)
        self.advance(graph, resolve, evaluate, now)
        return "resumed"

    @event("ChildFinished")
    def _child_finished(self, token: str, node: str, child_instance: UUID, outcome: str,
                        data: dict[str, Any]) -> None:
        self.calls = [{**c, "status": "finished", "outcome": outcome} if c["child_instance"] == child_instance
                      else c for c in self.calls]
        self.call_results = {**self.call_results, node: {"outcome": outcome, "data": data,
                                                         "instance": str(child_instance)}}

    def cancel_calls(self) -> list[UUID]:
        """Children this flow no longer waits for (it ended, or a jump, return or take-back moved its
        token off the call node) are cancelled with the reason; the application terminates them."""
        gone = [c for c in self.calls if c["status"] == "running"
                and (self.status != "running" or self.tokens.get(c["token"]) != c["node"])]
        for c in gone:
            reason = f"the parent flow was {self.status}" if self.status != "running" \
                else f"the parent flow left {c['node']}"
            self._child_cancelled(token=c["token"], node=c["node"], child_instance=c["child_instance"], reason=reason)
        return [c["child_instance"] for c in gone]

    @event("ChildCancelled")
    def _child_cancelled(self, token: str, node: str, child_instance: UUID, reason: str) -> None:
        self.calls = [{**c, "status": "cancelled", "reason": reason} if c["child_instance"] == child_instance
                      else c for c in self.calls]

    # -- time -------------------------------------------------------------------------------------
    def end_pause(self, token: str, graph: Graph, resolve: Resolve, evaluate: Evaluate, now: datetime, *,
                  early_by: str | None = None, reason: str = "") -> str:
        """The scheduler (or an admin, early) ends a pause: "ended", "not_due" or "gone" (already
        ended, returned or finished). Ending one twice has one effect."""
        if token not in self.pauses or self.status != "running":
            return "gone"
        if early_by is None and now < datetime.fromisoformat(self.pauses[token]):
            return "not_due"
        node = self.tokens[token]
        self._pause_ended(token=token, node=node, early_by=early_by, reason=reason)
        self._move(token, graph.outgoing()[node][0].target)
        self.advance(graph, resolve, evaluate, now)
        return "ended"

    @event("PauseEnded")
    def _pause_ended(self, token: str, node: str, early_by: str | None, reason: str) -> None:
        self.pauses = {k: v for k, v in self.pauses.items() if k != token}

    # -- form -------------------------------------------------------------------------------------
    @event("FormEdited")
    def edit_form(self, node: str, patch: list[dict[str, Any]], old_values: dict[str, Any],
                  data: dict[str, Any], by: str | None = None, task: str | None = None,
                  reason: str | None = None) -> None:
        """``by`` and ``task`` name a handler's edit at their task (it counts as acting there for
        segregation of duties); ``reason`` an administrator's override."""
        self.data = data
        if by is not None and task is not None and task in self.tasks:
            self._acted_at(self.tasks[task]["node"], by)

    # -- migration to a newer version (ADR 0012; domain/flows/migration.py plans it) --------------
    def migrate(self, target: MigrationTarget, plan: InstancePlan, by: str, reason: str, migration_id: UUID,
                resolve: Resolve, evaluate: Evaluate, now: datetime) -> None:
        """Move to the plan's version, then advance there: a task the plan reopens opens again."""
        self._require_running()
        if not plan.safe:
            raise RuleViolationError("; ".join(plan.reasons))
        self._migrated(from_version=target.from_version, to_version=target.to_version, mapping=target.mapping,
                       renames=target.renames, moves=plan.moves, settings=target.settings,
                       retired_hidden=plan.retired_hidden, by=by, reason=reason, migration_id=migration_id)
        self.advance(target.new, resolve, evaluate, now)

    @event("Migrated")
    def _migrated(self, from_version: int, to_version: int, mapping: dict[str, str], renames: dict[str, str],
                  moves: list[dict[str, Any]], settings: dict[str, str], retired_hidden: dict[str, list[str]],
                  by: str, reason: str, migration_id: UUID) -> None:
        apply_migration(self, to_version=to_version, renames=renames, moves=moves, settings=settings,
                        retired_hidden=retired_hidden)


def _seq_of(task_id: str) -> int:
    """Task ids are k<n>, n counting up as the instance moves: later tasks have larger n."""
    return int(task_id[1:])
