"""Natural-key aggregate ids: the id of a record with a unique business key is derived from
the key, so creating a duplicate collides in the event store itself (strongly consistent
uniqueness, no read-model race)."""
from __future__ import annotations

import re
from uuid import UUID, uuid5

from domain.shared.errors import RuleViolationError
from domain.shared.text import require_text

# A fund account (资金账号) is ASCII digits only: a regex's \d would also take full-width digits.
FUND_ACCOUNT = re.compile(r"[0-9]{6,20}")
# Customer numbers from the account-opening system: ASCII letters and digits.
CUSTOMER_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,32}")

# The key of a configuration record (a flow, a report, a template): what users type and URLs carry.
KEY = re.compile(r"^[a-z][a-z0-9_]{1,47}$")


def check_key(key: str) -> str:
    if not KEY.fullmatch(key):
        raise RuleViolationError("key must be 2-48 of a-z, 0-9, '_' starting with a letter", field="key")
    return key


NAMESPACE = UUID("6b1d7e0c-3f0e-4e57-9d55-1c3f3a1f8e2a")


def natural_id(kind: str, key: str) -> UUID:
    """The id of the ``kind`` record whose unique key is ``key`` (refused: a key no store can hold)."""
    require_text(key, kind, 200)
    return uuid5(NAMESPACE, f"{kind}:{key}")
