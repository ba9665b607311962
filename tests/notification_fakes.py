"""Local fake servers for the notification channels — the real protocols on real sockets, never
mocks: an SMTP server (aiosmtpd), WeCom's API (gettoken, message/send with its duplicate check
and token expiry), an SMS gateway that deduplicates by request_id, and an OA endpoint that checks
the HMAC signature and deduplicates by Idempotency-Key. Each records what it was sent; the
``delivered`` lists hold what a person would have received."""
from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- SMTP ------------------------------------------------------------------------------------------
class Mailbox:
    """aiosmtpd handler: refuses the addresses in ``refuse`` (550), keeps every message accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def smtp_server(mailbox: Mailbox, **options: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


# -- HTTP fakes ------------------------------------------------------------------------------------
class FakeHttp:
    """A threaded HTTP server on a free local port; subclasses answer in ``handle``."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a gateway answers a kept-alive client
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, answer = fake.handle(self.command, parts.path, query, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSmsGateway(FakeHttp):
    """POST /sms {request_id, phone, text}: HMAC-checked, deduplicated by request_id; answers 503
    ``fail`` times first (a gateway outage), 400 for phones in ``refuse``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.requests: list[str] = []  # every request_id received, repeats included
        self.delivered: dict[str, dict[str, Any]] = {}
        self.fail = 0
        self.refuse: set[str] = set()
        super().__init__()

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        expected = "sha256=" + hmac.new(self.secret, headers["X-Ledgerflow-Timestamp"].encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if path != "/sms" or not hmac.compare_digest(expected, headers["X-Ledgerflow-Signature"]):
            return 401, {"error": "bad signature"}
        request = json.loads(body)
        with self.lock:
            self.requests.append(request["request_id"])
            if self.fail > 0:
                self.fail -= 1
                return 503, {"error": "upstream busy"}
            if request["phone"] in self.refuse:
                return 400, {"error": f"invalid phone {request['phone']}"}
            duplicate = request["request_id"] in self.delivered
            self.delivered.setdefault(request["request_id"], request)
        return 200, {"message_id": hashlib.md5(request["request_id"].encode()).hexdigest(), "duplicate": duplicate}


class FakeWeCom(FakeHttp):
    """gettoken and message/send as WeCom answers them: tokens expire (``expire()``: 42001 until a
    new one is fetched); with enable_duplicate_check, the same message to the same user within
    duplicate_check_interval is accepted and not delivered again."""

    def __init__(self, corp_id: str, secret: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.corp_id, self.secret, self.clock = corp_id, secret, clock
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.token_requests = 0
        self.sends = 0
        self.delivered: list[dict[str, Any]] = []
        self._seen: dict[str, float] = {}
        super().__init__()

    def expire(self) -> None:
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, False)

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if path == "/cgi-bin/gettoken":
                if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
                    return 200, {"errcode": 40001, "errmsg": "invalid credential"}
                self.token_requests += 1
                token = uuid.uuid4().hex
                self.tokens[token] = True
                return 200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
            if path != "/cgi-bin/message/send":
                return 404, {"errcode": 404, "errmsg": "not found"}
            self.sends += 1
            valid = self.tokens.get(query.get("access_token", ""))
            if valid is None:
                return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
            if not valid:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            message = json.loads(body)
            kind = message["msgtype"]
            fingerprint = json.dumps([message["touser"], kind, message[kind]], sort_keys=True)
            now = self.clock()
            if message.get("enable_duplicate_check") == 1 and \
                    now - self._seen.get(fingerprint, -1e18) < message.get("duplicate_check_interval", 1800):
                return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "dup"}
            self._seen[fingerprint] = now
            self.delivered.append(message)
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": uuid.uuid4().hex}


class FakeOa(FakeHttp):
    """POST /todos: refuses a bad or stale signature (401) and a request without Idempotency-Key
    (400); a repeated key is answered like the first time and creates nothing."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.requests = 0
        self.delivered: dict[str, dict[str, Any]] = {}
        super().__init__()

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        timestamp, signed = headers.get("X-Ledgerflow-Timestamp", ""), headers.get("X-Ledgerflow-Signature", "")
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signed) or abs(time.time() - int(timestamp or 0)) > 300:
            return 401, {"error": "bad signature"}
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {"error": "Idempotency-Key required"}
        with self.lock:
            self.requests += 1
            self.delivered.setdefault(key, json.loads(body))
        return 201, {"id": hashlib.md5(key.encode()).hexdigest()}
