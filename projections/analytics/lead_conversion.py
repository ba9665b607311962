"""ClickHouse: the lead conversion funnel (应用市场推广效果分析, 人员管理).

One fact row per funnel step an event reaches, carrying the channel, the employee and the
department as they stood when it happened:

  valid     a valid intake (有效线索)              wechat     WeChat added (加微)
  connected a connected call or follow-up (接通)   intent     opening intent has/strong (意向)
  opened    account opened (开户, 实开)             closed     account closed (销户)
  assigned  placed with an employee by hand or by reassignment (an employee's valid lead)

Per employee (人员管理) a valid lead is one the employee received valid at intake or was
assigned / transferred / reassigned later; per channel only the intake counts.

Every figure is a count of distinct leads with that fact in the bucket (day / week / month of
its own date, in the reporting time zone); rates divide by the valid leads of the same bucket.
Net opening (净开) counts opened leads whose account is not closed (as of the query);
actual opening (实开) counts every opening — of leads that had a valid intake: a customer
filtered at intake (e.g. bound in 渠道1.0 to another department) is no conversion.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from domain.leads.lead import Lead
from projections.framework import ClickHouseSink, handles

FACTS = ("valid", "assigned", "wechat", "connected", "intent", "opened", "closed")


class LeadConversionSink(ClickHouseSink):
    name = "analytics.lead_conversion"
    tables = {
        "lead_facts": (
            "CREATE TABLE IF NOT EXISTS {db}.lead_facts ("
            " position UInt64, n UInt8, occurred_at DateTime64(6, 'UTC'), business_line LowCardinality(String),"
            " lead_id UUID, channel_code LowCardinality(String), employee String, department_id String,"
            " fact LowCardinality(String)"
            ") ENGINE = ReplacingMergeTree ORDER BY (position, n)"
            " SETTINGS non_replicated_deduplication_window = 1000"
        ),
    }
    columns = {"lead_facts": ("position", "n", "occurred_at", "business_line", "lead_id", "channel_code",
                              "employee", "department_id", "fact")}

    @staticmethod
    def _row(e: Lead.Event, position: int, n: int, at: str, channel: str, employee: str | None, department: str,
             fact: str) -> tuple[str, Sequence[Any]]:
        return "lead_facts", (position, n, datetime.fromisoformat(at), e.business_line or "", e.originator_id,
                              channel, employee or "", str(department), fact)

    @handles(Lead.Created, Lead.IntakeRecorded)
    def intake(self, e: Lead.Created | Lead.IntakeRecorded, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        if e.status == "valid":
            yield self._row(e, position, 0, e.intake["at"], e.intake["channel_code"], e.owner, e.department_id,
                            "valid")

    @handles(Lead.Assigned)
    def assigned(self, e: Lead.Assigned, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        """A lead placed with an employee by hand (手动分配 / 转移) or by a reassignment rule
        counts as a valid lead of that employee (人员管理); channel figures ignore it."""
        if e.owner:
            yield self._row(e, position, 0, e.at, e.channel_code, e.owner, e.department_id, "assigned")

    @handles(Lead.WechatAdded)
    def wechat(self, e: Lead.WechatAdded, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        yield self._row(e, position, 0, e.at, e.channel_code, e.owner, e.department_id, "wechat")

    @handles(Lead.CallRecorded)
    def call(self, e: Lead.CallRecorded, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        if e.connected:
            yield self._row(e, position, 0, e.started_at, e.channel_code, e.owner, e.department_id, "connected")

    @handles(Lead.FollowedUp)
    def follow_up(self, e: Lead.FollowedUp, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        if e.connected:
            yield self._row(e, position, 0, e.at, e.channel_code, e.owner, e.department_id, "connected")
        if e.opening_intent in ("has", "strong"):
            yield self._row(e, position, 1, e.at, e.channel_code, e.owner, e.department_id, "intent")

    @handles(Lead.OpeningProgressed)
    def opening(self, e: Lead.OpeningProgressed, position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        if e.kind in ("opened", "closed"):
            yield self._row(e, position, 0, e.at, e.channel_code, e.owner, e.department_id, e.kind)


TS = "Nullable(DateTime64(6, 'UTC'))"
BUCKETS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}
METRICS = ("valid", "wechat", "connected", "intent", "opened_net", "opened")


class LeadAnalytics:
    """Queries over lead_facts (FINAL, so a replayed batch never counts twice)."""

    def __init__(self, clickhouse: Any, timezone: str = "Asia/Shanghai"):
        self.ch = clickhouse
        self.tz = timezone

    def _query(self, dims: list[str], business_line: str, granularity: str | None, since: Any, until: Any,
               channel: str | None, employee: str | None, departments: list[str] | None = None
               ) -> list[dict[str, Any]]:
        db = self.ch.db
        valid = "fact IN ('valid', 'assigned')" if "employee" in dims else "fact = 'valid'"
        select, group = [], []
        if granularity is not None:
            select.append(f"toDate({BUCKETS[granularity]}(toTimeZone(occurred_at, {{tz:String}}))) AS period")
            group.append("period")
        for d in dims:
            select.append(d)
            group.append(d)
        closed = (f"(SELECT DISTINCT lead_id FROM {db}.lead_facts FINAL WHERE fact = 'closed'"
                  " AND business_line = {line:String})")
        # Openings count for leads that were valid at some intake: a customer filtered at intake
        # (bound in 渠道1.0 to another department, blacklisted...) is no conversion of the channel.
        # Decided here rather than in the sink, so facts recorded before this rule are right too.
        ever_valid = (f"(SELECT DISTINCT lead_id FROM {db}.lead_facts FINAL WHERE fact = 'valid'"
                      " AND business_line = {line:String})")
        sql = ("SELECT " + ", ".join(select + [
            f"uniqExactIf(lead_id, {valid}) AS valid", "uniqExactIf(lead_id, fact = 'wechat') AS wechat",
            "uniqExactIf(lead_id, fact = 'connected') AS connected", "uniqExactIf(lead_id, fact = 'intent') AS intent",
            f"uniqExactIf(lead_id, fact = 'opened' AND lead_id NOT IN {closed}) AS opened_net",
            "uniqExactIf(lead_id, fact = 'opened') AS opened"]) +
            f" FROM {db}.lead_facts FINAL WHERE business_line = {{line:String}} AND fact != 'closed'"
            f" AND (fact != 'opened' OR lead_id IN {ever_valid})"
            f" AND ({{since:{TS}}} IS NULL OR occurred_at >= {{since:{TS}}})"
            f" AND ({{until:{TS}}} IS NULL OR occurred_at < {{until:{TS}}})"
            " AND ({channel:Nullable(String)} IS NULL OR channel_code = {channel:Nullable(String)})"
            " AND ({employee:Nullable(String)} IS NULL OR employee = {employee:Nullable(String)})"
            " AND ({all_departments:Bool} OR has({departments:Array(String)}, department_id))"
            + (" GROUP BY " + ", ".join(group) + " ORDER BY " + ", ".join(group) if group else ""))
        params = {"line": business_line, "since": since, "until": until, "channel": channel, "employee": employee,
                  "tz": self.tz, "all_departments": departments is None, "departments": departments or []}
        names = [*(["period"] if granularity else []), *dims, *METRICS]
        out = []
        for row in self.ch.query(sql, params):
            rec = dict(zip(names, row, strict=True))
            if "period" in rec:
                rec["period"] = rec["period"].isoformat()
            out.append(with_rates(rec))
        return out

    def by_channel(self, business_line: str, *, granularity: str | None = None, since: Any = None,
                   until: Any = None, channel: str | None = None, departments: list[str] | None = None
                   ) -> dict[str, Any]:
        """``departments``: only facts of leads then in these departments (the caller's data scope)."""
        rows = self._query(["channel_code"], business_line, granularity, since, until, channel, None, departments)
        total = self._query([], business_line, None, since, until, channel, None, departments)
        return {"rows": rows, "total": total[0] if total else with_rates({m: 0 for m in METRICS})}

    def by_employee(self, business_line: str, *, granularity: str | None = None, since: Any = None,
                    until: Any = None, channel: str | None = None, employee: str | None = None,
                    departments: list[str] | None = None) -> dict[str, Any]:
        rows = self._query(["employee", "channel_code"], business_line, granularity, since, until, channel,
                           employee, departments)
        overall = self._query(["employee"], business_line, granularity, since, until, channel, employee,
                              departments)
        return {"rows": rows, "all_channels": overall}


def with_rates(rec: dict[str, Any]) -> dict[str, Any]:
    valid = rec.get("valid") or 0
    for metric in METRICS[1:]:
        rec[f"{metric}_rate"] = round(rec[metric] / valid, 4) if valid else None
    return rec
