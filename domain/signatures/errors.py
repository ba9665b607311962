"""What a signing link or request refuses, typed so the HTTP layer maps each to one status: an
unknown link 404, a link that no longer works 410 (expired, revoked, replaced by a newer one), a
link already used 409, a typed name or consent that does not match 422."""
from __future__ import annotations

from domain.shared.errors import ConflictError, DomainError, NotFoundError, RuleViolationError


class SigningLinkUnknownError(NotFoundError):
    code = "signing_link_not_found"


class SigningLinkGoneError(DomainError):
    """The link existed but works no more (HTTP 410). ``code`` says why."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


class SigningLinkUsedError(ConflictError):
    code = "signing_link_used"


class SigningRequestClosedError(ConflictError):
    """Revoking or re-issuing a request that is signed, sealed, expired or revoked."""

    code = "signing_request_closed"


class SignerNameMismatchError(RuleViolationError):
    code = "signer_name_mismatch"


class ConsentOutdatedError(RuleViolationError):
    code = "consent_outdated"
