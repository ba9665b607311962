"""Creating tables when several processes start at once on an empty database.

``CREATE TABLE IF NOT EXISTS`` is not safe under concurrency: two sessions creating the same
table can both pass the existence check and one fails with a unique violation in ``pg_type``.
Every start-up DDL of this service therefore runs in a transaction that first takes one
advisory lock, so processes create their tables one after the other."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SCHEMA_LOCK = 20017_0001  # the advisory lock key held while a process creates its tables


def lock_schema(cursor: Any) -> None:
    """Inside a transaction: wait until no other process is creating tables."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))


def create_tables(datastore: Any, statements: Iterable[Any]) -> None:
    """Run DDL statements in one transaction under the schema lock."""
    with datastore.transaction(commit=True) as cursor:
        lock_schema(cursor)
        for statement in statements:
            cursor.execute(statement)
