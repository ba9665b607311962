"""The middleware of ``Idempotency-Key`` (ADR 0025): reads the key and the whole body, puts the
request's :class:`KeyClaim` in its context, holds the answer until the key's row keeps it, and
answers a request that lost its key to a concurrent one with that one's answer."""
from __future__ import annotations

import logging
import tempfile

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.eventstore.idempotency import IdempotencyKeys, KeyClaim, current_claim
from interfaces.api.idempotency import (
    ANSWERS_NOT_KEPT,
    HEADER,
    KEY_PATTERN,
    METHODS,
    PREFIX,
    keys_of,
    outcome,
    settle,
)
from interfaces.api.idempotency.body import RequestBody
from interfaces.api.problems import problem

log = logging.getLogger(__name__)

# Answers kept for replay at most this large (command answers are small; a larger one is not kept).
MAX_KEPT_BODY = 1024 * 1024
# Refusals a retry of a request already done meets when the route checks inside the application.
REFUSED_AS_DONE = frozenset({409, 422})


class IdempotencyMiddleware:
    """Runs inside RequestContextMiddleware: the body it reads is already bounded and decoded, and
    the answers it replays still get the request's ids and security headers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        values = [v for k, v in scope.get("headers", []) if k.lower() == b"idempotency-key"]
        if (scope["type"] != "http" or not values or scope["method"] not in METHODS
                or not scope["path"].startswith(PREFIX)):
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        key = values[0].decode("latin-1")
        if len(values) > 1 or not KEY_PATTERN.match(key):
            await problem(None, 400, "invalid_idempotency_key", "Idempotency-Key must be one value of 1 to 255 "
                          "visible ASCII characters (a UUID is a good key)", field=HEADER,
                          request_id=request_id)(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:  # files beyond 1 MiB go to disk
            body = await RequestBody.read(scope, receive, spool, keys_of(scope["app"]).fingerprint_key)
            container = scope["app"].state.container
            pending = KeyClaim(key=key, request=f"{scope['method']} {scope['path']}", fingerprint=body.fingerprint,
                               ttl_seconds=round(container.settings.idempotency_key_hours * 3600))
            await self._run(scope, body.replay(receive), send, pending, request_id)

    async def _run(self, scope: Scope, receive: Receive, send: Send, pending: KeyClaim,
                   request_id: str | None) -> None:
        answer = _Buffered(send, pending)
        token = current_claim.set(pending)
        keys = keys_of(scope["app"])
        try:
            await self.app(scope, receive, answer.send)
        except Exception:
            if not pending.collided or answer.passed:
                if pending.position is not None:  # recorded, then failed: a retry is told it was recorded
                    await run_in_threadpool(_keep, keys, pending, scope, None)
                raise
        finally:
            pending.closed = True
            current_claim.reset(token)
        if pending.collided and not answer.passed:
            # A concurrent request with this key committed first: this one stored nothing; its
            # answer is the first one's.
            assert pending.owner is not None
            record = await run_in_threadpool(settle, keys, pending.owner, pending.key)
            response: Response
            if record is None:  # it ran out between the two (a period of seconds): say so
                response = problem(None, 409, "idempotency_key_in_use", "a concurrent request used this "
                                   "Idempotency-Key; retry", field=HEADER, headers={"Retry-After": "1"},
                                   request_id=request_id)
            else:
                response = outcome(record, pending, request_id)
            await response(scope, receive, send)
            return
        if pending.position is not None:
            await run_in_threadpool(_keep, keys, pending, scope, answer)
        elif (answer.status in REFUSED_AS_DONE and not answer.passed and pending.owner is not None
              and not pending.looked_up):
            # A route that checks its permissions inside the application (a task's approval) runs
            # before a retry is looked up; when it refuses because the first request already did
            # the work ("task already acted": 409/422; never a 401/403/404, which must stand), the
            # retry gets the first answer, as it would on any other route.
            pending.looked_up = True
            record = await run_in_threadpool(settle, keys, pending.owner, pending.key)
            if record is not None:
                await outcome(record, pending, request_id)(scope, receive, send)
                return
        await answer.flush()


def _keep(keys: IdempotencyKeys, pending: KeyClaim, scope: Scope, answer: _Buffered | None) -> None:
    """Store the answer on the key's row, or mark the row finished without one: answers carrying
    credentials, server errors (a retry should learn the change was recorded, not get a replayed
    503 forever) and answers too large to keep."""
    route = getattr(scope.get("route"), "path", "")
    kept = (answer is not None and answer.status is not None and answer.status < 500 and not answer.passed
            and (scope["method"], route) not in ANSWERS_NOT_KEPT)
    try:
        if kept:
            assert answer is not None
            keys.answer(pending, answer.status, answer.headers, b"".join(answer.body))
        else:
            keys.answer(pending, None)
    except Exception as exc:  # the events are stored; a retry is told so (answer not kept)
        log.warning("could not keep the answer of idempotency key (position %s): %s", pending.position,
                    type(exc).__name__)


class _Buffered:
    """Holds the answer until the key's row has it (a retry racing the first request must never
    see an answer the row does not hold), passing it through once it grows beyond what is kept."""

    def __init__(self, send: Send, pending: KeyClaim):
        self._send = send
        self._pending = pending
        self._start: Message | None = None
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.passed = False  # the answer went out as it came (too large to keep)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            self.status = message["status"]
            self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            return
        if message["type"] != "http.response.body" or self.passed:
            await self._send(message)
            return
        if not message.get("more_body", False):
            self._pending.closed = True  # background tasks run after this: their saves are not the request's
        self.body.append(message.get("body", b""))
        self.size += len(self.body[-1])
        if self.size > MAX_KEPT_BODY:
            self.passed = True
            await self._flush_held(message.get("more_body", False))

    async def _flush_held(self, more: bool) -> None:
        if self._start is not None:
            await self._send(self._start)
        await self._send({"type": "http.response.body", "body": b"".join(self.body), "more_body": more})
        self._start = None

    async def flush(self) -> None:
        if not self.passed and self._start is not None:
            await self._flush_held(False)


