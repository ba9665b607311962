"""SMS through the firm's SMS platform, behind a small HTTP contract (docs/notification-delivery.md):

    POST <notify_sms_url>
    Content-Type: application/json
    Idempotency-Key: <key>
    Authorization: Bearer <secret>                              (notify_sms_auth=bearer), or
    X-Ledgerflow-Timestamp: <unix seconds>                      (notify_sms_auth=hmac)
    X-Ledgerflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

    {"request_id": "<key>", "phone": "13812345678", "text": "...", "kind": "task_arrived",
     "link": "https://..." or null}

A 2xx answer means accepted, ``{"message_id": "...", "duplicate": false}`` optional; the same
``request_id`` again within a day must be answered 2xx without sending (``"duplicate": true``).
4xx (but 408/409/425/429) is a refusal for good; 5xx, 408/409/425/429 and no answer are tried
again later. A firm puts a thin shim with this contract in front of its real platform (which
usually wants a registered template per ``kind``, and decides whether the deep link fits)."""
from __future__ import annotations

from typing import Literal

import orjson

from domain.notifications.delivery import Message, Receipt
from infrastructure.notifications.http import JsonHttp, signed_headers

SmsAuth = Literal["bearer", "hmac"]
DEDUP_SECONDS = 24 * 3600.0  # how long the contract asks the gateway to remember a request_id


class HttpSmsGateway:
    dedup_seconds = DEDUP_SECONDS

    def __init__(self, url: str, secret: str, *, auth: SmsAuth = "hmac", timeout: float = 10.0,
                 http: JsonHttp | None = None):
        self.url, self.secret, self.auth = url, secret, auth
        self.http = http or JsonHttp("SMS gateway", timeout)

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        body = orjson.dumps({"request_id": idempotency_key, "phone": message.to, "text": message.body,
                             "kind": message.kind, "link": message.link})
        headers = {"Idempotency-Key": idempotency_key}
        if self.auth == "bearer":
            headers["Authorization"] = f"Bearer {self.secret}"
        else:
            headers.update(signed_headers(self.secret.encode(), body))
        status, answer = self.http.call("POST", self.url, body=body, headers=headers)
        if 200 <= status < 300:
            reference = answer.get("message_id")
            return Receipt(str(reference) if reference is not None else None, duplicate=answer.get("duplicate") is True)
        raise self.http.refused(status, answer)
