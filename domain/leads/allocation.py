"""Assignment rules and the pure allocator (分配规则).

Everything here is deterministic: the same rule configuration, state and lead facts always
choose the same member. The rule book records every decision together with the state it
left behind, and ``replay`` re-runs the allocator over the recorded inputs, which is how the
tests (and ``ledgerflow leads verify-assignments``) show the event log reproduces every
assignment.

* round_robin (平均分配 / 轮询): the next member in cyclic order that is under its cap; with
  no caps the counts never differ by more than one.
* weighted (权重分配): nginx's smooth weighted round-robin over the members under their cap,
  so any prefix of the sequence is as close to the weights as integers allow.
* manual (手动分配): nobody is chosen; the lead waits in the rule's department pool.

A member at its cap (分配上限, counted over the rule's life) is skipped; when every member is
at its cap the lead waits in the pool and the decision says so.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, time
from typing import Any, Literal, TypedDict, Unpack
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator

Strategy = Literal["manual", "round_robin", "weighted"]


class Member(BaseModel):
    id: str = Field(min_length=1, max_length=100, description="operator:<login> or a department id")
    weight: int = Field(1, ge=1, le=1000)
    cap: int | None = Field(None, ge=0, le=1_000_000_000,
                            description="分配上限: most leads this member may receive from the rule")


class Window(BaseModel):
    """分时段分配: weekdays (1 = Monday) and a time range; end before start runs overnight
    (a night shift 18:00-08:00 belongs to the weekday it starts on)."""

    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)
    start: time
    end: time

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in days):
            raise ValueError("days are 1 (Monday) to 7 (Sunday)")
        return sorted(set(days))

    def contains(self, local: datetime) -> bool:
        t, day = local.time().replace(tzinfo=None), local.isoweekday()
        if self.start <= self.end:
            return day in self.days and self.start <= t < self.end
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and t >= self.start) or (yesterday in self.days and t < self.end)

    def label(self) -> str:
        return f"{','.join(map(str, self.days))} {self.start:%H:%M}-{self.end:%H:%M}"


class RuleConfig(BaseModel):
    key: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=100)
    purpose: Literal["intake", "reassign"] = Field(
        "intake", description="intake: new leads reaching the owner department; reassign: leads recycled into it")
    owner_department: str = Field(description="规则所属部门: the department whose pool this rule distributes")
    channels: list[str] = Field(default_factory=list, max_length=200, description="渠道来源 codes; empty = all")
    target: Literal["department", "employee"] = "employee"
    strategy: Strategy = "round_robin"
    members: list[Member] = Field(default_factory=list, max_length=500)
    window: Window | None = None
    max_recycle_count: int | None = Field(None, ge=0, le=10_000, description="回收次数 ≤ N (reassign rules)")
    priority: int = Field(100, ge=0, le=10_000, description="lower first; windowed rules before all-day ones")
    timezone: str = "Asia/Shanghai"
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> RuleConfig:
        if self.strategy != "manual" and not self.members:
            raise ValueError("a round_robin or weighted rule needs members")
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("a member appears twice")
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        return self


class AllocationInputs(TypedDict):
    """The facts of one lead that ``allocate`` decides on (recorded with the decisions)."""

    purpose: str
    department: str
    channel: str
    at: datetime
    recycle_count: int


def empty_state() -> dict[str, Any]:
    return {"counts": {}, "current": {}, "next": 0}


def applies(rule: RuleConfig, *, purpose: str, department: str, channel: str, at: datetime,
            recycle_count: int) -> bool:
    if not rule.enabled or rule.purpose != purpose or rule.owner_department != department:
        return False
    if rule.channels and channel not in rule.channels:
        return False
    if rule.max_recycle_count is not None and recycle_count > rule.max_recycle_count:
        return False
    return rule.window is None or rule.window.contains(at.astimezone(ZoneInfo(rule.timezone)))


def select_rule(rules: list[RuleConfig], **facts: Unpack[AllocationInputs]) -> RuleConfig | None:
    candidates = [r for r in rules if applies(r, **facts)]
    candidates.sort(key=lambda r: (r.window is None, r.priority, r.key))
    return candidates[0] if candidates else None


def decide(rule: RuleConfig, state: dict[str, Any], unavailable: Collection[str] = ()
           ) -> tuple[str | None, dict[str, Any]]:
    """(member or None, why). Mutates ``state`` (counts, SWRR current weights, cursor).
    ``unavailable``: members who cannot receive leads now (disabled, out of the line, without a
    leads permission); they are skipped like members at their cap."""
    why: dict[str, Any] = {"rule": rule.key, "strategy": rule.strategy}
    if rule.window is not None:
        why["window"] = rule.window.label()
    if rule.strategy == "manual":
        why["reason"] = "manual rule: waits in the pool"
        return None, why
    counts: dict[str, int] = state["counts"]
    absent = sorted(m.id for m in rule.members if m.id in unavailable)
    at_cap = sorted(m.id for m in rule.members if m.cap is not None and counts.get(m.id, 0) >= m.cap
                    and m.id not in unavailable)
    eligible = [m for m in rule.members if m.id not in absent and m.id not in at_cap]
    if absent:
        why["skipped_unavailable"] = absent
    if not eligible:
        why["reason"] = "no member can receive leads" if absent else "every member is at its cap"
        return None, why
    if rule.strategy == "round_robin":
        n = len(rule.members)
        start = state["next"] % n
        for step in range(n):
            member = rule.members[(start + step) % n]
            if member in eligible:
                state["next"] = (start + step + 1) % n
                break
        why["turn"] = (start + step) % n
    else:
        current: dict[str, int] = state["current"]
        total = sum(m.weight for m in eligible)
        best = None
        for m in eligible:
            current[m.id] = current.get(m.id, 0) + m.weight
            if best is None or current[m.id] > current[best.id]:
                best = m
        assert best is not None
        why["current"] = current[best.id]
        why["total_weight"] = total
        current[best.id] -= total
        member = best
    counts[member.id] = counts.get(member.id, 0) + 1
    why["count"] = counts[member.id]
    if member.weight != 1:
        why["weight"] = member.weight
    if member.cap is not None:
        why["cap"] = member.cap
    if at_cap:
        why["skipped_at_cap"] = at_cap
    return member.id, why


def allocate(rules: list[RuleConfig], states: dict[str, dict[str, Any]], *, purpose: str, department: str,
             channel: str, at: datetime, recycle_count: int = 0,
             unavailable: Collection[str] = ()) -> list[dict[str, Any]]:
    """The decisions for one lead, one per level: a head-office rule may hand it to a department,
    whose own rule picks the employee (two levels: 总部 -> 部门 -> 员工). Each decision is
    {level, rule, member, target, department, why}. An empty list: no rule applies.
    ``unavailable`` members are skipped (an input: recorded with the decisions for the replay)."""
    decisions: list[dict[str, Any]] = []
    for level in (1, 2):
        rule = select_rule(rules, purpose=purpose if level == 1 else "intake", department=department,
                           channel=channel, at=at, recycle_count=recycle_count)
        if rule is None:
            break
        member, why = decide(rule, states.setdefault(rule.key, empty_state()), unavailable)
        decisions.append({"level": level, "rule": rule.key, "member": member, "target": rule.target,
                          "department": department, "why": why})
        if member is None or rule.target == "employee":
            break
        department = member
    return decisions


def outcome(decisions: list[dict[str, Any]], department: str, homes: Mapping[str, str] | None = None
            ) -> tuple[str, str | None]:
    """(department the lead ends in, employee or None) after its decisions. A lead given to an
    employee lands in the employee's own department (``homes``: employee -> department), not
    the rule's: a head-office rule's pick must reach the employee's supervisor and recycling."""
    owner = None
    for d in decisions:
        if d["member"] is None:
            return d["department"], None
        if d["target"] == "department":
            department = d["member"]
        else:
            department, owner = (homes or {}).get(d["member"], d["department"]), d["member"]
    return department, owner


def unavailable_among(rules: list[RuleConfig], decisions: list[dict[str, Any]],
                      unavailable: Collection[str]) -> list[str]:
    """The unavailable members of the rules these decisions used: what a replay needs to know."""
    used = {d["rule"] for d in decisions}
    return sorted({m.id for r in rules if r.key in used for m in r.members if m.id in unavailable})


def allocation_entry(lead: UUID, phone: str, inputs: AllocationInputs, at: str, decisions: list[dict[str, Any]],
                     unavailable: list[str]) -> dict[str, Any]:
    """One lead's record in the rule book's Allocated event: its inputs (the members unavailable
    then among them, when any) and the decisions."""
    return {"lead": str(lead), "phone": phone, **inputs, "at": at,
            **({"unavailable": unavailable} if unavailable else {}), "decisions": decisions}
