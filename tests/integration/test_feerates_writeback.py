"""The counter write-back on the real engines: an approved fee-rate change produces exactly one
import file whose records match the form field by field, archived with the instance; the
counter's result file records imported or failed and tells the flow (a failed import: the
counter's message, for the repair task)."""
from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.feerates.hook import CtpWritebackHook
from application.flows.system_hooks import HookRequest
from domain.feerates.writeback import Writeback
from domain.shared.context import CommandContext
from tests.unit.test_feerates import COMMISSION, FORM

pytestmark = pytest.mark.usefixtures("embedded_only")

ADMIN = CommandContext(actor="op:admin", correlation_id="feerates-test")


@pytest.fixture
def feerates(container):
    container.access.create_business_line(ADMIN, "brokerage", "Brokerage")
    completed: list[tuple[str, str, dict[str, Any]]] = []
    container.feerates.on_complete = lambda request_id, status, result: completed.append((request_id, status, result))
    return container, completed


def request(form: dict[str, Any], **params: Any) -> HookRequest:
    instance = uuid4()
    return HookRequest(instance_id=instance, request_id=f"{instance}:{uuid4()}", node="counter_writeback",
                       hook="ctp_writeback", params={"counter": "ctp2", "layout": "ctp2", **params}, form=form,
                       business_type="fee_rate_change", business_line="brokerage", department_id=None,
                       initiator="operator:li.na", subject="individual", fund_account="88001234")


def uuid_of(outcome: Any) -> UUID:
    return UUID(outcome.result["writeback_id"])


def outbox(container) -> list[Any]:
    return sorted((container.settings.data_dir / "counter" / "outbox" / "ctp2").iterdir())


def test_an_approved_change_produces_exactly_one_file_whose_records_match_the_form(feerates):
    container, _ = feerates
    hook, asked = CtpWritebackHook(container.feerates), request(FORM)
    first, again = hook.run(asked), hook.run(asked)

    assert first == again and first.status == "waiting" and first.result["records"] == 3
    files = outbox(container)
    task = asked.request_id.split(":")[1]
    assert [f.name for f in files] == [first.result["file"]] == [f"feerate_{asked.instance_id}_{task}.csv"]
    content = files[0].read_bytes()
    assert hashlib.sha256(content).hexdigest() == first.result["sha256"]
    rows = list(csv.DictReader(io.StringIO(content.decode("gbk"))))
    by_row = {(r["RecordType"], r["InstrumentID"]): r for r in rows}
    for form_row in FORM["rates"]:
        record = by_row[("InstrumentCommissionRate", form_row["product"])]
        assert record["InvestorID"] == FORM["customer"]["fund_account"] and record["InvestorRange"] == "3"
        assert record["ExchangeID"] == FORM["exchange"] and record["BrokerID"] == container.settings.feerates_broker_id
        rate = Decimal(str(form_row["rate"])) / 10000
        close_today = Decimal(str(form_row.get("close_today_rate", form_row["rate"]))) / 10000
        per_lot = Decimal(str(form_row.get("per_lot", 0)))
        assert [Decimal(record[f]) for f in ("OpenRatioByMoney", "CloseRatioByMoney", "CloseTodayRatioByMoney")] \
            == [rate, rate, close_today]
        assert {Decimal(record[f]) for f in ("OpenRatioByVolume", "CloseRatioByVolume", "CloseTodayRatioByVolume")} \
            == {per_lot}
    margin = by_row[("InstrumentMarginRate", "al2601")]
    assert (Decimal(margin["LongMarginRatioByMoney"]), Decimal(margin["ShortMarginRatioByMoney"]),
            margin["HedgeFlag"]) == (Decimal("0.09"), Decimal("0.11"), "3")
    assert ("InstrumentMarginRate", "cu") not in by_row  # no margin on the form for cu: none changes

    writeback = container.feerates.writeback(uuid_of(first))
    assert [type(e).__name__ for e in container.feerates.events.get(writeback.id)] == ["Exported", "Archived"]
    document = container.archive.document(writeback.document_id)
    assert (document.flow_instance, document.fund_account, document.business_type) == (
        asked.instance_id, "88001234", "fee_rate_change")
    assert document.versions[0]["sha256"] == first.result["sha256"]
    assert document.versions[0]["media_type"] == "text/csv"


