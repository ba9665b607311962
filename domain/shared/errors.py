"""Typed domain errors. The HTTP layer maps each family to one status code in one place."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a command or query may raise on purpose."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    code = "not_found"


class RuleViolationError(DomainError):
    """The command is well-formed but breaks a business rule (HTTP 422)."""

    code = "rule_violation"


class ConflictError(DomainError):
    """The command raced another writer or named a stale version (HTTP 409)."""

    code = "conflict"


class ConcurrencyConflictError(ConflictError):
    code = "concurrent_modification"


class StaleVersionError(ConflictError):
    code = "stale_version"


class PermissionDeniedError(DomainError):
    code = "forbidden"


class AlreadyExistsError(ConflictError):
    code = "already_exists"


class AuthenticationError(DomainError):
    """Credentials are wrong, expired, revoked or locked (HTTP 401)."""

    code = "unauthenticated"

    def __init__(self, message: str, *, code: str = "unauthenticated", field: str | None = None):
        super().__init__(message, field=field)
        self.code = code


class InvalidInputError(RuleViolationError):
    """Several field-level problems at once (a form submission, a form schema): HTTP 422 with
    one entry per field in ``errors``."""

    code = "invalid_input"

    def __init__(self, message: str, errors: list[dict[str, Any]], *, code: str = "invalid_input"):
        super().__init__(message, field=errors[0].get("path") if errors else None)
        self.errors = errors
        self.code = code


class UnstorableValueError(RuleViolationError):
    """A value no store or read model can hold (NUL, a lone surrogate, a number beyond 64 bits,
    nesting too deep): refused before the event is stored, so no projection ever meets it."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field)
        self.code = "unstorable_value"


class UnavailableError(DomainError):
    """Something this answer depends on is temporarily unavailable (HTTP 503, retry later)."""

    def __init__(self, message: str, *, code: str = "unavailable", field: str | None = None):
        super().__init__(message, field=field)
        self.code = code
