"""An outgoing webhook to the firm's OA (对接OA: 内容摘要、跳转链接): the to-do's summary and its deep
link, POSTed as JSON, signed (HMAC-SHA256 over ``timestamp + "." + body`` with a shared secret)
and carrying the key as ``Idempotency-Key``, which the OA uses to recognise a repeat:

    {"key": "...", "kind": "task_arrived", "recipient": "wang.fang", "language": "zh",
     "title": "...", "summary": "...", "fields": {...}, "link": "https://...", "extra": {...}}

``recipient`` is the login name (the OA maps it to its own user); ``title`` and ``summary`` the
rendered subject and body; ``fields`` the summary fields (摘要) the notification carries for the
OA (its ``payload["summary"]``); ``link`` the deep link (``payload["url"]``, else the row's
link); ``extra`` the rest of the payload (e.g. instance_id, node)."""
from __future__ import annotations

from typing import Any

import orjson

from domain.notifications.delivery import Message, Receipt
from infrastructure.notifications.http import JsonHttp, signed_headers

DEDUP_SECONDS = 24 * 3600.0  # how long the OA is asked to remember an Idempotency-Key


class OaWebhook:
    dedup_seconds = DEDUP_SECONDS

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, http: JsonHttp | None = None):
        self.url, self.secret = url, secret.encode()
        self.http = http or JsonHttp("OA webhook", timeout)

    def body(self, message: Message, key: str) -> dict[str, Any]:
        payload = message.payload
        fields = payload.get("summary")
        link = payload.get("url") or message.link
        return {"key": key, "kind": message.kind, "recipient": message.to, "language": message.language,
                "title": message.subject, "summary": message.body, "fields": fields if isinstance(fields, dict) else {},
                "link": link if isinstance(link, str) else None,
                "extra": {k: v for k, v in payload.items() if k not in ("summary", "url")}}

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        body = orjson.dumps(self.body(message, idempotency_key))
        headers = {"Idempotency-Key": idempotency_key, **signed_headers(self.secret, body)}
        status, answer = self.http.call("POST", self.url, body=body, headers=headers)
        if 200 <= status < 300:
            reference = answer.get("id") or answer.get("todo_id")
            return Receipt(str(reference) if reference is not None else None)
        raise self.http.refused(status, answer)