def test_a_failed_import_result_tells_the_flow_with_the_counters_message_once_recorded(feerates):
    container, completed = feerates
    outcome = CtpWritebackHook(container.feerates).run(asked := request(FORM))
    results = container.settings.data_dir / "counter" / "results"
    (results / "batch1.csv").write_bytes(
        f"file,status,message\r\n{outcome.result['file']},failed,投资者88001234不存在\r\n".encode("gbk"))
    (results / ".batch2.csv.tmp").write_bytes(b"still being written")

    recorded = container.feerate_results.job()
    assert [(r["outcome"], r["status"]) for r in recorded] == [("recorded", "failed")]
    assert completed == [(asked.request_id, "failed", {
        "status": "failed", "problem": "counter_failed", "message": "投资者88001234不存在",
        "file": outcome.result["file"], "writeback_id": outcome.result["writeback_id"]})]
    assert not (results / "batch1.csv").exists() and (results / "processed" / "batch1.csv").exists()
    assert container.feerate_results.job() == []

    # The same result delivered again (the counter re-sent it): nothing new recorded, the flow told again.
    (results / "again.jsonl").write_text(f'{{"request_id": "{asked.request_id}", "status": "failed", '
                                         f'"message": "投资者88001234不存在"}}\n')
    container.feerate_results.job()
    events = list(container.feerates.events.get(uuid_of(outcome)))
    assert [type(e).__name__ for e in events] == ["Exported", "Archived", "Failed"]
    assert events[-1].channel == "feed:batch1.csv" and len(completed) == 2

    # A contradicting result is refused and reported beside the file, the write-back unchanged.
    (results / "late.json").write_text(f'{{"file": "{outcome.result["file"]}", "status": "imported"}}')
    assert container.feerate_results.job()[0]["problem"] == "writeback_result_conflict"
    assert (results / "processed" / "late.json.errors.json").exists()
    assert container.feerates.writeback(uuid_of(outcome)).status == "failed"
    # The hook, run again after the answer, answers with it.
    assert CtpWritebackHook(container.feerates).run(asked).status == "failed"


def test_an_imported_result_completes_the_task_and_a_template_named_on_the_form_floats(feerates):
    container, completed = feerates
    floating = {**COMMISSION, "OpenRatioByMoney": {"multiplier": "2"}}
    container.feerates.create_template(ADMIN, "vip", "VIP", "brokerage",
                                       [{"exchange": "DCE", "product": "m", "commission": floating}])
    hook = CtpWritebackHook(container.feerates)
    form = {**FORM, "fee_template": "vip"}
    unpublished = hook.run(request(form))
    assert (unpublished.status, unpublished.result["problem"]) == ("failed", "rule_violation")
    container.feerates.publish_template(ADMIN, "vip", 1)
    no_base = hook.run(request(form))
    assert "no exchange rates are loaded" in no_base.result["message"]
    container.feerates.load_exchange_rates(ADMIN, [{"exchange": "DCE", "product": "m",
                                                    "rates": {"OpenRatioByMoney": "0.00003"}}], "DCE 2026", "2026-12-01")

    outcome = hook.run(asked := request(form))
    assert outcome.status == "waiting" and outcome.result["records"] == 4
    lines = (container.settings.data_dir / "counter" / "outbox" / "ctp2" / outcome.result["file"]).read_text("gbk")
    assert "InstrumentCommissionRate,m,3,9999,88001234,0.00006000," in lines
    # A revised template does not change a file already exported (retries render what was pinned).
    container.feerates.revise_template(ADMIN, "vip", "VIP", [{"exchange": "DCE", "product": "m",
                                                              "commission": COMMISSION}])
    container.feerates.publish_template(ADMIN, "vip", 2)
    assert hook.run(asked) == outcome

    writeback = container.feerates.report_result(CommandContext.system("counter"), outcome.result["file"],
                                                 "imported", "", "api")
    assert writeback.status == "imported" and isinstance(writeback, Writeback)
    assert completed[-1][:2] == (asked.request_id, "done") and completed[-1][2]["status"] == "imported"
