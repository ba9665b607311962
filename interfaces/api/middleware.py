"""ASGI middleware: request/correlation ids, body size limit, request metrics."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from email.message import Message as MimeHeader
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.api.problems import problem

_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(Exception):
    pass


def parsed_as_json(content_type: str) -> bool:
    """Whether FastAPI will parse this body as JSON: no Content-Type at all, or application/json
    or application/*+json in any letter case (media types are case-insensitive)."""
    if not content_type.strip():
        return True
    header = MimeHeader()
    header["content-type"] = content_type
    return header.get_content_maintype() == "application" and (
        header.get_content_subtype() == "json" or header.get_content_subtype().endswith("+json"))





class RequestContextMiddleware:
    """Gives every request an id, a correlation id (taken from the caller when well-formed),
    a bounded body, and a latency observation."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Any,
                 large_bodies: tuple[tuple[re.Pattern[str], int], ...] = (),
                 authenticated: Callable[[str], bool] | None = None):
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
        status_holder = {"status": 500}

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", request_id.encode()), (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        max_body_bytes = await self._limit(scope.get("path", ""), headers)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            response = problem(None, 413, "payload_too_large",
                               f"request body exceeds {max_body_bytes} bytes")
            await response(scope, receive, send_with_ids)
            self._observe(scope, status_holder["status"], started)
            return

        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            response = problem(None, 422, "nul_character", "NUL characters are not allowed in URLs")
            await response(scope, receive, send_with_ids)
            self._observe(scope, 422, started)
            return

        receive_app = receive
        if parsed_as_json(headers.get("content-type", "")):
            # JSON bodies are small (bounded above) and read whole, so they can be screened
            # before any route sees them: PostgreSQL text cannot hold NUL, and an event that
            # no read model can apply must never be stored. In JSON, NUL arrives as \\u0000.
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body_bytes:
                    await self._refuse(scope, receive, send_with_ids, 413, "payload_too_large",
                                       f"request body exceeds {self.max_body_bytes} bytes", started, status_holder)
                    return
            if b"\\u0000" in body:
                await self._refuse(scope, receive, send_with_ids, 422, "nul_character",
                                   "NUL characters (\\u0000) are not allowed in text", started, status_holder)
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
                await response(scope, receive, send_with_ids)

        async def send_app(message: Message) -> None:
            # The framework may turn BodyTooLarge, raised while it parses a form, into its own
            # 400; the caller is told the truth instead: 413.
            if overflow["hit"]:
                if message["type"] == "http.response.start":
                    await too_large()
                return
            await send_with_ids(message)

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
        finally:
            self._observe(scope, status_holder["status"], started)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str,
                      started: float, status_holder: dict) -> None:
        await problem(None, status, code, detail)(scope, receive, send)
        self._observe(scope, status, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.observe_request(scope["method"], path, status, time.perf_counter() - started)
