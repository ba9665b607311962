"""The flows context's Application (ADR 0013): one ``FlowsApplication`` assembled from flat
capabilities — definitions, starts, decisions, handovers, overrides, timers, call activities,
running-instance migration — over the event store. Collaborators (the forms context, assignee
resolution, initiator facts, the clock, the scheduler's queue, the read model migrations search)
are given at composition (interfaces/bootstrap.py)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from application.flows.calls import CallActivities
from application.flows.conditions import Conditions, compile_condition
from application.flows.decisions import Decisions
from application.flows.definitions import Definitions, parse_graph
from application.flows.form_edits import FormEdits
from application.flows.forms_port import Forms
from application.flows.handovers import Handovers
from application.flows.instances import Candidates, Clock, DueQueue, Instances, NoQueue, WorkingTimeOf
from application.flows.migration import InstanceMigrations, RunningInstances, no_instances
from application.flows.overrides import Overrides
from application.flows.rules import Rules
from application.flows.starts import Starts
from application.flows.system_tasks import SystemTasks
from application.flows.timers import Timers
from application.shared.base import LedgerApplication
from application.shared.hot import HotAggregates
from domain.calendar.working_time import WorkingTime
from domain.flows.graph import Graph
from infrastructure.eventstore.store import EventStore

__all__ = ["FlowsApplication", "compile_condition", "parse_graph"]


class FlowsApplication(Definitions, Starts, Decisions, Handovers, Overrides, Timers, Rules, CallActivities,
                       SystemTasks, InstanceMigrations, FormEdits, Conditions, Instances, LedgerApplication):
    name = "flows"

    def __init__(self, store: EventStore, *, forms: Forms, candidates: Candidates, clock: Clock | None = None,
                 facts: Callable[[str], dict[str, Any]] | None = None, due_queue: DueQueue | None = None,
                 running_instances: RunningInstances = no_instances, hot_instances: int = 2_000,
                 working_time: WorkingTimeOf | None = None):
        super().__init__(store)
        self.forms = forms
        self.candidates = candidates
        self.facts = facts or (lambda actor: {})  # initiator attributes for branch conditions
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.due_queue = due_queue or NoQueue()
        self.running_instances = running_instances
        # The business calendar of a department (the calendar context); none: Monday to Friday.
        self.working_time = working_time or (lambda department_id: WorkingTime())
        self.hot = HotAggregates(hot_instances)
        self.system_hooks = {}  # hooks system nodes hand work to (register_hook, at composition)
        self._graphs: dict[tuple[str, int], Graph] = {}
        self._settings: dict[tuple[str, int], dict[str, Any]] = {}
        self._scopes: dict[UUID, tuple[str, UUID | None, str | None]] = {}
