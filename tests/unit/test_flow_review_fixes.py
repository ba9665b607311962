"""Regression tests for the flow-engine review (issue 5): pure domain, no engines."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from domain.access.masking import FieldRuleView, apply_rules
from domain.flows.fields import merge_edit, present_form_edit, restore_unseen
from domain.flows.instance import FlowRuntime
from domain.shared.errors import PermissionDeniedError

MASK_BANK = FieldRuleView("flows.instance", "bank_account", "masked", "bank_card", frozenset(), frozenset(),
                          frozenset(), frozenset())
HIDE_PHONE = FieldRuleView("flows.instance", "contact_phone", "hidden", None, frozenset(), frozenset(),
                           frozenset(), frozenset())
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def present(record):
    return apply_rules({"data": record}, [MASK_BANK, HIDE_PHONE])["data"]


def test_c1_timeline_form_edits_hide_and_mask_values_like_the_form_data():
    detail = {"patch": [{"op": "add", "path": "/settlement", "value": {"bank_account": "6222021234567890128"}},
                        {"op": "replace", "path": "/settlement/bank_account", "value": "6222029999999990009"},
                        {"op": "replace", "path": "/basic/contact_phone", "value": "13900000000"},
                        {"op": "replace", "path": "/commercial/term_months", "value": 24}],
              "old_values": {"/settlement/bank_account": "6222021234567890128",
                             "/basic/contact_phone": "13812345678", "/commercial/term_months": 12}}
    shown = present_form_edit(detail, present, set())
    text = repr(shown)
    for secret in ("6222021234567890128", "6222029999999990009", "13900000000", "13812345678"):
        assert secret not in text
    assert shown["patch"][0]["value"] == {"bank_account": "6222****0128"}
    assert shown["patch"][2] == {"op": "replace", "path": "/basic/contact_phone", "value_hidden": True}
    assert shown["old_values"] == {"/settlement/bank_account": "6222****0128", "/commercial/term_months": 12}
    # a field hidden at the viewer's node disappears from the timeline altogether
    assert [op["path"] for op in present_form_edit(detail, present, {"commercial"})["patch"]] == [
        "/settlement", "/settlement/bank_account", "/basic/contact_phone"]


STORED = {"basic": {"name": "甲", "contact_phone": "13812345678"}, "rates": {"r": 1},
          "settlement": {"bank_account": "6222021234567890128", "bank_name": "招商"}}


def test_h4_h5_edits_deny_by_default_never_compare_hidden_fields_and_support_dotted_paths():
    # deny by default: a node without permissions lets nothing change
    with pytest.raises(PermissionDeniedError):
        merge_edit(STORED, {**STORED, "rates": {"r": 2}}, {}, "end")
    # hidden sections are taken from the stored data whatever is sent: no guessing oracle
    sent = {"basic": {"name": "乙"}, "rates": {"r": 1}, "settlement": {"bank_account": "0", "bank_name": "x"}}
    merged = merge_edit(STORED, sent, {"basic": "editable", "settlement": "hidden"}, "n")
    assert merged["settlement"] == STORED["settlement"] and merged["basic"] == {"name": "乙"}
    # dotted paths: the section is editable except its hidden bank account
    merged = merge_edit(STORED, {**STORED, "settlement": {"bank_name": "工行"}},
                        {"settlement": "editable", "settlement.bank_account": "hidden"}, "n")
    assert merged["settlement"] == {"bank_account": "6222021234567890128", "bank_name": "工行"}
    with pytest.raises(PermissionDeniedError) as refused:
        merge_edit(STORED, {**STORED, "settlement": {**STORED["settlement"], "bank_account": "1"}},
                   {"settlement": "editable", "settlement.bank_account": "readonly"}, "n")
    assert refused.value.field == "settlement.bank_account"


def test_h4_masked_values_echoed_back_and_rule_hidden_fields_left_out_are_kept():
    view = present(STORED)
    sent = {**view, "rates": {"r": 3}}
    restored = restore_unseen(sent, view, STORED)
    assert restored["settlement"]["bank_account"] == "6222021234567890128"
    assert restored["basic"]["contact_phone"] == "13812345678"
    assert restored["rates"] == {"r": 3}


def _graph(nodes, edges):
    from application.flows.service import parse_graph
    return parse_graph({"nodes": nodes, "edges": edges})


def _n(node_id, kind, **extra):
    node = {"id": node_id, "type": kind, "name": node_id, **extra}
    if kind == "approval":
        node.setdefault("mode", "single")
        node.setdefault("assignees", [{"kind": "role", "value": "ops"}])
    return node


def _e(source, target, **extra):
    return {"source": source, "target": target, **extra}


def _instance():
    from domain.flows.instance import FlowInstance
    return FlowInstance(definition_key="k", definition_version=1, business_type="bt", form_version=1, subject="s",
                        business_line="l", fund_account=None, department_id=None, initiator="operator:init",
                        title="t", data={"amount": 5})


def _eval(condition, activation):
    import cel
    return cel.evaluate(condition, activation) is True, {}


def test_c2_a_loop_without_an_approval_or_pause_is_refused_and_never_spins():
    from application.flows.service import compile_condition
    from domain.flows.graph import check_graph
    from domain.shared.context import CommandContext, acting_as
    from domain.shared.errors import RuleViolationError
    spin = _graph([_n("start", "start"), _n("g", "exclusive"), _n("s1", "system", hook="notify"), _n("end", "end")],
                  [_e("start", "g"), _e("g", "end", condition="false"), _e("g", "s1", default=True), _e("s1", "g")])
    assert any("has no approval or pause node" in what for _, what in check_graph(spin, compile_condition))
    waits = _graph([_n("start", "start"), _n("g", "exclusive"), _n("a", "approval"), _n("end", "end")],
                   [_e("start", "g"), _e("g", "end", condition="false"), _e("g", "a", default=True), _e("a", "g")])
    assert check_graph(waits, compile_condition) == []
    with acting_as(CommandContext("operator:x", "t")), pytest.raises(RuleViolationError, match="come to rest"):
        _instance().advance(FlowRuntime(spin, lambda node: ["operator:a"], _eval, NOW))


def test_h7_sla_durations_are_bounded():
    from domain.shared.errors import InvalidInputError
    with pytest.raises(InvalidInputError):
        _graph([_n("start", "start"), _n("a", "approval", sla_seconds=10**12), _n("end", "end")],
               [_e("start", "a"), _e("a", "end")])


def _inclusive(default: bool):
    edges = [_e("start", "inc"), _e("inc", "legal", condition="amount > 100"),
             _e("inc", "fin", condition="amount > 1000"), _e("legal", "j"), _e("fin", "j"), _e("j", "end")]
    if default:
        edges.append(_e("inc", "fin", default=True))
        edges[2] = _e("inc", "fin", condition="amount > 1000")
    return _graph([_n("start", "start"), _n("inc", "inclusive"), _n("legal", "approval"), _n("fin", "approval"),
                   _n("j", "inclusive_join"), _n("end", "end")], edges)


def test_h1_inclusive_gateways_need_a_default_and_their_join_waits_only_for_branches_taken():
    from application.flows.service import compile_condition
    from domain.flows.graph import check_graph
    from domain.shared.context import CommandContext, acting_as
    from domain.shared.errors import RuleViolationError
    no_default = _inclusive(default=False)
    assert ("nodes.inc", "an inclusive gateway needs exactly one default branch, found 0") in check_graph(
        no_default, compile_condition)
    with acting_as(CommandContext("operator:x", "t")):
        with pytest.raises(RuleViolationError, match="no branch"):  # a graph published before the check
            _instance().advance(FlowRuntime(no_default, lambda node: ["operator:a"], _eval, NOW))
        i = _instance()
        i.data = {"amount": 500}  # only the legal branch holds
        i.advance(FlowRuntime(no_default, lambda node: ["operator:a"], _eval, NOW))
        (task,) = [t for t in i.tasks.values() if t["status"] == "open"]
        assert task["node"] == "legal" and i.expected == {"j": 1}
        i.approve(task["id"], "operator:a", "", FlowRuntime(no_default, lambda node: ["operator:a"], _eval, NOW))
        assert i.status == "completed"


def test_a_parallel_join_moves_on_once_every_branch_arrived():
    from domain.shared.context import CommandContext, acting_as
    g = _graph([_n("start", "start"), _n("p", "parallel_split"), _n("a", "approval"), _n("b", "approval"),
                _n("j", "parallel_join"), _n("end", "end")],
               [_e("start", "p"), _e("p", "a"), _e("p", "b"), _e("a", "j"), _e("b", "j"), _e("j", "end")])
    with acting_as(CommandContext("operator:x", "t")):
        i = _instance()
        i.advance(FlowRuntime(g, lambda node: ["operator:a"], _eval, NOW))
        for task in [t for t in i.tasks.values() if t["status"] == "open"]:
            i.approve(task["id"], "operator:a", "", FlowRuntime(g, lambda node: ["operator:a"], _eval, NOW))
        assert i.status == "completed"


def _one_approval(mode="all"):
    return _graph([_n("start", "start"), _n("a", "approval", mode=mode), _n("end", "end")],
                  [_e("start", "a"), _e("a", "end")])


def test_m2_m3_h6_l5_reassign_delegate_and_added_signers():
    from domain.shared.context import CommandContext, acting_as
    from domain.shared.errors import PermissionDeniedError
    g = _one_approval()
    two = lambda node: ["operator:a", "operator:b"]  # noqa: E731
    with acting_as(CommandContext("operator:x", "t")):
        # M2: after a reassignment only the new candidates' approvals count
        i = _instance()
        i.advance(FlowRuntime(g, two, _eval, NOW))
        (task,) = i.tasks
        i.approve(task, "operator:a", "", FlowRuntime(g, two, _eval, NOW))
        i.reassign(task, "admin:x", ["operator:c", "operator:d"], "cover")
        i.approve(task, "operator:c", "", FlowRuntime(g, two, _eval, NOW))
        assert i.status == "running"  # operator:a's approval no longer counts: d still has to sign
        i.approve(task, "operator:d", "", FlowRuntime(g, two, _eval, NOW))
        assert i.status == "completed"
        # M3: a delegate answers by approving; it cannot reject, return, hand on or add signers
        i = _instance()
        i.advance(FlowRuntime(g, two, _eval, NOW))
        i.delegate(task, "operator:a", "operator:d", "")
        for act in (lambda: i.reject(task, "operator:d", ""),
                    lambda: i.transfer(task, "operator:d", "operator:e", ""),
                    lambda: i.add_signer(task, "operator:d", "operator:e", "before", ""),
                    lambda: i.return_to(task, "operator:d", "start", "", FlowRuntime(g, two, _eval, NOW))):
            with pytest.raises(PermissionDeniedError):
                act()
        # L5 + H6: a signer added before cannot hand the task on; a reassignment drops added signers
        i = _instance()
        i.advance(FlowRuntime(g, two, _eval, NOW))
        i.add_signer(task, "operator:a", "operator:ghost", "before", "")
        with pytest.raises(PermissionDeniedError):
            i.transfer(task, "operator:ghost", "operator:e", "")
        i.reassign(task, "admin:x", ["operator:c"], "ghost signer")
        assert i.current_handlers(i.tasks[task]) == ["operator:c"]


def test_h2_nothing_returns_into_a_parallel_branch():
    from application.flows.service import compile_condition
    from domain.flows.graph import check_graph
    from domain.shared.context import CommandContext, acting_as
    from domain.shared.errors import RuleViolationError

    def graph(targets):
        return _graph([_n("start", "start"), _n("p", "parallel_split"), _n("a", "approval"), _n("b", "approval"),
                       _n("j", "parallel_join"), _n("c", "approval", return_targets=targets), _n("end", "end")],
                      [_e("start", "p"), _e("p", "a"), _e("p", "b"), _e("a", "j"), _e("b", "j"), _e("j", "c"),
                       _e("c", "end")])
    assert any("return target 'a' must be an approval or the start" in what
               for _, what in check_graph(graph(["a"]), compile_condition))
    g = graph("any_earlier")
    resolve = lambda node: ["operator:a"]  # noqa: E731
    with acting_as(CommandContext("operator:x", "t")):
        i = _instance()
        i.advance(FlowRuntime(g, resolve, _eval, NOW))
        for task in [t for t in i.tasks.values() if t["status"] == "open"]:
            i.approve(task["id"], "operator:a", "", FlowRuntime(g, resolve, _eval, NOW))
        (task,) = [t for t in i.tasks.values() if t["status"] == "open"]
        with pytest.raises(RuleViolationError, match="may return to: start"):
            i.return_to(task["id"], "operator:a", "a", "", FlowRuntime(g, resolve, _eval, NOW))
        i.return_to(task["id"], "operator:a", "previous", "", FlowRuntime(g, resolve, _eval, NOW))
        assert list(i.tokens.values()) == ["start"] and i.awaiting_resubmit


def test_m7_conditions_may_not_nest_comprehensions_deeply():
    from application.flows.service import compile_condition
    items = "[" + ",".join(["1"] * 60) + "]"
    assert compile_condition(f"{items}.all(a, {items}.exists(b, a == b))") is None
    assert "nested" in compile_condition(f"{items}.all(a, {items}.all(b, {items}.all(c, true)))")
    assert compile_condition("name == 'x.all(a, b.all(c, d.all(e, true)))'") is None  # inside a string


def test_l6_mermaid_labels_cannot_break_out():
    from domain.flows.graph import to_mermaid
    g = _graph([_n("start", "start", name='x"]\nclick start call evil()'), _n("end", "end")], [_e("start", "end")])
    text = to_mermaid(g)
    assert "\nclick" not in text and text.splitlines()[1] == "  n_start((\"x'  click start call evil()\"))"
