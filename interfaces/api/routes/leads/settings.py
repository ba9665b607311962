"""Intake settings of a business line, the blacklist, sensitive words and their hits."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from application.leads.inputs import ScreenedBody
from domain.leads.settings import IntakeConfig
from interfaces.api.deps import ContainerDep
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.routes.leads.common import (
    LINE_404,
    READS,
    RESOURCE,
    Position,
    RuleAdmin,
    _leads,
    _line,
)
from interfaces.api.routes.leads.schemas import (
    BlacklistPage,
    IntakeSettingsPublic,
    SensitiveHitPage,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class PhoneList(ScreenedBody):
    add: list[str] = Field(default_factory=list, max_length=10_000)
    remove: list[str] = Field(default_factory=list, max_length=10_000)
    reason: str = Field("", max_length=500)


class WordList(ScreenedBody):
    add: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=5000)
    remove: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=5000)



class IntakeSettings(ScreenedBody, IntakeConfig):
    """The intake settings as a request body (screened)."""


@router.put("/settings/{business_line}", response_model=CommandAccepted, responses=LINE_404,
            summary="Intake settings: repeat window, custom CEL filters, attribution mode, sensitive-word mode.")
def configure(business_line: str, body: IntakeSettings, request: Request, container: ContainerDep,
              policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).configure_intake(ctx, business_line, body), response)


@router.get("/settings/{business_line}", response_model=IntakeSettingsPublic, responses=LINE_404,
            summary="Intake settings, blacklist size and sensitive words (the defaults for a line not configured "
                    "yet).")
def get_settings(business_line: str, container: ContainerDep, policy: RuleAdmin) -> dict[str, Any]:
    return _leads(container).settings_of(_line(container, policy, business_line))


@router.post("/settings/{business_line}/blacklist", response_model=CommandAccepted, responses=LINE_404,
             summary="Change the blacklist.")
def blacklist(business_line: str, body: PhoneList, request: Request, container: ContainerDep, policy: RuleAdmin,
              response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).change_blacklist(ctx, business_line, body.add, body.remove, body.reason),
                    response)


@router.get("/settings/{business_line}/blacklist", response_model=BlacklistPage, response_model_exclude_unset=True,
            responses={**LINE_404, **INVALID_CURSOR},
            summary="The blacklist, by phone (keyset-paged; phones masked like a lead's).")
def list_blacklist(business_line: str, container: ContainerDep, policy: RuleAdmin, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    after = typed_cursor(cursor, "text")
    phones = _leads(container).blacklist_page(_line(container, policy, business_line), after[0] if after else None,
                                               limit + 1)
    items = phones[:limit]
    return {"items": policy.present_all(RESOURCE, [{"phone": p} for p in items]),
            "next_cursor": encode_cursor([items[-1]]) if len(phones) > limit else None}


@router.post("/settings/{business_line}/sensitive-words", response_model=CommandAccepted, responses=LINE_404,
             summary="Change the sensitive-word list (敏感词).")
def sensitive_words(business_line: str, body: WordList, request: Request, container: ContainerDep,
                    policy: RuleAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _line(container, policy, business_line))
    return accepted(_leads(container).change_sensitive_words(ctx, business_line, body.add, body.remove), response)


@router.get("/settings/{business_line}/sensitive-hits", dependencies=[READS], response_model=SensitiveHitPage,
            response_model_exclude_unset=True, responses=LINE_404,
            summary="Compliance: every outgoing text that hit a sensitive word (blocked or flagged).")
def sensitive_hits(business_line: str, container: ContainerDep, policy: RuleAdmin, before: Position | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    rows = container.lead_queries.sensitive_hits(_line(container, policy, business_line), before=before, limit=limit)
    return {"items": policy.present_all(RESOURCE, rows),
            "next_before": rows[-1]["position"] if len(rows) == limit else None}

