"""What the notifications context needs from outside: the in-app list as the read model has it."""
from __future__ import annotations

from typing import Protocol
from uuid import UUID


class Inbox(Protocol):
    def owned(self, recipient: str, ids: list[UUID]) -> set[UUID]:
        """Which of ``ids`` are notifications of ``recipient``'s."""

    def newest_position(self, recipient: str) -> int:
        """The position of the newest notification ``recipient`` has (0: none)."""
