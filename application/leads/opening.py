"""Account opening (开户云): entered, node reached, interrupted, opened, closed. On opening,
attribution decides who gets the credit (业绩归属). Events arrive from the webhook or the file
feed; every event is validated strictly and any failure is that event's rejection alone."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from application.leads.identity import LeadIdentity
from application.leads.inputs import OpeningEvent, first_error
from application.shared.base import CommandResult, command
from domain.leads.attribution import attribute
from domain.leads.binding import Binding
from domain.leads.lead import Lead
from domain.leads.phone import normalise_phone
from domain.leads.settings import LeadSettings
from domain.shared.aggregate import LedgerAggregate
from domain.shared.context import CommandContext
from domain.shared.errors import DomainError
from infrastructure.eventstore.store import EventStore

log = logging.getLogger(__name__)


class Opening(LeadIdentity):
    save_one: Callable[[LedgerAggregate], CommandResult]
    lead: Callable[[UUID], Lead]
    settings: Callable[[str], LeadSettings]
    bindings: Callable[[Iterable[str]], dict[str, Binding]]
    _store: EventStore

    @command
    def opening_event(self, business_line: str, phone: str, kind: str, at: datetime, node: str | None = None,
                      external_id: str | None = None) -> CommandResult:
        normalised = normalise_phone(phone)
        lead = self.lead(self.current_leads(business_line, [normalised])[normalised].id)
        if lead.already_applied(external_id):  # a webhook retry: accepted, nothing recorded
            return CommandResult(lead.id, lead.version, self._store.head())
        attribution = None
        if kind == "opened" and lead.lifecycle != "opened":
            mode = self.settings(business_line).intake().attribution_mode
            attribution = attribute(mode, lead, self.bindings([normalised]).get(normalised))
        lead.progress_opening(kind, node, at.astimezone(timezone.utc).isoformat(), external_id, attribution)
        return self.save_one(lead)

    def apply_opening_event(self, ctx: CommandContext, raw: Any) -> dict[str, Any]:
        """One raw event: validated strictly (bounded strings, aware time, known kind), then
        applied; the answer is {status: accepted|rejected, reason | lead_id, position}."""
        if not isinstance(raw, dict):
            return {"status": "rejected", "reason": "an event must be an object"}
        try:
            event = OpeningEvent.model_validate(raw)
        except ValidationError as exc:
            return {"status": "rejected", "reason": first_error(exc)}
        try:
            result = self.opening_event(ctx, event.business_line, event.phone, event.kind, event.at, event.node,
                                        event.external_id)
        except DomainError as exc:
            return {"status": "rejected", "reason": exc.message}
        except Exception as exc:  # one bad event must not stop the others (logged for operators)
            log.exception("account-opening event failed")
            return {"status": "rejected", "reason": f"the event could not be applied ({type(exc).__name__})"}
        return {"status": "accepted", "lead_id": str(result.id), "position": result.position}
