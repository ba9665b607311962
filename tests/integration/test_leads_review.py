"""Review fixes of the leads context on real engines: SOP claim-then-send (two runners, a
conflicting follow-up, a failed send retried once), SOP data scope, sensitive words checked
and recorded at send time, the account-opening file feed (offset per line, one bad event),
attribution over a legacy date-only binding."""
from __future__ import annotations

import threading
from collections import Counter

import orjson

from application.leads.app import LeadsApplication
from domain.leads.lead import Lead
from domain.leads.segment import SegmentConfig, SopConfig
from domain.leads.settings import IntakeConfig
from domain.shared.context import CommandContext
from infrastructure.leads.account_opening import FileOpeningFeed
from infrastructure.leads.locks import LineTurns
from tests.integration.test_leads import ADMIN, LINE, firm, phone, rule  # noqa: F401 - the firm fixture

SOP = CommandContext.system("sop")
TZ = "Asia/Shanghai"


class Outbound:
    def __init__(self, fail_on: str | None = None, during=None):
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.fail_on, self.during = fail_on, during

    def send_sms(self, to: str, content: str, template: str | None) -> str:
        if to == self.fail_on:
            self.fail_on = None
            raise RuntimeError("gateway timeout")
        with self.lock:
            self.sent[to] += 1
        if self.during:
            self.during, during = None, self.during
            during()
        return f"ref-{to}"

    def place_call(self, to: str, task: str) -> str:
        return self.send_sms(to, task, None)


class Members:
    """The read-model port with a fixed segment (the runs under test decide, not the query)."""

    def __init__(self, targets):
        self.targets = targets

    def segment_members(self, *args, **kwargs):
        return self.targets


def _sop_app(container, clock, targets, outbound):
    """A leads application as the composition root builds it, with a test gateway and segment."""
    return LeadsApplication(container.store, clock=clock, turns=LineTurns(container.store.datastore),
                            reads=Members(targets), outbound=outbound, timezone_name=TZ)


def _targets(container, deps, n=6):
    leads = container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"}]))
    out = leads.intake(ADMIN, "ths", [{"phone": phone(i)} for i in range(n)], "api")["results"]
    leads.save_segment(ADMIN, LINE, SegmentConfig(key="all", name="all"))
    return [(leads.lead_for(LINE, r["phone"]), r["phone"]) for r in out]


def test_sop_claims_before_sending_so_no_phone_is_contacted_twice(firm):  # noqa: F811
    container, clock, deps = firm
    targets = _targets(container, deps)
    leads = container.leads
    leads.save_sop(ADMIN, LINE, SopConfig(key="hi", name="hi", segments=["all"], action="sms", content="您好"))
    # a follow-up on a target lead while the run sends, and one failed send
    meddle = lambda: LeadsApplication(container.store).follow_up(  # noqa: E731
        CommandContext("operator:ann", "x"), targets[0][0], "called", True, None, None, None, [])
    outbound = Outbound(fail_on=targets[3][1], during=meddle)
    runners = [_sop_app(container, clock, targets, outbound) for _ in range(2)]
    barrier = threading.Barrier(2)

    def go(app: LeadsApplication) -> None:
        barrier.wait()
        app.run_sop(SOP, LINE, ["hi"])

    threads = [threading.Thread(target=go, args=(a,)) for a in runners]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert set(outbound.sent.values()) == {1}
    first = len(outbound.sent)  # the failed send may already be retried by the other runner
    leads = _sop_app(container, clock, targets, outbound)
    again = leads.run_sop(SOP, LINE, ["hi"])
    assert again == {"reached": 6 - first, "failed": 0}
    assert len(outbound.sent) == 6 and set(outbound.sent.values()) == {1}
    assert leads.run_sop(SOP, LINE, ["hi"]) == {"reached": 0, "failed": 0}


def test_sop_reaches_only_its_scope_and_checks_words_at_send_time(firm):  # noqa: F811
    container, clock, deps = firm
    targets = _targets(container, deps, 4)
    leads = container.leads
    leads.assign(ADMIN, targets[0][0], "operator:bob", deps["g1"], "to g1")
    leads.save_sop(ADMIN, LINE, SopConfig(key="scoped", name="s", segments=["all"], action="sms", content="您好"),
                   [deps["g1"]])
    outbound = Outbound()
    container.runners["leads.leads"].catch_up()
    assert container.lead_sop.tick([LINE]) == {"reached": 1, "failed": 0}
    # words added after the task was saved: block mode refuses at send time, flag mode records
    leads.change_sensitive_words(ADMIN, LINE, ["VIP"], [])
    leads.save_sop(ADMIN, LINE, SopConfig(key="open", name="o", segments=["all"], action="sms", content="hello"))
    leads.save_sop(ADMIN, LINE, SopConfig(key="promo", name="p", segments=["all"], action="sms",
                                          content="hello"))
    leads.change_sensitive_words(ADMIN, LINE, ["ＶＩ Ｐ"], [])
    task = leads.sop_task(LINE, "promo")
    task_cfg = task.settings().model_copy(update={"content": "尊享 v\u200bip 服务"})
    leads.configure_intake(ADMIN, LINE, IntakeConfig(sensitive_mode="flag"))
    leads.save_sop(ADMIN, LINE, task_cfg)
    leads.configure_intake(ADMIN, LINE, IntakeConfig(sensitive_mode="block"))
    runner = _sop_app(container, clock, targets, outbound)
    assert runner.run_sop(SOP, LINE, ["promo"]) == {"reached": 0, "failed": 0}
    assert leads.sop_task(LINE, "promo").blocked_content == "尊享 v\u200bip 服务"
    leads.configure_intake(ADMIN, LINE, IntakeConfig(sensitive_mode="flag"))
    assert runner.run_sop(SOP, LINE, ["promo"])["reached"] == 4
    container.runners["leads.leads"].catch_up()
    hits = container.lead_queries.sensitive_hits(LINE)
    assert len(hits) == 4 and {h["kind"] for h in hits} == {"sop_sms"}


