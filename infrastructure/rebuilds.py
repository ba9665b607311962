"""Blue/green rebuilds (ADR 0029): a projection is rebuilt into new tables while the serving
ones keep answering, and the new ones are switched in atomically when they have caught up.

PostgreSQL read models build in a schema of their own, ``rebuild_<projection>``: the projection's
DDL and handlers run with that schema first on the search path and ``public`` second, so their
unqualified names write the new tables and still read other projections' live ones. The build
tables are UNLOGGED (no WAL while loading) and commit without waiting for the disk; before the
switch they are made LOGGED, given the live tables' other indexes (another projection's DDL may
index them) and analysed. The switch is one transaction: lock the live tracking row (the live
runner finishes its batch and waits), apply the last events to the new tables, copy the live
tables' grants and row-security policies, drop the live tables and move the new ones into
``public``, carry the build's parked events over and set the position and version. Readers wait
for that commit on the dropped tables' lock (milliseconds) and then read the new tables: they
never see an empty or partial model.

ClickHouse sinks build into ``<table>__rebuild`` tables and switch with ``EXCHANGE TABLES`` (one
atomic rename per table; views name the tables, so they read the new ones), then drop the old.

One process builds a projection at a time: the builder holds a session advisory lock for the
whole build (on the connection it builds with); another process that wants the same rebuild
waits for it, and takes over from the build's tracked position if the holder dies."""
from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from infrastructure.projections import BUILD_SUFFIX, ProjectionRunner, _single
from projections.framework import ClickHouseSink, PostgresProjection

log = logging.getLogger(__name__)

LOCK_CLASS = 0x4C465242  # "LFRB": the advisory-lock namespace of rebuilds (its second key: the projection)
CH_SUFFIX = "__rebuild"
SWITCH_LOCK_TIMEOUT = "5s"  # readers queue behind the switch's locks: give up (and try again) rather than stall them


class RebuildBusy(RuntimeError):
    """Another process is rebuilding this projection."""


def build_schema(name: str) -> str:
    return "rebuild_" + re.sub(r"[^a-z0-9_]", "_", name.lower())


def _fresh(projection: Any) -> Any:
    """The projection for the build: its own instance, so caches a projection keeps in private
    containers (a sink's folded histories) start empty instead of being shared with the live one."""
    fresh = copy.copy(projection)
    for attr, value in vars(projection).items():
        if attr.startswith("_") and isinstance(value, (dict, list, set)):
            setattr(fresh, attr, type(value)())
    return fresh


