"""Fixtures shared by the integration tests (real engines, both modes)."""
import pytest

from tests.integration import flow_firm


@pytest.fixture
def firm(container):
    """The flow tests' firm (tests/integration/flow_firm.py): (container, clock)."""
    return flow_firm.set_up(container)


@pytest.fixture
def embedded_only(engines):
    """For modules whose behaviour does not depend on the engine mode (PDF rendering, seals, name
    matching, file layouts: the event store under them is tested in both modes elsewhere), so the
    suite stays within its time on a 2-core machine: skipped in server mode."""
    if engines.mode != "embedded":
        pytest.skip("what this module checks does not depend on the engine mode")
