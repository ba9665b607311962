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
