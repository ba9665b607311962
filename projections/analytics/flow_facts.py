"""ClickHouse: the facts of flows — one row per instance, per node visit (task) and per decision,
with wall and working durations (issue 15; schema in docs/analytics.md).

Facts need history (a visit's duration needs when it opened), and a sink sees one event at a
time, so each instance's facts are folded (projections/analytics/flow_history.py) from its own
events: kept in memory while the instance runs, and folded again from the event store — the
truth — whenever the sink meets an event without the instance's previous state in memory (after a
restart, an eviction, a replayed batch). The same events always give the same rows.

Instance and visit rows are *latest state per entity*: ReplacingMergeTree(position) ordered by
the entity, so each event that changes one writes its whole new row and a replay writes the same
(entity, position) row again; read them with FINAL (ADR 0018). Decisions are one row per event,
keyed by position, as the other sinks.

Each table is partitioned by month of a time that never changes for its entity (started, entered,
occurred) and sorted by columns that never change for it either (line, type or flow and node, or
handler) before its identity: a replayed row lands in the same partition under the same key, so
it still collapses, while a cockpit query reads only the months and lines it asks for, and FINAL
merges only within a partition — settled months cost a plain read (bench/analytics.py)."""
from __future__ import annotations

import inspect
import time as clock
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.calendar.working_time import WorkingTime
from domain.flows.instance import FlowInstance
from domain.flows.instance import events as instance_events
from projections.analytics.flow_history import FlowHistory, Visit, durations
from projections.framework import ClickHouseSink, handles

History = Callable[[UUID, int], Iterable[Any]]   # an instance's events up to a version, in order
WorkingTimeOf = Callable[[UUID | None], WorkingTime]
EVENTS = tuple(getattr(FlowInstance, name) for name, cls in vars(instance_events).items()
               if inspect.isclass(cls) and cls.__module__ == instance_events.__name__)
CACHED = 20_000          # running instances kept folded in memory
CALENDAR_SECONDS = 60.0  # a business calendar's edit reaches the facts of later events within this
ENTITY = " SETTINGS non_replicated_deduplication_window = 1000"


