"""Natural-key aggregate ids: the id of a record with a unique business key is derived from
the key, so creating a duplicate collides in the event store itself (strongly consistent
uniqueness, no read-model race)."""
from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6b1d7e0c-3f0e-4e57-9d55-1c3f3a1f8e2a")


def natural_id(kind: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"{kind}:{key}")
