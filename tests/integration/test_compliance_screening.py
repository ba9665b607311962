"""AML person screening on the real engines: list loads are versions, a flow's screening records
the versions it used and answers the same when run again, and a hit's review is recorded."""
from __future__ import annotations

from uuid import UUID, uuid4

import orjson
import pytest

from application.compliance.hook import AmlScreeningHook
from application.compliance.lists import ListNotLoadedError
from application.flows.system_hooks import HookRequest
from domain.compliance.lists import list_id
from domain.compliance.screening import AlreadyReviewedError, Screening, SegregationOfDutiesError
from domain.shared.context import CommandContext
from domain.shared.errors import InvalidInputError, RuleViolationError
from interfaces.demo_compliance import load_demo_screening_list

pytestmark = pytest.mark.usefixtures("embedded_only")

CSV_V1 = ("entry_id,name,aliases,id_type,id_number,birth_date,remarks\n"
          "INT-001,王建国,Wang Jianguo,cn_ric,110101196503071234,1965-03-07,demo\n").encode()
JSON_V2 = orjson.dumps([{"entry_id": "INT-001", "name": "王建国", "id_number": "110101196503071234"},
                        {"entry_id": "INT-002", "name": "赵六", "aliases": ["Zhao Liu"]}])
PARAMS = {"fields": ["tenant_name", "contacts[].name"], "id_fields": ["id_number"], "lists": ["internal"],
          "threshold": 0.85}
COMPLIANCE = CommandContext("operator:compliance.officer", "review")


def request(form, params=PARAMS, request_id=None):
    instance = uuid4()
    return HookRequest(instance_id=instance, request_id=request_id or f"{instance}:{uuid4()}", node="aml",
                       hook="aml_screening", params=params, form=form, business_type="tenant_signing",
                       business_line="futures", department_id=None, initiator="operator:wang.fang",
                       subject="institution", fund_account=None)


def test_each_changed_load_is_the_next_version_and_a_screening_records_the_version_it_used(container, ctx):
    compliance = container.compliance
    first = compliance.load_list(ctx, "internal", "internal.csv", CSV_V1)
    assert (first.version, first.entry_count, first.changed) == (1, 1, True)
    hook = AmlScreeningHook(compliance)
    before = hook.run(request({"tenant_name": "王建國"}))
    second = compliance.load_list(ctx, "internal", "internal-2.json", JSON_V2)
    assert (second.version, second.entry_count, second.changed) == (2, 2, True)
    again = compliance.load_list(ctx, "internal", "internal-2-again.json", JSON_V2)  # a retried upload
    assert (again.version, again.changed) == (2, False)
    after = hook.run(request({"tenant_name": "Zhao Liu"}))
    screened = [compliance.load(UUID(o.result["screening_id"]), Screening) for o in (before, after)]
    assert [s.list_versions for s in screened] == [{"internal": 1}, {"internal": 2}]
    assert [h["entry_id"] for h in screened[1].hits] == ["INT-002"]
    container.runners["compliance.screenings"].catch_up()
    loads = container.compliance_queries.list_loads("internal", None, 10)
    assert [(r["version"], r["entry_count"], r["source_filename"], r["loaded_by"]) for r in loads] == [
        (2, 2, "internal-2.json", "op:tester"), (1, 1, "internal.csv", "op:tester")]


def test_a_hit_is_recorded_with_scores_and_masked_ids_and_a_second_run_answers_the_same(container, ctx):
    load_demo_screening_list(container)
    hook = AmlScreeningHook(container.compliance)
    form = {"tenant_name": "上海示例贸易有限公司", "id_number": "91310000MA1FL0000X",
            "contacts": [{"name": "王建國"}, {"name": "李娜"}]}
    asked = request(form)
    outcome = hook.run(asked)
    assert outcome.status == "waiting" and outcome.result["hit"] is True and outcome.result["hits"] == 1
    # A new list version in between changes nothing for this request: the recorded screening answers.
    container.compliance.load_list(ctx, "internal", "more.json", JSON_V2)
    assert hook.run(asked) == outcome
    screening = container.compliance.load(UUID(outcome.result["screening_id"]), Screening)
    assert screening.version == 1 and screening.status == "pending_review"
    assert screening.subjects[0] == {"ref": "tenant_name", "name": "上海示例贸易有限公司",
                                     "id_number": "913100********000X"}
    assert [(h["subject"], h["list_kind"], h["list_version"], h["matched_on"], h["score"]) for h in screening.hits] == [
        (1, "internal", 1, "name", 1.0)]