class FlowFactsSink(ClickHouseSink):
    name = "analytics.flow_facts"
    tables = {
        "flow_instance_facts": (
            "CREATE TABLE IF NOT EXISTS {db}.flow_instance_facts ("
            " instance_id UUID, position UInt64, business_type LowCardinality(String), definition_key String,"
            " definition_version UInt32, business_line LowCardinality(String), department_id Nullable(UUID),"
            " initiator String, started_at DateTime64(6, 'UTC'), ended_at Nullable(DateTime64(6, 'UTC')),"
            " outcome LowCardinality(String), wall_seconds Float64, working_seconds Float64, returns UInt32,"
            " rejections UInt32, visits UInt32, sla_breaches UInt32, first_pass UInt8, sla_met UInt8"
            ") ENGINE = ReplacingMergeTree(position) PARTITION BY toYYYYMM(started_at)"
            " ORDER BY (business_line, business_type, instance_id, started_at)" + ENTITY),
        "flow_visit_facts": (
            "CREATE TABLE IF NOT EXISTS {db}.flow_visit_facts ("
            " instance_id UUID, task_id String, position UInt64, business_type LowCardinality(String),"
            " definition_key String, business_line LowCardinality(String), department_id Nullable(UUID),"
            " node String, mode LowCardinality(String), handlers Array(String), decided_by Array(String),"
            " entered_at DateTime64(6, 'UTC'), left_at Nullable(DateTime64(6, 'UTC')), outcome LowCardinality(String),"
            " reason_code String, wall_seconds Float64, working_seconds Float64,"
            " sla_due_at Nullable(DateTime64(6, 'UTC')), sla_warned UInt8, sla_breached UInt8"
            ") ENGINE = ReplacingMergeTree(position) PARTITION BY toYYYYMM(entered_at)"
            " ORDER BY (business_line, definition_key, node, instance_id, task_id, entered_at)" + ENTITY),
        "flow_decision_facts": (
            "CREATE TABLE IF NOT EXISTS {db}.flow_decision_facts ("
            " position UInt64, occurred_at DateTime64(6, 'UTC'), instance_id UUID, task_id String,"
            " business_type LowCardinality(String), definition_key String, definition_version UInt32,"
            " business_line LowCardinality(String), department_id Nullable(UUID), node String,"
            " decision LowCardinality(String), handler String, target_node String, reason_code String,"
            " handling_seconds Float64, handling_working_seconds Float64"
            ") ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(occurred_at)"
            " ORDER BY (business_line, handler, position, occurred_at)" + ENTITY),
    }
    # What BI tools query (docs/analytics.md): one row per entity, deduplicated, with the durations in
    # hours and working days as well (a working day: 7.5 h, the default calendar's).
    views = {
        "bi_flow_instances": (
            "CREATE OR REPLACE VIEW {db}.bi_flow_instances AS SELECT instance_id, business_type, definition_key,"
            " definition_version, business_line, department_id, initiator, started_at, ended_at, outcome,"
            " wall_seconds / 3600 AS wall_hours, working_seconds / 3600 AS working_hours,"
            " working_seconds / 27000 AS working_days, returns, rejections, visits, sla_breaches, first_pass, sla_met"
            " FROM {db}.flow_instance_facts FINAL"),
        "bi_flow_visits": (
            "CREATE OR REPLACE VIEW {db}.bi_flow_visits AS SELECT instance_id, task_id, business_type,"
            " definition_key, business_line, department_id, node, mode, handlers, decided_by, entered_at, left_at,"
            " outcome, reason_code, wall_seconds / 3600 AS wall_hours, working_seconds / 3600 AS working_hours,"
            " sla_due_at, sla_warned, sla_breached FROM {db}.flow_visit_facts FINAL"),
        "bi_flow_decisions": (
            "CREATE OR REPLACE VIEW {db}.bi_flow_decisions AS SELECT occurred_at, instance_id, task_id,"
            " business_type, definition_key, definition_version, business_line, department_id, node, decision,"
            " handler, target_node,"
            " reason_code, handling_seconds / 3600 AS handling_hours,"
            " handling_working_seconds / 3600 AS handling_working_hours FROM {db}.flow_decision_facts FINAL"),
    }
    columns = {
        "flow_instance_facts": ("instance_id", "position", "business_type", "definition_key", "definition_version",
                                "business_line", "department_id", "initiator", "started_at", "ended_at", "outcome",
                                "wall_seconds", "working_seconds", "returns", "rejections", "visits",
                                "sla_breaches", "first_pass", "sla_met"),
        "flow_visit_facts": ("instance_id", "task_id", "position", "business_type", "definition_key",
                             "business_line", "department_id", "node", "mode", "handlers", "decided_by",
                             "entered_at", "left_at", "outcome", "reason_code", "wall_seconds", "working_seconds",
                             "sla_due_at", "sla_warned", "sla_breached"),
        "flow_decision_facts": ("position", "occurred_at", "instance_id", "task_id", "business_type",
                                "definition_key", "definition_version", "business_line", "department_id", "node",
                                "decision", "handler", "target_node", "reason_code", "handling_seconds",
                                "handling_working_seconds"),
    }

    def __init__(self, history: History | None = None, working_time: WorkingTimeOf | None = None):
        super().__init__()
        self.history = history
        self.working_time = working_time or (lambda department_id: WorkingTime())
        self._folded: OrderedDict[UUID, FlowHistory] = OrderedDict()
        self._times: dict[UUID | None, tuple[float, WorkingTime]] = {}

    @handles(*EVENTS)
    def fact(self, e: Any, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        facts = self._facts_before(e)
        time = self._time(facts.department_id)
        before = {k: astuple(v) for k, v in facts.visits.items()}
        facts.apply(e, position, time)
        self._keep(facts)
        changed = [v for k, v in facts.visits.items() if before.get(k) != astuple(v)]
        if changed or facts.decisions or type(e).__name__ in INSTANCE_EVENTS:
            yield "flow_instance_facts", self._instance_row(facts, position, time)
        for visit in changed:
            yield "flow_visit_facts", self._visit_row(facts, visit, position, time)
        for d in facts.decisions:
            yield "flow_decision_facts", (d.position, d.occurred_at, facts.instance_id, d.task_id,
                                          facts.business_type, facts.definition_key, facts.definition_version,
                                          facts.business_line,
                                          facts.department_id, d.node, d.decision, d.handler, d.target_node,
                                          d.reason_code or "", d.handling_seconds, d.handling_working_seconds)

    # -- the instance's facts before this event ---------------------------------------------------------
    def _facts_before(self, e: Any) -> FlowHistory:
        facts = self._folded.get(e.originator_id)
        if facts is not None and facts.version == e.originator_version - 1:
            return facts
        facts = FlowHistory(e.originator_id)
        if e.originator_version > 1:
            if self.history is None:
                raise RuntimeError("analytics.flow_facts needs the event store to fold an instance it has not seen")
            for earlier in self.history(e.originator_id, e.originator_version - 1):
                facts.apply(earlier, 0, self._time(facts.department_id))
        return facts

    def _keep(self, facts: FlowHistory) -> None:
        self._folded[facts.instance_id] = facts
        self._folded.move_to_end(facts.instance_id)
        if facts.outcome != "running":
            del self._folded[facts.instance_id]  # ended: no more events, or a rare one refolded
        while len(self._folded) > CACHED:
            self._folded.popitem(last=False)

    def _time(self, department_id: UUID | None) -> WorkingTime:
        cached = self._times.get(department_id)
        now = clock.monotonic()
        if cached is None or now - cached[0] > CALENDAR_SECONDS:
            cached = self._times[department_id] = (now, self.working_time(department_id))
        return cached[1]

    # -- rows --------------------------------------------------------------------------------------------
    @staticmethod
    def _instance_row(f: FlowHistory, position: int, time: WorkingTime) -> Sequence[Any]:
        assert f.started_at is not None
        wall, working = durations(f.started_at, f.ended_at, time)
        breaches = sum(1 for v in f.visits.values() if v.sla_breached)
        return (f.instance_id, position, f.business_type, f.definition_key, f.definition_version, f.business_line,
                f.department_id, f.initiator, f.started_at, f.ended_at, f.outcome, wall, working, f.returns,
                f.rejections, len(f.visits), breaches, int(f.first_pass), int(f.sla_met))

    @staticmethod
    def _visit_row(f: FlowHistory, v: Visit, position: int, time: WorkingTime) -> Sequence[Any]:
        wall, working = durations(v.entered_at, v.left_at, time)
        due = datetime.fromisoformat(v.sla_due_at) if v.sla_due_at else None
        return (f.instance_id, v.task_id, position, f.business_type, f.definition_key, f.business_line,
                v.department_id, v.node, v.mode, v.handlers, v.decided_by, v.entered_at, v.left_at, v.outcome,
                v.reason_code or "", wall, working, due, int(v.sla_warned), int(v.sla_breached))


# Events that change an instance row by themselves (the others change it through a visit or a decision).
INSTANCE_EVENTS = frozenset({"Started", "Completed", "Finished", "DepartmentMoved", "Migrated"})
