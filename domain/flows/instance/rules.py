"""IF-THEN rules at work on an instance (domain/flows/rules.py says what a rule is). ``RuleEngine``
is mixed into ``FlowInstance``.

The application calls ``run_rules`` before every save, acting as ``system:rules``: it reads the
events this command produced (never stored ones, so a replay never evaluates a rule), in order,
and fires the rules they trigger; events the actions produce are read in turn, so an automatic
approval that opens the next task fires that task's rules too. A ``task_overdue`` rule is armed
when its task opens (RuleArmed) and fired by the scheduler (``rule_timer``). A rule fires on the
state after the step that triggered it, and fields set by rules do not trigger ``field_changed``
rules (no cascades)."""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.flows.fields import pointer_to_dotted
from domain.flows.graph import Node
from domain.flows.instance import events
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import RESUBMIT, Task
from domain.flows.rules import (
    RULES_ACTOR,
    AssignAction,
    CcAction,
    NotifyAction,
    Rule,
    RuleAction,
    SetFieldAction,
)
from domain.forms.diff import patch_with_old_values
from domain.shared.errors import DomainError, RuleViolationError

# Per command: one rule firing this often is a loop (an automatic approval going round a gateway);
# all rules together, a runaway configuration. Either refuses the command (422).
MAX_FIRINGS_PER_RULE, MAX_FIRINGS = 20, 1000
JOINS = ("parallel_join", "inclusive_join")
NAMES = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class RuleEngine:
    status: str
    data: dict[str, Any]
    tasks: dict[str, Task]
    initiator: str
    initiator_facts: dict[str, Any]
    business_line: str
    business_type: str
    department_id: UUID | None
    definition_key: str
    definition_version: int
    rule_starts: list[dict[str, str]]
    # from the host: NodeEngine, State, TaskRules and the events of FlowInstance
    advance: Callable[[FlowRuntime], None]
    _move: Callable[[str, str], None]
    _activation: Callable[[], dict[str, Any]]
    excluded_for: Callable[[list[str] | None], set[str]]
    edit_form: Callable[..., None]
    _task_closed: Callable[..., None]
    _urged: Callable[..., None]
    _copied: Callable[..., None]
    _rule_fired: Callable[..., None]
    _rule_armed: Callable[..., None]
    _rule_assigned: Callable[..., None]
    _task_auto_approved: Callable[..., None]
    _rule_flow_started: Callable[..., None]

    # -- the pass before a save ----------------------------------------------------------------------
    def run_rules(self, rt: FlowRuntime) -> None:
        """Fire the rules the events of this command trigger (see the module's docstring)."""
        if not rt.graph.rules:
            return
        upto: int = getattr(self, "_rules_upto", 0)
        self._rule_counts: dict[str, int] = {}
        while True:
            pending: list[Any] = getattr(self, "pending_events")  # noqa: B009 (the host aggregate's; typing it here clashes)
            new = [e for e in pending if e.originator_version > upto]
            if not new:
                break
            upto = self._rules_upto = new[-1].originator_version
            for e in new:
                self._on_event(e, rt)

    def _count(self, rule: Rule) -> None:
        counts = self._rule_counts
        counts[rule.id] = counts.get(rule.id, 0) + 1
        if counts[rule.id] > MAX_FIRINGS_PER_RULE or sum(counts.values()) > MAX_FIRINGS:
            raise RuleViolationError(f"rule {rule.id!r} fired more than {MAX_FIRINGS_PER_RULE} times in one step "
                                     "(a loop?)" if counts[rule.id] > MAX_FIRINGS_PER_RULE else
                                     f"rules fired more than {MAX_FIRINGS} times in one step")

    def _on_event(self, e: Any, rt: FlowRuntime) -> int:
        kind = type(e).__name__
        if kind == "Started":
            return self._trigger("instance_started", rt)
        if kind == "Joined" or (kind == "NodeEntered" and rt.node(e.node).type not in JOINS):
            # A join is entered once, when its branches meet (not by each arriving branch).
            return self._trigger("node_entered", rt, node=e.node)
        if kind == "Forked":
            return sum(self._trigger("node_entered", rt, node=n) for n in e.children.values())
        if kind == "TaskOpened" and e.mode != RESUBMIT:
            task = self.tasks[e.task]
            if task.status != "open":  # approved by de-duplication as it opened: nobody waits
                return 0
            self._arm(task, rt)
            return self._trigger("task_opened", rt, node=task.node, task=task)
        if kind == "FormEdited" and e.actor != RULES_ACTOR:
            changed = [".".join(pointer_to_dotted(op["path"])) for op in e.patch]
            return self._trigger("field_changed", rt, changed=changed)
        if kind in ("Completed", "Finished"):
            return self._trigger("instance_completed", rt)
        return 0

    def _trigger(self, trigger: str, rt: FlowRuntime, *, node: str | None = None, task: Task | None = None,
                 changed: list[str] | None = None) -> int:
        fired = 0
        for rule in rt.graph.rules:
            if rule.trigger != trigger or not rule.applies_at(node):
                continue
            if trigger == "field_changed" and not rule.watches(changed or []):
                continue
            if task is not None and task.status != "open":
                break  # an earlier rule decided the task
            fired += self._fire(rule, rt, node=node, task=task, changed=changed)
        return fired

    def _arm(self, task: Task, rt: FlowRuntime) -> None:
        node = rt.node(task.node)
        for rule in rt.graph.rules:
            if rule.trigger == "task_overdue" and rule.applies_at(node.id):
                at = rt.after(node, rule.after_seconds).isoformat() if rule.after_seconds else task.sla_due_at
                if at is not None:
                    self._rule_armed(task=task.id, node=node.id, rule=rule.id, at=at)

    def rule_timer(self, task_id: str, rule_id: str, rt: FlowRuntime) -> str:
        """The scheduler fires a task_overdue rule: "fired", "not_due" or "gone" (the task was
        decided, the flow ended, or the rule already fired for this task)."""
        task = self.tasks.get(task_id)
        at = task.rule_timers.get(rule_id) if task is not None else None
        if task is None or at is None or task.status != "open" or self.status != "running":
            return "gone"
        if rt.now < datetime.fromisoformat(at):
            return "not_due"
        self._rule_counts = {}
        rule = next((r for r in rt.graph.rules if r.id == rule_id), None)
        if rule is None or rule.trigger != "task_overdue" or not rule.applies_at(task.node):
            # Migrated to a version without it (or where the id means another rule): the timer
            # is spent, and says why.
            self._rule_fired(rule=rule_id, trigger="task_overdue", node=task.node, task=task.id, held=False,
                             inputs={}, actions=[], error="the flow's version no longer has this timed rule here")
        else:
            self._fire(rule, rt, node=task.node, task=task, timed=True)
        return "fired"

    # -- one firing ----------------------------------------------------------------------------------
    def _fire(self, rule: Rule, rt: FlowRuntime, *, node: str | None, task: Task | None,
              changed: list[str] | None = None, timed: bool = False) -> int:
        context = self._rule_context(rule, rt, node, task, changed)
        held, error = True, None
        used: dict[str, Any] = {}
        if rule.condition:
            activation = {**self._activation(), "initiator": context["initiator"], "form": self.data,
                          "context": context}
            held, used = rt.evaluate(rule.condition, activation)
            error = used.pop("condition_error", None)
        if not held and error is None and not timed:
            return 0  # nothing happened: not recorded (a timed rule is, as its timer is spent)
        self._count(rule)
        resolved: list[dict[str, Any]] = []
        if held:  # in order: a field set, or a task reassigned, by an earlier action is what a later one sees
            data, handlers = self.data, list(task.candidates) if task is not None else []
            for action in rule.actions:
                resolved.append(self._resolve(action, task, handlers, data, rt))
                if "data" in resolved[-1]:
                    data = resolved[-1]["data"]
                if resolved[-1]["kind"] == "assign" and "problem" not in resolved[-1]:
                    keep = handlers if resolved[-1]["mode"] == "add" else []
                    handlers = list(dict.fromkeys([*keep, *resolved[-1]["to"]]))
        inputs = {"context": context, "form": _named_values(rule.condition or "", self.data),
                  **({"ds": used} if used else {})}
        self._rule_fired(rule=rule.id, trigger=rule.trigger, node=node, task=task.id if task else None, held=held,
                         inputs=inputs, actions=resolved, error=error)
        for done in resolved:
            if "problem" not in done:
                self._apply(rule, done, node, task, rt)
        return 1

    def _rule_context(self, rule: Rule, rt: FlowRuntime, node: str | None, task: Task | None,
                      changed: list[str] | None) -> dict[str, Any]:
        """What a condition may read as ``context`` (recorded with the firing)."""
        facts = self.initiator_facts
        roles = list(facts.get("roles") or [])
        amount = _at_path(self.data, rt.graph.amount_field) if rt.graph.amount_field else None
        return {
            "trigger": rule.trigger, "definition": self.definition_key, "version": self.definition_version,
            "business_type": self.business_type, "line": self.business_line,
            "department": str(self.department_id) if self.department_id else None,
            "amount": amount if isinstance(amount, (int, float)) and not isinstance(amount, bool) else None,
            "initiator": {"actor": self.initiator, **facts,
                          "rank": "manager" if "department_head" in roles else "staff"},
            "node": node, "task": task.id if task else None,
            "handlers": list(task.candidates) if task else [],
            "changed": changed or [], "outcome": self.status,
            "time": _time(rt) if "time" in (rule.condition or "") else {"at": rt.now.isoformat()},
        }

    def _resolve(self, action: RuleAction, task: Task | None, handlers: list[str], data: dict[str, Any],
                 rt: FlowRuntime) -> dict[str, Any]:
        """An action as it will be applied: recipients resolved now and recorded (a replay never
        resolves again); a problem (nobody found, an invalid field value) is recorded instead.
        ``handlers`` and ``data``: the task's handlers and the form as the earlier actions leave them."""
        out: dict[str, Any] = action.model_dump(exclude={"to"})
        if isinstance(action, (AssignAction, CcAction, NotifyAction)):
            where = rt.node(task.node) if task is not None else Node(id="rule", type="approval", name="rule")
            found = rt.resolve(where.model_copy(update={"assignees": action.to})) if action.to else []
            if isinstance(action, AssignAction):  # never to the initiator (maker-checker), nor to
                excluded = self.excluded_for(where.independent_of) | {self.initiator}  # whom the node excludes
                found = [c for c in found if c not in excluded]
            if isinstance(action, NotifyAction) and action.handlers and task is not None:
                found = [*found, *handlers]
            out["to"] = list(dict.fromkeys(found))
            if not found:
                out["problem"] = "nobody to " + action.kind
        elif action.kind == "mark_urgent":
            out["tasks"] = [task.id] if task is not None else \
                [t.id for t in self.tasks.values() if t.status == "open" and t.mode != RESUBMIT]
        elif isinstance(action, SetFieldAction):
            try:
                changed = rt.validate(_set_path(data, action.field, action.value))
            except DomainError as exc:
                out["problem"] = exc.message
            else:
                out["patch"], out["old_values"] = patch_with_old_values(data, changed)
                out["data"] = changed
        return out

    def _apply(self, rule: Rule, action: dict[str, Any], node: str | None, task: Task | None,
               rt: FlowRuntime) -> None:
        kind = action["kind"]
        if kind in ("assign", "approve") and (task is None or task.status != "open"):
            return
        if kind == "assign" and task is not None:
            keep = task.candidates if action["mode"] == "add" else []
            candidates = list(dict.fromkeys([*keep, *action["to"]]))
            self._rule_assigned(task=task.id, node=task.node, rule=rule.id, mode=action["mode"],
                                added=[c for c in action["to"] if c not in task.candidates], candidates=candidates)
        elif kind == "approve" and task is not None:
            self._task_auto_approved(task=task.id, node=task.node, rule=rule.id, reason=action["reason"])
            self._task_closed(task=task.id, outcome="approved")
            self._move(task.token, rt.next_after(task.node))
            self.advance(rt)
        elif kind == "mark_urgent":
            for task_id in action["tasks"]:
                if self.tasks[task_id].status == "open":
                    self._urged(task=task_id, by=RULES_ACTOR)
        elif kind == "cc":
            self._copied(by=RULES_ACTOR, to=action["to"], note=action["note"] or rule.name)
        elif kind == "set_field" and action["patch"]:
            self.edit_form(node=node or "rules", patch=action["patch"], old_values=action["old_values"],
                           data=action["data"], reason=f"rule {rule.id}: {rule.name}")
        # notify: the notification centre reads it from RuleFired; start_flow: the application
        # starts the flow with the next save (``starts_pending``).

    # -- start_flow ----------------------------------------------------------------------------------
    def starts_pending(self) -> list[dict[str, str]]:
        """Flows rules asked to start that are not started (nor refused) yet: the application
        starts each with this instance's next save, which records RuleFlowStarted."""
        return list(self.rule_starts)

    def record_rule_start(self, rule: str, flow: str, instance: UUID | None, problem: str | None) -> None:
        self._rule_flow_started(rule=rule, flow=flow, instance=instance, problem=problem)