class BlueGreenRebuild:
    def __init__(self, live: ProjectionRunner, *, batch_size: int = 10_000,
                 stop: threading.Event | None = None):
        self.live = live
        self.name = live.name
        self.version = live.projection.version
        self.key = live.name + BUILD_SUFFIX
        self.schema = build_schema(live.name)
        self.postgres = isinstance(live.projection, PostgresProjection)
        self.runner = ProjectionRunner(
            live.store, _fresh(live.projection), clickhouse=live.clickhouse, batch_size=batch_size, key=self.key,
            build_schema=self.schema if self.postgres else None, table_suffix="" if self.postgres else CH_SUFFIX)
        self.stop = stop or threading.Event()
        self.position = 0
        self.head = 0
        self.error: str | None = None

    # -- the whole cycle ------------------------------------------------------------------------------
    def run(self, *, restart: bool = False, progress: Callable[[int, int], None] | None = None,
            if_stale: bool = False) -> bool:
        """Build (or resume a build of this version), switch, drop the old tables. True when switched
        (or, ``if_stale``, when another process has switched this version in meanwhile); False when
        asked to stop (the build stays and resumes next time). RebuildBusy: another process holds
        this rebuild."""
        with self.live.store.datastore.get_connection() as conn:
            if not _single(conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS ok",
                                        (LOCK_CLASS, self.name)).fetchone())["ok"]:
                raise RebuildBusy(f"another process is rebuilding {self.name}")
            try:
                if if_stale and self._current(conn):
                    self.live.needs_rebuild = False
                    return True
                self._prepare(conn, restart)
                logged = not self.postgres
                while True:
                    if not self._catch_up(conn, progress):
                        return False
                    if not logged:  # once, outside the switch: rewriting the tables takes a while
                        self._finish_tables(conn)
                        logged = True
                        continue
                    try:
                        self._switch(conn)
                    except psycopg.errors.LockNotAvailable:
                        log.warning("rebuild of %s: readers held the tables past %s; switching again",
                                    self.name, SWITCH_LOCK_TIMEOUT)
                        continue
                    log.info("rebuild of %s (version %s) switched in at position %s", self.name, self.version,
                             self.position)
                    return True
            finally:
                try:  # a connection that broke took the session's lock with it
                    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, self.name))
                except psycopg.Error:
                    log.warning("rebuild of %s: its connection was lost (and with it the rebuild lock)", self.name)

    def _current(self, conn: Any) -> bool:
        row = conn.execute("SELECT version, EXISTS (SELECT 1 FROM projection_tracking b WHERE b.name = %s"
                           " AND b.version = %s) AS building FROM projection_tracking WHERE name = %s",
                           (self.key, self.version, self.live.key)).fetchone()
        return row is not None and row["version"] >= self.version and not row["building"]

    def _catch_up(self, conn: Any, progress: Callable[[int, int], None] | None) -> bool:
        while not self.stop.is_set():
            read = self.runner.run_batch(conn)
            row = _single(conn.execute("SELECT position FROM projection_tracking WHERE name = %s",
                                       (self.key,)).fetchone())
            self.position, self.head = row["position"], self.live.store.head()
            if progress:
                progress(self.position, self.head)
            if not read:
                return True
        return False

    # -- the build tables ------------------------------------------------------------------------------
    def _prepare(self, conn: Any, restart: bool) -> None:
        row = conn.execute("SELECT version, position, pg_postmaster_start_time() > created_at AS restarted"
                           " FROM projection_tracking WHERE name = %s", (self.key,)).fetchone()
        if row is not None and not restart and row["version"] == self.version and not row["restarted"] \
                and self._tables_exist(conn):
            log.info("rebuild of %s (version %s) resumes at position %s", self.name, self.version, row["position"])
            return
        # UNLOGGED tables come back empty after a server crash: a build older than the server restarts.
        with conn.transaction(), conn.cursor() as cur:
            if self.postgres:
                self._create_schema(cur)
            else:
                self._create_ch_tables()
            cur.execute("DELETE FROM projection_parked WHERE name = %s", (self.key,))
            cur.execute("INSERT INTO projection_tracking (name, version, position, created_at)"
                        " VALUES (%s, %s, 0, now()) ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version,"
                        " position = 0, created_at = now(), updated_at = now()", (self.key, self.version))
        log.info("rebuild of %s (version %s) starts from position 0", self.name, self.version)

    def _owned(self) -> list[str]:
        return list(self.live.projection.tables)

    def _tables_exist(self, conn: Any) -> bool:
        if self.postgres:
            found = conn.execute("SELECT count(*) AS n FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
                                 (self.schema, self._owned())).fetchone()
            return bool(_single(found)["n"] == len(self._owned()))
        ch = self.live.clickhouse
        assert ch is not None
        names = [t + CH_SUFFIX for t in self._owned()]
        rows = ch.query("SELECT count() FROM system.tables WHERE database = %(d)s AND name IN %(n)s",
                        {"d": ch.database, "n": names})
        return bool(rows and rows[0][0] == len(names))

    def _create_schema(self, cur: Any) -> None:
        projection = self.live.projection
        assert isinstance(projection, PostgresProjection)
        schema = Identifier(self.schema)
        cur.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        cur.execute(SQL("CREATE SCHEMA {}").format(schema))
        cur.execute(SQL("SET LOCAL search_path = {}, public").format(schema))
        for statement in projection.schema:
            cur.execute(statement)
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,))
        made = {r["tablename"] for r in cur.fetchall()}
        for table in made - set(self._owned()):
            # The DDL also makes tables the projection writes but does not own (the notifications
            # outbox): its handlers must keep writing the live ones.
            cur.execute(SQL("DROP TABLE {}.{} CASCADE").format(schema, Identifier(table)))
        for table in sorted(set(self._owned()) - made):
            self._clone_live(cur, table)
        for table in self._owned():
            cur.execute(SQL("ALTER TABLE {}.{} SET UNLOGGED").format(schema, Identifier(table)))

    def _clone_live(self, cur: Any, table: str) -> None:
        """A table the DDL creates only when it does not exist yet (a DO block testing
        ``to_regclass``, which finds the live one): the live table's shape, with its keys; its
        other indexes come before the switch (``_finish_tables``)."""
        t = Identifier(table)
        if cur.execute("SELECT to_regclass(%s) AS t", (f"public.{table}",)).fetchone()["t"] is None:
            raise RuntimeError(f"{self.name}: the schema statements did not create {table}")
        cur.execute(SQL("CREATE TABLE {}.{} (LIKE public.{} INCLUDING ALL EXCLUDING INDEXES)").format(
            Identifier(self.schema), t, t))
        cur.execute("SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
                    " WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'x')", (f"public.{table}",))
        for constraint in cur.fetchall():
            cur.execute(SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} {}").format(
                Identifier(self.schema), t, Identifier(constraint["conname"]), SQL(constraint["definition"])))

    def _create_ch_tables(self) -> None:
        sink = self.live.projection
        ch = self.live.clickhouse
        assert isinstance(sink, ClickHouseSink) and ch is not None
        for table, ddl in sink.tables.items():
            ch.command(f"DROP TABLE IF EXISTS {ch.db}.`{table}{CH_SUFFIX}`")
            statement, n = re.subn(rf"{re.escape(ch.db)}\.`?{re.escape(table)}`?(?=[\s(])",
                                   f"{ch.db}.`{table}{CH_SUFFIX}`", ddl.format(db=ch.db), count=1)
            if n != 1:
                raise RuntimeError(f"{self.name}: cannot find the table name in the DDL of {table}")
            ch.command(statement)

    def _finish_tables(self, conn: Any) -> None:
        """Before the switch: WAL-logged again (the live tables are), the live tables' other indexes,
        fresh planner statistics."""
        schema = Identifier(self.schema)
        for table in self._owned():
            t = Identifier(table)
            conn.execute(SQL("ALTER TABLE {}.{} SET LOGGED").format(schema, t))
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s"
                " AND indexname NOT IN (SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s)"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s))",
                (table, self.schema, table, f"public.{table}")).fetchall()
            for index in indexes:  # made by another projection's DDL (an index on this projection's table)
                qualified = f" ON public.{table} "
                if qualified not in index["indexdef"]:
                    log.warning("rebuild of %s: cannot copy index %s (%s)", self.name, index["indexname"],
                                index["indexdef"])
                    continue
                conn.execute(index["indexdef"].replace(qualified, f" ON {schema.as_string()}.{t.as_string()} ", 1))
            conn.execute(SQL("ANALYZE {}.{}").format(schema, t))

    # -- the switch -------------------------------------------------------------------------------------
    def _switch(self, conn: Any) -> None:
        ch = self.live.clickhouse
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(SQL("SET LOCAL lock_timeout = {}").format(SWITCH_LOCK_TIMEOUT))
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE", (self.live.key,))
            while self.runner.run_batch(conn):  # the last events, while the live runner waits on its row
                pass
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s", (self.key,))
            self.position = _single(cur.fetchone())["position"]
            if self.postgres:
                self._swap_tables(cur)
            else:
                assert ch is not None
                for table in self._owned():
                    ch.command(f"EXCHANGE TABLES {ch.db}.`{table}` AND {ch.db}.`{table}{CH_SUFFIX}`")
            cur.execute("DELETE FROM projection_parked WHERE name = %s", (self.live.key,))
            cur.execute("UPDATE projection_parked SET name = %s WHERE name = %s", (self.live.key, self.key))
            cur.execute("UPDATE projection_tracking SET position = %s, version = %s, updated_at = now()"
                        " WHERE name = %s", (self.position, self.version, self.live.key))
            cur.execute("DELETE FROM projection_tracking WHERE name = %s", (self.key,))
            cur.execute("SET LOCAL synchronous_commit = on")  # the build's batches did not wait; the switch does
        if ch is not None and not self.postgres:
            for table in self._owned():  # the old tables, now under the build names
                ch.command(f"DROP TABLE IF EXISTS {ch.db}.`{table}{CH_SUFFIX}`")
        self.live.needs_rebuild = False

    def _swap_tables(self, cur: Any) -> None:
        schema = Identifier(self.schema)
        for table in self._owned():
            t = Identifier(table)
            self._copy_access(cur, table)
            cur.execute(SQL("DROP TABLE IF EXISTS public.{}").format(t))
            cur.execute(SQL("ALTER TABLE {}.{} SET SCHEMA public").format(schema, t))
        cur.execute(SQL("DROP SCHEMA {} CASCADE").format(schema))

    def _copy_access(self, cur: Any, table: str) -> None:
        """The grants and row-security policies the live table carries (the data-source role's
        SELECT and scope policy, ADR 0019/forms), onto the new table, in the switch transaction."""
        new = SQL("{}.{}").format(Identifier(self.schema), Identifier(table))
        cur.execute("SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner,"
                    " (SELECT coalesce(array_agg(format('GRANT %%s ON TABLE %%s TO %%s%%s', a.privilege_type, '{}',"
                    "  CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,"
                    "  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)), '{}')"
                    "  FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS grants"
                    " FROM pg_class c WHERE c.oid = to_regclass(%s)", (f"public.{table}",))
        live = cur.fetchone()
        if live is None:
            return
        for grant in live["grants"]:
            cur.execute(SQL(grant.replace("{}", "{new}")).format(new=new))
        if live["relrowsecurity"]:
            cur.execute(SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(new))
        if live["relforcerowsecurity"]:
            cur.execute(SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(new))
        cur.execute("SELECT p.polname, p.polpermissive, p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS qual,"
                    " pg_get_expr(p.polwithcheck, p.polrelid) AS checked, ARRAY(SELECT CASE r WHEN 0 THEN 'PUBLIC'"
                    " ELSE quote_ident(pg_get_userbyid(r)) END FROM unnest(p.polroles) r) AS roles"
                    " FROM pg_policy p WHERE p.polrelid = to_regclass(%s)", (f"public.{table}",))
        commands = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
        for p in cur.fetchall():
            statement = SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
                Identifier(p["polname"]), new, SQL("PERMISSIVE" if p["polpermissive"] else "RESTRICTIVE"),
                SQL(commands[p["polcmd"]]), SQL(", ".join(p["roles"])))
            if p["qual"]:
                statement += SQL(" USING ({})").format(SQL(p["qual"]))
            if p["checked"]:
                statement += SQL(" WITH CHECK ({})").format(SQL(p["checked"]))
            cur.execute(statement)
