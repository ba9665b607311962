"""Notices from leads: a lead placed with an owner (at intake, by hand, by a rule after recycling)
and a lead's account opened, to its owner. Templates name the channel, never the person (no
phone or name leaves in an SMS or a WeCom message)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.leads.lead import Lead as _Lead
from domain.notifications import recipients as rules
from domain.notifications.recipients import Notice
from domain.notifications.templates import fields
from projections.framework import SqlWriter, handles
from projections.notifications.delivery import Outlet, Subject

Lead: Any = _Lead  # its event classes: made by @event("Name") today, declared by hand later


def _department(value: Any) -> UUID | None:
    """Lead events carry the department as text; a value that is not an id files no department."""
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


class LeadNotices:
    outlet: Outlet

    def _owned(self, w: SqlWriter, e: Any, position: int, owner: str | None, channel_code: str) -> None:
        """Record the lead's owner now; tell a new one."""
        row = w.execute("SELECT owner FROM notifications_leads WHERE id = %s", (e.originator_id,)).fetchone()
        w.execute("INSERT INTO notifications_leads VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                  " owner = excluded.owner, channel_code = excluded.channel_code",
                  (e.originator_id, owner, channel_code))
        self._lead_notice(w, e, position, rules.lead_owned(row["owner"] if row else None, owner), channel_code)

    @handles(Lead.Created, Lead.IntakeRecorded)
    def intake(self, w: SqlWriter, e: Any, position: int) -> None:
        row = w.execute("SELECT owner, channel_code FROM notifications_leads WHERE id = %s",
                        (e.originator_id,)).fetchone()
        valid = e.status == "valid"
        if row is not None and (row["owner"] or not valid):
            return  # an owned lead keeps its owner; an invalid intake places nobody
        channel = e.intake["channel_code"] if valid or row is None else row["channel_code"]
        self._owned(w, e, position, e.owner if valid else None, channel)

    @handles(Lead.Assigned)
    def assigned(self, w: SqlWriter, e: Any, position: int) -> None:
        self._owned(w, e, position, e.owner, e.channel_code)

    @handles(Lead.Recycled, Lead.RecycledAfterWorkingDays)
    def recycled(self, w: SqlWriter, e: Any, position: int) -> None:
        w.execute("UPDATE notifications_leads SET owner = NULL WHERE id = %s", (e.originator_id,))

    @handles(Lead.OpeningProgressed)
    def opening(self, w: SqlWriter, e: Any, position: int) -> None:
        self._lead_notice(w, e, position, rules.lead_opening(e.kind, e.owner), e.channel_code)

    def _lead_notice(self, w: SqlWriter, e: Any, position: int, notice: Notice | None, channel_code: str) -> None:
        link = f"/leads/{e.originator_id}"
        values = fields(channel=channel_code, lead_id=str(e.originator_id), link=link)
        self.outlet.send(w, e, position, notice, values,
                         Subject(link, lead_id=e.originator_id, business_line=e.business_line,
                                 department_id=_department(e.department_id)))
