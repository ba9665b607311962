"""The embedded-mode channel: each message appended to ``<dir>/<channel>.jsonl`` as one JSON line
(what a gateway would have received, with the key), for development, demos and tests without
gateways. It skips a key it has written already, so it deduplicates like a gateway."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import orjson

from domain.notifications.delivery import Message, Receipt


class FileSink:
    dedup_seconds = float("inf")

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._keys: set[str] | None = None

    def _written(self) -> set[str]:
        if self._keys is None:
            self._keys = set()
            if self.path.exists():
                with self.path.open("rb") as f:
                    self._keys = {orjson.loads(line)["key"] for line in f if line.strip()}
        return self._keys

    def send(self, message: Message, idempotency_key: str) -> Receipt:
        record = {"key": idempotency_key, "to": message.to, "recipient": message.recipient, "kind": message.kind,
                  "language": message.language, "subject": message.subject, "body": message.body,
                  "link": message.link, "payload": dict(message.payload),
                  "at": datetime.now(timezone.utc).isoformat()}
        with self._lock:
            if idempotency_key in self._written():
                return Receipt(idempotency_key, duplicate=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                f.write(orjson.dumps(record) + b"\n")
            self._written().add(idempotency_key)
        return Receipt(idempotency_key)
