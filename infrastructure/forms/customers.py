"""Account-opening-system (CAP) adapters for the customer directory: an HTTP client and a
file-backed one (embedded mode and tests). Both yield customer profiles keyed by fund account."""
from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

PROFILE_FIELDS = ("fund_account", "name", "subject", "id_type", "id_number", "phone", "department_code",
                  "account_manager", "opened_on", "status", "risk_level")


class CustomerDirectory(Protocol):
    def customers(self) -> Iterator[dict[str, Any]]: ...


def _clean(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: raw.get(k) for k in PROFILE_FIELDS}


class FileCustomerDirectory:
    """A JSON array of customer profiles."""

    def __init__(self, path: Path):
        self.path = path

    def customers(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        for raw in json.loads(self.path.read_text(encoding="utf-8")):
            if isinstance(raw, dict) and raw.get("fund_account"):
                yield _clean(raw)


class HttpCustomerDirectory:
    """GET {base}/customers?page=N -> {"items": [...], "next_page": N+1 | null}."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def customers(self) -> Iterator[dict[str, Any]]:
        page: int | None = 1
        while page is not None:
            with urllib.request.urlopen(f"{self.base_url}/customers?page={page}", timeout=self.timeout) as response:
                body = json.loads(response.read())
            for raw in body.get("items", []):
                if isinstance(raw, dict) and raw.get("fund_account"):
                    yield _clean(raw)
            page = body.get("next_page")


def directory_from_setting(setting: str | None, data_dir: Path) -> CustomerDirectory:
    if setting and setting.startswith(("http://", "https://")):
        return HttpCustomerDirectory(setting)
    return FileCustomerDirectory(Path(setting) if setting else data_dir / "customers.json")
