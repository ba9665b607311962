"""Projections: exactly once across a crash in the middle of a batch, in PostgreSQL and ClickHouse."""
from __future__ import annotations

import threading

import pytest

from infrastructure.projections import InjectedCrash


def _read_model(container):
    with container.store.datastore.get_connection() as conn:
        return conn.execute("SELECT id, code, name, version FROM access_departments ORDER BY id").fetchall()


def _facts(container, final=True):
    db = container.clickhouse.db
    return container.clickhouse.query(
        f"SELECT event_type, count(), sum(version), max(position) FROM {db}.event_facts"
        f"{' FINAL' if final else ''} GROUP BY event_type ORDER BY event_type")


def _make_history(container, ctx, n=40):
    ids = [container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None).id for i in range(n)]
    for i, dept_id in enumerate(ids[::2]):
        container.access.rename_department(ctx, dept_id, f"Renamed {i}", None)
    return ids


def test_a_crash_mid_batch_applies_every_event_exactly_once(container, ctx):
    _make_history(container, ctx)  # 60 events
    departments = container.runners["access.departments"]
    facts = container.runners["analytics.event_facts"]
    departments.batch_size = facts.batch_size = 25

    departments.run_batch()  # first 25 applied and tracked
    departments.crash_after = 10  # die after applying 10 of the next 25
    with pytest.raises(InjectedCrash):
        departments.run_batch()
    assert departments.position() == 25, "the crashed batch must not advance the position"

    facts.run_batch()
    facts.crash_after = 1  # die after the ClickHouse insert, before the position is committed
    with pytest.raises(InjectedCrash):
        facts.run_batch()
    assert facts.position() == 25

    # "Restart": new runs resume from the tracked positions.
    departments.catch_up()
    facts.catch_up()
    after_crash = (_read_model(container), _facts(container))
    # The replayed batch had the same boundaries, so its insert deduplication token
    # matched and ClickHouse dropped the block: not even unmerged duplicates exist.
    assert _facts(container, final=False) == after_crash[1]
    assert departments.position() == facts.position() == container.store.head() == 60

    for runner in (departments, facts):
        runner.reset()
        runner.catch_up()
    rebuilt = (_read_model(container), _facts(container))
    assert after_crash == rebuilt
    # The replayed ClickHouse block collapsed onto the rows it wrote before the crash.
    assert {row[0]: row[1] for row in rebuilt[1]} == {"Created": 40, "Renamed": 20}
    assert len(rebuilt[0]) == 40 and sum(1 for r in rebuilt[0] if r["version"] == 2) == 20


def test_two_runners_of_one_projection_never_apply_an_event_twice(container, ctx):
    _make_history(container, ctx, n=30)
    from infrastructure.projections import ProjectionRunner
    from projections.access.departments import DepartmentsProjection

    runners = [ProjectionRunner(container.store, DepartmentsProjection(), batch_size=5) for _ in range(3)]
    threads = [threading.Thread(target=r.catch_up) for r in runners]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Any double application of a Created event would have hit the primary key.
    assert runners[0].position() == container.store.head()
    assert len(_read_model(container)) == 30


def test_lag_is_reported_per_projection(container, ctx):
    _make_history(container, ctx, n=4)
    status = container.runners["access.departments"].status()
    assert (status.position, status.head, status.lag) == (0, 6, 6)
    container.runners["access.departments"].catch_up()
    assert container.runners["access.departments"].status().lag == 0


def test_workers_wake_on_commit_and_read_your_writes(live_container, ctx):
    result = live_container.access.create_department(ctx, "SH01", "Shanghai", "branch", None)
    assert live_container.progress.wait_for(list(live_container.runners), result.position, timeout=10)
    assert [r["code"] for r in _read_model(live_container)] == ["SH01"]
