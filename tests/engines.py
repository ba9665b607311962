"""Engines for tests: embedded always; external servers too when LEDGERFLOW_TEST_*_URL are set.

When CI asks for servers and they are unreachable the suite fails instead of skipping.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from infrastructure.engines.embedded import EmbeddedPostgres, EmbeddedRedis, quiet_platformdirs_warning
from infrastructure.settings import Mode, Settings
from interfaces.bootstrap import Container, Engines

TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
# The bootstrap administrator as request headers, for every HTTP test: read it, never change it.
ADMIN_HEADERS = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


@dataclass
class EngineSet:
    mode: str
    admin_database_url: str
    redis_url: str
    clickhouse_url: str
    embedded_redis: EmbeddedRedis | None = None


def server_mode_requested() -> bool:
    return bool(os.environ.get("LEDGERFLOW_TEST_DATABASE_URL"))


def check_servers(database_url: str, redis_url: str) -> None:
    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise RuntimeError(f"LEDGERFLOW_TEST_DATABASE_URL={database_url} is unreachable: {exc}") from exc
    try:
        redis.Redis.from_url(redis_url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"LEDGERFLOW_TEST_REDIS_URL={redis_url} is unreachable: {exc}") from exc


def start_embedded(root: Path) -> tuple[EngineSet, EmbeddedPostgres]:
    quiet_platformdirs_warning()
    pg = EmbeddedPostgres(root)
    url = pg.start()
    rs = EmbeddedRedis(root)
    rs.start()
    return EngineSet("embedded", url, rs.url, f"chdb:///{root / 'clickhouse'}", rs), pg


def server_engines(clickhouse_url: str) -> EngineSet:
    db = os.environ["LEDGERFLOW_TEST_DATABASE_URL"]
    rd = os.environ.get("LEDGERFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    check_servers(db, rd)
    return EngineSet("server", db, rd, clickhouse_url)


def _with_dbname(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


@contextmanager
def fresh_database(engines: EngineSet) -> Iterator[str]:
    name = f"lf_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(engines.admin_database_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    try:
        yield _with_dbname(engines.admin_database_url, name)
    finally:
        with psycopg.connect(engines.admin_database_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    values: dict[str, object] = dict(
        mode=Mode.test, data_dir=tmp_path, redis_prefix=f"lf-test-{suffix}:",
        clickhouse_database=f"lf_test_{suffix}", projection_poll_seconds=0.2, redis_check_seconds=0.2,
        bootstrap_admin_token=TEST_ADMIN_TOKEN, audit_chain_key="test-audit-chain-key-0123456789abcdef",
        master_key="test-master-key-0123456789abcdef",
        # Many tests send bad tokens on purpose from one test client; the address throttle has
        # its own tests (tests/e2e/test_login_throttle.py).
        address_free_failures=10_000,
        # The outage probe gives up after a third of this: on a loaded CI machine a 1 s probe
        # could count a busy database down and break the connections of an unrelated test.
        db_timeout_seconds=10.0,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def running_container(engines: EngineSet, tmp_path: Path, *, workers: bool = False,
                      redis_url: str | None = None, **overrides: object) -> Iterator[Container]:
    with fresh_database(engines) as database_url:
        settings = make_settings(tmp_path, **overrides)
        container = Container.start(
            settings, engines=Engines(database_url, redis_url or engines.redis_url, engines.clickhouse_url),
            workers=workers)
        try:
            yield container
        finally:
            # Workers stop first: a sink writing into a dropped ClickHouse database fails the teardown.
            if container.workers:
                container.workers.stop()
            container.clickhouse.command(f"DROP DATABASE IF EXISTS {container.clickhouse.db}")
            container.close()
