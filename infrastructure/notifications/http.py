"""What the HTTP channels share: JSON over a kept-alive client with a timeout, gateway answers
turned into ``DeliveryError`` (transient or permanent), and the HMAC signature the SMS gateway
and the OA webhook check."""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import httpx
import orjson

from domain.notifications.delivery import DeliveryError

# httpx logs every request URL at INFO; WeCom's carry the access token and, for gettoken, the
# corp secret in the query string, which must never reach a log.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMESTAMP_HEADER = "X-Ledgerflow-Timestamp"
SIGNATURE_HEADER = "X-Ledgerflow-Signature"
# Answers that say "not now" rather than "never": the row is tried again later.
TRANSIENT = {408, 409, 425, 429}


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over ``timestamp + "." + body`` (the raw bytes sent)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signed: str, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """The receiving side's check (for a firm's shim, in Python): the signature matches and the
    timestamp is within ``tolerance`` seconds, so a captured request cannot be replayed later."""
    try:
        fresh = abs((time.time() if now is None else now) - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), signed)


def signed_headers(secret: bytes, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


class JsonHttp:
    """One kept-alive client per adapter (thread-safe). ``where`` names the other side in errors."""

    def __init__(self, where: str, timeout: float, client: httpx.Client | None = None):
        self.where = where
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def call(self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """(status, JSON object answered, or {} when the answer is not one). A network failure is a
        transient DeliveryError."""
        sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else headers
        try:
            response = self.client.request(method, url, content=body, headers=sent, params=params)
        except httpx.HTTPError as exc:  # connect, read, write timeouts; refused; reset
            raise DeliveryError(f"{self.where} unreachable: {type(exc).__name__}: {exc}") from None
        try:
            answer = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            answer = {}
        return response.status_code, answer if isinstance(answer, dict) else {}

    def refused(self, status: int, answer: dict[str, Any]) -> DeliveryError:
        detail = answer.get("error") or answer.get("message") or answer.get("errmsg") or ""
        return DeliveryError(f"{self.where} answered HTTP {status}{': ' + str(detail) if detail else ''}",
                             permanent=400 <= status < 500 and status not in TRANSIENT)

    def close(self) -> None:
        self.client.close()
