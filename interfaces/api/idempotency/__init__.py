"""``Idempotency-Key`` on commands (ADR 0025): a retry with the key of a request that was recorded
gets that request's answer again instead of doing the work twice.

Three parts meet here:

* the middleware (middleware.py) reads the key and the whole body (so the request's fingerprint
  is known before anything runs), puts a :class:`KeyClaim` in the request's context, buffers
  the answer and, when the request's events were stored with the key, keeps it on the key's row;
* :func:`own`, called by each way of authenticating (bearer tokens; :func:`claim` for channel
  tokens and signing links) once it knows who the key belongs to, and :func:`answer_retry`,
  called once the route's authorisation passed (``requires``): it answers a retry from the row,
  or lets the request run and its first save write the row (infrastructure/eventstore/idempotency.py);
* a request whose save lost the key to a concurrent one waits briefly for that one's answer.
"""
from __future__ import annotations

import re
import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from infrastructure.eventstore.idempotency import IdempotencyKeys, KeyClaim, KeyRecord, current_claim
from interfaces.api.problems import problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII: a UUID, a ULID, "order-42-attempt"

# A row without an answer younger than this belongs to a request still running; older, its
# process ended between the commit and the answer (the answer is lost, the events are not).
IN_FLIGHT_SECONDS = 60.0
# How long a retry waits for a running first request's answer before it answers 409.
SETTLE_SECONDS = 2.0

# Answers that carry a credential are never stored (they would sit in clear in the database for
# the key's lifetime). The key still holds: a retry gets no second credential, but a 409 saying
# the first request was recorded. (method, route template).
ANSWERS_NOT_KEPT = frozenset({
    ("POST", "/api/v1/access/api-tokens"),
    ("POST", "/api/v1/leads/channels/{code}/token"),
    ("POST", "/api/v1/signatures/requests"),
    ("POST", "/api/v1/signatures/requests/{request_id}/link"),
})
# Credential exchanges with no one the key could belong to yet: the header has no effect there
# (a retried login opens another session, which is what a retry wants).
NOT_CLAIMED = frozenset({("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")})


class Answered(Exception):
    """Raised by :func:`answer_retry`: the request is a retry and this is its answer."""

    def __init__(self, response: Response):
        super().__init__("answered from the idempotency key")
        self.response = response


def install(app: FastAPI) -> None:
    async def answered(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Answered)
        return exc.response

    app.add_exception_handler(Answered, answered)


def keys_of(app: Any) -> IdempotencyKeys:
    return app.state.container.store.recorder.keys


def claim(request: Request, owner: str) -> None:
    """For a credential that authenticates and authorises at once (a channel token, a signing
    link): the key belongs to ``owner``, and a retry is answered now (see :func:`answer_retry`)."""
    own(owner)
    answer_retry(request)


def own(owner: str) -> None:
    """Authentication names whom this request's key (if it sent one) belongs to; its first save
    will write the key's row. A retry is NOT answered yet: that waits for the route's
    authorisation (:func:`answer_retry`), else a caller whose permission was revoked would still
    be handed the kept answer."""
    pending = current_claim.get()
    if pending is not None and pending.owner is None:
        pending.owner = owner


def answer_retry(request: Request) -> None:
    """Once the route's authorisation passed: answer a retry from the key's row (raises
    :class:`Answered`), or let the request run. A route that checks its permissions only inside
    the application is answered when its save meets the key's row (the middleware's collision
    path), i.e. after those checks."""
    pending = current_claim.get()
    if pending is None or pending.owner is None or pending.looked_up:
        return
    pending.looked_up = True
    record = settle(keys_of(request.app), pending.owner, pending.key)
    if record is not None:
        raise Answered(outcome(record, pending, getattr(request.state, "request_id", None)))


def settle(keys: IdempotencyKeys, owner: str, key: str) -> KeyRecord | None:
    """The key's row, after waiting a little for the answer of a first request still running."""
    record = keys.find(owner, key)
    deadline = time.monotonic() + SETTLE_SECONDS
    while record is not None and _running(record) and time.monotonic() < deadline:
        time.sleep(0.05)
        record = keys.find(owner, key)
    return record


def _running(record: KeyRecord) -> bool:
    return not record.answered and record.age_seconds < IN_FLIGHT_SECONDS


def outcome(record: KeyRecord, pending: KeyClaim, request_id: str | None) -> Response:
    """What a request with a recorded key is answered."""
    if record.fingerprint != pending.fingerprint:
        return problem(None, 422, "idempotency_key_reused",
                       f"this Idempotency-Key was used for another request ({record.request} with other content); "
                       "send a new key for a new request", field=HEADER, request_id=request_id)
    if record.status is not None:
        response = Response(record.body, status_code=record.status)
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record.headers] + [
            (REPLAYED.lower().encode(), b"true")]
        return response
    if _running(record):
        return problem(None, 409, "idempotency_key_in_use",
                       "the first request with this Idempotency-Key is still running; retry shortly",
                       field=HEADER, headers={"Retry-After": "1"}, request_id=request_id)
    why = ("it was not kept (it carried a credential, was a server error after the change was recorded, "
           "or was too large)" if record.answered else "the request ended before it answered")
    return problem(None, 409, "idempotency_answer_not_kept",
                   f"the first request with this Idempotency-Key was recorded (event position {record.position}), "
                   f"but its answer is not available: {why}; read the resource to see the outcome",
                   field=HEADER, headers={"X-Event-Position": str(record.position)}, request_id=request_id)


def declare(path: str, method: str, operation: dict[str, Any]) -> None:
    """The header in the OpenAPI document of every command that takes it."""
    if method.upper() not in METHODS or not path.startswith(PREFIX) or (method.upper(), path) in NOT_CLAIMED:
        return
    note = (" This endpoint's answer carries a credential and is never stored: a retry answers 409 "
            "`idempotency_answer_not_kept` (no second credential is issued)."
            if (method.upper(), path) in ANSWERS_NOT_KEPT else "")
    operation.setdefault("parameters", []).append({
        "name": HEADER, "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
        "description": "Makes a retry safe: a unique value per intended change (a UUID). A retry with the same key "
                       "and the same request gets the first answer again (`Idempotent-Replayed: true`) without "
                       "doing the work twice; the same key with another request answers 422 "
                       "`idempotency_key_reused`; while the first is still running, 409 `idempotency_key_in_use` "
                       "with `Retry-After`. Keys are remembered per caller for LEDGERFLOW_IDEMPOTENCY_KEY_HOURS "
                       "(default 24 h). A request that stored nothing (refused, invalid) is not remembered: "
                       "fix it and send it again with the same key." + note})
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            response.setdefault("headers", {})[REPLAYED] = {
                "description": "`true` when this is the stored answer of an earlier request with the same "
                               "Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}
