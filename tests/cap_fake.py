"""A local fake of the account-opening system's one-customer endpoint: a real HTTP server on
127.0.0.1 in a thread. It answers in a shape unlike our own (the record under data.customer,
custName / certNo keys), so the configurable mapping is exercised; it can be told to fail,
to be slow, to trickle, or be stopped; it counts the requests it received."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/cap/v1/customers/"
TOKEN = "cap-test-token-0123456789"
# How the live lookup reads this fake's answers (LEDGERFLOW_CUSTOMER_LIVE_* settings).
SETTINGS = {"customer_live_record_path": "data.customer",
            "customer_live_fields": "fund_account=acct,name=custName,id_number=cert.no,department_code=branch",
            "customer_live_token": TOKEN}


def answer(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile of ours in the fake's shape."""
    record = {k: v for k, v in profile.items() if k not in ("fund_account", "name", "id_number", "department_code")}
    record.update(acct=profile["fund_account"], custName=profile.get("name"), cert={"no": profile.get("id_number")},
                  branch=profile.get("department_code"))
    return {"code": 0, "data": {"customer": record}}


class FakeCap:
    def __init__(self, customers: dict[str, dict[str, Any]] | None = None):
        self.customers = dict(customers or {})
        self.raw: dict[str, Any] = {}          # account -> body sent as it is (bad answers)
        self.fail_next = 0                     # answer 500 to this many requests first
        self.status: int | None = None         # answer this status to every request
        self.delay = 0.0                       # seconds before answering
        self.trickle = 0.0                     # seconds between bytes of the body
        self.encoding: str | None = None       # a Content-Encoding the body does not have
        self.calls = 0
        self.paths: list[str] = []
        self.auth: list[str | None] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{PATH}{{fund_account}}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with fake._lock:
                    fake.calls += 1
                    fake.paths.append(self.path)
                    fake.auth.append(self.headers.get("Authorization"))
                    failing = fake.fail_next > 0
                    fake.fail_next -= failing
                if fake.delay:
                    time.sleep(fake.delay)
                account = self.path.removeprefix(PATH)
                if failing or fake.status:
                    return self._send(fake.status or 500, {"code": 1, "msg": "internal error"})
                if account in fake.raw:
                    return self._send(200, fake.raw[account])
                if account not in fake.customers:
                    return self._send(404, {"code": 404, "msg": "no such account"})
                self._send(200, answer(fake.customers[account]))

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if fake.encoding:
                    self.send_header("Content-Encoding", fake.encoding)
                self.end_headers()
                try:
                    if not fake.trickle:
                        self.wfile.write(data)
                        return
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(fake.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

        return Handler
