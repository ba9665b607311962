"""A generated flow history for the analytics tests: thousands of instances of three business
types, started at working hours from January to March 2026 (the Spring Festival included), with
approvals, returns, rejections and SLA breaches decided by a seeded random walk — driven through
the real flows application, with event timestamps following the test clock. And the independent
recomputation of the facts from the event store (plain Python over the events)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.calendar.working_time import WorkingTime
from domain.shared.context import CommandContext
from interfaces.demo_forms import EXPENSE
from tests.integration.flow_firm import ADMIN, as_, publish_flow

SH = ZoneInfo("Asia/Shanghai")
TYPES = ("expense_claim", "purchase_request", "training_request")
REASONS = [{"code": "DATA_INCOMPLETE", "label": "资料不全", "counted": True},
           {"code": "OVER_BUDGET", "label": "超预算", "counted": True},
           {"code": "CUSTOMER_REQUEST", "label": "客户要求", "counted": False}]
SLA = timedelta(hours=4)


def graph(second_role: str) -> dict[str, Any]:
    return {"nodes": [{"id": "start", "type": "start", "name": "发起"},
                      {"id": "first", "type": "approval", "name": "初审", "mode": "any",
                       "assignees": [{"kind": "role", "value": "ops"}], "sla_seconds": int(SLA.total_seconds())},
                      {"id": "second", "type": "approval", "name": "复核", "mode": "any",
                       "assignees": [{"kind": "role", "value": second_role}], "return_targets": ["first"],
                       "sla_seconds": 8 * 3600},
                      {"id": "end", "type": "end", "name": "完成"}],
            "edges": [{"source": "start", "target": "first"}, {"source": "first", "target": "second"},
                      {"source": "second", "target": "end"}]}


def publish_types(container) -> None:
    forms, flows = container.forms, container.flows
    for code, second in zip(TYPES, ("clearing", "finance", "clearing"), strict=True):
        forms.create_business_type(ADMIN, code, code, "brokerage", "", ["employee"])
        forms.save_draft(ADMIN, code, "employee", EXPENSE, None)
        forms.publish(ADMIN, code, None)
        publish_flow(flows, code, graph(second), business_type=code, reason_codes=REASONS)


def _working_start(rng: random.Random) -> datetime:
    day = datetime(2026, 1, 5, tzinfo=SH) + timedelta(days=rng.randrange(0, 84))
    return day.replace(hour=rng.choice((9, 10, 11, 13, 14, 15, 16)), minute=rng.randrange(0, 60, 5))


def generate(container, clock, count: int, seed: int = 2026) -> list[UUID]:
    """``count`` instances, each run to its end (or left open) before the next starts."""
    rng, flows = random.Random(seed), container.flows
    sla = CommandContext.system("sla")
    ops, second_by_type = ("olga", "oscar"), {"expense_claim": ("clara", "carl"), "purchase_request": ("fiona",),
                                              "training_request": ("clara", "carl")}
    made = []
    for i in range(count):
        code = TYPES[i % 3] if rng.random() < 0.7 else rng.choice(TYPES)  # hot and less hot businesses
        clock.now = _working_start(rng)
        data = {"expense": {"kind": rng.choice(["travel", "training", "other"]), "amount": float(rng.randrange(1, 9000)),
                            "region": rng.choice(["east", "north"]), "purpose": f"第{i}号"}}
        iid = flows.start_instance(as_("sam"), code, "employee", data, title=f"{code}-{i}").id
        made.append(iid)
        steps = 0
        while flows.instance(iid).status == "running" and steps < 6:
            steps += 1
            instance = flows.instance(iid)
            (task,) = [t for t in instance.tasks.values() if t.status == "open"]
            if rng.random() < 0.03:
                break  # left open: a running instance
            clock.now += timedelta(minutes=rng.choice((20, 45, 90, 150, 300, 600, 1500, 2900, 13000)))
            if task.sla_due_at and clock.now >= datetime.fromisoformat(task.sla_due_at):
                flows.fire_sla(sla, iid, task.id, "sla")  # as the scheduler would have by now
            who = rng.choice(ops if task.node == "first" else second_by_type[code])
            roll = rng.random()
            if roll < 0.05:
                flows.reject(as_(who), iid, task.id, "不符", reason_code=rng.choice(REASONS)["code"])
            elif task.node == "second" and roll < 0.25 and steps < 5:
                flows.return_to(as_(who), iid, task.id, "first", "补充",
                                reason_code=rng.choice(REASONS)["code"])
            else:
                flows.approve(as_(who), iid, task.id, "同意")
    return made


def recompute(events: list[Any], time: WorkingTime) -> dict[str, Any]:
    """An instance's facts from its events, written independently of the sink's fold."""
    started = events[0]
    visits: dict[str, dict[str, Any]] = {}
    ended_at, outcome = None, "running"
    returns = rejections = 0
    for e in events:
        kind = type(e).__name__
        if kind == "TaskOpened":
            visits[e.task] = {"node": e.node, "entered_at": e.timestamp, "left_at": None, "outcome": "open",
                              "reason_code": "", "sla_breached": False, "decided_by": []}
        elif kind == "SlaBreached":
            visits[e.task]["sla_breached"] = True
        elif kind in ("TaskApproved", "TaskRejected", "Returned"):
            visits[e.task]["decided_by"].append(e.by)
            if kind != "TaskApproved":
                visits[e.task]["reason_code"] = e.reason_code or ""
            if kind == "TaskRejected":
                rejections += 1
            if kind == "Returned":
                returns += 1
                visits[e.task].update(outcome="returned", left_at=e.timestamp)
        elif kind == "TaskClosed":
            visits[e.task].update(outcome=e.outcome, left_at=e.timestamp)
        elif kind == "Completed":
            outcome, ended_at = "completed", e.timestamp
        elif kind == "Finished":
            outcome, ended_at = e.status, e.timestamp
    for v in visits.values():
        end = v["left_at"]
        v["wall"] = (end - v["entered_at"]).total_seconds() if end else 0.0
        v["working"] = time.between(v["entered_at"], end).total_seconds() if end else 0.0
    return {
        "business_type": started.business_type, "outcome": outcome, "started_at": started.timestamp,
        "ended_at": ended_at, "returns": returns, "rejections": rejections, "visits": visits,
        "wall": (ended_at - started.timestamp).total_seconds() if ended_at else 0.0,
        "working": time.between(started.timestamp, ended_at).total_seconds() if ended_at else 0.0,
        "first_pass": outcome == "completed" and returns == 0,
        "sla_met": not any(v["sla_breached"] for v in visits.values()),
    }