def test_the_opening_feed_survives_a_bad_event_and_never_replays(firm, tmp_path):  # noqa: F811
    container, clock, deps = firm
    leads = container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="round_robin", members=[{"id": "operator:ann"}]))
    leads.intake(ADMIN, "ths", [{"phone": "13812345678"}], "api")
    # a binding recorded before strict validation, with a date only: attribution must not crash
    with_legacy = leads.bindings(["+8613812345678"])
    assert with_legacy == {}
    from domain.leads.binding import Binding
    from domain.shared.context import acting_as
    with acting_as(ADMIN):
        leads.save_all(Binding.create("+8613812345678", "ib", "IB", None, "2020-01-01", "legacy"))
    f = tmp_path / "open.jsonl"
    base = {"business_line": LINE, "phone": "13812345678"}
    f.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in [
        {**base, "kind": "entered", "at": "2026-01-01T00:00:00+08:00"},
        {**base, "kind": "node", "at": "2026-01-01T00:00:00+08:00", "node": {"x": 1}},
        {**base, "kind": "opened", "at": "2026-01-02T00:00:00+08:00"}]))
    feed = FileOpeningFeed(f)
    assert [r["status"] for r in feed.poll(leads)] == ["accepted", "rejected", "accepted"]
    assert feed.poll(leads) == []
    lead = leads.load(leads.lead_for(LINE, "13812345678"), Lead)
    assert lead.lifecycle == "opened" and lead.opening["attribution"]["chosen"]["kind"] == "ib"


def test_many_processes_taking_single_leads_at_once_all_succeed(firm):  # noqa: F811
    container, clock, deps = firm
    container.leads.save_rule(ADMIN, LINE, rule(deps, strategy="weighted", members=[
        {"id": "operator:ann", "cap": 10}, {"id": "operator:bob", "cap": 10}]))
    apps = [LeadsApplication(container.store, turns=LineTurns(container.store.datastore)) for _ in range(4)]
    errors: list[str] = []
    owners: Counter[str | None] = Counter()
    barrier = threading.Barrier(len(apps))

    def go(k: int) -> None:
        barrier.wait()
        for j in range(8):
            try:
                owners[apps[k].intake(ADMIN, "ths", [{"phone": f"139{k:02d}{j:06d}"}], "api")["results"][0]
                       ["owner"]] += 1
            except Exception as exc:
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(len(apps))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and owners["operator:ann"] == owners["operator:bob"] == 10 and owners[None] == 12


def test_an_employee_counts_the_leads_assigned_to_them_by_hand(firm):  # noqa: F811
    container, clock, deps = firm
    leads = container.leads
    leads.save_rule(ADMIN, LINE, rule(deps, strategy="manual"))
    out = leads.intake(ADMIN, "ths", [{"phone": phone(i)} for i in range(3)], "api")["results"]
    for r in out:
        lid = leads.lead_for(LINE, r["phone"])
        leads.assign(ADMIN, lid, "operator:ann", deps["online"], "手动分配")
        leads.add_wechat(CommandContext("operator:ann", "w"), lid, None)
    container.runners["analytics.lead_conversion"].catch_up()
    ann = [r for r in container.lead_analytics.by_employee(LINE)["all_channels"] if r["employee"] == "operator:ann"]
    assert ann[0]["valid"] == 3 and ann[0]["wechat_rate"] == 1.0
    assert container.lead_analytics.by_channel(LINE)["total"]["valid"] == 3


def test_the_rate_limit_holds_without_redis_and_a_refusal_costs_nothing(firm):  # noqa: F811
    from infrastructure.leads.rate_limit import RateLimiter

    class Down:
        available = False

    limiter = RateLimiter(Down(), 10)  # type: ignore[arg-type]
    assert limiter.take("channel:x", 8)[0] and not limiter.take("channel:x", 5)[0]
    assert limiter.take("channel:x", 2)[0] and not limiter.take("channel:x")[0]
    container = firm[0]
    if container.redis.available:
        live = RateLimiter(container.redis, 10)
        assert not live.take("channel:y", 1000)[0] and live.take("channel:y", 10)[0]


def test_the_leads_job_keeps_going_when_one_part_fails(firm, tmp_path):  # noqa: F811
    from infrastructure.leads.recycler import Recycler

    container = firm[0]

    class BrokenFeed:
        def poll(self, leads):
            raise RuntimeError("disk gone")

    class CountingSop:
        runs = 0

        def tick(self) -> dict[str, int]:
            CountingSop.runs += 1
            return {"reached": 0, "failed": 0}

    job = Recycler(container.leads, container.lead_queries, sop=CountingSop(), opening_feed=BrokenFeed())  # type: ignore[arg-type]
    job.run_once()
    assert CountingSop.runs == 1


def test_run_now_right_after_saving_an_sop_task_reaches_its_segment(firm):  # noqa: F811
    container, clock, deps = firm
    targets = _targets(container, deps, 3)
    container.runners["leads.leads"].catch_up()
    container.leads.save_sop(ADMIN, LINE, SopConfig(key="now", name="now", segments=["all"], action="sms",
                                                    content="您好"))
    later = threading.Timer(0.5, container.runners["leads.leads"].catch_up)  # the read model applies it later
    later.start()
    try:
        assert container.lead_sop.tick([LINE]) == {"reached": len(targets), "failed": 0}
    finally:
        later.join()
