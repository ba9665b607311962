"""IF-THEN rules (规则引擎, seed 001 §三): configuration a flow definition carries beside its graph,
so rules are versioned, checked and published with it, and an instance keeps the rules of the
version it pinned. A rule says *when* (a trigger), *if* (a CEL condition over the form and the
rule context) and *then* (actions):

- route by a form field: ``task_opened`` at a node, ``region == "华东"``, ``assign`` to a team;
- warn, then escalate: ``task_overdue`` 1.5 h after a task opened (``notify`` and ``mark_urgent``)
  and again at 2 h (``assign`` to the department head);
- conditional auto-approval: ``task_opened``, ``amount < 5000 && initiator.rank == "manager"``,
  ``approve`` with the reason recorded.

Firing is recorded (``RuleFired`` with the inputs the condition saw and the actions as resolved),
then each action as the ordinary event it amounts to, by ``system:rules``; a replay applies those
events and never evaluates a rule again. Pure: conditions are compiled by the function the
application passes in (CEL lives outside the domain)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.flows.timeouts import Assignee

RULES_ACTOR = "system:rules"
RuleTrigger = Literal["instance_started", "node_entered", "task_opened", "field_changed", "task_overdue",
                      "instance_completed"]
TASK_TRIGGERS = frozenset({"task_opened", "task_overdue"})
NODE_TRIGGERS = TASK_TRIGGERS | {"node_entered"}
FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}$"
MAX_RULES, MAX_ACTIONS = 50, 10


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignAction(_Action):
    kind: Literal["assign"]
    to: list[Assignee] = Field(min_length=1, max_length=10, description="who takes (or joins) the task")
    mode: Literal["reassign", "add"] = Field("reassign", description="reassign: they replace the handlers; "
                                                                     "add: they join them")


class ApproveAction(_Action):
    kind: Literal["approve"]
    reason: str = Field(min_length=1, max_length=500, description="recorded with the automatic approval")


class MarkUrgentAction(_Action):
    kind: Literal["mark_urgent"]


class CcAction(_Action):
    kind: Literal["cc"]
    to: list[Assignee] = Field(min_length=1, max_length=10)
    note: str = Field("", max_length=500)


class NotifyAction(_Action):
    kind: Literal["notify"]
    to: list[Assignee] = Field(default_factory=list, max_length=10)
    handlers: bool = Field(False, description="also the task's current handlers")
    message: str = Field(min_length=1, max_length=500)


class StartFlowAction(_Action):
    kind: Literal["start_flow"]
    flow: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$", description="the key of a flow of the same business line")


class SetFieldAction(_Action):
    kind: Literal["set_field"]
    field: str = Field(pattern=FIELD_PATH, description="a form path, e.g. basic.priority")
    value: Any = Field(description="the JSON value set (checked against the form at publish)")


RuleAction = Annotated[AssignAction | ApproveAction | MarkUrgentAction | CcAction | NotifyAction | StartFlowAction
                       | SetFieldAction, Field(discriminator="kind")]

# What each trigger may do: task actions need a task; nothing changes a flow that has ended.
ALLOWED: dict[str, frozenset[str]] = {
    "instance_started": frozenset({"notify", "cc", "start_flow", "set_field", "mark_urgent"}),
    "node_entered": frozenset({"notify", "cc", "start_flow", "set_field", "mark_urgent"}),
    "task_opened": frozenset({"assign", "approve", "mark_urgent", "cc", "notify", "start_flow", "set_field"}),
    "field_changed": frozenset({"notify", "cc", "start_flow", "set_field", "mark_urgent"}),
    "task_overdue": frozenset({"assign", "approve", "mark_urgent", "cc", "notify", "start_flow", "set_field"}),
    "instance_completed": frozenset({"notify", "cc", "start_flow"}),
}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    name: str = Field(min_length=1, max_length=100)
    trigger: RuleTrigger
    nodes: list[str] = Field(default_factory=list, max_length=50,
                             description="node_entered, task_opened, task_overdue: only at these nodes "
                                         "(none: every node, for tasks every approval node)")
    fields: list[str] = Field(default_factory=list, max_length=20,
                              description="field_changed: only when one of these form paths (or a field under "
                                          "one) changed; none: any field")
    after_seconds: int | None = Field(None, gt=0, le=366 * 86400,
                                      description="task_overdue: this long after the task opened, counted as the "
                                                  "node counts its SLA (working time by default); none: at the "
                                                  "node's SLA deadline")
    condition: str | None = Field(None, max_length=2000,
                                  description="CEL over the form fields and `context`; none: always")
    actions: list[RuleAction] = Field(min_length=1, max_length=MAX_ACTIONS)

    def applies_at(self, node: str | None) -> bool:
        return not self.nodes or node in self.nodes

    def watches(self, changed: list[str]) -> bool:
        """field_changed: a changed path is one of ``fields``, under one, or above one."""
        if not self.fields:
            return bool(changed)
        return any(c == f or c.startswith(f + ".") or f.startswith(c + ".") for c in changed for f in self.fields)


def check_rules(rules: list[Rule], nodes: dict[str, str], sla_nodes: set[str], guarded: set[str],
                compile_condition: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """Every problem of the rules as (where, what); ``nodes`` maps node ids to their types;
    ``guarded``: approval nodes with ``independent_of`` or ``required_fields``, which a rule never
    approves (as de-duplication never does: an independent review or a section someone must fill
    is not decided on values the initiator typed)."""
    problems: list[tuple[str, str]] = []
    if len(rules) > MAX_RULES:
        problems.append(("rules", f"at most {MAX_RULES} rules per flow"))
    seen: set[str] = set()
    approvals = {n for n, kind in nodes.items() if kind == "approval"}
    for rule in rules:
        where = f"rules.{rule.id}"
        if rule.id in seen:
            problems.append((where, "duplicate rule id"))
        seen.add(rule.id)
        if rule.nodes and rule.trigger not in NODE_TRIGGERS:
            problems.append((where, "nodes is a setting of node_entered, task_opened and task_overdue rules"))
        for node in rule.nodes:
            if node not in nodes:
                problems.append((where, f"no node {node!r}"))
            elif rule.trigger in TASK_TRIGGERS and node not in approvals:
                problems.append((where, f"{node!r} is not an approval node: it opens no task"))
        if rule.fields and rule.trigger != "field_changed":
            problems.append((where, "fields is a setting of field_changed rules"))
        if rule.after_seconds is not None and rule.trigger != "task_overdue":
            problems.append((where, "after_seconds is a setting of task_overdue rules"))
        if rule.trigger == "task_overdue" and rule.after_seconds is None:
            without = sorted((set(rule.nodes) or approvals) - sla_nodes)
            if without:
                problems.append((where, "task_overdue without after_seconds fires at the SLA deadline; "
                                        f"these nodes have no sla_seconds: {', '.join(without)}"))
        if rule.condition is not None:
            error = compile_condition(rule.condition)
            if error:
                problems.append((f"{where}.condition", f"condition does not compile: {error}"))
        for i, action in enumerate(rule.actions):
            if action.kind not in ALLOWED[rule.trigger]:
                problems.append((f"{where}.actions[{i}]",
                                 f"a {rule.trigger} rule cannot {action.kind} "
                                 f"(it may: {', '.join(sorted(ALLOWED[rule.trigger]))})"))
            if action.kind == "approve" and (set(rule.nodes) or approvals) & guarded:
                problems.append((f"{where}.actions[{i}]", "a rule cannot approve at nodes with independent_of or "
                                 "required_fields: " + ", ".join(sorted((set(rule.nodes) or approvals) & guarded))))
            if isinstance(action, NotifyAction) and not action.to and not action.handlers:
                problems.append((f"{where}.actions[{i}]", "notify names recipients (to) or the handlers"))
            if isinstance(action, NotifyAction) and action.handlers and rule.trigger not in TASK_TRIGGERS:
                problems.append((f"{where}.actions[{i}]", "only a task rule has handlers to notify"))
    return problems
