"""Ports of the leads application that capability modules name (the composition root gives the
implementations; see also ``app.py`` and ``staff.py``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.shared.aggregate import LedgerAggregate


class ReadProgress(Protocol):
    def reached(self, position: int) -> bool:
        """Whether the leads read model has applied every event up to ``position``, waiting a
        bounded time for it."""
        ...


class NoReadModel:
    """Applications built without read models (benches, tests with their own reads)."""

    def reached(self, position: int) -> bool:
        return True


class LeadReads(Protocol):
    """What the use cases read from the leads read models (candidates only: the aggregates decide)."""

    def recycle_candidates(self, business_line: str, departments: list[str], cutoff: datetime) -> list[UUID]: ...

    def sop_tasks(self, scope: dict[str, Any]) -> list[dict[str, Any]]: ...

    def segment_members(self, line: str, spec: dict[str, Any], today: datetime, tomorrow: datetime,
                        limit: int = 10_000, departments: list[str] | None = None) -> list[tuple[UUID, str]]: ...


class Outbound(Protocol):
    """The SMS platform and the outbound-call robot (智能外呼): each answers its reference."""

    def send_sms(self, phone: str, content: str, template: str | None) -> str: ...

    def place_call(self, phone: str, task: str) -> str: ...


class ImportProgress(Protocol):
    """Where an import's progress is published for pollers (kept a while, never the only copy)."""

    def publish(self, report: dict[str, Any]) -> None: ...

    def get(self, import_id: str) -> dict[str, Any] | None: ...


class SaveAll(Protocol):
    """``LedgerApplication.save_all`` as the capabilities see it on their host."""

    def __call__(self, *aggregates: LedgerAggregate) -> int: ...


class NoReads:
    """Applications built without the leads read models (benches, tests of intake alone):
    recycling and SOP runs start from read-model candidates, so they cannot run."""

    def _missing(self) -> RuntimeError:
        return RuntimeError("this leads application was built without its read models")

    def recycle_candidates(self, business_line: str, departments: list[str], cutoff: datetime) -> list[UUID]:
        raise self._missing()

    def sop_tasks(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        raise self._missing()

    def segment_members(self, line: str, spec: dict[str, Any], today: datetime, tomorrow: datetime,
                        limit: int = 10_000, departments: list[str] | None = None) -> list[tuple[UUID, str]]:
        raise self._missing()


class NoOutbound:
    """Applications built without SMS and call adapters: every contact fails (and an SOP run
    records it as failed, to be retried by a run that has them)."""

    def send_sms(self, phone: str, content: str, template: str | None) -> str:
        raise RuntimeError("this leads application was built without an SMS adapter")

    def place_call(self, phone: str, task: str) -> str:
        raise RuntimeError("this leads application was built without an outbound-call adapter")
