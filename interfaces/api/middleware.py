"""ASGI middleware: request/correlation ids, body size limit, the text boundary, security
headers, one access-log line per request, request metrics, and the last word on errors."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.api.boundary import Refusal, check_json_body, check_media_type, is_json, media_type
from interfaces.api.problems import problem, unexpected_error

access_log = logging.getLogger("ledgerflow.access")

_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(Exception):
    pass


# Headers every answer carries (ASVS V14.4). A route may set its own (archive content sets a
# sandboxing CSP), which is kept. The API serves JSON only, so nothing may run or frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The interactive docs load Swagger UI / ReDoc from their CDN.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "font-src https://fonts.gstatic.com; "
            "connect-src 'self'; worker-src blob:; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


class RequestContextMiddleware:
    """Gives every request an id, a correlation id (taken from the caller when well-formed),
    a bounded and canonically decoded body, security headers, an access-log line and a
    latency observation; turns an unexpected error into a problem answer without dropping
    the keep-alive connection."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Any,
                 large_bodies: tuple[tuple[re.Pattern[str], int], ...] = (),
                 authenticated: Callable[[str], bool] | None = None, hsts_seconds: int = 0):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # (path pattern, body limit) for routes that take files (archive uploads, lead imports),
        # checked in order; everything else keeps the small JSON limit.
        self.large_bodies = large_bodies
        # Whether a bearer token resolves to a principal. The raised upload limits are granted
        # only to authenticated requests: form bodies are spooled to disk before any route
        # dependency (authentication) runs, so an anonymous client must not push gigabytes.
        self.authenticated = authenticated
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds > 0 else None

    async def _limit(self, path: str, headers: dict[str, str]) -> int:
        limit = next((limit for pattern, limit in self.large_bodies if pattern.match(path)), None)
        if limit is None or limit <= self.max_body_bytes:
            return self.max_body_bytes
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or self.authenticated is None:
            return self.max_body_bytes
        if not await run_in_threadpool(self.authenticated, token.strip()):
            return self.max_body_bytes
        return limit

    def _security_headers(self, path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        present = {k.lower() for k, _ in headers}
        wanted = [
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", (DOCS_CSP if path.startswith(DOCS_PATHS) else API_CSP).encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            # Answers carry personal data and tokens: no shared or browser cache keeps them.
            (b"cache-control", b"no-store"),
        ]
        if self.hsts:
            wanted.append((b"strict-transport-security", self.hsts))
        return [h for h in headers if h[0].lower() != b"server"] + [h for h in wanted if h[0] not in present]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = uuid.uuid4().hex
        correlation_id = headers.get("x-correlation-id", "")
        if not _ID.match(correlation_id):
            correlation_id = request_id
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        path = scope.get("path", "")

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message["headers"] = self._security_headers(path, list(message.get("headers", []))) + [
                    (b"x-request-id", request_id.encode()), (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            await self._handle(scope, receive, send_with_ids, headers, status_holder)
        except Exception as exc:  # the last word: answer, log, keep the connection
            if status_holder["started"]:
                raise
            status, response = unexpected_error(exc, request_id)
            await response(scope, receive, send_with_ids)
            status_holder["status"] = status
        finally:
            self._observe(scope, status_holder["status"], started)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                      status_holder: dict) -> None:
        # Headers that decide how the body is read must be unambiguous: this layer and the
        # framework would otherwise read different ones (the last vs the first).
        names = [k.lower() for k, _ in scope["headers"]]
        repeated = [n.decode("latin-1") for n in (b"content-type", b"content-length", b"transfer-encoding")
                    if names.count(n) > 1]
        if repeated:
            await self._refuse(scope, receive, send, Refusal(400, "ambiguous_headers",
                                                             f"header {repeated[0]} appears more than once"))
            return
        max_body_bytes = await self._limit(scope.get("path", ""), headers)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 15 or int(declared) > max_body_bytes):
            await self._refuse(scope, receive, send, Refusal(413, "payload_too_large",
                                                             f"request body exceeds {max_body_bytes} bytes"))
            return

        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await self._refuse(scope, receive, send, Refusal(422, "nul_character",
                                                             "NUL characters are not allowed in URLs"))
            return

        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        content_type = headers.get("content-type", "")
        if has_body:
            refusal = check_media_type(content_type)
            if refusal is not None:
                await self._refuse(scope, receive, send, refusal)
                return

        receive_app = receive
        if is_json(media_type(content_type)[0]):
            # JSON bodies are small (bounded above) and read whole, so they are decoded and
            # screened before any route sees them (interfaces/api/boundary.py).
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body_bytes:
                    await self._refuse(scope, receive, send, Refusal(
                        413, "payload_too_large", f"request body exceeds {self.max_body_bytes} bytes"))
                    return
            refusal = check_json_body(body)
            if refusal is not None:
                await self._refuse(scope, receive, send, refusal)
                return
            replayed = False

            async def receive_app() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()
        else:
            received = 0

            async def receive_app() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_body_bytes:
                        raise BodyTooLarge()
                return message

        overflow = {"hit": False, "answered": False}

        async def too_large() -> None:
            if not overflow["answered"]:
                overflow["answered"] = True
                response = problem(None, 413, "payload_too_large", f"request body exceeds {max_body_bytes} bytes")
                await response(scope, receive, send)

        async def send_app(message: Message) -> None:
            # The framework may turn BodyTooLarge, raised while it parses a form, into its own
            # 400; the caller is told the truth instead: 413.
            if overflow["hit"]:
                if message["type"] == "http.response.start":
                    await too_large()
                return
            await send(message)

        async def receive_counted() -> Message:
            try:
                return await receive_app()
            except BodyTooLarge:
                overflow["hit"] = True
                raise

        try:
            await self.app(scope, receive_counted, send_app)
        except BodyTooLarge:
            await too_large()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
        await problem(None, refusal.status, refusal.code, refusal.detail, field=refusal.field,
                      request_id=scope.get("state", {}).get("request_id"))(scope, receive, send)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        seconds = time.perf_counter() - started
        self.metrics.observe_request(scope["method"], path, status, seconds)
        state = scope.get("state", {})
        # One line per request: the route template, never the path's values or the query.
        access_log.info(json.dumps({
            "method": scope["method"], "route": path, "status": status, "ms": round(seconds * 1000, 1),
            "actor": state.get("actor"), "via": state.get("via"), "correlation_id": state.get("correlation_id"),
            "request_id": state.get("request_id")}, ensure_ascii=False))
