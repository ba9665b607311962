"""Working a lead: assign / transfer, follow-ups, calls, WeChat, SMS."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field

from application.leads.inputs import ScreenedBody
from domain.leads.lead import DepositIntent, Intent
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.routes.leads.common import (
    Assigner,
    OperatorRef,
    Worker,
    _leads,
    _visible,
    _worked,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class AssignBody(ScreenedBody):
    owner: OperatorRef
    department_id: UUID
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{lead_id}/assign", response_model=CommandAccepted,
             summary="Assign (手动分配) or transfer (转移) a lead to an employee, with a reason.",
             responses={404: {"description": "`not_found`: unknown lead (or outside your scope), department or "
                                             "employee (field `owner`)"},
                        422: {"description": "`assignee_unavailable` (field `owner`): the employee is disabled, "
                                             "outside the lead's business line or without a leads permission"}})
def assign(lead_id: UUID, body: AssignBody, request: Request, container: ContainerDep, policy: Assigner,
           expected: ExpectedVersion, response: Response) -> CommandAccepted:
    lead = _visible(container, policy, lead_id)
    policy.require_scope_covers([body.department_id])
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).assign(ctx, lead_id, body.owner, str(body.department_id), body.reason,
                                             expected_version=expected), response)



class FollowUpBody(ScreenedBody):
    content: str = Field("", max_length=2000)
    connected: bool | None = None
    next_at: datetime | None = None
    opening_intent: Intent | None = None
    deposit_intent: DepositIntent | None = None
    tags: list[Annotated[str, Field(max_length=30)]] = Field(default_factory=list, max_length=20)


class CallBody(ScreenedBody):
    started_at: datetime
    duration_seconds: int = Field(ge=0, le=86_400)
    connected: bool


class WechatBody(ScreenedBody):
    nickname: str | None = Field(None, max_length=100)


class SmsBody(ScreenedBody):
    content: str = Field(min_length=1, max_length=1000)
    template: str | None = Field(None, max_length=60)


@router.post("/{lead_id}/follow-ups", response_model=CommandAccepted, summary="Record a follow-up (跟进).")
def follow_up(lead_id: UUID, body: FollowUpBody, request: Request, container: ContainerDep, policy: Worker,
              response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).follow_up(ctx, lead_id, body.content, body.connected, body.next_at,
                                                body.opening_intent, body.deposit_intent, body.tags), response)


@router.post("/{lead_id}/calls", response_model=CommandAccepted, summary="Record an outbound call (外呼).")
def record_call(lead_id: UUID, body: CallBody, request: Request, container: ContainerDep, policy: Worker,
                response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).record_call(ctx, lead_id, body.started_at, body.duration_seconds,
                                                  body.connected), response)


@router.post("/{lead_id}/wechat", response_model=CommandAccepted, summary="Record that WeChat was added (加微).")
def add_wechat(lead_id: UUID, body: WechatBody, request: Request, container: ContainerDep, policy: Worker,
               response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).add_wechat(ctx, lead_id, body.nickname), response)


@router.post("/{lead_id}/sms", response_model=CommandAccepted,
             summary="Send an SMS: checked for sensitive words (blocked or flagged, always recorded).",
             responses={422: {"description": "`sensitive_content`: blocked; the hit is recorded"}})
def send_sms(lead_id: UUID, body: SmsBody, request: Request, container: ContainerDep, policy: Worker,
             response: Response) -> CommandAccepted:
    lead = _worked(container, policy, lead_id)
    ctx = policy.context(request.state.correlation_id, lead.business_line)
    return accepted(_leads(container).send_sms(ctx, lead_id, body.content, body.template), response)

