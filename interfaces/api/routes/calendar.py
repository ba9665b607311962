"""calendar: the business calendar (工作日历) — working hours, holidays, make-up working days —
of the firm and of departments, and the working-time arithmetic it gives (docs/calendar.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.calendar.calendar import BusinessCalendar
from domain.calendar.working_time import NoWorkingTimeError
from domain.shared.errors import NotFoundError, RuleViolationError
from interfaces.api.deps import Acting, ContainerDep, ExpectedVersion, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])
Viewer = Annotated[Policy, Depends(requires("calendar.view"))]
Manager = Annotated[Policy, Depends(requires("calendar.manage"))]
Department = Annotated[UUID | None, Query(description="A department's own calendar; absent: the firm's")]
Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]
IsoDay = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", examples=["2026-02-17"])]
Period = Annotated[list[Annotated[str, Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")]], Field(
    min_length=2, max_length=2, examples=[["09:00", "12:00"]])]

NOT_FOUND: Responses = {404: {"description": "`not_found`: no such calendar (open the firm's first), or the "
                                            "department lies outside your data scope."}}
STALE: Responses = {409: {"description": "`conflict`: the calendar changed since you read it (If-Match)."}}
INVALID: Responses = {422: {"description": "`invalid_input`: a date outside the year, a day both holiday and "
                                          "make-up working day, overlapping hours, an unknown time zone; "
                                          "`rule_violation`: nothing changed."}}


class Hours(BaseModel):
    weekend: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        [5, 6], max_length=6, description="Weekdays off, 0 = Monday … 6 = Sunday")
    hours: list[Period] = Field([["09:00", "12:00"], ["13:00", "17:30"]], min_length=1, max_length=6,
                                description="Working periods of a working day, in order, not overlapping")


class CalendarOpen(Hours):
    name: str = Field(min_length=1, max_length=100, examples=["公司工作日历"])
    timezone: str = Field("Asia/Shanghai", max_length=64, description="IANA time zone the hours are in")


class YearDays(BaseModel):
    holidays: dict[IsoDay, Annotated[str, Field(max_length=60)]] = Field(
        max_length=120, description="Public holidays of the year: date -> name (春节…)")
    workdays: dict[IsoDay, Annotated[str, Field(max_length=60)]] = Field(
        default_factory=dict, max_length=30, description="Make-up working days (调休上班): date -> the holiday")


class DayEdit(BaseModel):
    kind: Literal["holiday", "workday", "default"] = Field(
        description="holiday: closed; workday: open although a weekend or holiday; default: as the year says")
    name: str = Field("", max_length=60, examples=["台风停工"])


class YearPublic(BaseModel):
    year: int
    source: str = Field(description="`chinese-calendar <version>` when seeded, `entered` when typed in")
    holidays: dict[str, str]
    workdays: dict[str, str]


class CalendarPublic(BaseModel):
    id: UUID
    department_id: UUID | None
    name: str
    timezone: str
    weekend: list[int]
    hours: list[list[str]]
    years: list[YearPublic] = Field(description="The firm's years (a department's calendar shows none)")
    days: dict[str, DayEdit] = Field(description="Single days edited on this calendar")
    version: int


class DayPublic(BaseModel):
    day: date
    kind: Literal["working", "weekend", "holiday", "workday"] = Field(
        description="workday: a make-up working day (调休上班)")
    working: bool
    name: str | None = None


class DayPage(Page):
    items: list[DayPublic]
    unknown_years: list[int] = Field(description="Years in the range nobody has seeded or entered: only "
                                                 "weekends are off there")


class DeadlinePublic(BaseModel):
    start: datetime
    due_at: datetime
    unknown_years: list[int]


def _department(container: ContainerDep, policy: Policy, department_id: UUID | None) -> UUID | None:
    """A department's calendar is read and edited only within the caller's data scope."""
    if department_id is not None:
        container.access.department(department_id)  # 404 for a department that does not exist
        if policy.principal.departments is not None and department_id not in policy.principal.departments:
            raise NotFoundError(f"department {department_id} does not exist", field="department_id")
    return department_id


def _public(calendar: BusinessCalendar) -> CalendarPublic:
    return CalendarPublic(
        id=calendar.id, department_id=calendar.department_id, name=calendar.name, timezone=calendar.timezone,
        weekend=calendar.weekend, hours=calendar.hours,
        years=[YearPublic(year=y, **v) for y, v in sorted(calendar.years.items())],
        days={d: DayEdit(**v) for d, v in sorted(calendar.days.items())}, version=calendar.version)


@router.get("", response_model=CalendarPublic, responses=NOT_FOUND,
            summary="The firm calendar (or a department's): hours, weekend, years and edited days (ETag).")
def read(container: ContainerDep, policy: Viewer, response: Response,
         department_id: Department = None) -> CalendarPublic:
    calendar = container.calendar.calendar(_department(container, policy, department_id))
    response.headers["ETag"] = f'"{calendar.version}"'
    return _public(calendar)


@router.post("", status_code=201, response_model=CommandAccepted,
             responses={**NOT_FOUND, 409: {"description": "`already_exists`: that calendar is open already."},
                        **INVALID},
             summary="Open the firm calendar, or a department's own (the firm's must exist first).")
def open_calendar(body: CalendarOpen, container: ContainerDep, policy: Manager, ctx: Acting, response: Response,
                  department_id: Department = None) -> CommandAccepted:
    department = _department(container, policy, department_id)
    result = container.calendar.open_calendar(ctx, department, body.name, body.timezone, body.weekend,
                                              body.hours)
    return accepted(result, response)


@router.put("/hours", response_model=CommandAccepted, responses={**NOT_FOUND, **STALE, **INVALID},
            summary="Set a calendar's working hours and weekend (send the ETag as If-Match).")
def set_hours(body: Hours, container: ContainerDep, policy: Manager, ctx: Acting, expected: ExpectedVersion,
              response: Response, department_id: Department = None) -> CommandAccepted:
    department = _department(container, policy, department_id)
    return accepted(container.calendar.set_hours(ctx, department, body.weekend, body.hours, expected), response)


@router.post("/years/{year}/seed", response_model=CommandAccepted, responses={
    **NOT_FOUND, 422: {"description": "`year_unknown`: the installed chinese-calendar does not know that year "
                                      "yet (enter it with PUT /years/{year}); `rule_violation`: already set so."}},
             summary="Seed a year's public holidays and make-up working days from chinese-calendar.")
def seed_year(year: Year, container: ContainerDep, policy: Manager, ctx: Acting,
              response: Response) -> CommandAccepted:
    return accepted(container.calendar.seed_year(ctx, year), response)


@router.put("/years/{year}", response_model=CommandAccepted, responses={**NOT_FOUND, **INVALID},
            summary="Enter a year's public holidays and make-up working days by hand (replaces the year).")
def set_year(year: Year, body: YearDays, container: ContainerDep, policy: Manager, ctx: Acting,
             response: Response) -> CommandAccepted:
    return accepted(container.calendar.set_year(ctx, year, body.holidays, body.workdays), response)


@router.put("/days/{day}", response_model=CommandAccepted, responses={**NOT_FOUND, **INVALID},
            summary="Make one day a holiday or a working day on a calendar, or back to what its year says.")
def set_day(day: date, body: DayEdit, container: ContainerDep, policy: Manager, ctx: Acting, response: Response,
            department_id: Department = None) -> CommandAccepted:
    department = _department(container, policy, department_id)
    return accepted(container.calendar.set_day(ctx, department, day.isoformat(), body.kind, body.name), response)


@router.get("/days", response_model=DayPage,
            responses={**NOT_FOUND, **INVALID_CURSOR},
            summary="Day by day from `start` to `end`: working or not, and why (keyset-paged by date).")
def days(container: ContainerDep, policy: Viewer, start: date, end: date, department_id: Department = None,
         cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=366)] = 31) -> DayPage:
    time = container.calendar.working_time(_department(container, policy, department_id))
    if end < start:
        raise RuleViolationError("end comes before start", field="end")
    after = typed_cursor(cursor, "date")
    first = max(start, after[0] + timedelta(days=1)) if after else start
    span = (end - first).days + 1
    items = [first + timedelta(days=i) for i in range(max(0, min(span, limit)))]
    page = [DayPublic(day=d, kind=time.kind_of(d), working=time.is_working_day(d),
                      name=time.name_of(d)) for d in items]
    more = span > limit
    zone = time.zone
    return DayPage(items=page, next_cursor=encode_cursor([items[-1].isoformat()]) if more and items else None,
                   unknown_years=time.unknown_years(datetime.combine(start, datetime.min.time(), zone),
                                                    datetime.combine(end, datetime.min.time(), zone)))


@router.get("/deadline", response_model=DeadlinePublic, responses={
    **NOT_FOUND, 422: {"description": "`rule_violation`: the calendar has no working time that far ahead."}},
            summary="When a span of working time that starts at `start` ends (what an SLA's due time would be).")
def deadline(container: ContainerDep, policy: Viewer, start: datetime,
             hours: Annotated[float, Query(gt=0, le=8784)] = 0, days: Annotated[int, Query(ge=0, le=366)] = 0,
             department_id: Department = None) -> DeadlinePublic:
    if start.tzinfo is None:
        raise RuleViolationError("start needs a time zone offset (e.g. 2026-02-13T16:30:00+08:00)", field="start")
    time = container.calendar.working_time(_department(container, policy, department_id))
    try:
        due = time.add_days(start, days) if days else time.add(start, timedelta(hours=hours))
    except NoWorkingTimeError as exc:
        raise RuleViolationError(str(exc), field="hours") from None
    return DeadlinePublic(start=start, due_at=due, unknown_years=time.unknown_years(start, due))
