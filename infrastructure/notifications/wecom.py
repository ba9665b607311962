"""WeCom (企业微信) application messages: ``GET /cgi-bin/gettoken?corpid&corpsecret`` for an access
token, cached until shortly before it expires and fetched again when WeCom says it is invalid
(40014) or expired (42001); ``POST /cgi-bin/message/send?access_token=`` with a text message, or
a text card when the notification has a link.

WeCom deduplicates a message within ``duplicate_check_interval`` (at most four hours) when
``enable_duplicate_check`` is 1; it compares content, so each message ends with a short
reference derived from our key: the same notification is recognised, two alike are not merged."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from domain.notifications.delivery import DeliveryError, Message, Receipt
from infrastructure.notifications.http import JsonHttp

TOKEN_REJECTED = {40014, 42001}  # invalid / expired access_token: fetch a new one, send once more
# errcodes about the recipient or the content (unknown user, empty or oversize content, bad
# message type), which no retry can fix. Everything else (busy, rate limits, IP allow-list,
# credentials) is tried again later.
PERMANENT = {40003, 40008, 41009, 44004, 45002, 81013, 82001}
MAX_INTERVAL = 14_400
TEXT_BYTES, TITLE_BYTES, DESCRIPTION_BYTES = 2048, 128, 512
BUTTON = {"zh": "详情", "en": "Details"}


def reference(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def clip(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes (WeCom counts bytes), cut on a character boundary."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit - 3].decode(errors="ignore") + "…"


class WeComApp:
    def __init__(self, corp_id: str, secret: str, agent_id: int, *, base_url: str = "https://qyapi.weixin.qq.com",
                 duplicate_check_seconds: int = 1800, timeout: float = 10.0,
                 http: JsonHttp | None = None, clock: Callable[[], float] = time.monotonic):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.base_url = base_url.rstrip("/")
        self.interval = max(1, min(duplicate_check_seconds, MAX_INTERVAL))
        self.clock = clock
        self.http = http or JsonHttp("WeCom", timeout)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.tokens_fetched = 0

    @property
    def dedup_seconds(self) -> float:
        return float(self.interval)

    def token(self, rejected: str | None = None) -> str:
        """The cached access token; a new one when it is about to expire, or when ``rejected`` (the
        token WeCom just refused) is still the cached one — one fetch for all threads that saw it."""
        with self._lock:
            if self._token is None or self._token == rejected or self.clock() >= self._expires:
                status, answer = self.http.call("GET", f"{self.base_url}/cgi-bin/gettoken",
                                                params={"corpid": self.corp_id, "corpsecret": self.secret})
                if status != 200 or answer.get("errcode", 0) != 0 or not answer.get("access_token"):
                    raise DeliveryError(f"WeCom gettoken failed: HTTP {status}, errcode {answer.get('errcode')} "
                                        f"{answer.get('errmsg', '')}".rstrip())
                lifetime = float(answer.get("expires_in", 7200))
                self._token = str(answer["access_token"])
                self._expires = self.clock() + lifetime - min(300.0, lifetime / 10)
                self.tokens_fetched += 1
            return self._token

    def body(self, message: Message, key: str) -> dict[str, Any]:
        ref = reference(key)
        link = message.link if message.link and message.link.startswith(("https://", "http://")) else None
        out: dict[str, Any] = {"touser": message.to, "agentid": self.agent_id, "enable_duplicate_check": 1,
                               "duplicate_check_interval": self.interval}
        if link:
            description = f'{clip(message.body, DESCRIPTION_BYTES - 64)}<div class="gray">ref {ref}</div>'
            out.update(msgtype="textcard", textcard={
                "title": clip(message.subject, TITLE_BYTES), "description": description, "url": link,
                "btntxt": BUTTON.get(message.language, BUTTON["zh"])})
        else:
            text = message.body if message.subject in message.body else f"{message.subject}\n{message.body}"
            out.update(msgtype="text", text={"content": f"{clip(text, TEXT_BYTES - 20)}\nref {ref}"})
        return out

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        body = orjson.dumps(self.body(message, idempotency_key))
        token = self.token()
        status, answer = self._post(body, token)
        if answer.get("errcode") in TOKEN_REJECTED:
            status, answer = self._post(body, self.token(rejected=token))
        errcode = answer.get("errcode")
        if status != 200 or errcode is None:
            raise self.http.refused(status, answer)
        if errcode != 0:
            raise DeliveryError(f"WeCom message/send: errcode {errcode} {answer.get('errmsg', '')}".rstrip(),
                                permanent=errcode in PERMANENT)
        if message.to in str(answer.get("invaliduser", "")).split("|"):
            raise DeliveryError("WeCom does not know the user (invaliduser)", permanent=True)
        msgid = answer.get("msgid")
        return Receipt(str(msgid) if msgid is not None else None)

    def _post(self, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
        return self.http.call("POST", f"{self.base_url}/cgi-bin/message/send", body=body,
                              params={"access_token": token})
