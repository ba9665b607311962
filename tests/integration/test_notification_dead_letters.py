"""The dead-letter list from the command line (``ledgerflow notifications``), both engine modes:
listed, retried one by one or all dead at once (in-doubt ones only by key), delivered by hand."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from interfaces.cli.main import app as cli
from tests.integration.notification_outbox import Fakes, delivery_container, enqueue, row, worker
from tests.integration.test_audit import _cli_env

WANG = "operator:wang.fang"


@pytest.fixture
def fakes():
    with Fakes.running() as running:
        yield running


def test_dead_letters_are_listed_and_sent_again_from_the_cli(engines, tmp_path, fakes):
    with delivery_container(engines, tmp_path, fakes) as container:
        fakes.sms.fail = 100
        dead = [enqueue(container, WANG, "sms", body=f"第{i}条") for i in range(3)]
        doubt = enqueue(container, WANG, "email", status="in_doubt", attempts=1)
        assert worker(container, max_attempts=1).tick() == {"dead": 3}
        fakes.sms.fail = 0
        env = {**_cli_env(container), **{f"LEDGERFLOW_{k.upper()}": str(v) for k, v in fakes.settings().items()}}
        runner = CliRunner()

        def run(*args: str, code: int = 0) -> str:
            result = runner.invoke(cli, ["notifications", *args], env=env)
            assert result.exit_code == code, result.output
            return result.output

        listed = json.loads(run("dead-letters", "--json"))
        assert {r["key"]: r["status"] for r in listed} == {**dict.fromkeys(dead, "dead"), doubt: "in_doubt"}
        assert all("HTTP 503" in r["last_error"] for r in listed if r["channel"] == "sms")
        assert "3 deliveries" in run("dead-letters", "--channel", "sms")
        assert "--channel" in run("dead-letters", "--channel", "fax", code=2)

        assert "pending, due now" in run("retry", dead[0])
        assert "the delivery is pending" in run("retry", dead[0], code=1)
        assert "no delivery has the key" in run("retry", "nope", code=1)
        run("retry", code=2)  # neither a key nor --all-dead
        assert "2 dead deliveries back to pending" in run("retry", "--all-dead")
        assert row(container, doubt).status == "in_doubt"  # an e-mail that may have arrived: by key only

        assert "3 sent, 0 to retry later, 0 dead" in run("deliver")
        assert sorted(fakes.sms.delivered) == sorted(dead)
        assert {row(container, k).attempts for k in dead} == {1}  # attempts counted afresh
        status = run("status")
        assert "sms" in status and "email" in status
