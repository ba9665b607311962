import pytest
from starlette.testclient import TestClient

from interfaces.api.app import create_app

TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(live_container):
    with TestClient(create_app(live_container)) as c:
        yield c
