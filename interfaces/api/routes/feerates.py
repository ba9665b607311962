"""feerates: fee-rate templates (费率模板) — named sets of per-exchange, per-product commission and
margin rates, absolute or floating on the exchange's own rate — their versions, and the exchanges'
rate table floating rates follow (docs/feerates.md). Reading needs `feerates.templates.view`,
changing `feerates.templates.manage`; templates are scoped by business line."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from application.access.policy import Policy
from domain.feerates.rates import EXCHANGES
from domain.feerates.template import FeeRateTemplate
from domain.shared.errors import NotFoundError
from interfaces.api.deps import Acting, ContainerDep, ExpectedVersion, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import Responses
from interfaces.api.schemas import MAX_VERSION, CommandAccepted, Page, accepted

router = APIRouter(prefix="/api/v1/feerates", tags=["feerates"])
Viewer = Annotated[Policy, Depends(requires("feerates.templates.view"))]
Manager = Annotated[Policy, Depends(requires("feerates.templates.manage"))]
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,47}$", description="The template's key")]
Number = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A template version number")]
NOT_FOUND: Responses = {404: {"description": "`not_found`: no such template (or outside your business lines)"}}
CHANGE: Responses = {**NOT_FOUND, 409: {"description": "`stale_version`: changed since If-Match; `already_exists`"},
                     422: {"description": "`invalid_template` / `invalid_exchange_rates`: an unknown exchange or "
                                          "rate name, a rate out of range, a missing rate (each problem has its "
                                          "path); `rule_violation`: nothing changed"}}
EXCHANGE_LIST = ", ".join(EXCHANGES)

class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Decimal | None = Field(None, description="Absolute: a ratio of turnover (ByMoney, 0.00005 = 0.5 万分之), "
                                                    "yuan per lot (ByVolume), a ratio of contract value (margin)")
    multiplier: Decimal | None = Field(None, description="Floating: the exchange's rate × multiplier (+ add)")
    add: Decimal | None = Field(None, description="Floating: added to the exchange's rate (× multiplier)")

class MarginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    HedgeFlag: str = Field("1", description="'1' speculation, '2' arbitrage, '3' hedge, '5' market maker")
    rates: dict[str, RateIn] = Field(description="Long/ShortMarginRatioByMoney/ByVolume, all four")

class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exchange: str = Field(max_length=8, description=f"One of {EXCHANGE_LIST}", examples=["SHFE"])
    product: str = Field(max_length=30, description="A product (cu) or an instrument (cu2601)", examples=["cu"])
    commission: dict[str, RateIn] = Field(description="Open/Close/CloseToday RatioByMoney/ByVolume, all six")
    margin: MarginIn | None = None

class TemplateCreate(BaseModel):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$", examples=["vip_2026"])
    name: str = Field(min_length=1, max_length=100, examples=["VIP 客户 2026"])
    business_line: str = Field(max_length=48, examples=["brokerage"])
    entries: list[EntryIn] = Field(max_length=500)
    note: str = Field("", max_length=2000)

class TemplateRevise(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    entries: list[EntryIn] = Field(max_length=500)
    note: str = Field("", max_length=2000)

class EntryPublic(BaseModel):
    exchange: str
    product: str
    commission: dict[str, dict[str, str]] = Field(description="rate name -> {value} or {multiplier, add}, as text")
    margin: dict[str, Any] | None = None

class VersionPublic(BaseModel):
    number: int
    name: str
    note: str
    entries: list[EntryPublic]

class TemplatePublic(BaseModel):
    key: str
    name: str
    business_line: str
    published: int | None = Field(description="The version flows use; null: none yet")
    latest: int
    versions: list[VersionPublic]
    version: int = Field(description="The aggregate version: send as If-Match")

class TemplateRow(BaseModel):
    key: str
    name: str
    business_line: str
    latest: int
    published: int | None
    entries: int
    version: int
    updated_at: datetime

class TemplatesPage(Page):
    items: list[TemplateRow]

class ExchangeRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exchange: str = Field(max_length=8, description=f"One of {EXCHANGE_LIST}")
    product: str = Field(max_length=30)
    rates: dict[str, Decimal] = Field(description="Any commission and margin rate names, the exchange's values")

class ExchangeRatesLoad(BaseModel):
    source: str = Field(min_length=1, max_length=200, examples=["SHFE 2026-12 fee schedule"])
    effective_date: date
    entries: list[ExchangeRateIn] = Field(min_length=1, max_length=2500)

class ExchangeRatePublic(BaseModel):
    exchange: str
    product: str
    rates: dict[str, str]

class ExchangeRatesPublic(BaseModel):
    source: str
    effective_date: str
    entries: list[ExchangeRatePublic]
    version: int

class LayoutsPublic(BaseModel):
    layouts: dict[str, dict[str, Any]] = Field(description="name -> format, columns, header, encoding, delimiter, "
                                                          "decimal places")
    counters: list[str]

def _entries(entries: list[EntryIn]) -> list[dict[str, Any]]:
    return [e.model_dump(exclude_none=True) for e in entries]

def _public(t: FeeRateTemplate) -> TemplatePublic:
    return TemplatePublic(
        key=t.key, name=t.versions[t.latest]["name"], business_line=t.business_line, published=t.published,
        latest=t.latest, version=t.version,
        versions=[VersionPublic(number=n, name=v["name"], note=v["note"],
                                entries=[EntryPublic(**e) for e in v["entries"]])
                  for n, v in sorted(t.versions.items())])

@router.get("/templates", response_model=TemplatesPage, dependencies=[Depends(consistent_with("feerates.templates"))],
            responses=INVALID_CURSOR, summary="Fee-rate templates in your business lines, by key.")
def list_templates(container: ContainerDep, policy: Viewer, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   cursor: str | None = None) -> TemplatesPage:
    after = typed_cursor(cursor, "text")
    lines = policy.principal.business_lines
    rows = container.feerate_queries.templates(lines=None if lines is None else sorted(lines),
                                               after=after[0] if after else None, limit=limit + 1)
    return TemplatesPage(items=[TemplateRow(**r) for r in rows[:limit]],
                         next_cursor=encode_cursor([rows[limit - 1]["key"]]) if len(rows) > limit else None)

@router.post("/templates", status_code=201, response_model=CommandAccepted, responses=CHANGE,
             summary="Create a template (its version 1, not yet published).")
def create_template(body: TemplateCreate, container: ContainerDep, policy: Manager, ctx: Acting,
                    response: Response) -> CommandAccepted:
    policy.require_line(f"business line {body.business_line!r}", body.business_line, "business_line")
    return accepted(container.feerates.create_template(ctx, body.key, body.name, body.business_line,
                                                       _entries(body.entries), body.note), response)

def _template(container: ContainerDep, policy: Policy, key: str) -> FeeRateTemplate:
    template = container.feerates.template(key)
    policy.require_line(f"fee-rate template {key!r}", template.business_line)
    return template

@router.get("/templates/{key}", response_model=TemplatePublic, responses=NOT_FOUND,
            summary="A template with all its versions (ETag).")
def get_template(key: Key, container: ContainerDep, policy: Viewer, response: Response) -> TemplatePublic:
    template = _template(container, policy, key)
    response.headers["ETag"] = f'"{template.version}"'
    return _public(template)

@router.post("/templates/{key}/versions", status_code=201, response_model=CommandAccepted, responses=CHANGE,
             summary="Revise a template: a new version (publish it to use it; send If-Match).")
def revise_template(key: Key, body: TemplateRevise, container: ContainerDep, policy: Manager, ctx: Acting,
                    expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _template(container, policy, key)
    return accepted(container.feerates.revise_template(ctx, key, body.name, _entries(body.entries), body.note,
                                                       expected), response)

@router.post("/templates/{key}/versions/{number}/publish", response_model=CommandAccepted, responses=CHANGE,
             summary="Publish a version: the one fee-rate approvals use from now on (send If-Match).")
def publish_template(key: Key, number: Number, container: ContainerDep, policy: Manager, ctx: Acting,
                     expected: ExpectedVersion, response: Response) -> CommandAccepted:
    _template(container, policy, key)
    return accepted(container.feerates.publish_template(ctx, key, number, expected), response)

@router.get("/exchange-rates", response_model=ExchangeRatesPublic,
            responses={404: {"description": "`not_found`: no exchange rates loaded yet"}},
            summary="The exchanges' own rates floating template rates follow (ETag).")
def get_exchange_rates(container: ContainerDep, policy: Viewer, response: Response) -> ExchangeRatesPublic:
    table = container.feerates.exchange_rates()
    if table is None:
        raise NotFoundError("no exchange rates are loaded yet")
    response.headers["ETag"] = f'"{table.version}"'
    return ExchangeRatesPublic(source=table.source, effective_date=table.effective_date, version=table.version,
                               entries=[ExchangeRatePublic(**e) for e in table.entries])

@router.put("/exchange-rates", response_model=CommandAccepted, responses=CHANGE,
            summary="Load the exchanges' rates whole (a new version; the file's rows as JSON; If-Match optional).")
def load_exchange_rates(body: ExchangeRatesLoad, container: ContainerDep, policy: Manager, ctx: Acting,
                        expected: ExpectedVersion, response: Response) -> CommandAccepted:
    entries = [e.model_dump() for e in body.entries]
    return accepted(container.feerates.load_exchange_rates(ctx, entries, body.source, body.effective_date.isoformat(),
                                                           expected), response)

@router.get("/layouts", response_model=LayoutsPublic, summary="The import-file layouts and counters configured.")
def layouts(container: ContainerDep, policy: Viewer) -> LayoutsPublic:
    configured = sorted(container.feerates.layouts.items())
    return LayoutsPublic(layouts={n: lay.model_dump(mode="json") for n, lay in configured},
                         counters=sorted(container.feerates.counters))
