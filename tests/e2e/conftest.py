"""End-to-end (HTTP) tests run on the embedded engines only: what they check — the API's
contract, authorization, the text boundary, flows over HTTP — does not depend on the engine
mode, and what does (the event store, projections, data-source privileges and row-level
security, Redis outages) is covered by the integration tests in both modes. This keeps CI
within its budget.

The firms several modules share are built here, each by its own module: ``firm`` (the flow
board's, board_firm.py), ``signing`` (the 004 tenant signing's, signing_firm.py) and
``archive_api`` (archive_client.py)."""
import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app
from tests.e2e import archive_client, board_firm, signing_firm
from tests.engines import ADMIN_HEADERS, EngineSet


@pytest.fixture
def auth():
    return dict(ADMIN_HEADERS)


@pytest.fixture
def client(live_container):
    with TestClient(create_app(live_container)) as c:
        yield c


@pytest.fixture(scope="session")
def engines(embedded_engines: EngineSet) -> EngineSet:
    return embedded_engines


@pytest.fixture
def firm(client, live_container):
    """The flow board's firm: Shanghai and Beijing branches, sellers, OPS and monitors (board_firm.py)."""
    return board_firm.set_up(client, live_container)


@pytest.fixture
def signing(client, live_container):
    """The 004 tenant signing, one person per role: their auth headers by login (signing_firm.py)."""
    return signing_firm.set_up(client, live_container)


@pytest.fixture
def archive_api(engines, tmp_path):
    """The archive's client and container, with a small upload limit (archive_client.py)."""
    with archive_client.running_archive(engines, tmp_path) as api:
        yield api
