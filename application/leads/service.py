"""The leads context's Application (渠道2.0): channels, intake with filtering, rule-based
assignment, recycling and reassignment, manual assignment and transfer, activity with the
sensitive-word check, account opening with attribution.

An intake batch (an API batch, one import chunk) is one transaction: the new and repeated
leads, each in one event that carries its filter verdict and assignment, plus one Allocated
event on the business line's rule book that records every decision with its inputs. Lookups
that decide a verdict (the phone seen before, a 渠道1.0 binding) read the event store by
natural id, so they are never stale, and duplicates inside one batch are resolved in memory."""
from __future__ import annotations

import copy
import hashlib
import hmac
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import cel
from eventsourcing.application import project_aggregate
from psycopg.sql import SQL, Identifier
from pydantic import ValidationError

from application.leads.inputs import BindingRow, first_error
from application.shared.base import CommandResult, LedgerApplication, command
from domain.leads.allocation import RuleConfig, allocate, outcome
from domain.leads.binding import Binding, binding_id
from domain.leads.channel import Channel, channel_id
from domain.leads.lead import Lead, lead_id
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.leads.rulebook import RecycleRule, RuleBook, rulebook_id
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
from domain.leads.settings import IntakeConfig, LeadSettings, settings_id
from domain.shared.context import current_context
from domain.shared.errors import (
    AuthenticationError,
    ConcurrencyConflictError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
)
from domain.shared.ids import natural_id
from domain.shared.text import text_problem

Clock = Callable[[], datetime]
MAX_FIELD_CHARS = 500
MAX_FIELDS = 30
MAX_BATCH = 1000
RETRIES = 8       # optimistic retries of a batch (jittered backoff between them)
LOCK_WAIT = 10.0  # seconds a batch waits for its line's advisory lock before going on unlocked


class SensitiveContentError(RuleViolationError):
    code = "sensitive_content"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


def check_row(row: Any) -> tuple[Any, dict[str, str], str | None]:
    """(raw phone, extra fields, error) for one intake row, before any lookup."""
    if not isinstance(row, dict):
        return None, {}, "a row must be an object with a phone"
    fields = row.get("fields") or {}
    if not isinstance(fields, dict):
        return row.get("phone"), {}, "fields must be an object"
    extra = {k: v for k, v in row.items() if k not in ("phone", "fields")}
    merged = {**fields, **extra}
    if len(merged) > MAX_FIELDS:
        return row.get("phone"), {}, f"more than {MAX_FIELDS} fields"
    clean: dict[str, str] = {}
    for key, value in merged.items():
        if value is None or value == "":
            continue
        text = str(value)
        key_problem = text_problem(str(key))
        if key_problem:
            return row.get("phone"), {}, f"a field name {key_problem}"
        if len(str(key)) > 64:
            return row.get("phone"), {}, f"field name {str(key)[:20]!r}... is longer than 64 characters"
        if len(text) > MAX_FIELD_CHARS:
            return row.get("phone"), {}, f"field {key!r} is longer than {MAX_FIELD_CHARS} characters"
        problem = text_problem(text)
        if problem:
            return row.get("phone"), {}, f"field {key!r} {problem}"
        clean[str(key)] = text
    return row.get("phone"), clean, None


