"""Shared pieces of the leads routes: permissions, path checks, scope helpers."""

from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query
from pydantic import AfterValidator, Field, ValidationError

from application.access.policy import Policy
from domain.leads.lead import Lead
from domain.shared.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from domain.shared.ids import natural_id
from domain.shared.text import MAX_INT
from interfaces.api.deps import consistent_with, requires
from interfaces.api.problems import Responses
from interfaces.bootstrap import Container

READS = Depends(consistent_with("leads.leads"))
ChannelViewer = Annotated[Policy, Depends(requires("leads.channels.view"))]
ChannelAdmin = Annotated[Policy, Depends(requires("leads.channels.manage"))]
Importing = Annotated[Policy, Depends(requires("leads.intake"))]
RuleAdmin = Annotated[Policy, Depends(requires("leads.rules.manage"))]
Viewer = Annotated[Policy, Depends(requires("leads.view"))]
Assigner = Annotated[Policy, Depends(requires("leads.assign"))]
Worker = Annotated[Policy, Depends(requires("leads.work"))]
OpeningFeed = Annotated[Policy, Depends(requires("leads.opening.ingest"))]
Analyst = Annotated[Policy, Depends(requires("leads.analytics.view"))]
Code = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
Line = Annotated[str, Field(min_length=1, max_length=32)]
OperatorRef = Annotated[str, Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")]
RESOURCE = "leads.lead"
LINE_404: Responses = {404: {"description": "`not_found` (field `business_line`): the business line does not "
                                            "exist or is not yours"}}
# Event positions are bigint: a cursor beyond them is a 422, never a database error.
Position = Annotated[int, Query(ge=1, le=MAX_INT, description="next_before of the previous page")]
# What ClickHouse DateTime (and the analytics) can hold.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2105, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _in_range(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= aware <= LATEST:
        raise ValueError("must lie between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z")
    return value


Instant = Annotated[datetime | None, AfterValidator(_in_range), Query(
    description="ISO 8601 date-time between 1970-01-01 and 2105-12-31")]


def _range(since: datetime | None, until: datetime | None) -> None:
    """``since`` after ``until`` selects nothing by mistake: refused, naming ``since``."""
    def aware(at: datetime) -> datetime:
        return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    if since is not None and until is not None and aware(since) > aware(until):
        raise InvalidInputError("since is after until", [{"path": "since", "message": "since is after until"}])


def _leads(container: Container) -> Any:
    return container.leads



def _channel_line(container: Container, policy: Policy, code: str) -> str:
    line = _leads(container).channel(code).business_line
    policy.require_line(f"channel {code!r}", line, field="channel")
    return line



def _invalid(exc: ValidationError) -> InvalidInputError:
    """A cross-field rule of the domain model (e.g. a weighted rule without members) as a 422."""
    errors = [{"path": ".".join(str(p) for p in e["loc"]) or "body",
               "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
    return InvalidInputError(errors[0]["message"], errors)


def _require_covers(policy: Policy, departments: list[str] | None) -> None:
    """The caller's data scope covers these departments (None: all of them)."""
    if departments is None:
        _require_unrestricted(policy, "this configuration applies to every department")
    else:
        policy.require_scope_covers([UUID(d) for d in departments])


def _uuids(values: list[Any]) -> list[str]:
    """Department ids as strings (rule fields hold UUIDs or strings); an id that is not a UUID
    (an employee member) is left out."""
    out = []
    for v in values:
        try:
            out.append(str(UUID(str(v))))
        except ValueError:
            continue
    return sorted(set(out))


def _require_unrestricted(policy: Policy, why: str) -> None:
    if policy.principal.departments is not None:
        raise PermissionDeniedError(f"outside your data scope: {why}")


def _line(container: Container, policy: Policy, line: str) -> str:
    """The business line named in the path or query: 404 (field ``business_line``) unless it
    exists and the caller works in it (the same answer for both, so the two cannot be told
    apart). Nothing is ever configured for, or read from, a line that does not exist."""
    policy.require_line(f"business line {line!r}", line, field="business_line")
    if not container.access.exists(natural_id("business_line", line)):
        raise NotFoundError(f"business line {line!r} does not exist", field="business_line")
    return line



def _departments(policy: Policy) -> list[str] | None:
    """The caller's data scope: figures count only facts of leads then in these departments."""
    departments = policy.principal.departments
    return None if departments is None else sorted(str(d) for d in departments)



def _visible(container: Container, policy: Policy, lead_id: UUID) -> Lead:
    """For commands and details: the aggregate decides visibility (never a lagging read model)."""
    lead = _leads(container).lead(lead_id)
    if lead.owner == policy.principal.actor and policy.sees_line(lead.business_line):
        return lead
    policy.require_scoped("lead", {"business_line": lead.business_line,
                                   "department_id": UUID(lead.department_id)})
    return lead



def _visible_row(container: Container, policy: Policy, lead_id: UUID) -> dict[str, Any]:
    """For reads: the lead's read-model row decides visibility when it is as new as the event
    store (one primary-key lookup of the stored version); a row that lags behind its lead is
    never trusted, and the aggregate decides instead (then the row is read again)."""
    row = container.lead_queries.lead(lead_id)
    stored = container.store.versions([lead_id]).get(lead_id)
    if row is None or stored is None or row["version"] != stored:
        _visible(container, policy, lead_id)  # 404 for a lead that does not exist; 403/404 out of scope
        row = container.lead_queries.lead(lead_id)
        if row is None:
            raise NotFoundError(f"lead {lead_id} does not exist")
        return row
    if not (row["owner"] == policy.principal.actor and policy.sees_line(row["business_line"])):
        policy.require_scoped("lead", {"business_line": row["business_line"], "department_id": row["department_id"]})
    return row


def _worked(container: Container, policy: Policy, lead_id: UUID) -> Lead:
    lead = _visible(container, policy, lead_id)
    if lead.owner != policy.principal.actor and not policy.can("leads.assign"):
        raise PermissionDeniedError("only the lead's owner (or someone who may assign leads) can work on it")
    return lead

