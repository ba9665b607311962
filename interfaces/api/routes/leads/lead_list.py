"""The lead list, my leads and the customer detail."""

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from application.access.policy import Policy
from domain.leads.lead import Intent, Lifecycle
from domain.shared.errors import PermissionDeniedError
from domain.shared.text import MAX_INT
from interfaces.api.deps import ContainerDep
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.routes.leads.common import (
    READS,
    RESOURCE,
    Instant,
    Viewer,
    Worker,
    _range,
    _visible_row,
)
from interfaces.api.routes.leads.schemas import (
    LeadDetail,
    LeadPage,
)
from interfaces.bootstrap import Container

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


# -- leads --------------------------------------------------------------------------------------------


def _filters(status: str | None, flag: str | None, channel: str | None, owner: str | None, lifecycle: str | None,
             intent: str | None, phone: str | None, department: UUID | None, unassigned: bool | None,
             since: datetime | None, until: datetime | None, digest: Callable[[str], str] | None = None
             ) -> dict[str, Any]:
    phone_hash = None
    if phone is not None:
        phone = _leads_phone(phone)
        phone_hash = digest(phone) if digest else None  # the read model finds a phone by its keyed hash
    return {"status": status, "flag": flag, "channel_code": channel, "owner": owner, "lifecycle": lifecycle,
            "opening_intent": intent, "phone": phone, "phone_hash": phone_hash, "department": department,
            "unassigned": unassigned, "since": since, "until": until}


def _leads_phone(raw: str) -> str:
    from domain.leads.phone import normalise_phone

    return normalise_phone(raw)


def _page(container: Container, policy: Policy, filters: dict[str, Any], cursor: str | None, limit: int,
          with_count: bool, sort: str = "newest") -> dict[str, Any]:
    key = typed_cursor(cursor, "at!", "id")
    scope = policy.scope_params()
    rows = container.lead_queries.leads(scope, filters=filters, after=key, limit=limit + 1, sort=sort)
    more = len(rows) > limit
    rows = rows[:limit]
    out: dict[str, Any] = {"items": policy.present_all(RESOURCE, rows),
                           "next_cursor": encode_cursor([rows[-1]["last_intake_at"].isoformat(),
                                                         str(rows[-1]["id"])]) if more else None}
    if with_count:
        out["total"] = container.lead_queries.count(scope, filters)
    return out


ListQuery = Annotated[str | None, Query(max_length=60)]


@router.get("", dependencies=[READS], response_model=LeadPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="The lead list: filters, new/repeat flags, keyset pagination.")
def list_leads(container: ContainerDep, policy: Viewer,
               status: Annotated[Literal["valid", "filtered"] | None, Query()] = None,
               flag: Annotated[Literal["new", "repeat"] | None, Query()] = None,
               channel: ListQuery = None, owner: ListQuery = None,
               lifecycle: Annotated[Lifecycle | None, Query()] = None,
               intent: Annotated[Intent | None, Query()] = None,
               phone: Annotated[str | None, Query(max_length=32)] = None, department: UUID | None = None,
               unassigned: bool | None = None, since: Instant = None, until: Instant = None,
               cursor: Annotated[str | None, Query(max_length=400)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               count: Annotated[bool, Query(description="Also return the total matching")] = False,
               sort: Annotated[Literal["newest", "oldest"], Query(description="By last intake")] = "newest"
               ) -> dict[str, Any]:
    if phone is not None:
        _require_phone_searchable(policy)
    _range(since, until)
    return _page(container, policy, _filters(status, flag, channel, owner, lifecycle, intent, phone, department,
                                             unassigned, since, until, container.leads.phone_digest),
                 cursor, limit, count, sort)


@router.get("/mine", dependencies=[READS], response_model=LeadPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="My leads (account manager): leads I own, newest first.")
def my_leads(container: ContainerDep, policy: Worker,
             lifecycle: Annotated[Lifecycle | None, Query()] = None,
             flag: Annotated[Literal["new", "repeat"] | None, Query()] = None,
             cursor: Annotated[str | None, Query(max_length=400)] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    mine = Policy(dataclasses.replace(policy.principal, departments=None),
                  policy.load_rules)  # ownership, not the data scope, decides here
    return _page(container, mine, _filters(None, flag, None, policy.principal.actor, lifecycle, None, None, None,
                                           None, None, None), cursor, limit, False)



CATEGORY = Literal["intake", "follow_up", "transfer", "call", "activity"]


@router.get("/{lead_id}", dependencies=[READS], response_model=LeadDetail, response_model_exclude_unset=True,
            responses={404: {"description": "unknown lead (or outside your scope)"}},
            summary="Customer detail: lead, intakes (留资记录) and timeline.")
def lead_detail(lead_id: UUID, container: ContainerDep, policy: Viewer, response: Response,
                category: Annotated[CATEGORY | None, Query(description="Timeline tab; all when absent")] = None,
                before: Annotated[int | None, Query(ge=1, le=MAX_INT, description=(
                    "timeline_next_before of the previous page"))] = None,
                timeline_limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    row = _visible_row(container, policy, lead_id)
    row.pop("position", None)
    response.headers["ETag"] = f'"{row["version"]}"'
    timeline = container.lead_queries.timeline(lead_id, category, limit=timeline_limit, before=before)
    return {"lead": policy.present(RESOURCE, row),
            "intakes": _present_intakes(policy, container.lead_queries.intakes(lead_id)),
            "timeline": timeline,
            "timeline_next_before": timeline[-1]["position"] if len(timeline) == timeline_limit else None}


def _present_intakes(policy: Policy, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """留资记录 under the leads.lead field rules: the phone and the name field of every intake
    are masked or hidden exactly like the lead's own."""
    out = []
    for row in rows:
        fields = dict(row.get("fields") or {})
        shown = policy.present(RESOURCE, {"phone": row.get("phone"), "name": fields.get("name")})
        item = {k: v for k, v in row.items() if k != "phone"}
        if "phone" in shown:
            item["phone"] = shown["phone"]
        if "name" in fields:
            if "name" in shown:
                fields["name"] = shown["name"]
            else:
                del fields["name"]
        item["fields"] = fields
        out.append(item)
    return out


def _require_phone_searchable(policy: Policy) -> None:
    """A phone filter would tell a caller who sees phones masked whether a number is a lead."""
    if any(r.field == "phone" and r.effect in ("masked", "hidden") for r in policy.rules(RESOURCE)):
        raise PermissionDeniedError("you cannot search by phone: phones are masked for you")

