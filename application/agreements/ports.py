"""What the agreements context uses of other contexts, as ports (the composition root gives the
FormsApplication and the ArchiveApplication)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO, Protocol
from uuid import UUID

from application.archive.documents import Uploaded
from application.archive.filing import Filing
from domain.archive.document import Document
from domain.forms.business_type import BusinessType
from domain.shared.context import CommandContext


class Forms(Protocol):
    def current_business_type(self, code: str) -> BusinessType: ...


class Archive(Protocol):
    """The archive's upload command and content reads (application/archive/documents.py)."""

    def upload(self, ctx: CommandContext, content: Iterable[bytes], /, *, filename: str, declared_type: str | None,
               filing: Filing, metadata: dict[str, Any] | None = None, source: str = "upload") -> Uploaded: ...

    def document(self, document_id: UUID, expected_version: int | None = None) -> Document: ...

    def content(self, document: Document, number: int | None = None) -> tuple[dict[str, Any], BinaryIO]: ...
