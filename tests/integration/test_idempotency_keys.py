"""Idempotency keys in the event store (ADR 0025): a key's row is written in the transaction of
its request's first events, so of two requests with one key exactly one commits, in a group
commit too, and a save that fails leaves no key behind."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from infrastructure.eventstore.idempotency import KeyClaim, KeyTaken, current_claim
from infrastructure.eventstore.store import EventStore
from tests.engines import EngineSet, fresh_database


@pytest.fixture(scope="module")
def store(engines: EngineSet) -> Iterator[EventStore]:
    with fresh_database(engines) as url:
        store = EventStore(url, events_table="idem_events", chain_key=b"idempotency-test-key", pool_size=8)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(autouse=True)
def group_commit(store: EventStore) -> Iterator[None]:
    yield
    store.recorder.group_commit = True


def _event(aggregate: uuid.UUID | None = None, version: int = 1) -> StoredEvent:
    return StoredEvent(originator_id=aggregate or uuid.uuid4(), originator_version=version,
                       topic="tests:Happened", state=b"{}")


def _claim(key: str, owner: str = "operator:ann") -> KeyClaim:
    return KeyClaim(key=key, request="POST /api/v1/things", fingerprint=b"f" * 32, ttl_seconds=3600, owner=owner)


def _save(store: EventStore, claim: KeyClaim | None, *events: StoredEvent) -> list[int]:
    token = current_claim.set(claim)
    try:
        return list(store.recorder.insert_events(list(events)) or [])
    finally:
        current_claim.reset(token)


def _race(store: EventStore, claims: list[KeyClaim]) -> list[tuple[str, object, StoredEvent]]:
    barrier = threading.Barrier(len(claims))
    results: list = [None] * len(claims)

    def run(i: int) -> None:
        event = _event()
        barrier.wait()
        try:
            results[i] = ("ok", _save(store, claims[i], event), event)
        except Exception as exc:
            results[i] = ("error", exc, event)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(claims))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def _stored(store: EventStore, event: StoredEvent) -> bool:
    return bool(store.recorder.select_events(event.originator_id))


def test_a_keyed_save_writes_the_key_with_its_first_position_and_later_saves_write_none(store):
    claim = _claim(uuid.uuid4().hex)
    first = _save(store, claim, _event(), _event())
    assert claim.position == first[0]
    _save(store, claim, _event())  # the same request saving again
    record = store.recorder.keys.find("operator:ann", claim.key)
    assert record is not None and record.position == first[0] and not record.answered
    assert record.request == "POST /api/v1/things" and record.fingerprint == claim.fingerprint


@pytest.mark.parametrize("group_commit", [True, False])
def test_of_two_concurrent_saves_with_one_key_exactly_one_commits(store, group_commit):
    store.recorder.group_commit = group_commit
    key = uuid.uuid4().hex
    claims = [_claim(key), _claim(key)]
    results = _race(store, claims)
    won = [r for r in results if r[0] == "ok"]
    lost = [r for r in results if r[0] == "error"]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0][1], KeyTaken)
    assert _stored(store, won[0][2]) and not _stored(store, lost[0][2])
    loser = claims[results.index(lost[0])]
    assert loser.collided and loser.position is None
    # Nothing the losing request saves afterwards is stored either.
    late = _event()
    with pytest.raises(KeyTaken):
        _save(store, loser, late)
    assert not _stored(store, late)
    assert store.recorder.keys.find("operator:ann", key).position == won[0][1][0]


def test_a_reused_key_inside_a_group_commit_fails_only_the_request_that_reused_it(store):
    shared = uuid.uuid4().hex
    claims = [_claim(shared), _claim(shared)] + [_claim(uuid.uuid4().hex) for _ in range(6)]
    results = _race(store, claims)
    assert [r[0] for r in results].count("ok") == 7
    assert [type(r[1]) for r in results if r[0] == "error"] == [KeyTaken]
    assert all(_stored(store, r[2]) == (r[0] == "ok") for r in results)


def test_the_same_key_of_two_owners_is_two_keys(store):
    key = uuid.uuid4().hex
    _save(store, _claim(key, owner="operator:ann"), _event())
    _save(store, _claim(key, owner="channel:ths"), _event())
    assert store.recorder.keys.find("operator:ann", key).position != store.recorder.keys.find("channel:ths", key).position


def test_a_save_that_fails_leaves_no_key_behind(store):
    existing = _event()
    _save(store, None, existing)
    claim = _claim(uuid.uuid4().hex)
    with pytest.raises(IntegrityError):  # a stale version: the event's position is taken
        _save(store, claim, _event(existing.originator_id, 1))
    assert claim.position is None and not claim.collided
    assert store.recorder.keys.find("operator:ann", claim.key) is None


def test_an_expired_key_is_free_again_and_expired_rows_are_purged_by_later_keyed_saves(store):
    old = [_claim(uuid.uuid4().hex) for _ in range(3)]
    for claim in old:
        _save(store, claim, _event())
        store.recorder.keys.expire("operator:ann", claim.key)
    again = _claim(old[0].key)
    positions = _save(store, again, _event())
    assert store.recorder.keys.find("operator:ann", old[0].key).position == positions[0]
    with store.datastore.get_connection() as conn:
        left = conn.execute("SELECT count(*) AS n FROM idem_events_idempotency WHERE key = ANY(%s)",
                            ([c.key for c in old[1:]],)).fetchone()["n"]
    assert left == 0


def test_a_stored_answer_is_read_back_as_it_was_kept(store):
    claim = _claim(uuid.uuid4().hex)
    _save(store, claim, _event())
    store.recorder.keys.answer(claim, 201, [("location", "/api/v1/things/1"), ("etag", '"1"')], b'{"id": 1}')
    record = store.recorder.keys.find("operator:ann", claim.key)
    assert (record.answered, record.status, record.body) == (True, 201, b'{"id": 1}')
    assert record.headers == [("location", "/api/v1/things/1"), ("etag", '"1"')]
