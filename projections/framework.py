"""Projection bases. They hold no connections: the runner hands them a writer (a port)
inside the transaction that also advances their tracking position, which is what
makes a projection exactly-once and resumable (see docs/adr/0003)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import orjson
from eventsourcing.utils import get_topic


def json_text(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """A value as JSON text for a ``jsonb`` parameter; ``default`` (e.g. ``str``) for types orjson
    does not know, else they raise."""
    return orjson.dumps(value, default=default).decode()


class SqlWriter(Protocol):
    """The slice of a DB cursor a projection may use: parameterised statements only."""

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ...) -> Any: ...

    def fetchone(self) -> Any: ...


Handler = Callable[[Any, SqlWriter, Any, int], None]


class _Dispatching:
    name: ClassVar[str]
    # Bump when a change to the handlers or the schema needs the history replayed: at the next
    # start the workers rebuild the projection blue/green (new tables, built beside the serving
    # ones, switched when caught up) and record the version built (ADR 0029).
    version: ClassVar[int] = 1
    _handlers: ClassVar[dict[type, Callable[..., Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type, Callable[..., Any]] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                for event_class in getattr(attr, "_handles", ()):
                    handlers[event_class] = attr
        cls._handlers = handlers

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        """Topics this projection reads; empty means every event."""
        if getattr(cls, "all_events", False):
            return ()
        return tuple(sorted(get_topic(t) for t in cls._handlers))


def handles(*event_classes: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a projection method as the handler of these event classes."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func._handles = event_classes  # type: ignore[attr-defined]
        return func

    return mark


class PostgresProjection(_Dispatching):
    """A read model kept in PostgreSQL tables owned by this projection."""

    kind: ClassVar[str] = "postgres"
    schema: ClassVar[Sequence[str]] = ()   # CREATE ... IF NOT EXISTS statements
    tables: ClassVar[Sequence[str]] = ()   # the tables it owns: built anew and swapped in by a rebuild
    all_events: ClassVar[bool] = False

    def apply(self, writer: SqlWriter, event: Any, position: int) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, writer, event, position)


class ClickHouseSink(_Dispatching):
    """An analytics table in ClickHouse, idempotent under replay.

    Each table must be a ReplacingMergeTree whose ORDER BY ends in the event position
    (and a row number when one event yields several rows), and every query must read
    it with FINAL or an argMax: a batch replayed after a crash then collapses onto the
    rows it wrote before. No materialized view may aggregate from a sink table, since a
    view would count a replayed block twice (docs/adr/0003).
    """

    kind: ClassVar[str] = "clickhouse"
    tables: ClassVar[Mapping[str, str]] = {}   # table -> CREATE TABLE template with {db}
    # view -> CREATE OR REPLACE VIEW template with {db}: stable names BI tools query (plain views
    # over FINAL reads, never materialized: see above), created after the tables, never truncated.
    views: ClassVar[Mapping[str, str]] = {}
    columns: ClassVar[Mapping[str, Sequence[str]]] = {}
    all_events: ClassVar[bool] = False

    def rows(self, event: Any, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        handler = self._handlers.get(type(event))
        if handler is None and self.all_events:
            handler = type(self).every_event
        return handler(self, event, position) if handler is not None else ()

    def every_event(self, event: Any, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        return ()


Projection = PostgresProjection | ClickHouseSink
