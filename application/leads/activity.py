"""Working a lead: assignment by people (手动分配 / 转移), follow-ups, calls, WeChat, SMS with the
sensitive-word check."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from uuid import UUID

from application.leads.staff import Staff
from application.shared.base import CommandResult, Loader, command
from domain.leads.lead import Lead
from domain.leads.sensitive import SensitiveContentError
from domain.leads.settings import LeadSettings
from domain.shared.aggregate import LedgerAggregate
from domain.shared.context import current_context


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


class Activity:
    load: Loader
    save_one: Callable[[LedgerAggregate], CommandResult]
    lead: Callable[[UUID], Lead]
    now_iso: Callable[[], str]
    settings: Callable[[str], LeadSettings]
    require_department: Callable[[str, str], None]
    require_member: Callable[[str, str, str], None]
    staff: Staff

    @command
    def assign(self, lead_uuid: UUID, owner: str, department_id: str, reason: str,
               expected_version: int | None = None) -> CommandResult:
        """手动分配 / 转移: to an employee of a department who can receive leads of the lead's
        line now (checked like a rule's members), with the reason recorded."""
        self.require_department(department_id, "department_id")
        self.require_member(owner, "employee", "owner")
        lead = self.load(lead_uuid, Lead, expected_version=expected_version)
        employee = self.staff.employees([owner], lead.business_line).get(owner)
        lead.assign(owner, department_id, self.now_iso(), reason,
                    unavailable=employee.unavailable if employee is not None else None)
        return self.save_one(lead)

    @command
    def follow_up(self, lead_uuid: UUID, content: str, connected: bool | None, next_at: datetime | None,
                  opening_intent: str | None, deposit_intent: str | None, tags: list[str]) -> CommandResult:
        lead = self.lead(lead_uuid)
        lead.follow_up(content, connected, _iso(next_at) if next_at else None, opening_intent, deposit_intent,
                       tags, self.now_iso(), current_context().actor)
        return self.save_one(lead)

    @command
    def record_call(self, lead_uuid: UUID, started_at: datetime, duration_seconds: int,
                    connected: bool) -> CommandResult:
        lead = self.lead(lead_uuid)
        lead.record_call(_iso(started_at), duration_seconds, connected, current_context().actor)
        return self.save_one(lead)

    @command
    def add_wechat(self, lead_uuid: UUID, nickname: str | None) -> CommandResult:
        lead = self.lead(lead_uuid)
        lead.add_wechat(self.now_iso(), current_context().actor, nickname)
        return self.save_one(lead)

    @command
    def send_sms(self, lead_uuid: UUID, content: str, template: str | None) -> CommandResult:
        """Outgoing text passes the sensitive-word check: in block mode a hit refuses it (and the
        refusal is recorded); in flag mode it is sent with its hits recorded."""
        lead = self.lead(lead_uuid)
        lead.require_open()
        settings = self.settings(lead.business_line)
        hits = settings.hits(content)
        at, by = self.now_iso(), current_context().actor
        if hits and settings.intake().sensitive_mode == "block":
            lead.block_content("sms", content, at, by, hits)
            self.save_one(lead)
            raise SensitiveContentError(f"the text contains sensitive words: {', '.join(hits)}", field="content")
        lead.send_sms(content, template, at, by, hits)
        return self.save_one(lead)
