"""Blue/green rebuilds (ADR 0029): a rebuild builds new tables beside the serving ones, switches
them in atomically when caught up and drops the old ones; a version bump rebuilds at start."""
from __future__ import annotations

import threading
import time

from infrastructure.rebuilds import BlueGreenRebuild, RebuildBusy, build_schema
from interfaces.api.routes.health import _rebuilding
from interfaces.api.routes.projections import list_projections
from interfaces.bootstrap import Container, Engines
from projections.access.departments import DepartmentsProjection
from tests.engines import fresh_database, make_settings

COUNT = "SELECT count(*) AS n, coalesce(sum(version), 0) AS versions FROM access_departments"


def _departments(container, ctx, n):
    ids = [container.access.create_department(ctx, f"D{i}", f"Dept {i}", "other", None).id for i in range(n)]
    for dept_id in ids[::3]:
        container.access.rename_department(ctx, dept_id, "Renamed", None)
    return ids


def _oid(container, table):
    with container.store.datastore.get_connection() as conn:
        return conn.execute("SELECT to_regclass(%s)::oid AS oid", (f"public.{table}",)).fetchone()["oid"]


class Reader(threading.Thread):
    """Polls a read-model query for as long as the rebuild runs, keeping every answer."""

    def __init__(self, container, sql):
        super().__init__(daemon=True)
        self.container, self.sql = container, sql
        self.seen: list[tuple] = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.seen.append(tuple(self.container.readmodels.fetch_one(self.sql).values()))

    def stop(self):
        self.done.set()
        self.join(10)
        return set(self.seen)


def test_a_rebuild_keeps_the_read_model_complete_throughout_and_switches_in_new_tables(container, ctx):
    _departments(container, ctx, 120)
    live = container.runners["access.departments"]
    live.catch_up()
    before = tuple(container.readmodels.fetch_one(COUNT).values())
    old_table = _oid(container, "access_departments")

    reader = Reader(container, COUNT)
    reader.start()
    rebuild = BlueGreenRebuild(live, batch_size=15)
    progress = []

    def report(position, head):
        progress.append(live.status().rebuild)
        time.sleep(0.01)  # slow enough to be read many times

    switched = rebuild.run(progress=report)
    answers = reader.stop()

    assert switched
    assert progress[0].version == 1 and 0 < progress[0].position < progress[-1].position <= progress[-1].head
    assert progress[-1].percent == 100.0
    assert answers == {before}, "a reader saw an empty, partial or changed read model during the rebuild"
    assert len(reader.seen) > 10
    assert _oid(container, "access_departments") != old_table
    with container.store.datastore.get_connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM pg_class WHERE oid = %s", (old_table,)).fetchone()["n"] == 0
        assert conn.execute("SELECT to_regnamespace(%s) AS s", (build_schema(live.name),)).fetchone()["s"] is None
        persistence = conn.execute("SELECT relpersistence FROM pg_class WHERE oid = to_regclass('access_departments')"
                                   ).fetchone()["relpersistence"]
    assert persistence == "p", "the switched-in tables must be WAL-logged like the rest"
    status = live.status()
    assert (status.position, status.rebuild) == (container.store.head(), None)


def test_events_committed_during_a_rebuild_reach_the_new_tables(container, ctx):
    _departments(container, ctx, 30)
    live = container.runners["access.departments"]
    live.catch_up()
    added = []

    def meanwhile(position, head):
        if not added:
            added.append(container.access.create_department(ctx, "LATE", "Late", "other", None).id)

    BlueGreenRebuild(live, batch_size=10).run(progress=meanwhile)
    live.catch_up()
    rows = container.readmodels.fetch_all("SELECT id FROM access_departments")
    assert len(rows) == 31 and added[0] in {r["id"] for r in rows}
    assert live.position() == container.store.head()


def test_a_rebuild_keeps_the_grants_and_row_policies_of_the_tables_it_replaces(container, ctx, embedded_only):
    role = container.settings.datasource_role
    privileges = ("SELECT has_table_privilege(%s, 'forms_customers', 'SELECT') AS granted,"
                  " (SELECT count(*) FROM pg_policies WHERE tablename = 'forms_customers') AS policies,"
                  " (SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass('forms_customers')) AS rls")
    before = container.readmodels.fetch_one(privileges, (role,))
    assert before == {"granted": True, "policies": 1, "rls": True}
    old_table = _oid(container, "forms_customers")
    assert BlueGreenRebuild(container.runners["forms.catalogue"]).run()
    assert _oid(container, "forms_customers") != old_table
    assert container.readmodels.fetch_one(privileges, (role,)) == before


