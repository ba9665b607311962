"""Shared pieces of the archive routes: permissions, patterns, scope and download helpers."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends, UploadFile
from pydantic import Field

from application.access.policy import Policy
from application.archive.filing import Filing
from domain.archive.document import Document
from interfaces.api.deps import consistent_with, requires
from interfaces.api.problems import Responses
from interfaces.bootstrap import Container

PREFIX = "/api/v1/archive"
DOCS = ("archive.documents",)
READS = Depends(consistent_with(*DOCS))
Reader = Annotated[Policy, Depends(requires("archive.documents.read"))]
Uploader = Annotated[Policy, Depends(requires("archive.documents.upload"))]
Manager = Annotated[Policy, Depends(requires("archive.documents.manage"))]
Exporter = Annotated[Policy, Depends(requires("archive.documents.export"))]
Syncer = Annotated[Policy, Depends(requires("archive.sync"))]
Mounter = Annotated[Policy, Depends(requires("archive.mount"))]
RESOURCE = "archive.document"
Code = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")]
# Customer numbers: ASCII letters, digits, _ and - (domain.archive.rules.IDENTIFIER); fund
# accounts: ASCII digits only (a regex's \d would take full-width and Arabic-Indic digits).
CUSTOMER_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
NOT_FOUND: Responses = {404: {"description": "`not_found`: unknown, or outside your scope"}}


def _document(container: Container, policy: Policy, document_id: UUID, expected: int | None = None) -> Document:
    document = container.archive.document(document_id, expected)
    policy.require_scoped(f"document {document_id}", document)
    return document


def _disposition(kind: str, filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _in_scope(policy: Policy) -> Callable[[Filing], bool]:
    """Per-row scope check for bulk intake (mount, sync)."""
    return lambda filing: policy.sees(business_line=filing.business_line, department_id=filing.department_id,
                                      investor_account=filing.fund_account)


@contextmanager
def _saved_zip(container: Container, upload: UploadFile) -> Iterator[Path]:
    """The uploaded zip on local disk (zipfile needs seeking); removed afterwards."""
    staging = container.settings.data_dir / "blobs" / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging, prefix="bulk-", suffix=".zip", delete=False) as out:
        path = Path(out.name)
    try:
        with path.open("wb") as dst:
            shutil.copyfileobj(upload.file, dst)
        yield path
    finally:
        path.unlink(missing_ok=True)
