"""Documents seen two ways: per customer (按客户视角查看全息资料) and per business submission
(按业务维度查看 / 服务归档查询)."""
from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel

from interfaces.api.deps import ContainerDep
from interfaces.api.pagination import encode_cursor, typed_cursor
from interfaces.api.routes.archive.common import CUSTOMER_PATTERN, PREFIX, READS, RESOURCE, Reader
from interfaces.api.routes.archive.documents import DocumentPublic
from interfaces.api.schemas import FUND_ACCOUNT_PATTERN, Page

router = APIRouter(prefix=PREFIX, tags=["archive"])


class AccountDocuments(BaseModel):
    fund_account: str | None
    documents: list[DocumentPublic]


class CustomerDocuments(BaseModel):
    customer: str
    count: int
    customer_level: list[DocumentPublic]
    accounts: list[AccountDocuments]


class BusinessGroup(BaseModel):
    flow_instance: str | None
    business_type: str | None
    accounts: list[AccountDocuments]


class BusinessPage(Page):
    items: list[BusinessGroup]


@router.get("/customers/{customer}/documents", dependencies=[READS], response_model=CustomerDocuments,
            response_model_exclude_unset=True,
            summary="按客户视角查看全息资料: every document of a customer, account-level and customer-level, "
                    "each with its ordered versions and history.")
def by_customer(customer: Annotated[str, PathParam(pattern=CUSTOMER_PATTERN, description=(
                    "Customer number (or the fund account of a customer filed by it)"))],
                container: ContainerDep, policy: Reader,
                include_deleted: Annotated[bool, Query(description="Also list deleted documents")] = False,
                category: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
    rows = policy.present_all(RESOURCE, container.archive_queries.by_customer(
        policy.scope_params(), customer, include_deleted=include_deleted, category=category))
    accounts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("fund_account"):
            accounts.setdefault(row["fund_account"], []).append(row)
    return {"customer": customer, "count": len(rows),
            "customer_level": [r for r in rows if not r.get("fund_account")],
            "accounts": [{"fund_account": a, "documents": docs} for a, docs in sorted(accounts.items())]}


@router.get("/business", dependencies=[READS], response_model=BusinessPage, response_model_exclude_unset=True,
            responses={400: {"description": "`invalid_cursor`"}},
            summary="按业务维度查看 / 服务归档查询: documents of business submissions, per submission and account.")
def by_business(container: ContainerDep, policy: Reader,
                flow_instance: UUID | None = None,
                business_type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)] = None,
                fund_account: Annotated[str | None, Query(pattern=FUND_ACCOUNT_PATTERN, max_length=20, description=(
                    "6-20 ASCII digits"))] = None,
                cursor: Annotated[str | None, Query(max_length=400)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> BusinessPage:
    after = typed_cursor(cursor, "at!", "id")
    rows = container.archive_queries.by_business(policy.scope_params(), flow_instance=flow_instance,
                                                 business_type=business_type, fund_account=fund_account,
                                                 after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = policy.present_all(RESOURCE, rows[:limit])
    groups: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for row in rows:
        key = (str(row["flow_instance"]) if row["flow_instance"] else None, row["business_type"])
        group = groups.setdefault(key, {"flow_instance": key[0], "business_type": key[1], "accounts": {}})
        group["accounts"].setdefault(row.get("fund_account"), []).append(row)
    items = [{**g, "accounts": [{"fund_account": a, "documents": d} for a, d in g["accounts"].items()]}
             for g in groups.values()]
    last = rows[-1] if rows else None
    return BusinessPage(items=items, next_cursor=encode_cursor([last["uploaded_at"].isoformat(), str(last["id"])])
                        if more and last else None)
