"""A lead (线索): one prospective customer of a business line, keyed by the normalised phone.

The first intake creates it in one event that already carries the filter verdict and the
assignment decisions, so an intake costs one event. Every later event carries the channel,
owner and department as they stood, so analytics never has to look anything up."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal, get_args
from uuid import UUID

from eventsourcing.domain import event

from domain.calendar.working_time import WorkingTime
from domain.leads.employee import AssigneeUnavailableError
from domain.leads.rulebook import RecycleRule
from domain.privacy.personal import Personal, is_erased, personal
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import RuleViolationError
from domain.shared.ids import natural_id

# Each list once, as a type (for inputs, segments, routes) and as the tuple of its values.
Lifecycle = Literal["prospect", "opened", "closed"]
LIFECYCLE: tuple[str, ...] = get_args(Lifecycle)
# The steps the account-opening system (开户云) reports.
OpeningKind = Literal["entered", "node", "interrupted", "opened", "closed"]
OPENING_KINDS: tuple[str, ...] = get_args(OpeningKind)
Intent = Literal["none", "has", "strong"]
INTENTS: tuple[str, ...] = get_args(Intent)
DepositIntent = Literal[Intent, "deposited"]
DEPOSIT_INTENTS: tuple[str, ...] = get_args(DepositIntent)


def lead_id(business_line: str, phone_digest: str, generation: int = 0) -> UUID:
    """The id of the lead of a phone: derived from the phone's keyed hash (ADR 0028), so the id
    says nothing about the phone to whoever lacks the index key. ``generation`` counts erasures:
    after the lead of a phone was erased, the same phone comes in as a new lead."""
    return natural_id("lead", f"{business_line}:h:{phone_digest}" + (f":{generation}" if generation else ""))


def legacy_lead_id(business_line: str, phone: str) -> UUID:
    """The id leads created before ADR 0028 have (derived from the clear phone): still found."""
    return natural_id("lead", f"{business_line}:{phone}")


class Lead(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        class_version = 2
        business_line: str
        phone: str
        phone_digest: str | None  # the keyed hash lookups use (None: created before ADR 0028); sealed
        intake: dict[str, Any]
        status: str
        reason: str | None
        flag: str
        department_id: str
        owner: str | None
        decisions: list[dict[str, Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["phone_digest"] = None

    @event(Created)
    def __init__(self, business_line: str, phone: str, phone_digest: str | None, intake: dict[str, Any],
                 status: str, reason: str | None, flag: str, department_id: str, owner: str | None,
                 decisions: list[dict[str, Any]]):
        self.business_line: str = business_line
        self.phone = phone
        self.phone_digest = phone_digest
        self.channel_code = intake["channel_code"]    # the channel of the first valid intake (attribution)
        self.intakes: list[dict[str, Any]] = []
        self.status = "filtered"
        self.reason: str | None = None
        self.department_id = department_id
        self.owner: str | None = None
        self.assigned_at: str | None = None
        self.first_assigned: dict[str, Any] | None = None   # referral department and when (引流部门)
        self.recycle_count = 0
        self.lifecycle = "prospect"
        self.opening: dict[str, Any] = {}
        self.calls = self.connected_calls = 0
        self.wechat_added = False
        self.opening_intent = "none"
        self.deposit_intent = "none"
        self._intake(intake, status, reason, flag, department_id, owner)

    @classmethod
    def create(cls, lead_uuid: UUID, business_line: str, phone: str, phone_digest: str, intake: dict[str, Any],
               status: str, reason: str | None, department_id: str, owner: str | None,
               decisions: list[dict[str, Any]]) -> Lead:
        """``lead_uuid``: ``lead_id`` of the phone's digest (the caller knows its generation)."""
        return cls._create(cls.Created, id=lead_uuid, business_line=business_line, phone=phone,
                           phone_digest=phone_digest, intake=intake, status=status, reason=reason, flag="new",
                           department_id=department_id, owner=owner, decisions=decisions)

    @property
    def erased(self) -> bool:
        """The lead's personal data was erased (its phone reads as erased)."""
        return is_erased(self.phone)

    def _intake(self, intake: dict[str, Any], status: str, reason: str | None, flag: str, department_id: str,
                owner: str | None) -> None:
        self.intakes.append({**intake, "status": status, "reason": reason, "flag": flag})
        if status != "valid":
            if self.status != "valid":  # a lead never valid keeps the reason of its last intake
                self.reason = reason
            return
        if self.status != "valid":
            self.channel_code = intake["channel_code"]
        self.status, self.reason = "valid", None
        if self.owner is None:
            self._place(department_id, owner, intake["at"])

    def _place(self, department_id: str, owner: str | None, at: str) -> None:
        self.department_id, self.owner = department_id, owner
        self.assigned_at = at if owner else None
        if owner and self.first_assigned is None:
            self.first_assigned = {"department_id": department_id, "owner": owner, "at": at}

    @property
    def last_valid_intake_at(self) -> str | None:
        valid = [i["at"] for i in self.intakes if i["status"] == "valid"]
        return valid[-1] if valid else None

    def facts(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "owner": self.owner, "department_id": self.department_id}

    # -- intake -------------------------------------------------------------------------------
    class IntakeRecorded(LedgerAggregate.Event):
        intake: dict[str, Any]
        status: str
        reason: str | None
        flag: str
        department_id: str
        owner: str | None
        decisions: list[dict[str, Any]]

    @event(IntakeRecorded)
    def record_intake(self, intake: dict[str, Any], status: str, reason: str | None, flag: str, department_id: str,
                      owner: str | None, decisions: list[dict[str, Any]]) -> None:
        """A repeated intake (重复进线): kept with its verdict; a valid one without an owner is
        placed by the decisions it carries."""
        self._intake(intake, status, reason, flag, department_id, owner)

    # -- assignment -----------------------------------------------------------------------------
    def assign(self, to: str | None, department_id: str, at: str, reason: str, kind: str = "manual",
               decisions: list[dict[str, Any]] | None = None, unavailable: str | None = None) -> None:
        """手动分配 / 转移 (kind manual, becoming transfer when someone owned it) or a
        reassignment rule's decision after recycling (kind reassign). ``unavailable``: why the
        employee cannot receive leads of the line now (disabled, outside the line, without a
        leads permission), which refuses a manual assignment as it refuses a rule member."""
        if kind != "reassign":
            self.require_open()
            if unavailable is not None:
                raise AssigneeUnavailableError(f"{to} cannot receive leads ({unavailable})", field="owner")
            if self.owner == to:
                raise RuleViolationError(f"the lead already belongs to {to}", field="owner")
            if self.owner is not None:
                kind = "transfer"
        self._assigned(kind, department_id, to, at, reason, decisions or [], self.owner, self.department_id,
                       self.channel_code)

    class Assigned(LedgerAggregate.Event):
        kind: str
        department_id: str
        owner: str | None
        at: str
        reason: str
        decisions: list[dict[str, Any]]
        previous_owner: str | None
        previous_department: str
        channel_code: str

    @event(Assigned)
    def _assigned(self, kind: str, department_id: str, owner: str | None, at: str, reason: str,
                  decisions: list[dict[str, Any]], previous_owner: str | None, previous_department: str,
                  channel_code: str) -> None:
        self._place(department_id, owner, at)

    def require_open(self) -> None:
        if self.status != "valid":
            raise RuleViolationError(f"lead {self.id} was filtered at intake ({self.reason}); it cannot be worked")

    def recycling_due_at(self, rule: RecycleRule, working_time: WorkingTime | None = None) -> datetime | None:
        """When the lead's window under ``rule`` ends: ``rule.days`` days after its assignment, or
        that many working days of ``working_time`` (the business calendar of its department).
        None when the rule cannot take it: not owned, opened, outside the rule's scope."""
        if not (self.owner is not None and self.lifecycle == "prospect" and self.assigned_at is not None
                and self.department_id in rule.scope_departments
                and (not rule.channels or self.channel_code in rule.channels)):
            return None
        assigned = datetime.fromisoformat(self.assigned_at)
        if rule.days_basis == "calendar":
            return assigned + timedelta(days=rule.days)
        if working_time is None:
            raise ValueError(f"recycle rule {rule.key} counts working days: it needs the business calendar")
        return working_time.add_days(assigned, rule.days)

    def due_for_recycling(self, rule: RecycleRule, now: datetime, working_time: WorkingTime | None = None) -> bool:
        """回收: owned, not opened, assigned *more than* ``rule.days`` (working) days ago, in the rule's scope."""
        due = self.recycling_due_at(rule, working_time)
        return due is not None and due < now

    def recycle(self, rule: RecycleRule, now: datetime, working_time: WorkingTime | None = None) -> None:
        """Back to the rule's pool; the recycle count decides which reassignment rules apply. A
        window of working days records its end: the calendar may change, the decision may not."""
        due = self.recycling_due_at(rule, working_time)
        if due is None or not due < now:
            raise RuleViolationError(f"lead {self.id} is not due for recycling by {rule.key}")
        at = now.astimezone(timezone.utc).isoformat()
        if rule.days_basis == "working":
            self._recycled_after_working_days(rule.key, rule.to_department, at, rule.days,
                                              due.astimezone(timezone.utc).isoformat(), self.owner,
                                              self.department_id, self.channel_code)
        else:
            self._recycled(rule.key, rule.to_department, at, rule.days, self.owner, self.department_id,
                           self.channel_code)

    class Recycled(LedgerAggregate.Event):
        rule: str
        to_department: str
        at: str
        days: int
        previous_owner: str | None
        previous_department: str
        channel_code: str

    @event(Recycled)
    def _recycled(self, rule: str, to_department: str, at: str, days: int, previous_owner: str | None,
                  previous_department: str, channel_code: str) -> None:
        self._to_pool(to_department)

    class RecycledAfterWorkingDays(LedgerAggregate.Event):
        """``Recycled`` by a rule counting working days, with the window's end (``due_at``)."""
        rule: str
        to_department: str
        at: str
        days: int
        due_at: str
        previous_owner: str | None
        previous_department: str
        channel_code: str

    @event(RecycledAfterWorkingDays)
    def _recycled_after_working_days(self, rule: str, to_department: str, at: str, days: int, due_at: str,
                                     previous_owner: str | None, previous_department: str,
                                     channel_code: str) -> None:
        self._to_pool(to_department)

    def _to_pool(self, to_department: str) -> None:
        self.recycle_count += 1
        self.department_id, self.owner, self.assigned_at = to_department, None, None

    # -- activity (every event carries the channel, owner and department as they stood) ---------
    def follow_up(self, content: str, connected: bool | None, next_at: str | None, opening_intent: str | None,
                  deposit_intent: str | None, tags: list[str], at: str, by: str) -> None:
        self.require_open()
        self._followed_up(content, connected, next_at, opening_intent, deposit_intent, tags, at, by, **self.facts())

    class FollowedUp(LedgerAggregate.Event):
        content: str
        connected: bool | None
        next_at: str | None
        opening_intent: str | None
        deposit_intent: str | None
        tags: list[str]
        at: str
        by: str
        channel_code: str
        owner: str | None
        department_id: str

    @event(FollowedUp)
    def _followed_up(self, content: str, connected: bool | None, next_at: str | None, opening_intent: str | None,
                     deposit_intent: str | None, tags: list[str], at: str, by: str, channel_code: str,
                     owner: str | None, department_id: str) -> None:
        if opening_intent:
            self.opening_intent = opening_intent
        if deposit_intent:
            self.deposit_intent = deposit_intent

    def record_call(self, started_at: str, duration_seconds: int, connected: bool, by: str) -> None:
        self.require_open()
        self._call_recorded(started_at, duration_seconds, connected, by, **self.facts())

    class CallRecorded(LedgerAggregate.Event):
        started_at: str
        duration_seconds: int
        connected: bool
        by: str
        channel_code: str
        owner: str | None
        department_id: str

    @event(CallRecorded)
    def _call_recorded(self, started_at: str, duration_seconds: int, connected: bool, by: str, channel_code: str,
                       owner: str | None, department_id: str) -> None:
        self.calls += 1
        self.connected_calls += int(connected)

    def add_wechat(self, at: str, by: str, nickname: str | None) -> None:
        self.require_open()
        if self.wechat_added:
            raise RuleViolationError("WeChat was already added for this lead")
        self._wechat_added(at, by, nickname, **self.facts())

    class WechatAdded(LedgerAggregate.Event):
        at: str
        by: str
        nickname: str | None
        channel_code: str
        owner: str | None
        department_id: str

    @event(WechatAdded)
    def _wechat_added(self, at: str, by: str, nickname: str | None, channel_code: str, owner: str | None,
                      department_id: str) -> None:
        self.wechat_added = True

    def send_sms(self, content: str, template: str | None, at: str, by: str, sensitive_hits: list[str]) -> None:
        self.require_open()
        self._sms_sent(content, template, at, by, sensitive_hits, **self.facts())

    class SmsSent(LedgerAggregate.Event):
        content: str
        template: str | None
        at: str
        by: str
        sensitive_hits: list[str]
        channel_code: str
        owner: str | None
        department_id: str

    @event(SmsSent)
    def _sms_sent(self, content: str, template: str | None, at: str, by: str, sensitive_hits: list[str],
                  channel_code: str, owner: str | None, department_id: str) -> None:
        pass

    class ContentBlocked(LedgerAggregate.Event):
        kind: str
        content: str
        at: str
        by: str
        sensitive_hits: list[str]

    @event(ContentBlocked)
    def block_content(self, kind: str, content: str, at: str, by: str, sensitive_hits: list[str]) -> None:
        """A refused outgoing text: the hit stays on record for compliance (敏感词拦截)."""

    def sop_executed(self, task: str, action: str, reference: str, at: str, content: str | None,
                     sensitive_hits: list[str] | None = None) -> None:
        """An SOP task reached this lead through the SMS platform or the outbound-call robot."""
        self._sop_executed(task, action, reference, at, content, **self.facts(), sensitive_hits=sensitive_hits)

    class SopExecuted(LedgerAggregate.Event):
        task: str
        action: str
        reference: str
        at: str
        content: str | None
        channel_code: str
        owner: str | None
        department_id: str
        # No default, as the class @event("SopExecuted") generated had none: events stored before
        # the field existed lack it (the handler's default and readers' getattr cover them).
        sensitive_hits: list[str] | None

    @event(SopExecuted)
    def _sop_executed(self, task: str, action: str, reference: str, at: str, content: str | None,
                      channel_code: str, owner: str | None, department_id: str,
                      sensitive_hits: list[str] | None = None) -> None:
        pass

    # -- account opening --------------------------------------------------------------------------
    def already_applied(self, external_id: str | None) -> bool:
        """A retry of an opening event already applied (same external_id)."""
        return bool(external_id) and external_id in getattr(self, "opening_external_ids", ())

    def progress_opening(self, kind: str, node: str | None, at: str, external_id: str | None,
                         attribution: dict[str, Any] | None) -> None:
        if kind not in OPENING_KINDS:
            raise RuleViolationError(f"unknown account-opening step {kind!r} (one of {', '.join(OPENING_KINDS)})",
                                     field="kind")
        if kind == "opened" and self.lifecycle == "opened":
            raise RuleViolationError("the account is already open", field="kind")
        if kind == "closed" and self.lifecycle != "opened":
            raise RuleViolationError("only an opened account can be closed", field="kind")
        self._opening_progressed(kind, node, at, external_id, attribution, **self.facts())

    class OpeningProgressed(LedgerAggregate.Event):
        kind: str
        node: str | None
        at: str
        external_id: str | None
        attribution: dict[str, Any] | None
        channel_code: str
        owner: str | None
        department_id: str

    @event(OpeningProgressed)
    def _opening_progressed(self, kind: str, node: str | None, at: str, external_id: str | None,
                            attribution: dict[str, Any] | None, channel_code: str, owner: str | None,
                            department_id: str) -> None:
        self.opening = {**self.opening, "kind": kind, "node": node, "at": at}
        if external_id:
            self.opening_external_ids = {*getattr(self, "opening_external_ids", ()), external_id}
        if kind == "entered":
            self.opening.setdefault("entered_at", at)
        if kind == "opened":
            self.lifecycle = "opened"
            self.opening["opened_at"] = at
            self.opening["attribution"] = attribution
        elif kind == "closed":
            self.lifecycle = "closed"


# Personal data of the lead (ADR 0028, docs/privacy.md): sealed under the lead's key in the store.
# The digest too: it is the phone's keyed hash, by which an erased lead could still be found.
personal(Lead.Created, Personal("lead", ("phone", "phone_digest", "intake.fields.*")))
personal(Lead.IntakeRecorded, Personal("lead", ("intake.fields.*",)))
personal(Lead.FollowedUp, Personal("lead", ("content",)))
personal(Lead.SmsSent, Personal("lead", ("content",)))
personal(Lead.ContentBlocked, Personal("lead", ("content",)))
personal(Lead.SopExecuted, Personal("lead", ("content",)))
personal(Lead.WechatAdded, Personal("lead", ("nickname",)))
