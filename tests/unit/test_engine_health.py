"""An outage is two log lines: one WARNING when an engine goes, one when it comes back,
however many components notice it."""
from __future__ import annotations

import logging

from infrastructure.redis.supervisor import RedisSupervisor


def _warnings(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_a_component_clearing_redis_availability_logs_the_outage_once_and_its_end_once(caplog):
    caplog.set_level(logging.INFO)
    supervisor = RedisSupervisor("redis://127.0.0.1:9/0", "test:")  # never connected here
    supervisor.available = True  # as the first successful check leaves it
    assert not _warnings(caplog, "Redis")

    for _ in range(3):  # the due queue, the progress board and the throttle each meet the failure
        supervisor.available = False
    assert not supervisor.available and supervisor.health.describe() == "down"
    supervisor.available = True
    supervisor.available = True

    assert len(_warnings(caplog, "Redis unavailable")) == 1
    assert len(_warnings(caplog, "Redis available again")) == 1
    assert supervisor.health.describe() == "ok"
