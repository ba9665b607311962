"""Base aggregate whose every event says who, when, business line and correlation id."""
from __future__ import annotations

from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate

from domain.shared.context import current_context


def _metadata(aggregate_line: str | None) -> dict[str, Any]:
    ctx = current_context()
    return {
        "actor": ctx.actor,
        "correlation_id": ctx.correlation_id,
        # An aggregate that belongs to a business line stamps its own line, so a
        # command issued "in" another line can never mislabel the record.
        "business_line": aggregate_line if aggregate_line is not None else ctx.business_line,
    }


class LedgerAggregate(Aggregate):
    """All Ledgerflow aggregates derive from this class."""

    business_line: str | None = None

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        business_line: str | None

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: type[CanInitAggregate[UUID]], *, id: UUID | None = None,
                **kwargs: Any) -> Self:
        line = kwargs.get("business_line")
        for key, value in _metadata(line).items():
            kwargs.setdefault(key, value)
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: type[CanMutateAggregate[UUID]], **kwargs: Any) -> None:
        for key, value in _metadata(self.business_line).items():
            kwargs.setdefault(key, value)
        super().trigger_event(event_class, **kwargs)
