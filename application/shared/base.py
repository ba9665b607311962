"""Base Application: shared event store, positions for read-your-writes, conflicts as errors."""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Transcoder
from eventsourcing.utils import Environment

from domain.shared.aggregate import LedgerAggregate
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import AlreadyExistsError, ConcurrencyConflictError, NotFoundError, StaleVersionError
from infrastructure.eventstore.store import EventStore, SharedStoreFactory

A = TypeVar("A", bound=LedgerAggregate)
S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def command(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, CommandContext, P], R]:
    """Marks an application method as a command: callers pass the CommandContext first, made
    current while the method runs so every event it records says who acted. The signature is
    kept (ParamSpec), so type checkers and "go to definition" see the method's own arguments."""

    @functools.wraps(method)
    def run(self: S, ctx: CommandContext, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if not isinstance(ctx, CommandContext):
            raise TypeError(f"{getattr(method, '__qualname__', method)} needs a CommandContext first")
        with acting_as(ctx):
            return method(self, *args, **kwargs)

    return run


@dataclass(frozen=True)
class CommandResult:
    """What every command returns: the aggregate touched, its new version and the event
    position to wait for when reading back (read-your-writes)."""

    id: UUID
    version: int
    position: int


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate`` without its per-event ``isinstance`` against a
    runtime Protocol, which profiling showed costs more than applying the event."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Loader(Protocol):
    """``LedgerApplication.load`` as the use-case mixins see it on their host."""

    def __call__(self, aggregate_id: UUID, kind: type[A], *, expected_version: int | None = None,
                 version: int | None = None, what: str | None = None) -> A: ...


class LedgerApplication(Application[UUID]):
    # No library aggregate cache (eventsourcing reads AGGREGATE_CACHE_MAXSIZE=0 as "unbounded", not
    # "off"): a command loads from the store, or brings ``read_current``'s shared copy up to date
    # with one query for newer events; flows keep recently used instances (application/shared/hot.py).
    env: ClassVar[dict[str, str]] = {}

    def __init__(self, store: EventStore):
        self._store = store
        self._current: dict[UUID, LedgerAggregate] = {}
        super().__init__(env={})

    def construct_factory(self, env: Environment) -> SharedStoreFactory:
        return SharedStoreFactory(env, self._store)

    def construct_transcoder(self) -> Transcoder:
        return self._store.transcoder

    def save_all(self, *aggregates: LedgerAggregate) -> int:
        """Save and return the highest position written; a lost race becomes a 409."""
        try:
            recordings = self.save(*aggregates)
        except IntegrityError as exc:
            raise ConcurrencyConflictError(
                "another command changed this record at the same time; reload it and retry"
            ) from exc
        if not recordings:  # nothing new was recorded
            return self._store.head()
        return max(r.notification.id for r in recordings)

    def save_one(self, aggregate: LedgerAggregate) -> CommandResult:
        position = self.save_all(aggregate)
        return CommandResult(aggregate.id, aggregate.version, position)

    def create_unique(self, aggregate: LedgerAggregate, what: str) -> CommandResult:
        """Save a new aggregate whose id derives from its natural key; a duplicate is a 409."""
        if self.exists(aggregate.id):
            raise AlreadyExistsError(f"{what} already exists")
        try:
            return self.save_one(aggregate)
        except ConcurrencyConflictError:
            raise AlreadyExistsError(f"{what} already exists") from None

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def load(self, aggregate_id: UUID, kind: type[A], *, expected_version: int | None = None,
             version: int | None = None, what: str | None = None) -> A:
        """``what`` names the record in the not-found answer (e.g. "flow 'fee_rate'"); the same
        answer as for a record outside the caller's scope, so the two cannot be told apart."""
        missing = f"{what or f'{kind.__name__} {aggregate_id}'} does not exist"
        try:
            aggregate = self.repository.get(aggregate_id, version=version, projector_func=replay)
        except AggregateNotFoundError:
            raise NotFoundError(missing) from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(missing)
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersionError(
                f"{kind.__name__} {aggregate_id} is at version {aggregate.version}, "
                f"not {expected_version}: reload it and retry", field="If-Match")
        return aggregate

    def read_current(self, aggregate_id: UUID, kind: type[A], what: str | None = None) -> A:
        """The aggregate as it stands now, for reading only (callers never mutate it): a copy
        shared between commands and brought up to date with one query for newer events, instead
        of a full replay. For records read by hot commands that rarely change (the flow
        definition and business type every start reads)."""
        cached = self._current.get(aggregate_id)
        if not isinstance(cached, kind):  # not read yet (None), or another kind under that id
            fresh = self.load(aggregate_id, kind, what=what)
        else:
            newer = list(self.events.get(aggregate_id, gt=cached.version))
            if not newer:
                return cached
            fresh = replay(copy.deepcopy(cached), newer)  # readers may hold the old one
        if len(self._current) >= 1_000:
            self._current.clear()
        self._current[aggregate_id] = fresh
        return fresh

    def load_as_of(self, aggregate_id: UUID, kind: type[A], at: datetime) -> A:
        """The aggregate as it stood at a moment: replay only events stamped up to it."""
        version = None
        for domain_event in self.events.get(aggregate_id):
            assert isinstance(domain_event, LedgerAggregate.Event)  # what every aggregate here records
            if domain_event.timestamp > at:
                break
            version = domain_event.originator_version
        if version is None:
            raise NotFoundError(f"{kind.__name__} {aggregate_id} did not exist at {at.isoformat()}")
        return self.load(aggregate_id, kind, version=version)
