"""Demo data for leads (渠道2.0): channels (同花顺, 抖音, 百度, app stores, referral), account
managers in 网络金融部 with a day rule (weighted, with a cap) and a night shift, a recycle rule
with a reassignment rule, 渠道1.0 bindings, and a few thousand generated leads with activity
over the past weeks. Loaded once: a second run finds the channels and adds nothing."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from domain.leads.allocation import RuleConfig
from domain.leads.rulebook import RecycleRule
from domain.leads.settings import IntakeConfig
from domain.shared.context import CommandContext
from domain.shared.errors import AlreadyExistsError
from domain.shared.ids import natural_id

if TYPE_CHECKING:
    from interfaces.bootstrap import Container

DEMO = CommandContext.system("demo", correlation_id="demo-load")
LINE = "brokerage"
CHANNELS = [
    ("ths-futures-tab", "[手炒开户]期货交易tab", "tonghuashun", "同花顺"),
    ("douyin-plan-1", "抖音推广计划1", "douyin", "抖音"),
    ("baidu-search", "百度搜索", "baidu", "百度"),
    ("app-xiaomi", "小米应用商店", "app_store_xiaomi", "应用市场"),
    ("app-huawei", "华为应用市场", "app_store_huawei", "应用市场"),
    ("app-vivo", "vivo应用商店", "app_store_vivo", "应用市场"),
    ("app-oppo", "OPPO应用商店", "app_store_oppo", "应用市场"),
    ("app-honor", "荣耀应用商城", "app_store_honor", "应用市场"),
    ("app-apple", "苹果应用商店", "app_store_apple", "应用市场"),
    ("referral", "转介绍", "referral", "其他"),
]
MANAGERS = [("feng.sizhao", "冯思钊"), ("sun.wanru", "孙婉茹"), ("li.shuping", "李书萍"), ("zhao.yufeng", "赵玉凤"),
            ("night.zhou", "周俊")]
NETFIN = natural_id("department", "NETFIN")


def load_leads(container: Container, leads_count: int = 3000) -> int:
    leads, access = container.leads, container.access
    created = 0
    for login, name in MANAGERS:
        try:
            op = access.create_operator(DEMO, login, name, NETFIN, None, None, None).id
            access.grant_roles(DEMO, op, ["account_manager"])
            access.set_business_lines(DEMO, op, [LINE])
            created += 1
        except AlreadyExistsError:
            pass
    fresh = False
    for code, name, kind, promotion in CHANNELS:
        try:
            leads.create_channel(DEMO, code, name, kind, promotion, LINE, str(NETFIN))
            created += 1
            fresh = True
        except AlreadyExistsError:
            pass
    if not fresh:
        return created
    day_team = [f"operator:{login}" for login, _ in MANAGERS[:4]]
    leads.save_rule(DEMO, LINE, RuleConfig(
        key="day", name="白班权重分配", owner_department=str(NETFIN), strategy="weighted",
        members=[{"id": m, "weight": w, "cap": c} for m, w, c in zip(day_team, (3, 2, 2, 1), (None, None, 900, None),
                                                                     strict=True)]))
    leads.save_rule(DEMO, LINE, RuleConfig(
        key="night", name="夜班单独分", owner_department=str(NETFIN), strategy="round_robin",
        members=[{"id": "operator:night.zhou"}], window={"days": [1, 2, 3, 4, 5, 6, 7], "start": "20:00",
                                                         "end": "08:00"}))
    leads.save_rule(DEMO, LINE, RuleConfig(
        key="again", name="回收再分配", purpose="reassign", owner_department=str(natural_id("department", "HQ")),
        max_recycle_count=12, strategy="round_robin", members=[{"id": m} for m in day_team]))
    leads.save_recycle_rule(DEMO, LINE, RecycleRule(
        key="thirty-days", name="30天未开户回收", owner_department=str(NETFIN), scope_departments=[str(NETFIN)],
        days=30, to_department=str(natural_id("department", "HQ"))))
    leads.configure_intake(DEMO, LINE, IntakeConfig(repeat_window_days=3, attribution_mode="time"))
    leads.change_sensitive_words(DEMO, LINE, ["保本", "稳赚", "内幕"], [])
    leads.import_bindings(DEMO, [{"phone": f"1590000{i:04d}", "kind": "account_manager", "holder": "operator:li.na",
                                  "department_id": str(natural_id("department", "SH01-S1")),
                                  "bound_at": "2025-06-01T00:00:00+08:00"} for i in range(50)], "渠道1.0")
    created += _generate(container, leads_count)
    return created


def _generate(container: Any, count: int) -> int:
    leads = container.leads
    rng = random.Random(2026)
    start = datetime.now(timezone.utc) - timedelta(days=35)
    real_clock = leads.clock
    made = 0
    try:
        for batch in range(count // 100):
            at = start + timedelta(hours=batch * 35 * 24 / (count // 100) + rng.random())
            leads.clock = lambda at=at: at
            channel = rng.choice(CHANNELS)[0]
            rows = [{"phone": f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"
                     if rng.random() > 0.02 else f"1590000{rng.randint(0, 49):04d}",
                     "name": rng.choice("张王李赵刘陈杨黄") + rng.choice("伟芳娜敏静磊洋勇")} for _ in range(100)]
            out = leads.intake(DEMO, channel, rows, "api")
            for r in out["results"]:
                if r["status"] != "valid" or r.get("flag") != "new" or not r.get("owner"):
                    continue
                made += 1
                who = CommandContext(r["owner"], "demo-work")
                lid = leads.lead_for(LINE, r["phone"])
                t = at + timedelta(hours=rng.randint(1, 48))
                leads.clock = lambda t=t: t
                if rng.random() < 0.6:
                    connected = rng.random() < 0.6
                    leads.record_call(who, lid, t, rng.randint(5, 400) if connected else 0, connected)
                    note = rng.choice(["正在忙, 后面再联系", "有开户意向", "忘记带身份证", "无意向"])
                    leads.follow_up(who, lid, note, connected, t + timedelta(days=2),
                                    rng.choice(["none", "has", "strong"]), rng.choice(["none", "has", None]), [])
                if rng.random() < 0.4:
                    leads.add_wechat(who, lid, None)
                if rng.random() < 0.15:
                    leads.opening_event(DEMO, LINE, r["phone"], "entered", t + timedelta(hours=2))
                    if rng.random() < 0.7:
                        leads.opening_event(DEMO, LINE, r["phone"], "opened", t + timedelta(hours=5), node="done")
                    else:
                        leads.opening_event(DEMO, LINE, r["phone"], "interrupted", t + timedelta(hours=3),
                                            node="video")
    finally:
        leads.clock = real_clock
    return made
