"""Base aggregate whose every event says who, when, business line and correlation id."""
from __future__ import annotations

from typing import Any, ClassVar, Self
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
        # Not a dataclass field (a defaulted field would break every subclass's fields, and the
        # stored field lists are frozen): set on the instance only when a delegate acted, stored
        # in the event's state like a field, and read as None from events without it (ADR 0016).
        via: ClassVar[str | None] = None

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: type[CanInitAggregate[UUID]], *, id: UUID | None = None,
                **kwargs: Any) -> Self:
        line = kwargs.get("business_line")
        for key, value in _metadata(line).items():
            kwargs.setdefault(key, value)
        aggregate = super()._create(event_class, id=id, **kwargs)
        _stamp_via(aggregate.pending_events[-1])
        return aggregate

    def trigger_event(self, event_class: type[CanMutateAggregate[UUID]], **kwargs: Any) -> None:
        for key, value in _metadata(self.business_line).items():
            kwargs.setdefault(key, value)
        super().trigger_event(event_class, **kwargs)
        _stamp_via(self.pending_events[-1])


def _stamp_via(event: object) -> None:
    via = current_context().via
    if via is not None:
        # Events are frozen dataclasses; the mapper stores ``vars(event)`` and restores it as the
        # instance's __dict__, so the attribute round-trips without being a declared field.
        object.__setattr__(event, "via", via)
