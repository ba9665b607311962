"""Runs checked SQL data sources under the database's own privileges: as a dedicated role
(NOLOGIN) that may SELECT exactly the allow-listed tables, whose rows row-level security limits
to the caller's data scope, in a read-only transaction with a statement timeout, a row limit and
a size limit; and a Redis cache with a TTL, keyed by query, parameters and scope (best effort:
Redis down means no cache, never an error).

``ensure_role`` (called by the composition root at start-up) creates the role if missing,
re-grants its privileges, so a shrunk allow-list takes effect at the next start, and (re)creates
the row-level security policy on every allow-listed table with a ``department_id`` or
``fund_account`` column: the role sees a row only if ``ledgerflow.ds_all`` is ``on`` or the row's
department is in ``ledgerflow.ds_departments`` or its fund account in ``ledgerflow.ds_accounts``,
three transaction-local settings the runner sets from the caller's ``RowScope`` before it
switches to the role. The tables' owner (the service's own database user) is not subject to
the policy (no FORCE), so projections and every other read see all rows. ``describe`` asks the
database which table column each output column of a query comes from (libpq's ftable /
ftablecol), for the scope rules of application/forms/engine/sql_guard.scope_plan.

At most ``row_limit + 1`` rows leave the database: the statement runs wrapped in ``SELECT * FROM
(...) LIMIT n + 1`` through a server-side cursor, fetched a few rows at a time; a row larger than
``max_bytes`` fails in the database, and the rows fetched stop at ``max_bytes`` in total.

SET ROLE and the scope settings are reversible by SQL that sets them; the parser refuses every
function that could (set_config and everything else off its allow-list), and the runner
discards the rows of a query that ended as another role or with other scope settings.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
import psycopg
import redis
from psycopg import pq
from psycopg.sql import SQL, Identifier

from domain.forms.checked_sql import PARAM, SCOPE_COLUMNS, CheckedSql, DataSourceLimitError, RowScope
from infrastructure.redis.supervisor import RedisSupervisor

log = logging.getLogger(__name__)


def _message(result: Any) -> str:
    return (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message or b"").decode(
        errors="replace")


class DataSourceRoleError(RuntimeError):
    """The data-source role cannot be created or granted: start-up stops."""


# Serialises start-up grants of several processes on one database (advisory locks are per
# database; the role itself is cluster-wide, so its creation tolerates a concurrent creator).
GRANT_LOCK = 0x4C46_4453  # "LFDS"
POLICY = "ledgerflow_datasource_scope"
SETTINGS = ("ledgerflow.ds_all", "ledgerflow.ds_departments", "ledgerflow.ds_accounts")
MAX_BYTES = 4 * 1024 * 1024  # rows of one answer, in total (JSON), and one row (as text) in the database
FETCH_ROWS = 8               # rows per round trip from the server-side cursor
TOO_LARGE = "bytes in one data-source row"


class SqlSourceRunner:
    def __init__(self, connections: dict[str, Any], supervisor: RedisSupervisor | None, *,
                 role: str = "ledgerflow_datasource", max_bytes: int = MAX_BYTES):
        """``connections``: name -> a PostgresDatastore (pooled) the data sources may read;
        ``role``: the database role every data source runs as; ``max_bytes``: the most one answer
        may weigh."""
        self.connections = connections
        self.redis = supervisor
        self.role = role
        self.max_bytes = max_bytes

    # -- the role ----------------------------------------------------------------------------
    def ensure_role(self, tables: set[str]) -> list[str]:
        """Create the role if missing (NOLOGIN), let the connecting user SET ROLE to it, and grant
        it SELECT on exactly ``tables`` in each connection's database (revoking everything else it
        held there), and put the scope policy on each of them that holds customer rows (row-level
        security, see the module doc). Answers the tables granted; configured tables that do not
        exist are logged and skipped. DataSourceRoleError if the database user may not do this."""
        granted: list[str] = []
        for datastore in self.connections.values():
            with datastore.get_connection() as conn:
                try:
                    self._create_role(conn)
                    granted = self._grant(conn, tables)
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise DataSourceRoleError(
                        f"cannot set up the data-source role {self.role!r}: {exc.diag.message_primary}. The database"
                        " user needs CREATEROLE (or a DBA creates the role NOLOGIN and grants it to this user,"
                        " see docs/forms.md)") from None
        return granted

    def _create_role(self, conn: Any) -> None:
        role = Identifier(self.role)
        with conn.transaction():
            row = conn.execute("SELECT rolsuper, rolbypassrls, rolcanlogin, oid FROM pg_roles WHERE rolname = %s",
                               (self.role,)).fetchone()
            if row is None:
                try:
                    with conn.transaction():  # a savepoint: another database of the cluster may create it now
                        conn.execute(SQL("CREATE ROLE {} NOLOGIN").format(role))
                except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                    pass
                row = conn.execute("SELECT rolsuper, rolbypassrls, rolcanlogin, oid FROM pg_roles"
                                   " WHERE rolname = %s", (self.role,)).fetchone()
            if row["rolsuper"] or row["rolbypassrls"]:
                raise DataSourceRoleError(f"the data-source role {self.role!r} is a superuser or bypasses row"
                                          " security; it must be a plain NOLOGIN role")
            inherited = conn.execute("SELECT count(*) AS n FROM pg_auth_members WHERE member = %s",
                                     (row["oid"],)).fetchone()["n"]
            if inherited:
                raise DataSourceRoleError(f"the data-source role {self.role!r} is a member of other roles and would"
                                          " inherit their privileges; revoke them")
            # SET ROLE needs membership (PostgreSQL 16: membership with the SET option; a CREATEROLE
            # user gets only ADMIN on a role it creates).
            may_set = "SET" if conn.info.server_version >= 160000 else "MEMBER"
            check = f"SELECT pg_has_role(current_user, %s, '{may_set}') AS ok"
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            if not superuser["rolsuper"] and not conn.execute(check, (self.role,)).fetchone()["ok"]:
                try:
                    with conn.transaction():
                        conn.execute(SQL("GRANT {} TO CURRENT_USER").format(role))
                except psycopg.errors.InsufficientPrivilege:
                    raise
                except psycopg.Error:  # a concurrent GRANT of the same membership
                    if not conn.execute(check, (self.role,)).fetchone()["ok"]:
                        raise

    def _grant(self, conn: Any, tables: set[str]) -> list[str]:
        role = Identifier(self.role)
        granted: list[str] = []
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (GRANT_LOCK,))
            held = conn.execute(  # table and column privileges, in any schema
                "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = %s)"
                " SELECT c.oid::regclass::text AS name FROM pg_class c, aclexplode(c.relacl) a, r"
                " WHERE a.grantee = r.oid UNION SELECT t.attrelid::regclass::text FROM pg_attribute t,"
                " aclexplode(t.attacl) a, r WHERE a.grantee = r.oid", (self.role,)).fetchall()
            for row in held:
                conn.execute(SQL("REVOKE ALL ON TABLE {} FROM {}").format(SQL(row["name"]), role))
            conn.execute(SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
            conn.execute(SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            for name in sorted(tables):
                try:
                    with conn.transaction():  # a savepoint: a malformed name is skipped like a missing one
                        found = conn.execute(
                            "SELECT c.oid::regclass::text AS name, n.nspname AS schema FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
                            (name,)).fetchone()
                except (psycopg.errors.DataError, psycopg.errors.InvalidName):
                    found = None
                if found is None:
                    log.warning("data-source table %r does not exist; not granted", name)
                    continue
                self._scope_policy(conn, found["name"])
                conn.execute(SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(found["schema"]), role))
                conn.execute(SQL("GRANT SELECT ON TABLE {} TO {}").format(SQL(found["name"]), role))
                granted.append(found["name"])
        return granted

    def _scope_policy(self, conn: Any, table: str) -> None:
        """Row-level security on ``table`` if it has scope columns: the role sees the rows of the
        scope set for the transaction (``_enter``), nothing when none is set. Dropped and created
        again at every start, inside the caller's transaction (under the advisory lock), so a
        changed definition or role takes effect and concurrent starts do not collide."""
        columns = {r["attname"]: r["type"] for r in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attnum > 0 AND NOT attisdropped AND attname = ANY(%s)", (table, list(SCOPE_COLUMNS))).fetchall()}
        if not columns:
            return
        tests = [SQL("current_setting({}, true) = 'on'").format(SETTINGS[0])]
        for column, setting in (("department_id", SETTINGS[1]), ("fund_account", SETTINGS[2])):
            if column not in columns:
                continue
            listed = SQL("string_to_array(current_setting({}, true), ',')").format(setting)
            if columns[column] == "uuid":
                tests.append(SQL("{} = ANY({}::uuid[])").format(Identifier(column), listed))
            elif columns[column] == "text":
                tests.append(SQL("{} = ANY({})").format(Identifier(column), listed))
            else:
                tests.append(SQL("{}::text = ANY({})").format(Identifier(column), listed))
        try:
            conn.execute(SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(SQL(table)))
            conn.execute(SQL("DROP POLICY IF EXISTS {} ON {}").format(Identifier(POLICY), SQL(table)))
            conn.execute(SQL("CREATE POLICY {} ON {} AS PERMISSIVE FOR SELECT TO {} USING ({})").format(
                Identifier(POLICY), SQL(table), Identifier(self.role), SQL(" OR ").join(tests)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DataSourceRoleError(f"cannot put the data-source scope policy on {table}:"
                                      f" {exc.diag.message_primary}. The service's database user must own the"
                                      " allow-listed tables (see docs/forms.md)") from None

    def run(self, key: str, checked: CheckedSql, params: dict[str, Any], *, connection: str, timeout_ms: int,
            row_limit: int, cache_seconds: int, scope: RowScope | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Rows and whether they came from the cache. ``scope``: the customer rows the query may
        read (row-level security); None reads none of them."""
        if connection not in self.connections:
            raise DataSourceLimitError(f"unknown connection {connection!r}")
        missing = [p for p in checked.params if p not in params]
        if missing:
            raise DataSourceLimitError(f"missing parameters: {', '.join(missing)}")
        settings = self._settings(scope or RowScope.nothing())
        cache_key = None
        if cache_seconds and self.redis is not None:
            digest = hashlib.sha256(orjson.dumps([checked.source, {p: params[p] for p in checked.params}, settings],
                                                 default=str)).hexdigest()
            cache_key = self.redis.key(f"ds:{key}:{digest}")
            cached = self._cache_get(cache_key)
            if cached is not None:
                return cached, True
        rows = self._query(checked, params, connection, timeout_ms, row_limit, settings)
        if cache_key:
            self._cache_put(cache_key, rows, cache_seconds)
        return rows, False

    @staticmethod
    def _settings(scope: RowScope) -> dict[str, str]:
        """The values of the scope settings the row-level security policy reads."""
        accounts = [a for a in scope.accounts if "," not in a]  # a comma would split one account in two
        if len(accounts) != len(scope.accounts):
            log.warning("investor accounts containing a comma are left out of a data-source scope")
        return {SETTINGS[0]: "on" if scope.all else "off",
                SETTINGS[1]: ",".join(sorted(str(d) for d in scope.departments)),
                SETTINGS[2]: ",".join(sorted(accounts))}

    def _query(self, checked: CheckedSql, params: dict[str, Any], connection: str, timeout_ms: int,
               row_limit: int, settings: dict[str, str]) -> list[dict[str, Any]]:
        datastore = self.connections[connection]
        # The limit is in the statement, so the database stops producing rows; a row larger than
        # max_bytes fails there (a text that is not an integer), before it crosses the wire.
        wrapped = (f"SELECT * FROM (\n{checked.psycopg_sql}\n) AS ledgerflow_ds WHERE CASE WHEN"
                   f" octet_length(ROW(ledgerflow_ds.*)::text) <= {int(self.max_bytes)} THEN true ELSE"
                   f" (octet_length(ROW(ledgerflow_ds.*)::text) || ' {TOO_LARGE}')::int IS NULL END"
                   f" LIMIT {int(row_limit) + 1}")
        rows: list[dict[str, Any]] = []
        size = 0
        with datastore.get_connection() as conn, conn.cursor() as cur:
            try:
                with conn.transaction(force_rollback=True):
                    self._enter(cur, timeout_ms, settings)
                    with conn.cursor(name="ledgerflow_ds") as server:
                        server.execute(wrapped, {p: params[p] for p in checked.params})
                        while len(rows) <= row_limit:
                            batch = server.fetchmany(FETCH_ROWS)
                            if not batch:
                                break
                            rows += [dict(r) for r in batch]
                            size += len(orjson.dumps(batch, default=str))
                            if size > self.max_bytes:
                                raise DataSourceLimitError(f"the rows weigh more than {self.max_bytes} bytes")
                    self._still_the_role(cur, settings)
            except psycopg.Error as exc:
                raise self._limit_error(exc, timeout_ms) from None
            if len(rows) > row_limit:
                raise DataSourceLimitError(f"the query returned more than {row_limit} rows")
            return rows

    def _enter(self, cur: Any, timeout_ms: int, settings: dict[str, str] | None = None) -> None:
        """The first statements of a data-source transaction: read only, the scope settings for
        row-level security (before the role, which may not set them), as the role, time-boxed."""
        cur.execute("SET TRANSACTION READ ONLY")
        for name, value in (settings or self._settings(RowScope.nothing())).items():
            cur.execute("SELECT set_config(%s, %s, true)", (name, value))
        cur.execute(SQL("SET LOCAL ROLE {}").format(Identifier(self.role)))
        cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_ms)}ms",))

    def _still_the_role(self, cur: Any, settings: dict[str, str]) -> None:
        cur.execute("SELECT current_user AS who, current_setting(%s, true) AS a, current_setting(%s, true) AS d,"
                    " current_setting(%s, true) AS f", SETTINGS)
        row = cur.fetchone()
        if row["who"] != self.role:
            raise DataSourceLimitError("the query changed its database role; its rows are discarded")
        if (row["a"], row["d"], row["f"]) != tuple(settings[s] for s in SETTINGS):
            raise DataSourceLimitError("the query changed its data scope; its rows are discarded")

    @staticmethod
    def _limit_error(exc: psycopg.Error, timeout_ms: int) -> DataSourceLimitError:
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return DataSourceLimitError(f"the query ran longer than {timeout_ms} ms and was stopped")
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return DataSourceLimitError("the query tried to write")
        if isinstance(exc, psycopg.errors.InvalidTextRepresentation) and TOO_LARGE in str(exc):
            return DataSourceLimitError("a row of the query is larger than the size limit")
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return DataSourceLimitError(f"the data source may not read that: {exc.diag.message_primary}")
        return DataSourceLimitError(f"the query failed: {exc.diag.message_primary or exc}")

    def describe(self, checked: CheckedSql, *, connection: str,
                 timeout_ms: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Without running it: the query's output columns ``{"name", "table", "column"}`` (the source
        table column the database reports, None for a computed column) and the relations it reads
        ``{name: {"reads": n, "scoped": has a fund_account or department_id column}}``.
        DataSourceLimitError if the database refuses the query (as the role)."""
        if connection not in self.connections:
            raise DataSourceLimitError(f"unknown connection {connection!r}")
        numbered = PARAM.sub(lambda m: f"${checked.params.index(m.group(1)) + 1}", checked.source)
        with self.connections[connection].get_connection() as conn, conn.cursor() as cur:
            try:
                with conn.transaction(force_rollback=True):
                    self._enter(cur, timeout_ms)
                    pgconn = conn.pgconn
                    prepared = pgconn.prepare(b"", numbered.encode())
                    if prepared.status != pq.ExecStatus.COMMAND_OK:
                        raise DataSourceLimitError(f"the query failed: {_message(prepared)}")
                    result = pgconn.describe_prepared(b"")
                    if result.status != pq.ExecStatus.COMMAND_OK:
                        raise DataSourceLimitError(f"the query failed: {_message(result)}")
                    fields = [(result.fname(i).decode(), result.ftable(i), result.ftablecol(i))
                              for i in range(result.nfields)]
                    cur.execute("RESET ROLE")
                    return self._columns(cur, fields), self._relations(cur, checked)
            except psycopg.Error as exc:
                raise self._limit_error(exc, timeout_ms) from None

    @staticmethod
    def _columns(cur: Any, fields: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
        cur.execute("SELECT a.attrelid::regclass::text AS tbl, a.attnum, a.attname FROM pg_attribute a"
                    " WHERE (a.attrelid, a.attnum) IN (SELECT * FROM unnest(%s::oid[], %s::int2[]))",
                    ([t for _, t, _ in fields], [c for _, _, c in fields]))
        names = {(r["tbl"], r["attnum"]): r["attname"] for r in cur.fetchall()}
        cur.execute("SELECT oid, oid::regclass::text AS tbl FROM pg_class WHERE oid = ANY(%s::oid[])",
                    ([t for _, t, _ in fields if t],))
        tables = {r["oid"]: r["tbl"] for r in cur.fetchall()}
        out = []
        for name, table, col in fields:
            source = tables.get(table) if table and col > 0 else None
            column = names.get((source, col)) if source else None
            out.append({"name": name, "table": source if column else None, "column": column})
        return out

    @staticmethod
    def _relations(cur: Any, checked: CheckedSql) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for schema, relation, reads in checked.relations:
            qualified = ".".join(f'"{p.replace(chr(34), chr(34) * 2)}"' for p in (schema, relation) if p)
            cur.execute("SELECT c.oid::regclass::text AS tbl, EXISTS (SELECT 1 FROM pg_attribute a WHERE"
                        " a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY(%s))"
                        " AS scoped FROM pg_class c WHERE c.oid = to_regclass(%s)",
                        (list(SCOPE_COLUMNS), qualified))
            row = cur.fetchone()
            if row is None:
                raise DataSourceLimitError(f"relation {'.'.join(p for p in (schema, relation) if p)} does not exist")
            entry = out.setdefault(row["tbl"], {"reads": 0, "scoped": row["scoped"]})
            entry["reads"] += reads
        return out

    def _cache_get(self, key: str) -> list[dict[str, Any]] | None:
        if not self.redis or not self.redis.available:
            return None
        try:
            raw = self.redis.client.get(key)
        except redis.RedisError:
            return None
        return orjson.loads(raw) if raw else None

    def _cache_put(self, key: str, rows: list[dict[str, Any]], seconds: int) -> None:
        if not self.redis or not self.redis.available:
            return
        try:
            self.redis.client.set(key, orjson.dumps(rows, default=str), ex=seconds)
        except redis.RedisError:
            log.info("data-source cache unavailable")
