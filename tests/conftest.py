"""Shared fixtures. Integration and e2e tests run once per engine mode: embedded always,
and against external servers as well when LEDGERFLOW_TEST_DATABASE_URL is set."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.shared.context import CommandContext
from tests.engines import EngineSet, running_container, server_engines, server_mode_requested, start_embedded

MODES = ["embedded"] + (["server"] if server_mode_requested() else [])


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its production cost takes about 0.17 s of CPU per hash and per check, and the
    suite creates and logs in hundreds of operators: in tests (this process only; served
    subprocesses keep the real cost) passwords are hashed with argon2's lowest parameters. What
    the hashing must do (argon2id, a dummy check for unknown names) does not depend on its cost."""
    from argon2 import PasswordHasher

    from application.access import secrets

    real = secrets._hasher, secrets._DUMMY
    secrets._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    secrets._DUMMY = secrets._hasher.hash("dummy-password-for-timing")
    yield
    secrets._hasher, secrets._DUMMY = real


@pytest.fixture(scope="session")
def engine_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="session")
def embedded_engines(engine_root: Path) -> Iterator[EngineSet]:
    engines, pg = start_embedded(engine_root)
    yield engines
    if engines.embedded_redis:
        engines.embedded_redis.stop()
    pg.stop()


@pytest.fixture(scope="session", params=MODES)
def engines(request: pytest.FixtureRequest, engine_root: Path) -> EngineSet:
    embedded: EngineSet = request.getfixturevalue("embedded_engines")
    if request.param == "embedded":
        return embedded
    # chDB is one engine per process, so server mode shares the embedded ClickHouse.
    return server_engines(embedded.clickhouse_url)


@pytest.fixture
def container(engines: EngineSet, tmp_path: Path):
    with running_container(engines, tmp_path) as c:
        yield c


@pytest.fixture
def live_container(engines: EngineSet, tmp_path: Path):
    """A container with projection workers running."""
    with running_container(engines, tmp_path, workers=True) as c:
        yield c


@pytest.fixture
def ctx() -> CommandContext:
    return CommandContext(actor="op:tester", correlation_id="corr-test")


def pytest_report_header(config: pytest.Config) -> str:
    return f"ledgerflow engine modes: {', '.join(MODES)} (LEDGERFLOW_TEST_DATABASE_URL={os.environ.get('LEDGERFLOW_TEST_DATABASE_URL', '-')})"