def test_only_one_rebuild_of_a_projection_runs_at_a_time(container, ctx, embedded_only):
    _departments(container, ctx, 20)
    live = container.runners["access.departments"]
    refused = []

    def second_process_tries(position, head):
        if not refused:
            try:
                BlueGreenRebuild(live).run()
                refused.append(False)
            except RebuildBusy:
                refused.append(True)

    assert BlueGreenRebuild(live, batch_size=5).run(progress=second_process_tries)
    assert refused == [True]
    assert len(container.readmodels.fetch_all("SELECT id FROM access_departments")) == 20


def test_a_rebuild_of_a_clickhouse_sink_builds_new_tables_and_exchanges_them(container, ctx, embedded_only):
    _departments(container, ctx, 25)
    sink = container.runners["analytics.event_facts"]
    sink.catch_up()
    ch = container.clickhouse
    count = f"SELECT count(), sum(version) FROM {ch.db}.event_facts FINAL"
    uuid = f"SELECT uuid FROM system.tables WHERE database = '{ch.database}' AND name = 'event_facts'"
    before, old_uuid = ch.query(count), ch.query(uuid)
    seen = []
    assert BlueGreenRebuild(sink, batch_size=7).run(progress=lambda p, h: seen.append(ch.query(count)))
    assert seen and all(answer == before for answer in seen), "the serving table changed during the build"
    assert ch.query(count) == before
    assert ch.query(uuid) != old_uuid
    assert ch.query(f"SELECT count() FROM system.tables WHERE database = '{ch.database}' AND name LIKE '%%rebuild%%'"
                    ) == [(0,)]
    flow_facts = container.runners["analytics.flow_facts"]  # views over swapped tables still answer
    assert BlueGreenRebuild(flow_facts).run()
    assert ch.query(f"SELECT count() FROM {ch.db}.bi_flow_instances") == [(0,)]


def test_a_version_bump_rebuilds_at_start_while_the_old_version_serves(engines, tmp_path, ctx, embedded_only,
                                                                       monkeypatch):
    with fresh_database(engines) as url:
        settings = make_settings(tmp_path)
        shared = Engines(url, engines.redis_url, engines.clickhouse_url)
        first = Container.start(settings, engines=shared)
        try:
            _departments(first, ctx, 40)
            first.runners["access.departments"].catch_up()
            before = tuple(first.readmodels.fetch_one(COUNT).values())
            old_table = _oid(first, "access_departments")
        finally:
            first.close()

        monkeypatch.setattr(DepartmentsProjection, "version", 2)  # the deploy of a new version
        other = held_lock(url, "access.departments")  # another process is building it: this one waits
        second = Container.start(settings, engines=shared, workers=True)
        try:
            live = second.runners["access.departments"]
            assert live.needs_rebuild and live.status().version == 1
            time.sleep(0.5)
            assert live.status().version == 1, "a second process rebuilt while another held the rebuild"
            assert tuple(second.readmodels.fetch_one(COUNT).values()) == before  # the old version serves
            assert _rebuilding(second) == {"access.departments": "version 2 building (waiting); the older tables serve"}
            listed = {p.name: p for p in list_projections(second, None)}["access.departments"]
            assert (listed.version, listed.code_version) == (1, 2)
            other.close()  # the waiting worker builds, then switches
            deadline = time.monotonic() + 20
            while live.status().version != 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            status = live.status()
            assert (status.version, status.rebuild) == (2, None)
            assert tuple(second.readmodels.fetch_one(COUNT).values()) == before
            assert _oid(second, "access_departments") != old_table
            assert _rebuilding(second) == {}
        finally:
            other.close()
            second.close()


def held_lock(url, name):
    """The rebuild lock of a projection, held as another process would."""
    import psycopg

    from infrastructure.rebuilds import LOCK_CLASS

    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, name))
    return conn
