"""Who a node goes to (assignees), and what happens when its SLA deadline passes (超时处理).

An approval node with ``sla_seconds`` may add a ``timeout``: once the deadline passes (the task
is overdue), remind its handlers every ``remind_every_seconds`` of working time up to
``remind_times`` times, then act — escalate (add handlers, or reassign to them), approve,
reject, or return the task. Each step is an event recorded by ``system:sla`` naming the rule
that fired ("timeout"), and the time of the next step is recorded with it, so a replay never
recomputes a deadline and a calendar edit applies only to steps scheduled after it. Pure."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TimeoutAction = Literal["none", "escalate", "auto_approve", "auto_reject", "auto_return"]
SLA_ACTOR = "system:sla"


class Assignee(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["operator", "role", "department", "initiator", "initiator_department_head", "department_head",
                  "form_field"] = Field(
        description="department_head: the heads of the flow's department (else of the initiator's)")
    value: str | None = Field(None, max_length=128, description="login, role key, department id or field path")


class Timeout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remind_every_seconds: int | None = Field(
        None, gt=0, le=366 * 86400, description="Remind the handlers this long after the deadline, and again")
    remind_times: int = Field(0, ge=0, le=20, description="How many reminders before the action")
    action: TimeoutAction = Field("none", description="After the reminders: escalate, auto_approve, auto_reject, "
                                                      "auto_return or nothing more")
    escalate_to: list[Assignee] = Field(default_factory=list, max_length=10,
                                        description="escalate: who is added (or takes over)")
    escalate_mode: Literal["add", "reassign"] = Field(
        "add", description="add: they join the task's handlers; reassign: they replace them")
    return_to: str | None = Field(None, max_length=48,
                                  description="auto_return: a node id, 'start' (the initiator) or 'previous'")
    comment: str = Field("", max_length=500, description="Recorded with the automatic decision")


def check_timeout(node_type: str, sla_seconds: int | None, timeout: Timeout | None, known: set[str]) -> list[str]:
    """Publishing refuses a timeout that cannot work."""
    if timeout is None:
        return []
    problems = []
    if node_type != "approval":
        problems.append("a timeout is a setting of approval nodes")
    if sla_seconds is None:
        problems.append("a timeout needs sla_seconds (it starts when the SLA deadline passes)")
    if timeout.remind_times and timeout.remind_every_seconds is None:
        problems.append("remind_times needs remind_every_seconds")
    if timeout.action == "escalate" and not timeout.escalate_to:
        problems.append("escalate needs escalate_to")
    if timeout.action == "auto_return" and not timeout.return_to:
        problems.append("auto_return needs return_to")
    if timeout.return_to and timeout.return_to not in known | {"start", "previous"}:
        problems.append(f"return_to {timeout.return_to!r} is not a node, 'start' or 'previous'")
    if timeout.action == "none" and not timeout.remind_times:
        problems.append("a timeout that neither reminds nor acts does nothing")
    return problems


def step_after(timeout: Timeout, reminders_done: int) -> Literal["remind", "act"] | None:
    """What the timeout does next, having reminded ``reminders_done`` times."""
    if reminders_done < timeout.remind_times:
        return "remind"
    return "act" if timeout.action != "none" else None
