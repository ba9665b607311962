"""Notifications from real flows and leads on real engines (ADR 0015): who hears of what, in
their language, read marks that survive a rebuild, and an outbox that a rebuild never refills."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.leads.allocation import RuleConfig
from domain.shared.context import CommandContext
from domain.shared.errors import InvalidInputError, NotFoundError
from infrastructure.rebuilds import BlueGreenRebuild
from tests.flows import PLAIN_SIGNING_FLOW
from tests.integration.flow_firm import ADMIN, START, as_, open_task, publish_flow

INBOX = "notifications.inbox"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def inbox(container, login, **filters):
    container.runners[INBOX].catch_up()
    return container.notification_queries.page(f"operator:{login}", limit=200, **filters)


def kinds(container, login):
    return [(n["kind"], n["title"]) for n in reversed(inbox(container, login))]


def outbox(container):
    return container.readmodels.fetch_all("SELECT key, recipient, channel, kind, language, subject, link, payload,"
                                          " next_attempt_at FROM notifications_outbox ORDER BY key")


def start(container, title="甲公司签约"):
    return container.flows.start_instance(as_("sam"), "tenant_signing", "institution", START, title=title).id


def test_a_task_reaches_its_handlers_and_the_initiator_hears_of_each_approval(firm):
    container, _ = firm
    flows = container.flows
    iid = start(container)
    assert kinds(container, "olga") == [("task_arrived", "新待办：甲公司签约")]
    assert kinds(container, "oscar") == [("task_arrived", "新待办：甲公司签约")]
    assert kinds(container, "sam") == []  # nobody hears of their own act
    (arrived,) = inbox(container, "olga")
    assert arrived["body"] == "「甲公司签约」已到「运营录入 OPS entry」，等待您处理。"
    assert (arrived["link"], arrived["instance_id"], arrived["business_line"]) == (
        f"/flows/instances/{iid}", iid, "brokerage")

    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "")
    assert kinds(container, "sam") == [("instance_approved", "审批通过：甲公司签约")]
    assert inbox(container, "sam")[0]["body"] == "您发起的「甲公司签约」已通过「运营录入 OPS entry」。"
    assert [k for k, _ in kinds(container, "oscar")] == ["task_arrived", "task_arrived"]  # then OPS review
    assert [k for k, _ in kinds(container, "olga")] == ["task_arrived"]  # the next task opened by her own act


def test_handovers_signers_and_urging_reach_whoever_holds_the_task_now(firm):
    container, _ = firm
    flows = container.flows
    iid = start(container)
    task = open_task(flows.instance(iid))["id"]
    flows.add_signer(as_("olga"), iid, task, "operator:hank", "before", "请先看")
    assert kinds(container, "hank") == [("task_arrived", "新待办：甲公司签约")]
    flows.urge(as_("sam"), iid, task)
    assert kinds(container, "hank")[-1] == ("task_urged", "催办：甲公司签约")
    assert [k for k, _ in kinds(container, "olga")] == ["task_arrived"]  # the signer before holds it now
    flows.approve(as_("hank"), iid, task, "ok")
    assert [k for k, _ in kinds(container, "olga")] == ["task_arrived", "task_arrived"]  # back to OPS
    flows.transfer(as_("olga"), iid, task, "operator:fiona", "你来")
    assert kinds(container, "fiona") == [("task_arrived", "新待办：甲公司签约")]
    flows.delegate(as_("fiona"), iid, task, "operator:clara", "帮看")
    flows.approve(as_("clara"), iid, task, "意见")  # the delegate answers: back to fiona
    assert [k for k, _ in kinds(container, "clara")] == ["task_arrived"]
    assert [k for k, _ in kinds(container, "fiona")] == ["task_arrived", "task_arrived"]


def test_a_task_approved_by_de_duplication_as_it_opens_is_nobodys_news(firm):
    container, _ = firm
    flows = container.flows
    publish_flow(flows, "signing_dedup", PLAIN_SIGNING_FLOW, deduplication="approve_consecutive")
    iid = flows.start_instance(as_("sam"), "signing_dedup", "institution", START, title="连续审批").id
    flows.approve(as_("olga"), iid, open_task(flows.instance(iid))["id"], "")  # OPS review: olga again
    review = next(t for t in flows.instance(iid).tasks.values() if t.node == "ops_review")
    assert review.status == "approved" and review.approvals == ["operator:olga"]
    assert [k for k, _ in kinds(container, "oscar")] == ["task_arrived"]  # OPS entry only
    assert [k for k, _ in kinds(container, "clara")] == ["task_arrived"]  # CLEARING entry, next
    assert [k for k, _ in kinds(container, "sam")] == ["instance_approved", "instance_approved"]


def test_a_return_reaches_the_target_nodes_handlers_or_the_initiator(firm):
    container, _ = firm
    flows = container.flows
    iid = start(container)
    for who in ("olga", "olga", "clara"):  # OPS entry, OPS review, CLEARING entry
        flows.approve(as_(who), iid, open_task(flows.instance(iid))["id"], "")
    review = open_task(flows.instance(iid))["id"]
    flows.return_to(as_("clara"), iid, review, "clearing_entry", "费率不对")
    assert kinds(container, "carl")[-1] == ("returned_to_you", "被退回：甲公司签约")
    assert inbox(container, "carl")[0]["body"] == "「甲公司签约」被退回到「清算配置 CLEARING entry」，请您处理。"
    flows.approve(as_("carl"), iid, open_task(flows.instance(iid))["id"], "")
    flows.return_to(as_("clara"), iid, open_task(flows.instance(iid))["id"], "start", "客户要求")
    assert kinds(container, "sam")[-1] == ("returned_to_you", "被退回：甲公司签约")


def test_rejection_completion_and_copies_reach_the_initiator_and_the_copied(firm):
    container, _ = firm
    flows = container.flows
    rejected = start(container, "被拒的签约")
    flows.cc(as_("olga"), rejected, ["operator:fiona", "operator:hank"], "知悉")
    assert kinds(container, "hank") == [("copied", "抄送：被拒的签约")]
    flows.reject(as_("olga"), rejected, open_task(flows.instance(rejected))["id"], "资料不全")
    assert kinds(container, "sam") == [("instance_rejected", "已拒绝：被拒的签约")]

    data = {"customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
            "special_reason": "大客户", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]}
    done = flows.start_instance(as_("sam"), "fee_rate_change", "individual", data, title="特殊费率").id
    assert kinds(container, "hank")[-1] == ("task_arrived", "新待办：特殊费率")  # the branch head
    flows.approve(as_("hank"), done, open_task(flows.instance(done))["id"], "")
    assert [k for k, _ in kinds(container, "carl")] == ["task_arrived"]  # all-sign: every candidate at once
    for who, node in (("olga", "ops_review"), ("clara", "clearing_review"), ("carl", "clearing_review")):
        task = next(t for t in flows.instance(done).tasks.values() if t.node == node and t.status == "open")
        flows.approve(as_(who), done, task.id, "")
    assert flows.instance(done).status == "completed"
    assert [k for k, _ in kinds(container, "sam")][-2:] == ["instance_approved", "instance_completed"]
    assert kinds(container, "sam")[-1] == ("instance_completed", "已办结：特殊费率")


def test_sla_warnings_and_breaches_reach_the_tasks_handlers(firm):
    container, clock = firm
    flows = container.flows
    data = {"name": "王五", "id_number": "11010519491231002X", "phone": "13812345678",
            "bank_card": "6222021234567890128", "risk_level": "C3"}
    iid = flows.start_instance(as_("sam"), "account_opening", "individual", data, title="王五开户").id
    task = open_task(flows.instance(iid))
    clock.now = datetime.fromisoformat(task.sla_warn_at)  # in working time (the business calendar)
    assert flows.fire_sla(ADMIN, iid, task.id, "sla_warn") == "warned"
    clock.now = datetime.fromisoformat(task.sla_due_at)
    assert flows.fire_sla(ADMIN, iid, task.id, "sla") == "breached"
    assert [k for k, _ in kinds(container, "oscar")] == ["task_arrived", "sla_warning", "sla_breached"]
    assert inbox(container, "oscar")[0]["title"] == "已超时：王五开户"


def test_each_operator_reads_in_their_language_and_chooses_channels_within_policy(firm):
    container, _ = firm
    notifications = container.notifications
    notifications.set_preferences(as_("olga"), "operator:olga", "en", {"copied": ["email"]}, None)
    container.runners[INBOX].catch_up()
    iid = start(container, "Tenant A")
    (arrived,) = inbox(container, "olga")
    assert (arrived["title"], arrived["body"]) == ("New task: Tenant A",
                                                   "\"Tenant A\" is waiting for you at \"运营录入 OPS entry\".")
    container.flows.cc(as_("sam"), iid, ["operator:olga"], "")
    assert [k for k, _ in kinds(container, "olga")] == ["task_arrived"]  # copies: e-mail only, muted in-app
    (mail,) = outbox(container)
    assert (mail["recipient"], mail["channel"], mail["kind"], mail["language"], mail["subject"]) == (
        "operator:olga", "email", "copied", "en", "For your information: Tenant A")
    assert mail["link"] == f"http://localhost:8000/flows/instances/{iid}"
    for bad in ({"copied": ["fax"]}, {"task_arrived": ["email"]}, {"no_such_kind": []}):
        with pytest.raises(InvalidInputError):
            notifications.set_preferences(as_("olga"), "operator:olga", "en", bad, None)
    with pytest.raises(InvalidInputError):
        notifications.set_preferences(as_("olga"), "operator:olga", "fr", {}, None)
    with pytest.raises(InvalidInputError):
        notifications.set_preferences(as_("olga"), "operator:olga", "zh", {},
                                      {"start": "22:00", "end": "22:00", "timezone": "Asia/Shanghai"})


def test_quiet_hours_delay_external_channels_never_the_in_app_row(firm):
    container, _ = firm
    outlet = container.runners[INBOX].projection.outlet
    late = datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI)
    outlet.rules = replace(outlet.rules, clock=lambda: late, max_age=timedelta(days=3650))  # late, whenever now is
    quiet = {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}
    container.notifications.set_preferences(as_("oscar"), "operator:oscar", "zh",
                                            {"task_arrived": ["in_app", "sms"]}, quiet)
    container.runners[INBOX].catch_up()
    start(container)
    assert [k for k, _ in kinds(container, "oscar")] == ["task_arrived"]  # in-app at once
    (sms,) = outbox(container)
    assert (sms["channel"], sms["next_attempt_at"]) == ("sms", datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))


def test_paging_unread_count_and_read_marks_survive_a_rebuild(firm):
    container, _ = firm
    for i in range(5):
        start(container, f"签约{i}")
    queries, olga = container.notification_queries, "operator:olga"
    first = inbox(container, "olga")
    assert [n["title"] for n in first] == [f"新待办：签约{i}" for i in (4, 3, 2, 1, 0)]
    page = queries.page(olga, limit=2)
    second = queries.page(olga, limit=2, after=(page[-1]["position"], page[-1]["id"]))
    assert [n["id"] for n in page + second] == [n["id"] for n in first[:4]]
    assert queries.unread_count(olga) == 5
    container.notifications.mark_read(as_("olga"), olga, [first[0]["id"]])
    container.runners[INBOX].catch_up()
    assert queries.unread_count(olga) == 4
    assert [n["id"] for n in queries.page(olga, unread=True)] == [n["id"] for n in first[1:]]
    with pytest.raises(NotFoundError):  # someone else's notification is as unknown as none
        container.notifications.mark_read(as_("oscar"), "operator:oscar", [first[0]["id"]])
    container.notifications.mark_all_read(as_("oscar"), "operator:oscar")
    start(container, "之后的")
    container.runners[INBOX].catch_up()
    assert queries.unread_count("operator:oscar") == 1  # what arrived after "all read" stays unread
    before = container.readmodels.fetch_all("SELECT * FROM notifications ORDER BY id")

    runner = container.runners[INBOX]  # `ledgerflow projections rebuild notifications.inbox` (blue/green)
    assert BlueGreenRebuild(runner).run()
    assert container.readmodels.fetch_all("SELECT * FROM notifications ORDER BY id") == before
    assert queries.unread_count(olga) == 5 and queries.unread_count("operator:oscar") == 1


def test_a_rebuild_enqueues_nothing_new_and_old_events_enqueue_nothing(firm):
    container, _ = firm
    runner = container.runners[INBOX]
    rules = runner.projection.outlet.rules
    runner.projection.outlet.rules = replace(rules, policy=replace(rules.policy, defaults=("email", "wecom")))
    iid = start(container)
    container.flows.approve(as_("olga"), iid, open_task(container.flows.instance(iid))["id"], "")
    runner.catch_up()
    sent = outbox(container)
    assert {(r["recipient"], r["channel"]) for r in sent} == {
        (who, channel) for who in ("operator:olga", "operator:oscar", "operator:sam") for channel in ("email", "wecom")}
    container.readmodels.fetch_all("UPDATE notifications_outbox SET status = 'sent' RETURNING key")

    assert BlueGreenRebuild(runner).run()  # builds new inbox tables; the outbox is not among them
    assert [r["key"] for r in outbox(container)] == [r["key"] for r in sent]  # nothing new to send

    later = rules.clock() + rules.max_age + timedelta(seconds=1)  # the same events, seen an hour later
    runner.projection.outlet.rules = replace(runner.projection.outlet.rules, clock=lambda: later)
    container.readmodels.fetch_all("DELETE FROM notifications_outbox RETURNING key")
    runner.reset()
    runner.catch_up()
    assert outbox(container) == []
    assert len(inbox(container, "oscar")) == 2  # the in-app list is derived regardless of age


def test_leads_assigned_and_opened_reach_their_owner(container):
    access, leads = container.access, container.leads
    access.create_business_line(ADMIN, "brokerage", "Brokerage")
    online = str(access.create_department(ADMIN, "NET", "网金", "online_finance", None).id)
    access.create_role(ADMIN, "agent", "客户经理", ["leads.view", "leads.work"])
    for login in ("ann", "bob"):
        op = access.create_operator(ADMIN, login, login, online, None, None, None).id
        access.grant_roles(ADMIN, op, ["agent"])
        access.set_business_lines(ADMIN, op, ["brokerage"])
    leads.create_channel(ADMIN, "ths", "同花顺", "tonghuashun", "同花顺", "brokerage", online)
    leads.save_rule(ADMIN, "brokerage", RuleConfig.model_validate({
        "key": "main", "name": "main", "owner_department": online, "target": "employee",
        "strategy": "round_robin", "members": [{"id": "operator:ann"}]}))
    (row,) = leads.intake(ADMIN, "ths", [{"phone": "13800000001"}], "api")["results"]
    assert kinds(container, "ann") == [("lead_assigned", "新线索")]
    assert inbox(container, "ann")[0]["body"] == "收到一条线索，请尽快跟进（渠道 ths）。"
    leads.intake(ADMIN, "ths", [{"phone": "13800000001"}], "api")  # a repeated intake: still ann's
    lead = leads.lead_for("brokerage", "13800000001")
    leads.assign(CommandContext("operator:ann", "c"), lead, "operator:bob", online, "换人")
    assert kinds(container, "bob") == [("lead_assigned", "新线索")]
    leads.opening_event(ADMIN, "brokerage", "13800000001", "opened", datetime.now(timezone.utc))
    assert kinds(container, "bob")[-1] == ("lead_account_opened", "线索已开户")
    assert [k for k, _ in kinds(container, "ann")] == ["lead_assigned"]
    assert inbox(container, "bob")[0]["link"] == f"/leads/{lead}"
