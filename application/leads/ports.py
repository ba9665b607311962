"""Ports of the leads application that capability modules name (the composition root gives the
implementations; see also ``app.py`` and ``staff.py``)."""
from __future__ import annotations

from typing import Protocol


class ReadProgress(Protocol):
    def reached(self, position: int) -> bool:
        """Whether the leads read model has applied every event up to ``position``, waiting a
        bounded time for it."""
        ...


class NoReadModel:
    """Applications built without read models (benches, tests with their own reads)."""

    def reached(self, position: int) -> bool:
        return True
