"""ClickHouse: one row per stored event, for BI (activity per context, type, actor, line, day)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from projections.framework import ClickHouseSink


def _context_of(topic_module: str) -> str:
    # domain.<context>.<module> -> <context>; anything else keeps its top package.
    parts = topic_module.split(".")
    return parts[1] if parts[0] == "domain" and len(parts) > 1 else parts[0]


class EventFactsSink(ClickHouseSink):
    name = "analytics.event_facts"
    all_events = True
    tables = {
        "event_facts": (
            "CREATE TABLE IF NOT EXISTS {db}.event_facts ("
            " position UInt64, occurred_at DateTime64(6, 'UTC'), context LowCardinality(String),"
            " aggregate_type LowCardinality(String), event_type LowCardinality(String),"
            " aggregate_id UUID, version UInt32, actor String, business_line LowCardinality(String),"
            " correlation_id String"
            ") ENGINE = ReplacingMergeTree ORDER BY position"
            " SETTINGS non_replicated_deduplication_window = 1000"
        )
    }
    columns = {
        "event_facts": ("position", "occurred_at", "context", "aggregate_type", "event_type",
                        "aggregate_id", "version", "actor", "business_line", "correlation_id"),
    }

    def every_event(self, event: Any, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        cls = type(event)
        aggregate_type, _, event_type = cls.__qualname__.rpartition(".")
        yield "event_facts", (
            position, event.timestamp, _context_of(cls.__module__), aggregate_type or "-",
            event_type, event.originator_id, event.originator_version,
            getattr(event, "actor", "") or "", getattr(event, "business_line", None) or "",
            getattr(event, "correlation_id", "") or "",
        )