def test_a_form_with_nobody_on_a_list_continues(container):
    load_demo_screening_list(container)
    outcome = AmlScreeningHook(container.compliance).run(request({"tenant_name": "李娜", "contacts": []}))
    assert outcome.status == "done" and outcome.result["hit"] is False and outcome.result["hits"] == 0


def test_a_list_never_loaded_is_not_a_clean_result_the_hook_raises_and_is_retried(container):
    with pytest.raises(ListNotLoadedError):
        AmlScreeningHook(container.compliance).run(request({"tenant_name": "李娜"}))


def test_parameters_no_screening_can_run_with_fail_towards_review(container):
    load_demo_screening_list(container)
    hook = AmlScreeningHook(container.compliance)
    for params, form in [({"fields": ["bad path"]}, {}), ({**PARAMS, "lists": ["interpol"]}, {"tenant_name": "x"}),
                         (PARAMS, {"other": "x"}), ({**PARAMS, "threshold": 0.1}, {"tenant_name": "x"})]:
        outcome = hook.run(request(form, params))
        assert outcome.status == "failed" and outcome.result["hit"] is True, params


def test_a_hit_is_cleared_or_confirmed_once_by_someone_other_than_the_initiator(container, ctx):
    load_demo_screening_list(container)
    hook = AmlScreeningHook(container.compliance)
    ids = [UUID(hook.run(request({"tenant_name": "王建国"})).result["screening_id"])
           for _ in range(2)]
    compliance = container.compliance
    with pytest.raises(SegregationOfDutiesError):
        compliance.review(CommandContext("operator:wang.fang", "self"), ids[0], "clear", "it is me")
    compliance.review(COMPLIANCE, ids[0], "clear", "same name, different birth date")
    compliance.review(COMPLIANCE, ids[1], "confirm", "ID and birth date match the entry")
    with pytest.raises(AlreadyReviewedError):
        compliance.review(COMPLIANCE, ids[0], "confirm", "changed my mind")
    events = [type(e).__name__ for i in ids for e in compliance.events.get(i)]
    assert events == ["Performed", "Cleared", "Performed", "Confirmed"]
    clean = UUID(hook.run(request({"tenant_name": "李娜"})).result["screening_id"])
    with pytest.raises(RuleViolationError):
        compliance.review(COMPLIANCE, clean, "clear", "nothing to clear")
    container.runners["compliance.screenings"].catch_up()
    rows = container.compliance_queries.screenings(["cleared", "confirmed"], None, None, 10)
    assert sorted((r["status"], r["decided_by"]) for r in rows) == [
        ("cleared", "operator:compliance.officer"), ("confirmed", "operator:compliance.officer")]


def test_a_malformed_list_file_is_refused_whole_with_each_bad_row_named(container, ctx):
    bad = ("entry_id,name,id_numbr\nA,王建国,1\n").encode()
    with pytest.raises(InvalidInputError) as unknown_column:
        container.compliance.load_list(ctx, "sanctions", "s.csv", bad)
    assert unknown_column.value.code == "invalid_list_file"
    rows = orjson.dumps([{"entry_id": "A", "name": "x"}, {"entry_id": "A", "name": "y"},
                         {"entry_id": "B", "name": "", "birth_date": "1965-13-01"}])
    with pytest.raises(InvalidInputError) as invalid:
        container.compliance.load_list(ctx, "sanctions", "s.json", rows)
    assert [e["path"] for e in invalid.value.errors] == ["entries[1].entry_id", "entries[2].name",
                                                          "entries[2].birth_date"]
    with pytest.raises(InvalidInputError):
        container.compliance.load_list(ctx, "sanctions", "s.csv", b"entry_id,name\n")  # no entries: refused
    assert not container.compliance.exists(list_id("sanctions"))


def test_the_cli_loads_a_list_file_and_refuses_a_malformed_one(container, tmp_path):
    from typer.testing import CliRunner

    from interfaces.cli.main import app as cli
    from tests.integration.test_audit import _cli_env

    good, bad = tmp_path / "internal.csv", tmp_path / "bad.json"
    good.write_bytes(CSV_V1)
    bad.write_bytes(b'[{"entry_id": "A"}]')
    runner, env = CliRunner(), _cli_env(container)
    loaded = runner.invoke(cli, ["compliance", "load-list", "internal", str(good)], env=env)
    assert loaded.exit_code == 0 and "internal list version 1: 1 entries" in loaded.output, loaded.output
    refused = runner.invoke(cli, ["compliance", "load-list", "pep", str(bad)], env=env)
    assert refused.exit_code == 1 and "invalid_list_file" in refused.output and "entries[0].name" in refused.output
