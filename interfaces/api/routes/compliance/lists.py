"""Screening lists: upload a list file as the next version of its kind, and the loads so far."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from application.access.policy import Policy
from domain.compliance.lists import ListKind
from interfaces.api.deps import Acting, ContainerDep, consistent_with, requires
from interfaces.api.pagination import INVALID_CURSOR, encode_cursor, typed_cursor
from interfaces.api.problems import ApiProblem, Responses
from interfaces.api.schemas import Page

PREFIX = "/api/v1/compliance"
MAX_LIST_BYTES = 16 * 1024 * 1024
router = APIRouter(prefix=PREFIX, tags=["compliance"])
Manager = Annotated[Policy, Depends(requires("compliance.lists.manage"))]


class ListLoadPublic(BaseModel):
    kind: ListKind
    version: int = Field(description="The list's version after this load (1, 2, ...)")
    entry_count: int
    entries_hash: str = Field(description="SHA-256 of the entries (canonical JSON, by entry id)")
    changed: bool = Field(description="false: the file held the current version's entries; no version was added")
    position: int = Field(description="Event position to pass as wait_for_position")


class ListLoadRow(BaseModel):
    kind: ListKind
    version: int
    entry_count: int
    entries_hash: str
    source_filename: str
    loaded_by: str
    loaded_at: datetime


class ListLoadPage(Page):
    items: list[ListLoadRow]


LOAD_ERRORS: Responses = {
    413: {"description": "`payload_too_large`: the file exceeds 16 MiB (load larger lists with the CLI)."},
    409: {"description": "`concurrent_modification`: another load of this list was recorded at the same time."},
    422: {"description": "`invalid_list_file`: not CSV/JSON, not UTF-8, unknown or missing columns, no entries, "
                         "or invalid entries (each named in `errors`)."},
}


@router.post("/lists/{kind}/loads", status_code=201, response_model=ListLoadPublic, responses=LOAD_ERRORS,
             summary="Load a screening list file (CSV or JSON) as the next version of the list.")
async def load_list(kind: ListKind, container: ContainerDep, _: Manager, ctx: Acting, response: Response,
                    file: Annotated[UploadFile, File(description="CSV (entry_id, name, aliases, id_type, id_number, "
                                                                 "birth_date, remarks) or JSON")]) -> ListLoadPublic:
    content = await file.read(MAX_LIST_BYTES + 1)
    if len(content) > MAX_LIST_BYTES:
        raise ApiProblem(413, "payload_too_large", f"a list file is at most {MAX_LIST_BYTES} bytes", field="file")
    filename = (file.filename or "upload")[:200]
    load = await run_in_threadpool(container.compliance.load_list, ctx, kind, filename, content, file.content_type)
    response.headers["X-Event-Position"] = str(load.result.position)
    return ListLoadPublic(kind=kind, version=load.version, entry_count=load.entry_count,
                          entries_hash=load.entries_hash, changed=load.changed, position=load.result.position)


@router.get("/lists/loads", response_model=ListLoadPage, responses=INVALID_CURSOR,
            dependencies=[Depends(consistent_with("compliance.screenings"))],
            summary="Every load of the screening lists, newest first, keyset-paginated.")
def list_loads(container: ContainerDep, _: Manager, kind: ListKind | None = None,
               cursor: Annotated[str | None, Query(max_length=1024)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ListLoadPage:
    after = typed_cursor(cursor, "at!", "text", "int")
    rows = container.compliance_queries.list_loads(kind, (after[0], after[1], after[2]) if after else None,
                                                   limit + 1)
    items = [ListLoadRow.model_validate(r) for r in rows[:limit]]
    last = items[-1] if items else None
    return ListLoadPage(items=items, next_cursor=encode_cursor([last.loaded_at.isoformat(), last.kind, last.version])
                        if last and len(rows) > limit else None)
