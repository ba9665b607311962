"""Projections: exactly once across a crash in the middle of a batch, in PostgreSQL and ClickHouse."""
from __future__ import annotations

import threading

import pytest

from infrastructure.projections import InjectedCrash
from tests.legacy import legacy_department, legacy_rename


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


def test_an_event_whose_data_cannot_be_applied_is_parked_with_its_aggregate_not_the_whole_projection(container, ctx):
    """A NUL in a name (refused by the event store today, but an older release stored it) cannot be
    stored by PostgreSQL: that event and later events of the same department are parked; every
    other department is projected; status and the parked list say so."""
    access = container.access
    good = access.create_department(ctx, "GOOD1", "Good 1", "other", None).id
    bad = legacy_department(container, ctx, "BAD", "bad\x00name").id  # written by an older release
    legacy_rename(container, ctx, bad, "fixed name")  # same aggregate: parked behind it
    later = access.create_department(ctx, "GOOD2", "Good 2", "other", None).id
    runner = container.runners["access.departments"]
    runner.catch_up()
    ids = {r["id"] for r in _read_model(container)}
    assert {good, later} <= ids and bad not in ids
    assert runner.position() == container.store.head()
    parked = runner.parked()
    assert [p["originator_id"] for p in parked] == [bad, bad]
    assert "DataError" in parked[0]["error"] or "NUL" in parked[0]["error"]
    assert "parked behind" in parked[1]["error"]
    assert runner.status().parked == 2
    assert runner.retry_parked() == (0, 2)  # the data is still bad: nothing changes


def test_parked_events_are_re_applied_in_order_after_a_fix(container, ctx):
    access = container.access
    runner = container.runners["access.departments"]
    target = access.create_department(ctx, "T", "Target", "other", None).id
    access.rename_department(ctx, target, "Renamed", None)
    other = access.create_department(ctx, "O", "Other", "other", None).id
    apply = runner.projection.apply

    def broken(writer, event, position):  # a handler bug on one aggregate's events
        if event.originator_id == target:
            raise ValueError("handler bug")
        apply(writer, event, position)

    runner.projection.apply = broken
    runner.catch_up()
    assert {r["id"] for r in _read_model(container)} == {other}
    assert len(runner.parked()) == 2
    runner.projection.apply = apply  # the fix is deployed
    assert runner.retry_parked() == (2, 0)
    rows = {r["id"]: r for r in _read_model(container)}
    assert rows[target]["name"] == "Renamed" and rows[target]["version"] == 2
    runner.reset()  # a rebuild starts clean
    runner.catch_up()
    assert runner.parked() == [] and {r["id"] for r in _read_model(container)} == {target, other}
