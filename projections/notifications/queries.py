"""Queries over the in-app notifications (站内信): an operator's list newest first (keyset on the
deriving event's position and the id), the unread count, and what is new since a position (the
live stream)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

COLUMNS = ("id, kind, title, body, link, instance_id, task_id, lead_id, business_line, department_id, position,"
           " created_at, read_at")


class NotificationQueries:
    def __init__(self, db: Any):
        self.db = db

    def page(self, recipient: str, *, unread: bool = False, kind: str | None = None,
             after: tuple[int, UUID] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        # Fixed fragments only (never request text): each combination is planned on its own index.
        where = ["recipient = %(recipient)s"]
        if unread:
            where.append("read_at IS NULL")
        if kind is not None:
            where.append("kind = %(kind)s")
        if after is not None:
            where.append("(position, id) < (%(position)s, %(id)s)")
        params = {"recipient": recipient, "kind": kind, "limit": limit,
                  "position": after[0] if after else None, "id": after[1] if after else None}
        return self.db.fetch_all(f"SELECT {COLUMNS} FROM notifications WHERE {' AND '.join(where)}"
                                 " ORDER BY position DESC, id DESC LIMIT %(limit)s", params)

    def unread_count(self, recipient: str) -> int:
        row = self.db.fetch_one("SELECT count(*) AS n FROM notifications WHERE recipient = %s AND read_at IS NULL",
                                (recipient,))
        return int(row["n"]) if row else 0

    def owned(self, recipient: str, ids: list[UUID]) -> set[UUID]:
        """Which of ``ids`` are notifications of ``recipient``'s."""
        rows = self.db.fetch_all("SELECT id FROM notifications WHERE recipient = %s AND id = ANY(%s)",
                                 (recipient, ids))
        return {r["id"] for r in rows}

    def since(self, recipient: str, position: int, limit: int = 100) -> list[dict[str, Any]]:
        """What arrived after ``position``, oldest first (a position's rows commit together, so
        nothing of a position already sent can still come)."""
        return self.db.fetch_all(f"SELECT {COLUMNS} FROM notifications WHERE recipient = %s AND position > %s"
                                 " ORDER BY position, id LIMIT %s", (recipient, position, limit))

    def newest_position(self, recipient: str) -> int:
        row = self.db.fetch_one("SELECT coalesce(max(position), 0) AS p FROM notifications WHERE recipient = %s",
                                (recipient,))
        return int(row["p"]) if row else 0
