"""Schemas shared by several routers."""
from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path, Response
from pydantic import BaseModel, Field

from application.shared.base import CommandResult


class CommandAccepted(BaseModel):
    """What every command answers. Pass ``position`` as ``wait_for_position`` to a read
    endpoint to read your own write; send ``version`` back as ``If-Match``."""

    id: UUID
    version: int = Field(examples=[2])
    position: int = Field(description="Event position of the last event this command stored.", examples=[1042])


def accepted(result: CommandResult, response: Response) -> CommandAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    response.headers["X-Event-Position"] = str(result.position)
    return CommandAccepted(id=result.id, version=result.version, position=result.position)


class Page(BaseModel):
    next_cursor: str | None = Field(None, description="Pass as `cursor` to fetch the next page; null at the end.")


# Identifiers are ASCII digits only: a regex's \d also matches full-width and Arabic-Indic
# digits, which would file a record under an account that does not exist.
FUND_ACCOUNT_PATTERN = r"^[0-9]{6,20}$"
FundAccount = Annotated[str, Field(pattern=FUND_ACCOUNT_PATTERN, examples=["88005678"],
                                   description="Fund account: 6-20 ASCII digits")]

# Version numbers and aggregate versions are PostgreSQL integers: bounded before any query.
MAX_VERSION = 2_147_483_647
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A published version number")]
