"""Fixtures shared by the integration tests (real engines, both modes)."""
import pytest

from tests.integration import flow_firm


@pytest.fixture
def firm(container):
    """The flow tests' firm (tests/integration/flow_firm.py): (container, clock)."""
    return flow_firm.set_up(container)
