"""Intake (接口进线, imports, landing pages): each row checked, filtered at the source and
assigned by the line's rules, one transaction per batch.

A batch saves its new and repeated leads, each in one event carrying its filter verdict and
assignment, plus one Allocated event on the rule book recording every decision with its inputs.
Lookups that decide a verdict (the phone seen before, a 渠道1.0 binding) read the event store by
natural id, so they are never stale; duplicates inside one batch are resolved in memory."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import cel

from application.leads.identity import LeadIdentity
from application.leads.ports import SaveAll
from application.shared.base import Loader, command
from domain.leads.allocation import AllocationInputs, RuleConfig, allocate, allocation_entry, outcome, unavailable_among
from domain.leads.binding import Binding
from domain.leads.channel import Channel
from domain.leads.lead import Lead
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.leads.rows import MAX_BATCH, check_row
from domain.leads.rulebook import RuleBook
from domain.leads.settings import IntakeConfig, LeadSettings
from domain.shared.errors import ConcurrencyConflictError, NotFoundError, RuleViolationError
from domain.shared.text import text_problem
from infrastructure.eventstore.store import EventStore

RETRIES = 8  # optimistic retries of a batch (jittered backoff between them)


class Intake(LeadIdentity):
    clock: Callable[[], datetime]
    load: Loader
    save_all: SaveAll
    existing: Callable[[Iterable[UUID]], set[UUID]]
    line_turn: Callable[[str], AbstractContextManager[None]]
    backoff: Callable[[int], None]
    channel: Callable[[str], Channel]
    settings: Callable[[str], LeadSettings]
    rulebook: Callable[[str], RuleBook]
    availability: Callable[[str, list[RuleConfig]], tuple[set[str], dict[str, str]]]
    bindings: Callable[[Iterable[str]], dict[str, Binding]]
    _programs: dict[str, Any]
    _store: EventStore

    @command
    def submit(self, channel_code: str, rows: list[Any], landing_page: str | None,
               privacy_consent: bool | None) -> dict[str, Any]:
        """An intake batch from the channel's API or, with ``landing_page``, from one of its
        landing pages: the page's required fields and consent are enforced and recorded, and the
        answer says what the page shows after submitting (WeCom, redirect)."""
        if landing_page is None:
            return self._batch(channel_code, rows, "api", None)
        page = self.channel(channel_code).landing_pages.get(landing_page)
        if page is None or not page.get("enabled", True):
            raise NotFoundError(f"landing page {landing_page!r} does not exist", field="landing_page")
        if page.get("privacy_consent_required") and privacy_consent is not True:
            raise RuleViolationError("this landing page requires privacy consent", field="privacy_consent")
        required = [f["key"] for f in page.get("fields") or [] if f.get("required")]
        for i, row in enumerate(rows):
            values = {**(row.get("fields") or {}), **row} if isinstance(row, dict) and isinstance(
                row.get("fields") or {}, dict) else {}
            missing = [k for k in required if values.get(k) in (None, "")]
            if missing:
                raise RuleViolationError(f"leads[{i}]: the landing page requires {', '.join(missing)}",
                                         field=f"leads[{i}].{missing[0]}")
        extra = {"landing_page": landing_page, "privacy_consent": privacy_consent is True}
        out = self._batch(channel_code, rows, f"landing_page:{landing_page}", extra)
        shown = {k: page.get(k) if (page.get(k) or {}).get("enabled") else None for k in ("wecom", "redirect")}
        return {**out, "after_submit": shown}

    def _program(self, expression: str) -> Any:
        program = self._programs.get(expression)
        if program is None:
            program = self._programs[expression] = cel.compile(expression)
        return program

    def _custom_filter(self, config: IntakeConfig, activation: dict[str, Any]
                       ) -> tuple[str | None, list[dict[str, str]]]:
        """(the first rule that filters the row out, or None; why rules could not be judged).
        A rule over a missing or mistyped field (``fields.campaign`` on a row without it), or one
        that fails otherwise, does not hold for that row: like a flow's branch condition, it is
        recorded why, and the batch goes on."""
        notes: list[dict[str, str]] = []
        for rule in config.filter_rules:
            try:
                if self._program(rule.expression).execute(activation) is True:
                    return f"rule:{rule.name}", notes
            except Exception as exc:  # KeyError, TypeError, ValueError, ZeroDivisionError...
                notes.append({"rule": rule.name, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        return None, notes

    @command
    def intake(self, channel_code: str, rows: list[Any], source: str,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._batch(channel_code, rows, source, extra)

    def _batch(self, channel_code: str, rows: list[Any], source: str,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Take a batch of rows in (API, import chunk, landing page). Per-row results:
        {row, status: valid|filtered|rejected, reason, flag: new|repeat, phone, lead_id, owner}."""
        if len(rows) > MAX_BATCH:
            raise RuleViolationError(f"at most {MAX_BATCH} rows per batch", field="leads")
        channel = self.channel(channel_code)
        if not channel.enabled:
            raise RuleViolationError(f"channel {channel_code!r} is disabled", field="channel")
        with self.line_turn(channel.business_line):
            for attempt in range(RETRIES):
                try:
                    return self._intake(channel, rows, source, extra)
                except ConcurrencyConflictError:
                    if attempt == RETRIES - 1:
                        raise
                    self.backoff(attempt)
        raise AssertionError("unreachable")

    def _intake(self, channel: Channel, rows: list[Any], source: str,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
        line, now = channel.business_line, self.clock()
        at = now.astimezone(timezone.utc).isoformat()
        settings, book = self.settings(line), self.rulebook(line)
        config = settings.intake()
        window = timedelta(days=config.repeat_window_days)
        results: list[dict[str, Any]] = []
        parsed: list[tuple[int, str, dict[str, str]]] = []
        for n, row in enumerate(rows, start=1):
            raw, fields, error = check_row(row)
            if error is None:
                try:
                    parsed.append((n, normalise_phone(raw), fields))
                    continue
                except InvalidPhoneError as exc:
                    error = exc.message
            results.append({"row": n, "status": "rejected", "reason": error, "phone": raw if isinstance(
                raw, str) and len(raw) <= 32 and text_problem(raw) is None else None})
        phones = {p for _, p, _ in parsed}
        current = self.current_leads(line, phones)  # keyed ids, erased leads passed over (ADR 0028)
        leads: dict[UUID, Lead] = {c.id: c.lead for c in current.values() if c.lead is not None}
        bound = self.bindings(phones)
        rules, states = book.configs(), book.working_states()
        unavailable, homes = self.availability(line, rules) if rules else (set(), {})
        touched: set[str] = set()
        entries: list[dict[str, Any]] = []
        changed: dict[UUID, Lead] = {}
        intake_base = {**channel.facts(), **(extra or {}), "source": source, "at": at}
        for n, phone, fields in parsed:
            lid = current[phone].id
            lead = leads.get(lid)
            reason: str | None = None
            notes: list[dict[str, str]] = []
            if phone in settings.blacklist:
                reason = "blacklisted"
            elif lead is not None and window and lead.last_valid_intake_at is not None and (
                    now - datetime.fromisoformat(lead.last_valid_intake_at) < window):
                reason = "repeat_intake"
            elif phone in bound:
                reason = f"bound:{bound[phone].kind}"
            elif config.filter_rules:
                reason, notes = self._custom_filter(config, {"phone": phone, "source": source, "fields": fields,
                                                             **channel.facts()})
            status = "valid" if reason is None else "filtered"
            decisions: list[dict[str, Any]] = []
            department, owner = (lead.department_id, lead.owner) if lead else (channel.department_id, None)
            if status == "valid" and (lead is None or lead.owner is None):
                inputs: AllocationInputs = {
                    "purpose": "intake", "department": channel.department_id, "channel": channel.code, "at": now,
                    "recycle_count": lead.recycle_count if lead else 0}
                decisions = allocate(rules, states, **inputs, unavailable=unavailable)
                department, owner = outcome(decisions, channel.department_id, homes)
                if decisions:
                    touched.update(d["rule"] for d in decisions)
                    entries.append(allocation_entry(lid, phone, inputs, at, decisions,
                                                    unavailable_among(rules, decisions, unavailable)))
            intake = {**intake_base, "row": n, "fields": fields, **({"rule_errors": notes} if notes else {})}
            if lead is None:
                lead = Lead.create(lid, line, phone, current[phone].digest, intake, status, reason, department,
                                   owner, decisions)
                leads[lid] = lead
                flag = "new"
            else:
                flag = "repeat"
                lead.record_intake(intake, status, reason, flag, department, owner, decisions)
            changed[lid] = lead
            results.append({"row": n, "status": status, "reason": reason, "flag": flag, "phone": phone,
                            "lead_id": str(lid), "owner": lead.owner, "department_id": lead.department_id,
                            **({"rule_errors": notes} if notes else {})})
        aggregates: list[Any] = list(changed.values())
        if entries:
            book.allocated(entries, {k: states[k] for k in touched})
            aggregates.append(book)
        position = self.save_all(*aggregates) if aggregates else self._store.head()
        results.sort(key=lambda r: r["row"])
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("valid", "filtered", "rejected")}
        return {"position": position, "counts": counts, "results": results}

