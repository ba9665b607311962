"""What the signatures context takes from outside, as ports given at composition, and the small
values its use cases hand back."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol
from uuid import UUID

from application.shared.base import CommandResult
from domain.archive.document import Document

# (flow request id, "done" | "failed", result): the flow's complete_system_task, given by the lead.
OnComplete = Callable[[str, str, dict[str, Any]], None]
Clock = Callable[[], datetime]

PUBLIC_PREFIX = "/api/v1/sign"


class ArchiveDocuments(Protocol):
    """The archive context's public interface, as far as signing uses it."""

    def document(self, document_id: UUID, expected_version: int | None = None) -> Document: ...

    def content(self, document: Document, number: int | None = None) -> tuple[dict[str, Any], BinaryIO]: ...

    @property
    def upload(self) -> Callable[..., Any]:
        """``upload(ctx, content, *, filename, declared_type, filing, metadata, source) -> Uploaded`` (a command)."""
        ...


class SigningReads(Protocol):
    """The signing-requests read model (projections/signatures)."""

    def due(self, now: datetime, limit: int = 500) -> list[UUID]: ...

    def by_sealed_sha256(self, sha256: str) -> dict[str, Any] | None: ...


class NoReads:
    def due(self, now: datetime, limit: int = 500) -> list[UUID]:
        return []

    def by_sealed_sha256(self, sha256: str) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True)
class Client:
    """Who opened or used a link, as the HTTP layer saw them."""

    ip: str
    user_agent: str


@dataclass(frozen=True)
class IssuedLink:
    """A signing link, known only now: only its hash is kept. ``path`` is the public endpoint,
    ``url`` the same under the firm's public base address."""

    request_id: UUID
    token: str
    path: str
    url: str
    expires_at: datetime
    result: CommandResult


@dataclass(frozen=True)
class Signer:
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SignedOutcome:
    request_id: UUID
    status: str                  # "sealed", or "signed" when sealing must be retried
    signed_at: datetime
    signed_document_id: UUID | None = None
    sha256: str | None = None
