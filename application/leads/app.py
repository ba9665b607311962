"""The leads context's Application (渠道2.0), assembled from flat capability classes (ADR 0013):
channels, line settings, rules, 渠道1.0 bindings, intake, recycling, activity, segments and SOP
tasks, account opening. The host holds the event store, the clock and the collaborators given by
the composition root; each capability declares at its top what it uses from the host."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any, Protocol
from uuid import UUID

from application.leads.activity import Activity
from application.leads.bindings import Bindings
from application.leads.channels import Channels
from application.leads.imports import Imports
from application.leads.intake import Intake
from application.leads.line_settings import LineSettings
from application.leads.opening import Opening
from application.leads.ports import (
    ImportProgress,
    LeadReads,
    NoOutbound,
    NoReadModel,
    NoReads,
    Outbound,
    ReadProgress,
)
from application.leads.recycling import Recycling, WorkingTimeOf
from application.leads.rules import Rules
from application.leads.sop import SopTasks
from application.leads.staff import EveryoneAvailable, Staff
from application.shared.base import LedgerApplication
from domain.calendar.working_time import WorkingTime
from domain.leads.lead import Lead
from domain.leads.phone import normalise_phone
from domain.leads.rulebook import RuleBook
from domain.shared.errors import NotFoundError
from domain.shared.ids import natural_id
from infrastructure.eventstore.store import EventStore

Clock = Callable[[], datetime]


class LineTurnsPort(Protocol):
    def turn(self, business_line: str) -> AbstractContextManager[None]: ...


class _NoTurns:
    def turn(self, business_line: str) -> AbstractContextManager[None]:
        return nullcontext()


class LeadsApplication(Channels, LineSettings, Rules, Bindings, Intake, Imports, Recycling, Activity, SopTasks,
                       Opening, LedgerApplication):
    name = "leads"

    def __init__(self, store: EventStore, *, clock: Clock | None = None, turns: LineTurnsPort | None = None,
                 reads: LeadReads | None = None, outbound: Outbound | None = None,
                 progress: ImportProgress | None = None,
                 staff: Staff | None = None, read_progress: ReadProgress | None = None,
                 timezone_name: str = "Asia/Shanghai", working_time: WorkingTimeOf | None = None):
        super().__init__(store)
        # The business calendar of a department (the calendar context), for recycle windows of
        # working days; none: Monday to Friday.
        self.working_time = working_time or (lambda department_id: WorkingTime())
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.turns = turns or _NoTurns()
        self.staff: Staff = staff or EveryoneAvailable()
        self.read_progress: ReadProgress = read_progress or NoReadModel()
        self.reads: LeadReads = reads if reads is not None else NoReads()
        self.outbound: Outbound = outbound if outbound is not None else NoOutbound()
        self.progress, self.timezone_name = progress, timezone_name
        self._programs: dict[str, Any] = {}
        self._books: dict[str, RuleBook] = {}
        self._books_lock = threading.Lock()
        self._line_locks: dict[str, threading.Lock] = {}

    def lock(self, name: str) -> threading.Lock:
        """Work of one business line (or one SOP task) takes turns inside a process."""
        with self._books_lock:
            return self._line_locks.setdefault(name, threading.Lock())

    @contextmanager
    def line_turn(self, business_line: str) -> Iterator[None]:
        """Inside a process a lock, across processes the line's turn (an advisory lock)."""
        with self.lock(business_line), self.turns.turn(business_line):
            yield

    @staticmethod
    def backoff(attempt: int) -> None:
        """Jittered exponential backoff between optimistic retries (2 ms .. 200 ms)."""
        time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.2)))

    def now_iso(self) -> str:
        return self.clock().astimezone(timezone.utc).isoformat()

    def existing(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these aggregates exist (one indexed query on the event table)."""
        return set(self._store.versions(list(ids)))

    def lead(self, lead_uuid: UUID) -> Lead:
        return self.load(lead_uuid, Lead, what=f"lead {lead_uuid}")

    def lead_for(self, business_line: str, phone: str) -> UUID:
        phone = normalise_phone(phone)
        return self.current_leads(business_line, [phone])[phone].id

    def require_department(self, department_id: str, field: str) -> None:
        try:
            ok = self.exists(UUID(department_id))
        except ValueError:
            ok = False
        if not ok:
            raise NotFoundError(f"department {department_id!r} does not exist", field=field)

    def require_member(self, member: str, target: str, field: str) -> None:
        if target == "department":
            self.require_department(member, field)
        elif not member.startswith("operator:") or not self.exists(natural_id("operator", member[9:])):
            raise NotFoundError(f"employee {member!r} does not exist (use operator:<login>)", field=field)