class LeadsApplication(LedgerApplication):
    name = "leads"

    def __init__(self, store: Any, *, clock: Clock | None = None):
        super().__init__(store)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._programs: dict[str, Any] = {}
        self._books: dict[str, RuleBook] = {}
        self._books_lock = threading.Lock()
        self._line_locks: dict[str, threading.Lock] = {}

    def _line_lock(self, business_line: str) -> threading.Lock:
        """Batches of one business line all advance its rule book: inside a process they take
        turns instead of racing (across processes, see ``_line_turn``)."""
        with self._books_lock:
            return self._line_locks.setdefault(business_line, threading.Lock())

    @contextmanager
    def _line_turn(self, business_line: str) -> Iterator[None]:
        """Across processes, batches of a line take turns on a PostgreSQL session advisory lock
        (tried, with jittered backoff, so a waiter holds no connection). Past LOCK_WAIT seconds
        the batch goes on unlocked: optimistic concurrency (with backoff) still decides."""
        key = int.from_bytes(hashlib.blake2b(f"ledgerflow:leads:{business_line}".encode(), digest_size=8).digest(),
                             "big", signed=True)
        deadline, delay = time.monotonic() + LOCK_WAIT, 0.002
        datastore = self._store.datastore
        while True:
            with datastore.get_connection() as conn:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()
                if row["ok"]:
                    try:
                        yield
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    return
            if time.monotonic() > deadline:
                yield
                return
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 0.1)

    @staticmethod
    def _backoff(attempt: int) -> None:
        """Jittered exponential backoff between optimistic retries (2 ms .. 200 ms)."""
        time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.2)))

    # -- loading ------------------------------------------------------------------------------
    def channel(self, code: str) -> Channel:
        try:
            return self.load(channel_id(code), Channel)
        except NotFoundError:
            raise NotFoundError(f"channel {code!r} does not exist", field="channel") from None

    def lead(self, lead_uuid: UUID) -> Lead:
        return self.load(lead_uuid, Lead, what=f"lead {lead_uuid}")

    def lead_for(self, business_line: str, phone: str) -> UUID:
        return lead_id(business_line, normalise_phone(phone))

    def settings(self, business_line: str) -> LeadSettings:
        try:
            return self.load(settings_id(business_line), LeadSettings)
        except NotFoundError:
            return LeadSettings.create(business_line)

    def rulebook(self, business_line: str) -> RuleBook:
        """The rule book, caught up incrementally: its history grows by one Allocated event per
        batch, so replaying it whole for every batch would cost O(batches). A private copy of the
        last state seen is fast-forwarded with only the newer events from the store (never
        trusted beyond them), and each caller gets its own copy to change."""
        book_id = rulebook_id(business_line)
        with self._books_lock:
            cached = self._books.get(business_line)
        if cached is None:
            try:
                book = self.load(book_id, RuleBook)
            except NotFoundError:
                return RuleBook.create(business_line)
        else:
            book = project_aggregate(copy.deepcopy(cached), self.events.get(book_id, gt=cached.version))
        with self._books_lock:
            current = self._books.get(business_line)
            if current is None or current.version < book.version:
                self._books[business_line] = copy.deepcopy(book)
        return book

    def saved_rule(self, business_line: str, key: str, kind: str = "assignment") -> dict[str, Any] | None:
        """The assignment (or recycle) rule saved under ``key``, if any (for scope checks)."""
        try:
            book = self.load(rulebook_id(business_line), RuleBook)
        except NotFoundError:
            return None
        return (book.rules if kind == "assignment" else book.recycle_rules).get(key)

    def existing(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these aggregates exist: one indexed query on the event table."""
        ids = list(ids)
        if not ids:
            return set()
        recorder: Any = self.recorder
        query = SQL("SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)").format(
            Identifier(self._store.datastore.schema or "public"), Identifier(recorder.events_table_name))
        with self._store.datastore.get_connection() as conn:
            return {r["originator_id"] for r in conn.execute(query, (ids,)).fetchall()}

    def _require_department(self, department_id: str, field: str) -> None:
        try:
            ok = self.exists(UUID(department_id))
        except ValueError:
            ok = False
        if not ok:
            raise NotFoundError(f"department {department_id!r} does not exist", field=field)

    def _require_member(self, member: str, target: str, field: str) -> None:
        if target == "department":
            self._require_department(member, field)
        elif not member.startswith("operator:") or not self.exists(natural_id("operator", member[9:])):
            raise NotFoundError(f"employee {member!r} does not exist (use operator:<login>)", field=field)

    # -- channels -------------------------------------------------------------------------------
    @command
    def create_channel(self, code: str, name: str, channel_type: str, promotion_type: str, business_line: str,
                       department_id: str) -> CommandResult:
        self._require_department(department_id, "department_id")
        return self.create_unique(Channel.create(code, name, channel_type, promotion_type, business_line,
                                                 department_id), f"channel {code!r}")

    @command
    def update_channel(self, code: str, name: str, channel_type: str, promotion_type: str, department_id: str,
                       enabled: bool, expected_version: int | None) -> CommandResult:
        self._require_department(department_id, "department_id")
        channel = self.load(channel_id(code), Channel, expected_version=expected_version)
        channel.update(name, channel_type, promotion_type, department_id, enabled)
        return self.save_one(channel)

    @command
    def issue_token(self, code: str) -> tuple[CommandResult, str]:
        """A new intake token for the channel (the previous one stops working). Shown once."""
        channel = self.channel(code)
        token = f"lfc_{code}.{secrets.token_urlsafe(24)}"
        channel.issue_token(token_hash(token))
        return self.save_one(channel), token

    @command
    def configure_landing_page(self, code: str, key: str, config: dict[str, Any]) -> CommandResult:
        channel = self.channel(code)
        channel.configure_landing_page(key, config)
        return self.save_one(channel)

    def authenticate_token(self, token: str) -> Channel:
        """The channel an intake token belongs to (token = lfc_<code>.<secret>)."""
        unknown = AuthenticationError("unknown channel token", code="unknown_channel_token")
        if not token.startswith("lfc_") or "." not in token or len(token) > 200:
            raise unknown
        code = token[4:].split(".", 1)[0]
        try:
            channel = self.channel(code)
        except NotFoundError:
            raise unknown from None
        if channel.token_hash is None or not hmac.compare_digest(channel.token_hash, token_hash(token)):
            raise unknown
        if not channel.enabled:
            raise AuthenticationError(f"channel {code!r} is disabled", code="channel_disabled")
        return channel

    # -- settings -------------------------------------------------------------------------------
    @command
    def configure_intake(self, business_line: str, config: IntakeConfig) -> CommandResult:
        problems = []
        for i, rule in enumerate(config.filter_rules):
            try:
                cel.compile(rule.expression)
            except (ValueError, RuntimeError) as exc:
                problems.append({"path": f"filter_rules[{i}].expression", "message": str(exc).splitlines()[0]})
        if problems:
            raise InvalidInputError("a filter rule does not compile", problems, code="invalid_filter_rule")
        settings = self.settings(business_line)
        settings.configure(config.model_dump())
        return self.save_one(settings)

    @command
    def change_blacklist(self, business_line: str, add: list[str], remove: list[str], reason: str) -> CommandResult:
        settings = self.settings(business_line)
        settings.change_blacklist(self._phones(add, "add"), self._phones(remove, "remove"), reason)
        return self.save_one(settings)

    @command
    def change_sensitive_words(self, business_line: str, add: list[str], remove: list[str]) -> CommandResult:
        settings = self.settings(business_line)
        settings.change_sensitive_words(sorted({w.strip() for w in add if w.strip()}),
                                        sorted({w.strip() for w in remove if w.strip()}))
        return self.save_one(settings)

    @staticmethod
    def _phones(raw: list[str], field: str) -> list[str]:
        out, problems = [], []
        for i, value in enumerate(raw):
            try:
                out.append(normalise_phone(value))
            except InvalidPhoneError as exc:
                problems.append({"path": f"{field}[{i}]", "message": exc.message})
        if problems:
            raise InvalidInputError(f"{len(problems)} invalid phone(s)", problems, code="invalid_phone")
        return sorted(set(out))

    # -- rules ----------------------------------------------------------------------------------
    @command
    def save_rule(self, business_line: str, rule: RuleConfig) -> CommandResult:
        self._require_department(rule.owner_department, "owner_department")
        for i, m in enumerate(rule.members):
            self._require_member(m.id, rule.target, f"members[{i}].id")
        book = self.rulebook(business_line)
        book.save_rule(rule)
        return self.save_one(book)

    @command
    def save_recycle_rule(self, business_line: str, rule: RecycleRule) -> CommandResult:
        for field in ("owner_department", "to_department"):
            self._require_department(getattr(rule, field), field)
        for i, d in enumerate(rule.scope_departments):
            self._require_department(d, f"scope_departments[{i}]")
        book = self.rulebook(business_line)
        book.save_recycle_rule(rule)
        return self.save_one(book)

    # -- bindings (渠道1.0) ------------------------------------------------------------------------
    @command
    def import_bindings(self, rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
        """Bindings of phones to account managers / IBs / branches; per-row results."""
        results: list[dict[str, Any]] = []
        pending: dict[str, dict[str, Any]] = {}
        departments: dict[str, bool] = {}
        for n, raw in enumerate(rows, start=1):
            try:
                row = BindingRow.model_validate(raw)
            except ValidationError as exc:
                results.append({"row": n, "status": "rejected", "reason": first_error(exc)})
                continue
            try:
                phone = normalise_phone(row.phone)
            except InvalidPhoneError as exc:
                results.append({"row": n, "status": "rejected", "reason": exc.message})
                continue
            department = str(row.department_id) if row.department_id else None
            if department is not None:
                if department not in departments:
                    departments[department] = self.exists(row.department_id)
                if not departments[department]:
                    results.append({"row": n, "status": "rejected",
                                    "reason": f"department {department} does not exist"})
                    continue
            pending[phone] = {"kind": row.kind, "holder": row.holder, "department_id": department,
                              "bound_at": _iso(row.bound_at) if row.bound_at else None}
            results.append({"row": n, "status": "accepted", "phone": phone})
        known = self.existing(binding_id(p) for p in pending)
        aggregates = []
        for phone, row in pending.items():
            bound_at = row["bound_at"] or _iso(self.clock())
            if binding_id(phone) in known:
                binding = self.load(binding_id(phone), Binding)
                binding.rebind(phone, row["kind"], row["holder"], row["department_id"], bound_at, source)
            else:
                binding = Binding.create(phone, row["kind"], row["holder"], row["department_id"], bound_at, source)
            aggregates.append(binding)
        if aggregates:
            self.save_all(*aggregates)
        return results

    def bindings(self, phones: Iterable[str]) -> dict[str, Binding]:
        ids = {binding_id(p): p for p in phones}
        out = {}
        for found in self.existing(ids):
            binding = self.load(found, Binding)
            if binding.active:
                out[binding.phone] = binding
        return out

    # -- intake ---------------------------------------------------------------------------------
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
            except Exception as exc:  # noqa: BLE001 - KeyError, TypeError, ValueError, ZeroDivisionError...
                notes.append({"rule": rule.name, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        return None, notes

    @command
    def intake(self, channel_code: str, rows: list[Any], source: str,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Take a batch of rows in (API, import chunk, landing page). Per-row results:
        {row, status: valid|filtered|rejected, reason, flag: new|repeat, phone, lead_id, owner}."""
        if len(rows) > MAX_BATCH:
            raise RuleViolationError(f"at most {MAX_BATCH} rows per batch", field="leads")
        channel = self.channel(channel_code)
        if not channel.enabled:
            raise RuleViolationError(f"channel {channel_code!r} is disabled", field="channel")
        with self._line_lock(channel.business_line), self._line_turn(channel.business_line):
            for attempt in range(RETRIES):
                try:
                    return self._intake(channel, rows, source, extra)
                except ConcurrencyConflictError:
                    if attempt == RETRIES - 1:
                        raise
                    self._backoff(attempt)
        raise AssertionError("unreachable")

    def _intake(self, channel: Channel, rows: list[Any], source: str,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
        line, now = channel.business_line, self.clock()
        at = _iso(now)
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
        known = self.existing(lead_id(line, p) for p in phones)
        leads: dict[UUID, Lead] = {i: self.load(i, Lead) for i in known}
        bound = self.bindings(phones)
        rules, states = book.configs(), book.working_states()
        touched: set[str] = set()
        entries: list[dict[str, Any]] = []
        changed: dict[UUID, Lead] = {}
        intake_base = {**channel.facts(), **(extra or {}), "source": source, "at": at}
        for n, phone, fields in parsed:
            lid = lead_id(line, phone)
            lead = leads.get(lid)
            reason, notes = None, []
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
                inputs = {"purpose": "intake", "department": channel.department_id, "channel": channel.code,
                          "at": now, "recycle_count": lead.recycle_count if lead else 0}
                decisions = allocate(rules, states, **inputs)
                department, owner = outcome(decisions, channel.department_id)
                if decisions:
                    touched.update(d["rule"] for d in decisions)
                    entries.append({"lead": str(lid), "phone": phone, **inputs, "at": at,
                                    "decisions": decisions})
            intake = {**intake_base, "row": n, "fields": fields, **({"rule_errors": notes} if notes else {})}
            if lead is None:
                lead = Lead.create(line, phone, intake, status, reason, department, owner, decisions)
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

    # -- assignment by people ---------------------------------------------------------------------
    @command
    def assign(self, lead_uuid: UUID, owner: str, department_id: str, reason: str, kind: str = "manual",
               expected_version: int | None = None) -> CommandResult:
        """手动分配 / 转移: to an employee of a department, with the reason recorded."""
        self._require_department(department_id, "department_id")
        self._require_member(owner, "employee", "owner")
        lead = self.load(lead_uuid, Lead, expected_version=expected_version)
        lead.require_open()
        if lead.owner == owner:
            raise RuleViolationError(f"the lead already belongs to {owner}", field="owner")
        if kind == "manual" and lead.owner is not None:
            kind = "transfer"
        lead.assign(kind, department_id, owner, _iso(self.clock()), reason, [], lead.owner, lead.department_id,
                    lead.channel_code)
        return self.save_one(lead)

    # -- recycling ----------------------------------------------------------------------------------
    @command
    def recycle_due(self, business_line: str, candidates: Callable[[str, list[str], datetime], list[UUID]]
                    ) -> dict[str, int]:
        """回收 then 回收再分配: every recycle rule takes back leads assigned more than N days without
        opening (candidates come from the read model; the aggregate re-checks), and reassignment
        rules (purpose reassign, condition on the recycle count) distribute them again."""
        now = self.clock()
        at = _iso(now)
        with self._line_lock(business_line), self._line_turn(business_line):
            return self._recycle(business_line, candidates, now, at)

    def _recycle(self, business_line: str, candidates: Callable[[str, list[str], datetime], list[UUID]],
                 now: datetime, at: str) -> dict[str, int]:
        for attempt in range(6):
            try:
                book = self.rulebook(business_line)
                rules, states = book.configs(), book.working_states()
                touched: set[str] = set()
                entries: list[dict[str, Any]] = []
                changed: dict[UUID, Lead] = {}
                recycled = reassigned = 0
                for rule in book.recycle_configs():
                    if not rule.enabled:
                        continue
                    cutoff = now - timedelta(days=rule.days)
                    for lid in candidates(business_line, rule.scope_departments, cutoff):
                        lead = changed.get(lid) or self.load(lid, Lead)
                        if (lead.owner is None or lead.lifecycle != "prospect" or lead.assigned_at is None
                                or datetime.fromisoformat(lead.assigned_at) >= cutoff
                                or lead.department_id not in rule.scope_departments
                                or (rule.channels and lead.channel_code not in rule.channels)):
                            continue
                        lead.recycle(rule.key, rule.to_department, at, rule.days, lead.owner, lead.department_id,
                                     lead.channel_code)
                        recycled += 1
                        inputs = {"purpose": "reassign", "department": rule.to_department,
                                  "channel": lead.channel_code, "at": now, "recycle_count": lead.recycle_count}
                        decisions = allocate(rules, states, **inputs)
                        if decisions:
                            department, owner = outcome(decisions, rule.to_department)
                            touched.update(d["rule"] for d in decisions)
                            entries.append({"lead": str(lid), "phone": lead.phone, **inputs, "at": at,
                                            "decisions": decisions})
                            if owner is not None or department != rule.to_department:
                                lead.assign("reassign", department, owner, at, f"recycled by {rule.key}",
                                            decisions, None, rule.to_department, lead.channel_code)
                                reassigned += int(owner is not None)
                        changed[lid] = lead
                aggregates: list[Any] = list(changed.values())
                if entries:
                    book.allocated(entries, {k: states[k] for k in touched})
                    aggregates.append(book)
                if aggregates:
                    self.save_all(*aggregates)
                return {"recycled": recycled, "reassigned": reassigned}
            except ConcurrencyConflictError:
                if attempt == 5:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")

    # -- activity -----------------------------------------------------------------------------------
    def _worked(self, lead_uuid: UUID) -> Lead:
        lead = self.lead(lead_uuid)
        lead.require_open()
        return lead

    @command
    def follow_up(self, lead_uuid: UUID, content: str, connected: bool | None, next_at: datetime | None,
                  opening_intent: str | None, deposit_intent: str | None, tags: list[str]) -> CommandResult:
        lead = self._worked(lead_uuid)
        lead.follow_up(content, connected, _iso(next_at) if next_at else None, opening_intent, deposit_intent,
                       tags, _iso(self.clock()), current_context().actor, **lead.facts())
        return self.save_one(lead)

    @command
    def record_call(self, lead_uuid: UUID, started_at: datetime, duration_seconds: int,
                    connected: bool) -> CommandResult:
        lead = self._worked(lead_uuid)
        lead.record_call(_iso(started_at), duration_seconds, connected, current_context().actor, **lead.facts())
        return self.save_one(lead)

    @command
    def add_wechat(self, lead_uuid: UUID, nickname: str | None) -> CommandResult:
        lead = self._worked(lead_uuid)
        if lead.wechat_added:
            raise RuleViolationError("WeChat was already added for this lead")
        lead.add_wechat(_iso(self.clock()), current_context().actor, nickname, **lead.facts())
        return self.save_one(lead)

    @command
    def send_sms(self, lead_uuid: UUID, content: str, template: str | None) -> CommandResult:
        """Outgoing text passes the sensitive-word check: in block mode a hit refuses it (and the
        refusal is recorded); in flag mode it is sent with its hits recorded."""
        lead = self._worked(lead_uuid)
        settings = self.settings(lead.business_line)
        hits = settings.hits(content)
        at, by = _iso(self.clock()), current_context().actor
        if hits and settings.intake().sensitive_mode == "block":
            lead.block_content("sms", content, at, by, hits)
            self.save_one(lead)
            raise SensitiveContentError(f"the text contains sensitive words: {', '.join(hits)}", field="content")
        lead.send_sms(content, template, at, by, hits, **lead.facts())
        return self.save_one(lead)

    # -- segments and SOP tasks ---------------------------------------------------------------------
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

    def _task_lock(self, business_line: str, key: str) -> threading.Lock:
        with self._books_lock:
            return self._line_locks.setdefault(f"sop:{business_line}:{key}", threading.Lock())

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
            lead.sop_executed(cfg.key, cfg.action, reference, at, cfg.content, **lead.facts(),
                              sensitive_hits=hits or None)
            try:
                self.save_all(lead)
                return
            except ConcurrencyConflictError:
                if attempt == 4:
                    raise

    @command
    def run_sop(self, business_line: str, keys: list[str], members: Callable[..., list[tuple[UUID, str]]],
                outbound: Any, timezone_name: str) -> dict[str, int]:
        """Run the due SOP tasks once: each reaches the leads of its segments it has not reached,
        within the task's data scope. Claim-then-send: every (task, lead) is claimed in the store
        before the gateway is called, so two runners, a retry or a conflict never contact a phone
        twice; the SMS text is checked for sensitive words at send time."""
        now = self.clock()
        today, tomorrow = day_bounds(now, timezone_name)
        local = now.astimezone(today.tzinfo)
        reached = failed = 0
        for key in keys:
            with self._task_lock(business_line, key):
                done = self._run_task(business_line, key, members, outbound, now, local, today, tomorrow)
            reached, failed = reached + done[0], failed + done[1]
        return {"reached": reached, "failed": failed}

    def _run_task(self, business_line: str, key: str, members: Callable[..., list[tuple[UUID, str]]],
                  outbound: Any, now: datetime, local: datetime, today: datetime,
                  tomorrow: datetime) -> tuple[int, int]:
        task = self.load(sop_id(business_line, key), SopTask)
        cfg = task.settings()
        if not cfg.enabled or (cfg.start and local.date() < cfg.start) or (cfg.end and local.date() > cfg.end):
            return 0, 0
        if cfg.mode == "fixed_time" and (local.time() < cfg.at_time or task.last_run_on == local.date().isoformat()):
            return 0, 0
        at = _iso(now)
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
            found = (members(business_line, spec, today, tomorrow) if scope is None
                     else members(business_line, spec, today, tomorrow, departments=scope))
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
                reference = (outbound.send_sms(phone, cfg.content, cfg.template) if cfg.action == "sms"
                             else outbound.place_call(phone, cfg.key))
            except Exception as exc:  # noqa: BLE001 - an adapter failure is recorded, the lead retried next run
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

    # -- account opening ------------------------------------------------------------------------------
    @command
    def opening_event(self, business_line: str, phone: str, kind: str, at: datetime, node: str | None = None,
                      external_id: str | None = None) -> CommandResult:
        """An event of the account-opening system (进开户云, node reached, interrupted, opened,
        closed). On opening, attribution decides who gets the credit (业绩归属)."""
        normalised = normalise_phone(phone)
        lead = self.lead(lead_id(business_line, normalised))
        if external_id and external_id in getattr(lead, "opening_external_ids", ()):
            # a retry of an event already applied (same external_id): accepted, nothing recorded
            return CommandResult(lead.id, lead.version, self._store.head())
        attribution = None
        if kind == "opened":
            if lead.lifecycle == "opened":
                raise RuleViolationError("the account is already open", field="kind")
            mode = self.settings(business_line).intake().attribution_mode
            binding = self.bindings([normalised]).get(normalised)
            attribution = attribute(mode, lead, binding)
        elif kind == "closed" and lead.lifecycle != "opened":
            raise RuleViolationError("only an opened account can be closed", field="kind")
        lead.progress_opening(kind, node, _iso(at), external_id, attribution, **lead.facts())
        return self.save_one(lead)


def _since(value: Any) -> datetime:
    """A candidate's since as an aware time: bindings recorded before strict validation may hold
    a date only (taken as midnight UTC) or garbage (ranked last), never a crash."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def attribute(mode: str, lead: Lead, binding: Binding | None) -> dict[str, Any]:
    """业绩归属 on opening. Candidates: the 渠道1.0 binding (branch account manager / IB, with its
    bound_at) and the referral department (引流部门: where the lead was first assigned, and when).
    time: the earliest; branch: the binding when there is one; referral: the referral department
    when there is one. Either falls back to the other; neither: unattributed."""
    referral = None
    if lead.first_assigned is not None:
        referral = {"kind": "referral", "department_id": lead.first_assigned["department_id"],
                    "holder": lead.first_assigned["owner"], "since": lead.first_assigned["at"]}
    branch = None
    if binding is not None:
        branch = {"kind": binding.kind, "department_id": binding.department_id, "holder": binding.holder,
                  "since": binding.bound_at}
    candidates = [c for c in (branch, referral) if c is not None]
    if not candidates:
        chosen = None
    elif mode == "branch":
        chosen = branch or referral
    elif mode == "referral":
        chosen = referral or branch
    else:
        chosen = min(candidates, key=lambda c: _since(c["since"]))
    return {"mode": mode, "chosen": chosen, "candidates": candidates}


def replay_assignments(events: Iterable[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Re-run the allocator over a rule book's history: the configurations as saved, the inputs
    each Allocated event recorded, from empty state. Returns (decisions checked, mismatches)."""
    rules: dict[str, RuleConfig] = {}
    states: dict[str, dict[str, Any]] = {}
    checked, mismatches = 0, []
    for e in events:
        if isinstance(e, RuleBook.RuleSaved):
            rules[e.rule["key"]] = RuleConfig.model_validate(e.rule)
            members = {m["id"] for m in e.rule["members"]}
            if e.rule["key"] in states:
                st = states[e.rule["key"]]
                st["counts"] = {k: v for k, v in st["counts"].items() if k in members}
                st["current"] = {k: v for k, v in st["current"].items() if k in members}
        elif isinstance(e, RuleBook.Allocated):
            for entry in e.decisions:
                again = allocate(list(rules.values()), states, purpose=entry["purpose"],
                                 department=entry["department"], channel=entry["channel"],
                                 at=datetime.fromisoformat(entry["at"]), recycle_count=entry["recycle_count"])
                checked += 1
                if [(d["rule"], d["member"]) for d in again] != [(d["rule"], d["member"]) for d in
                                                                  entry["decisions"]]:
                    mismatches.append({"lead": entry["lead"], "recorded": entry["decisions"], "replayed": again})
    return checked, mismatches
