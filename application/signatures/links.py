"""Signing links, the signer's side (no login: the link is the credential). A link opens its
request while the request is pending: viewing may be repeated until it is signed or expires,
signing happens once. Expiry is applied lazily here, on access, as well as by ``expire_due``."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from application.shared.base import CommandResult, Loader
from application.shared.tokens import token_hash
from application.signatures.ports import ArchiveDocuments, Client, Clock, SignedOutcome
from domain.archive.content import read_chunks
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import ConcurrencyConflictError, NotFoundError
from domain.signatures.errors import SigningLinkGoneError, SigningLinkUnknownError
from domain.signatures.request import SigningLink, SigningRequest, link_id

# secrets.token_urlsafe(32) is 43 characters; anything far from that is no link of ours.
TOKEN_LENGTHS = range(32, 129)


def signer_context(request: SigningRequest, correlation_id: str) -> CommandContext:
    """The signer has no account: events name the request they acted through."""
    return CommandContext(actor=f"signer:{request.id}", correlation_id=correlation_id)


def clean_client(client: Client) -> Client:
    """Client details as stored: bounded, and only storable text (a user agent is anyone's input:
    a lone surrogate or a NUL could never be stored)."""
    def storable(value: str, limit: int) -> str:
        return value[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "")

    return Client(storable(client.ip, 64), storable(client.user_agent, 300))


class PublicSigning:
    # Given at composition:
    archive: ArchiveDocuments
    clock: Clock
    # From the host (LedgerApplication, SigningRequests, Sealing):
    load: Loader
    save_one: Callable[[Any], CommandResult]
    signing_request: Callable[[UUID], SigningRequest]
    expire_if_due: Callable[[SigningRequest, datetime, CommandContext], bool]
    seal_signed: Callable[[SigningRequest, str], SignedOutcome]

    def open_link(self, token: str, correlation_id: str) -> SigningRequest:
        """The pending request behind a link, or why not: unknown (404), expired, revoked or
        replaced (410), already used (409)."""
        if not isinstance(token, str) or len(token) not in TOKEN_LENGTHS or not token.isascii():
            raise SigningLinkUnknownError("no such signing link")
        digest = token_hash(token)
        try:
            link = self.load(link_id(digest), SigningLink)
        except NotFoundError:
            raise SigningLinkUnknownError("no such signing link") from None
        request = self.signing_request(link.request_id)
        now = self.clock()
        if request.is_due(now):
            self.expire_if_due(request, now, signer_context(request, correlation_id))
            if request.is_due(now):  # lost a race to whoever expired or signed it: read again
                request = self.signing_request(link.request_id)
        request.require_link(digest)
        return request

    def view_link(self, token: str, client: Client, correlation_id: str) -> SigningRequest:
        request = self.open_link(token, correlation_id)
        client = clean_client(client)
        with acting_as(signer_context(request, correlation_id)):
            if request.view(client.ip, client.user_agent):
                with contextlib.suppress(ConcurrencyConflictError):   # a view is a trace: a parallel change wins
                    self.save_one(request)
        return request

    def link_document(self, token: str, client: Client, correlation_id: str) -> tuple[SigningRequest, bytes]:
        """The PDF the signer is asked to sign: the version the request was made for."""
        request = self.view_link(token, client, correlation_id)
        return request, self.requested_pdf(request)

    def requested_pdf(self, request: SigningRequest) -> bytes:
        document = self.archive.document(request.document_id)
        number = next((v["number"] for v in document.versions if v["sha256"] == request.document_sha256), None)
        if number is None:
            raise SigningLinkGoneError("the agreement behind this link is no longer available",
                                       code="signing_document_gone")
        try:
            _, stream = self.archive.content(document, number)
        except NotFoundError:
            raise SigningLinkGoneError("the agreement behind this link is no longer available",
                                       code="signing_document_gone") from None
        with stream:
            return b"".join(read_chunks(stream))

    def sign_with_link(self, token: str, *, signer_name: str, consent_version: str, client: Client,
                       correlation_id: str) -> SignedOutcome:
        """Record the signer's consent, then seal. The consent is saved first, on its own: a seal
        that fails leaves the signature recorded and the sealing to retry (``complete_seal``).
        Two signings at once: one wins, the other is a concurrency conflict (409)."""
        request = self.open_link(token, correlation_id)
        client = clean_client(client)
        with acting_as(signer_context(request, correlation_id)):
            request.sign(signer_name, consent_version, self.clock(), client.ip, client.user_agent)
            self.save_one(request)
        return self.seal_signed(request, correlation_id)
