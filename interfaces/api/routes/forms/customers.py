"""Customers (客户) by fund account, as the caller may see them: fills a form's customer field.
Live from the account-opening system when one is configured, else the synced copy (ADR 0019)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from domain.shared.errors import NotFoundError
from domain.shared.ids import CUSTOMER_ACCOUNT
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
    updated_at: datetime | None = Field(None, description="When the synced copy last changed (copy answers).")
    source: Literal["live", "copy"] = Field(
        description="live: from the account-opening system now (or its answer of the last few seconds); copy: "
                    "from the synced copy (`ledgerflow customers sync`).")
    stale: bool = Field(description="True when the account-opening system should have answered but could not: "
                                    "the copy may lag behind it. False for live answers, and for the copy when no "
                                    "live system is configured (the copy is then the source).")
    fetched_at: datetime | None = Field(None, description="When the live answer was fetched; null for the copy.")


AccountPath = Annotated[str, Path(pattern=f"^{CUSTOMER_ACCOUNT.pattern}$", examples=["88005678"],
                                  description="1-32 ASCII letters or digits.")]


@router.get("/customers/{fund_account}", dependencies=[CATALOGUE_READS],
            response_model=CustomerPublic, response_model_exclude_unset=True,
            responses={404: {"description": "No such customer in your data scope (the account-opening system "
                                             "says it has none, or it cannot answer and the copy has none)"},
                       422: {"description": "Not a fund account (1-32 ASCII letters or digits)."}},
            summary="Look a customer up by fund account (fills the customer field of a form): live from the "
                    "account-opening system, or the synced copy with `stale` when it cannot answer.")
def customer(fund_account: AccountPath, container: ContainerDep, policy: CustomerViewer) -> dict[str, Any]:
    found = container.forms.customer(fund_account)
    # The data scope and field rules hold for live rows as for the copy: the same row shape.
    if found is None or not policy.sees(department_id=found.row["department_id"], investor_account=fund_account):
        raise NotFoundError(f"customer {fund_account} does not exist")
    return {**policy.present(CUSTOMER, found.row), "source": found.source, "stale": found.stale,
            "fetched_at": found.fetched_at}