def _time(rt: FlowRuntime) -> dict[str, Any]:
    """The time in the business calendar's zone (loading the calendar: only for a condition that
    reads it)."""
    local = rt.now.astimezone(rt.time.zone)
    return {"at": rt.now.isoformat(), "date": local.date().isoformat(), "hour": local.hour, "minute": local.minute,
            "weekday": local.isoweekday(), "working_day": rt.time.is_working_day(local.date())}


def _named_values(condition: str, data: dict[str, Any]) -> dict[str, Any]:
    """The form values a condition names (``amount`` or ``form.amount``), recorded with its firing."""
    out = {}
    for name in dict.fromkeys(NAMES.findall(condition)):
        path = name.removeprefix("form.")
        value = _at_path(data, path)
        if value is not None:
            out[path] = value
    return out


def _at_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = copy.deepcopy(value)
    return out



# -- the events' mutators, bound on FlowInstance (their events are its RuleFired, ...) ----------------
@event(events.RuleFired)
def rule_fired(self: Any, rule: str, trigger: str, node: str | None, task: str | None, held: bool,
               inputs: dict[str, Any], actions: list[dict[str, Any]], error: str | None) -> None:
    if trigger == "task_overdue" and task in self.tasks:
        self.tasks[task].rule_timers = {k: v for k, v in self.tasks[task].rule_timers.items() if k != rule}
    self.rule_starts = [*self.rule_starts, *({"rule": rule, "flow": a["flow"]} for a in actions
                                            if a["kind"] == "start_flow")]


@event(events.RuleArmed)
def rule_armed(self: Any, task: str, node: str, rule: str, at: str) -> None:
    self.tasks[task].rule_timers = {**self.tasks[task].rule_timers, rule: at}


@event(events.RuleAssigned)
def rule_assigned(self: Any, task: str, node: str, rule: str, mode: str, added: list[str],
                  candidates: list[str]) -> None:
    t = self.tasks[task]
    t.candidates = candidates
    if mode == "reassign":  # as a reassignment: the old handlers' signers go with them
        t.before, t.after, t.after_phase, t.claimed_by = [], [], False, None
        self.delegations = {k: v for k, v in self.delegations.items() if k != task}


@event(events.TaskAutoApproved)
def task_auto_approved(self: Any, task: str, node: str, rule: str, reason: str) -> None:
    self.decisions += 1  # as an approval: the initiator can no longer withdraw


@event(events.RuleFlowStarted)
def rule_flow_started(self: Any, rule: str, flow: str, instance: UUID | None, problem: str | None) -> None:
    pending = next((s for s in self.rule_starts if s == {"rule": rule, "flow": flow}), None)
    self.rule_starts = [s for s in self.rule_starts if s is not pending]
