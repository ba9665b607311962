"""Outbound adapters for SOP tasks: the SMS platform and the outbound-call robot (智能外呼).

``FileOutbound`` is the embedded-mode adapter: it appends each request as a JSON line (what a
real gateway would receive) and answers a reference. A production adapter implements the same
two methods against the vendor's API (the ``Outbound`` port in application/leads/ports.py)."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import orjson


class FileOutbound:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> str:
        reference = uuid.uuid4().hex
        with self._lock, self.path.open("ab") as f:
            f.write(orjson.dumps({**record, "reference": reference}) + b"\n")
        return reference

    def send_sms(self, phone: str, content: str, template: str | None) -> str:
        return self._write({"kind": "sms", "phone": phone, "content": content, "template": template})

    def place_call(self, phone: str, task: str) -> str:
        return self._write({"kind": "call", "phone": phone, "task": task})
