"""Customers (客户) by fund account, as the caller may see them: fills a form's customer field."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from domain.shared.errors import NotFoundError
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.forms.common import CATALOGUE_READS, PREFIX, CustomerViewer

router = APIRouter(prefix=PREFIX, tags=["forms"])
CUSTOMER = "forms.customer"


class CustomerPublic(BaseModel):
    """A customer as you may see it: fields hidden by a field rule are absent, masked ones masked."""

    fund_account: str
    name: str | None = None
    subject: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    phone: str | None = None
    department_id: UUID | None = None
    account_manager: str | None = None
    opened_on: str | None = None
    status: str | None = None
    risk_level: str | None = None
    updated_at: datetime | None = None


@router.get("/customers/{fund_account}", dependencies=[CATALOGUE_READS],
            response_model=CustomerPublic, response_model_exclude_unset=True,
            responses={404: {"description": "No such customer in your data scope"}},
            summary="Look a customer up by fund account (fills the customer field of a form).")
def customer(fund_account: str, container: ContainerDep, policy: CustomerViewer) -> dict[str, Any]:
    row = container.forms_queries.customer(fund_account)
    if row is None or not policy.sees(department_id=row["department_id"], investor_account=fund_account):
        raise NotFoundError(f"customer {fund_account} does not exist")
    return policy.present(CUSTOMER, row)
