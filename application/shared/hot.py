"""Hot aggregates: the instance a run of commands keeps working on, held in memory between them.

A flow instance is handled by a burst of commands (start, then one per approval), and reloading
and replaying its events for each one cost more than the decision itself (ADR 0008). The
cache is safe without a fast-forward query because of how it is used:

- a command *takes* the aggregate out (exclusive, so no copy is needed) and the application
  puts it back only after its new events were saved, so the cache never holds half a command;
- a cached aggregate can only be behind the store (another process wrote). Appending at its
  next version then breaks the event store's uniqueness (optimistic concurrency), and
  ``HotAggregates.run`` re-runs the command once on a fresh load. A command that *refuses*
  on cached state (a DomainError) is re-run on a fresh load too, so an answer is never based
  on stale state. Commands that may end without writing must not use the cache.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

from domain.shared.errors import DomainError

T = TypeVar("T")

# Per command: None = the cache is off; a list = on, and collects the ids taken from it.
_taken: ContextVar[list[UUID] | None] = ContextVar("hot_aggregates_taken", default=None)


class HotAggregates:
    def __init__(self, maxsize: int = 10_000):
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.reruns = 0

    def take(self, aggregate_id: UUID) -> Any | None:
        """The cached aggregate, removed from the cache, when the running command may use it."""
        taken = _taken.get()
        if taken is None or self.maxsize <= 0:
            return None
        with self._lock:
            aggregate = self._items.pop(aggregate_id, None)
            if aggregate is None:
                self.misses += 1
                return None
            self.hits += 1
        taken.append(aggregate_id)
        return aggregate

    def put(self, aggregate: Any) -> None:
        """After a save: the aggregate as stored (no pending events)."""
        if self.maxsize <= 0:
            return
        with self._lock:
            held = self._items.get(aggregate.id)
            if held is not None and held.version >= aggregate.version:
                return  # a later save already put a newer state back
            self._items[aggregate.id] = aggregate
            self._items.move_to_end(aggregate.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def discard(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._items.pop(aggregate_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def run(self, command: Callable[[], T]) -> T:
        """Run ``command`` with the cache on; if it fails after taking a cached aggregate, the
        cached state may have been stale: run it again on fresh loads."""
        token = _taken.set([])
        try:
            return command()
        except DomainError:
            if not _taken.get():
                raise
            self.reruns += 1
        finally:
            _taken.reset(token)
        return command()
