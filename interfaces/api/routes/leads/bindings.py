"""渠道1.0 bindings (phone -> account manager / IB / branch)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from application.access.policy import Policy
from application.leads.inputs import SafeStr, ScreenedBody
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    RuleAdmin,
    _leads,
)
from interfaces.api.routes.leads.schemas import (
    PerRowOutcome,
)
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class BindingImport(BaseModel):  # rows are checked one by one (per-row results)
    source: SafeStr = Field("渠道1.0", min_length=1, max_length=60)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=5000, description=(
        "{phone, kind: account_manager|ib|branch, holder, department_id?, bound_at?}"))


class Unbinding(ScreenedBody):
    reason: str = Field(min_length=1, max_length=500, examples=["客户解除与客户经理的绑定"])


def _require_firm_wide(policy: Policy, what: str) -> None:
    """A binding is firm-wide (one per phone, it filters intake in every business line): only an
    administrator of every line and department may change them."""
    if policy.principal.business_lines is not None or policy.principal.departments is not None:
        raise PermissionDeniedError(f"{what} needs a scope over every business line and department "
                                    "(bindings apply firm-wide)")


@router.post("/bindings", response_model=PerRowOutcome, response_model_exclude_unset=True,
             summary="Import 渠道1.0 bindings (phone -> account manager / IB / branch).")
def import_bindings(body: BindingImport, request: Request, container: ContainerDep,
                    policy: RuleAdmin) -> dict[str, Any]:
    _require_firm_wide(policy, "importing 渠道1.0 bindings")
    results = _leads(container).import_bindings(policy.context(request.state.correlation_id), body.rows,
                                                body.source)
    return {"results": results, "accepted": sum(r["status"] == "accepted" for r in results)}



@router.post("/bindings/{phone}/unbind", response_model=CommandAccepted,
             responses={404: {"description": "`not_found` (field `phone`): the phone was never bound"},
                        422: {"description": "`invalid_phone` or `rule_violation` (field `phone`): not a mainland "
                                             "mobile, or the binding was removed before"}},
             summary="Remove the 渠道1.0 binding of a phone (recorded with the reason; firm-wide scope).")
def unbind(phone: Annotated[str, Path(max_length=32)], body: Unbinding, request: Request, container: ContainerDep,
           policy: RuleAdmin, response: Response) -> CommandAccepted:
    _require_firm_wide(policy, "removing a 渠道1.0 binding")
    return accepted(_leads(container).unbind(policy.context(request.state.correlation_id), phone, body.reason),
                    response)
