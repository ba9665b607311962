"""Fee-rate templates, the counter's records and layouts, without engines: validation (Decimal
ranges, known exchanges), versions, a form rendered to CTP records field by field, floating rates
on the exchange's, CSV in GBK and JSON, byte-identical renders, the directory drop's once-only."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from application.feerates.writebacks import request_id_of
from domain.feerates.entries import checked_entries
from domain.feerates.form_mapping import FormMapping, combine, row_rates
from domain.feerates.layouts import BUILT_IN, Layout
from domain.feerates.records import Investor, records, resolve
from domain.feerates.template import FeeRateTemplate
from domain.feerates.writeback import ImportFileConflictError
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import InvalidInputError, RuleViolationError
from infrastructure.feerates.directory import DirectoryDropCounter

COMMISSION = {"OpenRatioByMoney": {"value": "0.00005"}, "OpenRatioByVolume": {"value": "0"},
              "CloseRatioByMoney": {"value": "0.00005"}, "CloseRatioByVolume": {"value": "0"},
              "CloseTodayRatioByMoney": {"value": "0.0001"}, "CloseTodayRatioByVolume": {"value": "0"}}
MARGIN = {"HedgeFlag": "1", "rates": {"LongMarginRatioByMoney": {"value": "0.1"},
                                      "LongMarginRatioByVolume": {"value": "0"},
                                      "ShortMarginRatioByMoney": {"value": "0.12"},
                                      "ShortMarginRatioByVolume": {"value": "0"}}}
FORM = {"customer": {"fund_account": "88001234", "name": "张三"}, "exchange": "SHFE", "effective_date": "2026-12-01",
        "rates": [{"id": "r1", "product": "cu", "rate": 0.5},
                  {"id": "r2", "product": "al2601", "rate": 1.2, "close_today_rate": 3, "per_lot": 1.5,
                   "long_margin": 9, "short_margin": 11, "hedge_flag": "3"}]}
INVESTOR = Investor("9999", "88001234")


@pytest.fixture(autouse=True)
def acting():
    with acting_as(CommandContext.system("test")):
        yield


def test_an_unknown_exchange_or_a_rate_out_of_range_is_refused_with_its_path():
    with pytest.raises(InvalidInputError) as refused:
        checked_entries([{"exchange": "LME", "product": "cu", "commission": COMMISSION},
                         {"exchange": "DCE", "product": "m", "commission": {**COMMISSION,
                                                                            "OpenRatioByMoney": {"value": "0.5"}}}])
    assert refused.value.code == "invalid_template"
    paths = {(e["path"], e["message"].split(":")[0]) for e in refused.value.errors}
    assert ("entries.0.exchange", "unknown exchange 'LME'; one of SHFE, DCE, CZCE, CFFEX, INE, GFEX") in paths
    assert any(p.startswith("entries.1") and "OpenRatioByMoney" in m for p, m in paths)


def test_every_rate_is_stated_and_a_rate_is_a_value_or_floating_not_both():
    with pytest.raises(InvalidInputError, match="missing CloseTodayRatioByVolume"):
        checked_entries([{"exchange": "SHFE", "product": "cu",
                          "commission": {k: v for k, v in COMMISSION.items() if k != "CloseTodayRatioByVolume"}}])
    with pytest.raises(InvalidInputError, match="either a value, or floating"):
        checked_entries([{"exchange": "SHFE", "product": "cu",
                          "commission": {**COMMISSION, "OpenRatioByMoney": {"value": "0.1", "multiplier": "2"}}}])
    with pytest.raises(InvalidInputError, match="not a decimal"):
        checked_entries([{"exchange": "SHFE", "product": "cu",
                          "commission": {**COMMISSION, "OpenRatioByMoney": {"value": "NaN"}}}])


def test_rates_are_kept_as_exact_decimal_text_whatever_way_they_came_in():
    entry = checked_entries([{"exchange": "SHFE", "product": "cu",
                              "commission": {**COMMISSION, "OpenRatioByMoney": {"value": 0.00005},
                                             "CloseRatioByMoney": {"value": Decimal("0.000050")}}}])[0]
    assert entry["commission"]["OpenRatioByMoney"] == {"value": "0.00005"}
    assert entry["commission"]["CloseRatioByMoney"] == {"value": "0.00005"}


def test_a_revision_is_a_new_version_and_flows_use_the_published_one():
    template = FeeRateTemplate.create("vip", "VIP", "brokerage", [{"exchange": "SHFE", "product": "cu",
                                                                   "commission": COMMISSION}])
    with pytest.raises(RuleViolationError, match="no published version"):
        template.version_of()
    template.publish(1)
    assert template.revise("VIP 2", [{"exchange": "SHFE", "product": "cu", "commission": COMMISSION,
                                      "margin": MARGIN}]) == 2
    assert template.version_of()["name"] == "VIP" and template.latest == 2
    with pytest.raises(RuleViolationError, match="nothing changed"):
        template.revise("VIP 2", [{"exchange": "SHFE", "product": "cu", "commission": COMMISSION, "margin": MARGIN}])
    template.publish(2)
    assert template.version_of()["entries"][0]["margin"]["rates"]["ShortMarginRatioByMoney"] == {"value": "0.12"}


def test_a_form_becomes_one_commission_record_per_row_and_a_margin_record_where_margins_change():
    lines = records(combine([], row_rates(FORM, FormMapping())), INVESTOR)
    assert [(kind, r["InstrumentID"]) for kind, r in lines] == [
        ("InstrumentCommissionRate", "al2601"), ("InstrumentMarginRate", "al2601"),
        ("InstrumentCommissionRate", "cu")]
    assert lines[0][1] == {
        "InstrumentID": "al2601", "InvestorRange": "3", "BrokerID": "9999", "InvestorID": "88001234",
        "OpenRatioByMoney": Decimal("0.00012"), "OpenRatioByVolume": Decimal("1.5"),
        "CloseRatioByMoney": Decimal("0.00012"), "CloseRatioByVolume": Decimal("1.5"),
        "CloseTodayRatioByMoney": Decimal("0.0003"), "CloseTodayRatioByVolume": Decimal("1.5"),
        "ExchangeID": "SHFE", "BizType": "1", "InvestUnitID": ""}
    assert lines[1][1] == {
        "InstrumentID": "al2601", "InvestorRange": "3", "BrokerID": "9999", "InvestorID": "88001234",
        "HedgeFlag": "3", "LongMarginRatioByMoney": Decimal("0.09"), "LongMarginRatioByVolume": Decimal(0),
        "ShortMarginRatioByMoney": Decimal("0.11"), "ShortMarginRatioByVolume": Decimal(0), "IsRelative": "0",
        "ExchangeID": "SHFE", "InvestUnitID": ""}
    assert lines[2][1]["OpenRatioByMoney"] == Decimal("0.00005") == lines[2][1]["CloseTodayRatioByMoney"]


def test_a_row_beyond_the_ranges_is_refused_with_its_row():
    with pytest.raises(InvalidInputError) as refused:
        row_rates({**FORM, "rates": [{"product": "cu", "rate": 500}, {"product": "zn", "rate": 1,
                                                                      "exchange": "LME"}]}, FormMapping())
    assert [e["path"] for e in refused.value.errors] == ["rates.0", "rates.1"]


def test_floating_template_rates_follow_the_exchange_and_a_row_overrides_its_product():
    floating = {**COMMISSION, "OpenRatioByMoney": {"multiplier": "1.5"}, "CloseRatioByVolume": {"add": "0.5"}}
    entries = checked_entries([{"exchange": "SHFE", "product": "cu2601", "commission": floating},
                               {"exchange": "SHFE", "product": "al", "commission": COMMISSION}])
    base = {("SHFE", "cu"): {"OpenRatioByMoney": Decimal("0.00005"), "CloseRatioByVolume": Decimal("3")}}
    resolved = resolve(entries, base)
    cu = next(r for r in resolved if r.instrument == "cu2601")
    assert cu.commission["OpenRatioByMoney"] == Decimal("0.000075") and cu.commission["CloseRatioByVolume"] == 3.5
    merged = combine(resolved, row_rates({**FORM, "rates": [{"product": "al", "rate": 2}]}, FormMapping()))
    assert [(r.instrument, r.commission["OpenRatioByMoney"]) for r in merged] == [
        ("al", Decimal("0.0002")), ("cu2601", Decimal("0.000075"))]
    with pytest.raises(ValueError, match="no OpenRatioByMoney"):
        resolve(entries, {})


def test_the_ctp2_layout_is_gbk_csv_with_a_header_and_eight_places():
    content = BUILT_IN["ctp2"].render(records(row_rates(FORM, FormMapping()), INVESTOR))
    lines = content.decode("gbk").split("\r\n")
    assert lines[0].split(",")[:6] == ["RecordType", "InstrumentID", "InvestorRange", "BrokerID", "InvestorID",
                                       "OpenRatioByMoney"]
    row = dict(zip(lines[0].split(","), lines[3].split(","), strict=True))
    assert row["RecordType"] == "InstrumentCommissionRate" and row["InstrumentID"] == "cu"
    assert row["OpenRatioByMoney"] == "0.00005000" and row["HedgeFlag"] == ""
    margin = dict(zip(lines[0].split(","), lines[2].split(","), strict=True))
    assert margin["ShortMarginRatioByMoney"] == "0.11000000" and margin["OpenRatioByMoney"] == ""


def test_a_layout_from_settings_chooses_columns_delimiter_and_encoding_and_json_keeps_exact_rates():
    lines = records(row_rates(FORM, FormMapping()), INVESTOR)
    mine = Layout(format="csv", columns=("InvestorID", "InstrumentID", "OpenRatioByMoney"), type_column=None,
                  header=False, delimiter="|", line_terminator="\n", encoding="gbk")
    assert mine.render(lines).decode("gbk").splitlines() == [
        "88001234|al2601|0.00012", "88001234|al2601|", "88001234|cu|0.00005"]
    as_json = json.loads(BUILT_IN["other"].render(lines))
    assert as_json["InstrumentCommissionRate"][1]["CloseTodayRatioByMoney"] == "0.00005"
    assert as_json["InstrumentMarginRate"][0]["HedgeFlag"] == "3" and "OpenRatioByMoney" not in \
        as_json["InstrumentMarginRate"][0]
    with pytest.raises(ValueError, match="distinct CTP field names"):
        Layout(format="csv", columns=("InvestorID", "Nope"))


def test_the_same_approval_renders_byte_identical_files():
    first = BUILT_IN["ctp2"].render(records(row_rates(FORM, FormMapping()), INVESTOR))
    again = BUILT_IN["ctp2"].render(records(row_rates(json.loads(json.dumps(FORM)), FormMapping()), INVESTOR))
    assert first == again


def test_the_directory_drop_writes_once_and_refuses_other_content_under_the_same_name(tmp_path: Path):
    counter = DirectoryDropCounter(tmp_path, "ctp2")
    counter.put("feerate_a_b.csv", b"one\r\n")
    counter.put("feerate_a_b.csv", b"one\r\n")
    assert (tmp_path / "outbox" / "ctp2" / "feerate_a_b.csv").read_bytes() == b"one\r\n"
    assert [p.name for p in (tmp_path / "outbox" / "ctp2").iterdir()] == ["feerate_a_b.csv"]  # no temp left
    (tmp_path / "outbox" / "ctp2" / "feerate_a_b.csv").unlink()  # the counter took it
    counter.put("feerate_a_b.csv", b"one\r\n")
    assert not (tmp_path / "outbox" / "ctp2" / "feerate_a_b.csv").exists()  # never handed over twice
    with pytest.raises(ImportFileConflictError):
        counter.put("feerate_a_b.csv", b"two\r\n")
    with pytest.raises(ValueError):
        counter.put("../escape.csv", b"x")


def test_a_result_names_its_write_back_by_request_id_or_by_file_name():
    assert request_id_of("feerate_0b7c8a2e-1f3a-4c1e-9a2b-5d6e7f8a9b0c_t-1_2.csv") == \
        "0b7c8a2e-1f3a-4c1e-9a2b-5d6e7f8a9b0c:t-1_2"
    assert request_id_of("0b7c:t1") == "0b7c:t1"
