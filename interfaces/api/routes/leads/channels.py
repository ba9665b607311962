"""Channels (渠道): create, edit, list, intake tokens, landing pages."""

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field

from application.leads.inputs import ScreenedBody
from domain.leads.channel import ChannelType
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.routes.leads.common import (
    LINE_404,
    READS,
    ChannelAdmin,
    ChannelViewer,
    Code,
    Line,
    _channel_line,
    _leads,
    _line,
)
from interfaces.api.routes.leads.schemas import (
    ChannelPublic,
    TokenIssued,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


# -- channels -----------------------------------------------------------------------------------
class ChannelCreate(ScreenedBody):
    code: Code = Field(examples=["ths-futures-tab"])
    name: str = Field(min_length=1, max_length=100, examples=["[手炒开户]期货交易tab"])
    channel_type: ChannelType = Field(examples=["tonghuashun"])
    promotion_type: str = Field(min_length=1, max_length=60, examples=["同花顺"])
    business_line: Line
    department_id: UUID = Field(description="The department whose pool receives the channel's leads")


class ChannelUpdate(ScreenedBody):
    name: str = Field(min_length=1, max_length=100)
    channel_type: ChannelType
    promotion_type: str = Field(min_length=1, max_length=60)
    department_id: UUID
    enabled: bool = True


class WecomConfig(ScreenedBody):
    enabled: bool = False
    button_name: str = Field("获取专属服务", max_length=30)
    mode: Literal["acquisition_assistant", "customer_service"] = "acquisition_assistant"
    qr_url: str | None = Field(None, max_length=500)


class RedirectConfig(ScreenedBody):
    enabled: bool = False
    button_name: str = Field("下载APP", max_length=30)
    url: str | None = Field(None, max_length=500)
    app_market_url: str | None = Field(None, max_length=500)
    android_url: str | None = Field(None, max_length=500)
    ios_url: str | None = Field(None, max_length=500)


class CallbackConfig(ScreenedBody):
    enabled: bool = False
    url: str | None = Field(None, max_length=500)
    param_name: str | None = Field(None, max_length=60)
    param_description: str | None = Field(None, max_length=200)


class PageField(ScreenedBody):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = Field(max_length=60)
    required: bool = False


class LandingPage(ScreenedBody):
    title: str = Field(min_length=1, max_length=100)
    design_url: str | None = Field(None, max_length=500, description="The uploaded design image")
    fields: list[PageField] = Field(default_factory=list, max_length=20)
    sms_verification: bool = True
    privacy_consent_required: bool = True
    privacy_text: str = Field("", max_length=5000)
    submit_button: dict[str, str] = Field(default_factory=lambda: {"name": "提交", "color": "#e4393c"})
    wecom: WecomConfig = Field(default_factory=WecomConfig)
    redirect: RedirectConfig = Field(default_factory=RedirectConfig)
    sync_app_phone: bool = False
    status_callback: CallbackConfig = Field(default_factory=CallbackConfig)
    enabled: bool = True



@router.post("/channels", status_code=201, response_model=CommandAccepted, responses=LINE_404,
             summary="Create a channel (渠道).")
def create_channel(body: ChannelCreate, request: Request, container: ContainerDep, policy: ChannelAdmin,
                   response: Response) -> CommandAccepted:
    _line(container, policy, body.business_line)
    ctx = policy.context(request.state.correlation_id, body.business_line)
    return accepted(_leads(container).create_channel(ctx, body.code, body.name, body.channel_type,
                                                     body.promotion_type, body.business_line,
                                                     str(body.department_id)), response)


@router.put("/channels/{code}", response_model=CommandAccepted, summary="Edit a channel (If-Match).")
def update_channel(code: str, body: ChannelUpdate, request: Request, container: ContainerDep,
                   policy: ChannelAdmin, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    return accepted(_leads(container).update_channel(ctx, code, body.name, body.channel_type, body.promotion_type,
                                                     str(body.department_id), body.enabled, expected), response)


@router.get("/channels", dependencies=[READS], response_model=list[ChannelPublic],
            summary="Channels of your business lines.")
def list_channels(container: ContainerDep, policy: ChannelViewer) -> list[dict[str, Any]]:
    return container.lead_queries.channels(policy.scope_params())


@router.post("/channels/{code}/token", response_model=TokenIssued, responses={404: {"description": "unknown channel"}},
             summary="Issue the channel's intake token (shown once; the old one stops).")
def issue_token(code: str, request: Request, container: ContainerDep, policy: ChannelAdmin,
                response: Response) -> dict[str, Any]:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    result, token = _leads(container).issue_token(ctx, code)
    response.headers["Cache-Control"] = "no-store"
    return {**accepted(result, response).model_dump(mode="json"), "token": token}


@router.put("/channels/{code}/landing-pages/{key}", response_model=CommandAccepted,
            summary="Configure a landing page of the channel (fields, consent, WeCom, redirect, callback).")
def configure_landing_page(code: str, key: Code, body: LandingPage, request: Request, container: ContainerDep,
                           policy: ChannelAdmin, response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id, _channel_line(container, policy, code))
    return accepted(_leads(container).configure_landing_page(ctx, code, key, body.model_dump(mode="json")),
                    response)

