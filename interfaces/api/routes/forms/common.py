"""Shared pieces of the forms routes: permissions, the business-type lookup for commands."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import Field

from application.access.policy import Policy
from interfaces.api.deps import consistent_with, requires
from interfaces.bootstrap import Container

PREFIX = "/api/v1/forms"
CATALOGUE_READS = Depends(consistent_with("forms.catalogue"))
RECORD_READS = Depends(consistent_with("forms.records"))
Viewer = Annotated[Policy, Depends(requires("forms.business_types.view"))]
Designer = Annotated[Policy, Depends(requires("forms.business_types.manage"))]
SourceAdmin = Annotated[Policy, Depends(requires("forms.data_sources.manage"))]
SourceUser = Annotated[Policy, Depends(requires("forms.data_sources.query"))]
RecordViewer = Annotated[Policy, Depends(requires("forms.records.view"))]
RecordEditor = Annotated[Policy, Depends(requires("forms.records.edit"))]
CustomerViewer = Annotated[Policy, Depends(requires("forms.customers.view"))]
Code = Annotated[str, Field(min_length=2, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]


def _business_type_line(container: Container, policy: Policy, code: str) -> str:
    """For commands: the aggregate itself, so a command right after creating the business type
    never trips over a read model that has not caught up yet."""
    line = container.forms.business_type(code).business_line
    policy.require_line(f"business type {code!r}", line)
    return line
