"""渠道1.0 bindings (phone -> account manager / IB / branch)."""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from application.leads.inputs import SafeStr
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.leads.common import (
    RuleAdmin,
    _leads,
)
from interfaces.api.routes.leads.schemas import (
    PerRowOutcome,
)

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class BindingImport(BaseModel):  # rows are checked one by one (per-row results)
    source: SafeStr = Field("渠道1.0", min_length=1, max_length=60)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=5000, description=(
        "{phone, kind: account_manager|ib|branch, holder, department_id?, bound_at?}"))


@router.post("/bindings", response_model=PerRowOutcome, response_model_exclude_unset=True,
             summary="Import 渠道1.0 bindings (phone -> account manager / IB / branch).")
def import_bindings(body: BindingImport, request: Request, container: ContainerDep,
                    policy: RuleAdmin) -> dict[str, Any]:
    # A binding is firm-wide (one per phone, it filters intake in every business line): only an
    # administrator of every line and department may change them.
    if policy.principal.business_lines is not None or policy.principal.departments is not None:
        raise PermissionDeniedError("importing 渠道1.0 bindings needs a scope over every business line and "
                                    "department (bindings apply firm-wide)")
    results = _leads(container).import_bindings(policy.context(request.state.correlation_id), body.rows,
                                                body.source)
    return {"results": results, "accepted": sum(r["status"] == "accepted" for r in results)}

