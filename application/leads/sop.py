"""Segments (客群) and SOP tasks (自动化任务): saved filters over the leads, and SMS or outbound
calls to their members, once per phone, through the outbound adapter given at composition.

Claim-then-send (review H1): every (task, lead) is claimed in the store before the gateway is
called, so two runners, a retry or a conflict never contact a phone twice."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from application.leads.ports import LeadReads, Outbound, ReadProgress, SaveAll
from application.shared.base import CommandResult, Loader, command
from domain.leads.lead import Lead
from domain.leads.segment import (
    Segment,
    SegmentConfig,
    SopClaim,
    SopConfig,
    SopTask,
    day_bounds,
    segment_id,
    sop_claim_id,
    sop_id,
)
from domain.leads.sensitive import SensitiveContentError
from domain.leads.settings import LeadSettings
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import ConcurrencyConflictError, NotFoundError, UnavailableError
from infrastructure.eventstore.store import EventStore


class SopTasks:
    clock: Callable[[], datetime]
    load: Loader
    save_one: Callable[[LedgerAggregate], CommandResult]
    save_all: SaveAll
    settings: Callable[[str], LeadSettings]
    lock: Callable[[str], threading.Lock]
    reads: LeadReads
    read_progress: ReadProgress
    outbound: Outbound
    _store: EventStore
    timezone_name: str

    def segment(self, business_line: str, key: str) -> Segment:
        try:
            return self.load(segment_id(business_line, key), Segment)
        except NotFoundError:
            raise NotFoundError(f"segment {key!r} does not exist", field="segments") from None

    @command
    def save_segment(self, business_line: str, config: SegmentConfig) -> CommandResult:
        try:
            segment = self.load(segment_id(business_line, config.key), Segment)
        except NotFoundError:
            return self.save_one(Segment.create(business_line, config))
        segment.change(config.name, config.filter.model_dump(mode="json"))
        return self.save_one(segment)

    @command
    def save_sop(self, business_line: str, config: SopConfig, departments: list[str] | None = None) -> CommandResult:
        """Save an SOP task with the data scope of whoever saves it (``departments``; None for
        an unrestricted scope): a run reaches only leads of these departments."""
        for key in config.segments:
            self.segment(business_line, key)
        if config.content:
            settings = self.settings(business_line)
            hits = settings.hits(config.content)
            if hits and settings.intake().sensitive_mode == "block":
                raise SensitiveContentError(f"the SMS text contains sensitive words: {', '.join(hits)}",
                                            field="content")
        scope = sorted(departments) if departments is not None else None
        try:
            task = self.load(sop_id(business_line, config.key), SopTask)
        except NotFoundError:
            task = SopTask.create(business_line, config)
            task.scope(scope)
            return self.save_one(task)
        task.change(config.model_dump(mode="json"))
        if task.data_scope() != scope:
            task.scope(scope)
        return self.save_one(task)

    def sop_task(self, business_line: str, key: str) -> SopTask | None:
        try:
            return self.load(sop_id(business_line, key), SopTask)
        except NotFoundError:
            return None

    def _claim(self, business_line: str, key: str, lead: str, at: str) -> SopClaim | None:
        """Claim (task, lead) before any contact; None when another run holds or used it."""
        try:
            claim = self.load(sop_claim_id(business_line, key, lead), SopClaim)
        except NotFoundError:
            claim = SopClaim.create(business_line, key, lead, at)
        else:
            if claim.state != "failed":
                return None
            claim.reclaim(at)
        try:
            self.save_all(claim)
        except ConcurrencyConflictError:
            return None  # another runner claimed it first
        return claim

    def _record_contact(self, lid: UUID, cfg: SopConfig, reference: str, at: str, hits: list[str]) -> None:
        """The SopExecuted event on the lead, in its own transaction (a concurrent follow-up on
        the lead is retried here, never a reason to contact anyone again)."""
        for attempt in range(5):
            lead = self.load(lid, Lead)
            lead.sop_executed(cfg.key, cfg.action, reference, at, cfg.content, sensitive_hits=hits or None)
            try:
                self.save_all(lead)
                return
            except ConcurrencyConflictError:
                if attempt == 4:
                    raise

    @command
    def run_sop_now(self, business_line: str) -> dict[str, int]:
        """Run every SOP task of the line now (run-now). The tasks and their segments' members
        are read from the read model, so it must first hold every save made before this call (a
        task saved a moment ago, its leads): otherwise the run would reach nobody. It waits for
        that position (boundedly) and answers 503 ``read_model_lagging`` when it is not reached."""
        position = self._store.head()
        if not self.read_progress.reached(position):
            raise UnavailableError(f"the leads read model has not reached position {position} yet; retry shortly",
                                   code="read_model_lagging")
        keys = [t["key"] for t in self.reads.sop_tasks({"all_lines": False, "lines": [business_line]})]
        return self._run_tasks(business_line, keys)

    @command
    def run_sop(self, business_line: str, keys: list[str]) -> dict[str, int]:
        """Run the due SOP tasks once: each reaches the leads of its segments it has not reached,
        within the task's data scope. Claim-then-send: every (task, lead) is claimed in the store
        before the gateway is called, so two runners, a retry or a conflict never contact a phone
        twice; the SMS text is checked for sensitive words at send time."""
        return self._run_tasks(business_line, keys)

    def _run_tasks(self, business_line: str, keys: list[str]) -> dict[str, int]:
        now = self.clock()
        today, tomorrow = day_bounds(now, self.timezone_name)
        local = now.astimezone(today.tzinfo)
        reached = failed = 0
        for key in keys:
            with self.lock(f"sop:{business_line}:{key}"):
                done = self._run_task(business_line, key, now, local, today, tomorrow)
            reached, failed = reached + done[0], failed + done[1]
        return {"reached": reached, "failed": failed}

    def _run_task(self, business_line: str, key: str, now: datetime, local: datetime, today: datetime,
                  tomorrow: datetime) -> tuple[int, int]:
        task = self.load(sop_id(business_line, key), SopTask)
        cfg = task.settings()
        if not cfg.enabled or (cfg.start and local.date() < cfg.start) or (cfg.end and local.date() > cfg.end):
            return 0, 0
        # (SopConfig requires at_time of a fixed-time task)
        if cfg.mode == "fixed_time" and (cfg.at_time is None or local.time() < cfg.at_time
                                        or task.last_run_on == local.date().isoformat()):
            return 0, 0
        at = now.astimezone(timezone.utc).isoformat()
        hits: list[str] = []
        if cfg.action == "sms" and cfg.content:
            settings = self.settings(business_line)
            hits = settings.hits(cfg.content)
            if hits and settings.intake().sensitive_mode == "block":
                if getattr(task, "blocked_content", None) != cfg.content:
                    task.blocked(at, cfg.content, hits)
                    self.save_all(task)
                return 0, 0
        scope = task.data_scope()
        targets: dict[UUID, str] = {}
        for segment_key in cfg.segments:
            spec = self.segment(business_line, segment_key).filter
            found = self.reads.segment_members(business_line, spec, today, tomorrow, departments=scope)
            for lid, phone in found:
                if str(lid) not in task.reached:
                    targets.setdefault(lid, phone)
        if not targets and cfg.mode == "immediate":
            return 0, 0
        contacts: list[dict[str, Any]] = []
        reached = failed = 0
        for lid, phone in targets.items():
            if scope is not None and self.load(lid, Lead).department_id not in scope:
                continue  # the read model lagged a transfer: the aggregate decides
            claim = self._claim(business_line, cfg.key, str(lid), at)
            if claim is None:
                continue
            try:
                if cfg.action == "sms":
                    assert cfg.content is not None  # SopConfig refuses an SMS task without its text
                    reference = self.outbound.send_sms(phone, cfg.content, cfg.template)
                else:
                    reference = self.outbound.place_call(phone, cfg.key)
            except Exception as exc:  # an adapter failure is recorded, the lead retried next run
                claim.failed(str(exc)[:200], at)
                self.save_all(claim)
                contacts.append({"lead": str(lid), "phone": phone, "error": str(exc)[:200]})
                failed += 1
                continue
            claim.sent(str(reference), at)
            self.save_all(claim)
            self._record_contact(lid, cfg, str(reference), at, hits)
            contacts.append({"lead": str(lid), "phone": phone, "reference": reference})
            reached += 1
        for attempt in range(5):
            try:
                task = self.load(sop_id(business_line, key), SopTask) if attempt else task
                task.ran(local.date().isoformat(), at, contacts)
                self.save_all(task)
                break
            except ConcurrencyConflictError:
                if attempt == 4:
                    raise
        return reached, failed

