"""The event store on real PostgreSQL: concurrency, group commit, positions, time travel."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from domain.access.department import Department
from domain.shared.context import CommandContext
from domain.shared.errors import ConcurrencyConflictError, StaleVersionError


def _race(n, action):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", action(i))
        except Exception as exc:
            results[i] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


@pytest.mark.parametrize("group_commit", [True, False])
def test_two_concurrent_commands_on_one_aggregate_one_wins_one_conflicts(container, ctx, group_commit):
    container.store.recorder.group_commit = group_commit
    dept = container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    # Both load version 1 before either saves: the second save must fail, never overwrite.
    loaded = [container.access.load(dept.id, Department) for _ in range(2)]
    names = ["Shanghai A", "Shanghai B"]

    def save(i):
        from domain.shared.context import acting_as

        with acting_as(ctx):
            loaded[i].rename(names[i])
        return container.access.save_one(loaded[i])

    results = _race(2, save)
    oks = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(oks) == 1 and len(errors) == 1
    assert isinstance(errors[0], ConcurrencyConflictError)
    winner = names[results.index(oks[0])]
    final = container.access.load(dept.id, Department)
    assert final.name == winner and final.version == 2
    # Nothing lost: the trail holds the create and exactly one rename.
    assert [e.event_type for e in container.audit.trail(dept.id)] == ["Created", "Renamed"]


def test_a_stale_expected_version_is_refused(container, ctx):
    dept = container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    container.access.rename_department(ctx, dept.id, "One", 1)
    with pytest.raises(StaleVersionError, match="version 2, not 1"):
        container.access.rename_department(ctx, dept.id, "Two", 1)


def test_concurrent_writers_share_transactions_and_keep_positions_in_commit_order(container, ctx):
    recorder = container.store.recorder
    before = recorder.stats.transactions
    results = _race(16, lambda i: [container.access.create_department(ctx, f"D{i}-{k}", f"Dept {i}-{k}", "other", None)
                                   for k in range(10)])
    assert all(r[0] == "ok" for r in results), results
    positions = sorted(c.position for r in results for c in r[1])
    assert positions == list(range(1, 161))  # every command got its own, gap-free position
    transactions = recorder.stats.transactions - before
    assert transactions < 160, "concurrent commands should have been grouped into fewer transactions"
    assert container.audit.verify().ok


def test_a_conflict_inside_a_group_fails_only_the_stale_writer(container, ctx):
    dept = container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    stale = [container.access.load(dept.id, Department) for _ in range(3)]
    others = [f"X{i}" for i in range(8)]

    def act(i):
        if i < 3:
            from domain.shared.context import acting_as

            with acting_as(ctx):
                stale[i].rename(f"Name {i}")
            return container.access.save_one(stale[i])
        return container.access.create_department(ctx, others[i - 3], "Other", "other", None)

    results = _race(11, act)
    conflicts = [r for r in results[:3] if r[0] == "error"]
    assert len(conflicts) == 2 and all(isinstance(r[1], ConcurrencyConflictError) for r in conflicts)
    assert all(r[0] == "ok" for r in results[3:])
    assert container.audit.verify().ok


def test_an_aggregate_loads_as_of_a_version_and_a_time(container, ctx):
    dept = container.access.create_department(ctx, "SH01", "First", "branch", None)
    time.sleep(0.01)
    middle = datetime.now(timezone.utc)
    time.sleep(0.01)
    container.access.rename_department(ctx, dept.id, "Second", None)
    assert container.access.load(dept.id, Department, version=1).name == "First"
    assert container.access.load_as_of(dept.id, Department, middle).name == "First"
    assert container.access.load_as_of(dept.id, Department, datetime.now(timezone.utc)).name == "Second"
    assert container.audit.state_as_of(dept.id, at=middle)["state"]["name"] == "First"


def test_events_record_actor_and_correlation_id(container):
    ctx = CommandContext(actor="op:42", correlation_id="req-abc")
    dept = container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    (entry,) = container.audit.trail(dept.id)
    assert (entry.actor, entry.correlation_id) == ("op:42", "req-abc")


def test_two_processes_appending_to_one_store_keep_one_intact_chain(container, ctx):
    """A second EventStore stands for another API process: each one's cached chain head goes
    stale when the other writes, and the append must notice and redo the batch under the lock."""
    from application.access.service import AccessApplication
    from infrastructure.eventstore.store import EventStore

    other_store = EventStore(container.engines.database_url, events_table=container.settings.events_table,
                             chain_key=container.settings.audit_chain_key.get_secret_value().encode(), pool_size=4)
    other = AccessApplication(other_store)
    try:
        apps = [container.access, other]
        results = _race(8, lambda i: [apps[i % 2].create_department(ctx, f"P{i}-{k}", "x", "other", None)
                                      for k in range(15)])
        assert all(r[0] == "ok" for r in results), results
        positions = sorted(c.position for r in results for c in r[1])
        assert positions == list(range(1, 121))
        assert container.store.recorder.stats.head_misses + other_store.recorder.stats.head_misses > 2
        report = container.audit.verify()
        assert report.ok and report.checked == 120
    finally:
        other_store.close()
