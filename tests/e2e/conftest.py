"""End-to-end (HTTP) tests run on the embedded engines only: what they check — the API's
contract, authorization, the text boundary, flows over HTTP — does not depend on the engine
mode, and what does (the event store, projections, data-source privileges and row-level
security, Redis outages) is covered by the integration tests in both modes. This keeps CI
within its budget."""
import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app
from tests.engines import EngineSet

TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(live_container):
    with TestClient(create_app(live_container)) as c:
        yield c


@pytest.fixture(scope="session")
def engines(embedded_engines: EngineSet) -> EngineSet:
    return embedded_engines
