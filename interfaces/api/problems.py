"""One error format for the whole API: RFC 9457 problem details (application/problem+json).

Every error names a machine-readable ``code`` and, where one field is at fault,
the ``field``. Domain errors are mapped to status codes here and nowhere else.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.shared.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    UnavailableError,
)
from infrastructure.engines.postgres import is_outage

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# What a route documents in ``responses=``: FastAPI's own type, so such constants merge into it.
Responses = dict[int | str, dict[str, Any]]

STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PermissionDeniedError, 403),
    (RuleViolationError, 422),
    (UnavailableError, 503),
    (DomainError, 400),
]

HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
              503: "unavailable", 504: "timeout"}


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API answers them."""

    type: str = Field(examples=["https://docs.ledgerflow.dev/problems/not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    code: str = Field(description="Machine-readable reason, e.g. `not_found`, `validation_failed`",
                      examples=["not_found"])
    detail: str
    field: str | None = Field(None, description="The request field at fault, when there is one")
    errors: list[dict[str, Any]] | None = Field(None, description="Every field error (validation)")
    request_id: str | None = None


# What each status means in this API, for the OpenAPI document.
STATUS_MEANING = {
    400: "Malformed request: a bad cursor, If-Match or parameter combination",
    401: "Missing, malformed, expired or revoked credentials (`WWW-Authenticate: Bearer`)",
    403: "You lack the permission this action needs, or the rule forbids you this act",
    404: "Does not exist, or lies outside your business lines or data scope",
    409: "Conflict: a stale `If-Match`, a concurrent change or a duplicate",
    413: "The request body is too large",
    415: "The body is not UTF-8 JSON (or an accepted file type)",
    422: "Validation failed; `field` and `errors` name what",
    429: "Too many attempts; retry after `Retry-After` seconds",
    503: "A database or read model is unavailable; retry after `Retry-After` seconds",
    504: "The read model did not reach `wait_for_position` in time",
}


class ApiProblem(Exception):
    """Raised by routes and dependencies for errors that are not domain errors."""

    def __init__(self, status: int, code: str, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.field, self.headers = status, code, detail, field, headers


def problem(request: Request | None, status: int, code: str, detail: str, *, field: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
            request_id: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://docs.ledgerflow.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    if request is not None and getattr(request.state, "request_id", None):
        body["request_id"] = request.state.request_id
    elif request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        status = next(s for cls, s in STATUS_BY_ERROR if isinstance(exc, cls))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": "1"} if status == 503 else None
        return problem(request, status, exc.code, exc.message, field=exc.field, headers=headers,
                       errors=getattr(exc, "errors", None))

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(request, exc.status, exc.code, exc.detail, field=exc.field, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _loc(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        return problem(request, 422, "validation_failed", f"{first['field']}: {first['message']}",
                       field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return problem(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


def unexpected_error(exc: Exception, request_id: str | None) -> tuple[int, JSONResponse]:
    """The answer to an exception no handler took (called by the middleware, which keeps the
    connection open: a re-raised error would make the server drop it). A database outage is
    a 503 without a traceback; anything else is logged once with its traceback."""
    if is_outage(exc):
        return 503, database_unavailable(request_id, exc)
    log.error("unhandled error (request %s)", request_id or "-", exc_info=exc)
    return 500, _problem_with_id(request_id, 500, "internal_error", "an unexpected error occurred; it has been logged")


def database_unavailable(request_id: str | None, exc: BaseException) -> JSONResponse:
    """An expected outage (ADR 0026): one log line, no traceback, and a 503 the client may retry."""
    log.info("database unavailable (request %s): %s", request_id or "-", type(exc).__name__)
    return _problem_with_id(request_id, 503, "database_unavailable", "the database is unavailable; retry shortly",
                            headers={"Retry-After": "2"})


def _problem_with_id(request_id: str | None, status: int, code: str, detail: str,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    return problem(None, status, code, detail, headers=headers, request_id=request_id)
