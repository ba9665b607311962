"""Data sources (数据源) for form fields: static options, customer lookup, or a checked SELECT."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from interfaces.api.deps import ContainerDep
from interfaces.api.routes.forms.common import CATALOGUE_READS, PREFIX, Code, SourceAdmin, SourceUser
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix=PREFIX, tags=["forms"])


class DataSourceCreate(BaseModel):
    key: Code
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(static|customer|sql)$")
    config: dict[str, Any] = Field(default_factory=dict, examples=[{
        "sql": "SELECT fund_account, name FROM forms_customers WHERE account_manager = :manager",
        "timeout_ms": 500, "row_limit": 100, "cache_seconds": 60}])


class DataSourceQuery(BaseModel):
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class DataSourcePublic(BaseModel):
    key: str
    name: str
    kind: str
    config: dict[str, Any] = Field(description="Per kind (see docs/forms.md); for sql also the column map and"
                                                " scope columns found at definition")
    version: int


class DataSourceRows(BaseModel):
    rows: list[dict[str, Any]] = Field(description="One object per row, keyed by the query's output columns; "
                                                   "customer rows within your data scope and field rules")
    cached: bool = Field(description="Whether the rows came from the cache")


@router.post("/data-sources", status_code=201, response_model=CommandAccepted,
             responses={409: {"description": "A data source with this key exists"},
                        422: {"description": "`rule_violation` on `config.sql`: unsafe SQL, or customer rows "
                                             "that cannot be scoped (see docs/forms.md)"}},
             summary="Define a data source: static options, customer lookup, or a checked SELECT.")
def define_data_source(body: DataSourceCreate, request: Request, container: ContainerDep, policy: SourceAdmin,
                       response: Response) -> CommandAccepted:
    ctx = policy.context(request.state.correlation_id)
    return accepted(container.forms.define_data_source(ctx, body.key, body.name, body.kind, body.config), response)


@router.get("/data-sources", dependencies=[CATALOGUE_READS],
            response_model=list[DataSourcePublic], summary="Every data source.")
def list_data_sources(container: ContainerDep, _: SourceAdmin) -> list[dict[str, Any]]:
    return container.forms_queries.data_sources()


@router.post("/data-sources/{key}/query", response_model=DataSourceRows,
             responses={404: {"description": "No such data source"},
                        422: {"description": "`rule_violation`: missing parameters, timeout, row or size limit, "
                                             "or the database refused the query; `data_source_uses_hidden_field`: "
                                             "the query uses a field hidden or masked for you in a condition, "
                                             "join, ordering or subquery"}},
             summary="Run a data source with parameters (cached per its TTL); customer rows within your data "
                     "scope and field rules.")
def query_data_source(key: str, body: DataSourceQuery, container: ContainerDep, policy: SourceUser) -> DataSourceRows:
    return DataSourceRows(**container.forms.query_data_source_for(policy, key, body.params))
