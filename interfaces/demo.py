"""Demo data: a small futures firm. Each context adds its part; loading twice adds nothing
(natural-key ids make every creation idempotent)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from eventsourcing.utils import get_topic

from application.calendar.calendars import YearUnknownError
from domain.access.business_line import STANDARD_LINES
from domain.access.field_rule import FieldRule
from domain.shared.context import CommandContext
from domain.shared.errors import AlreadyExistsError
from domain.shared.ids import natural_id
from infrastructure.settings import Mode
from interfaces.bootstrap import Container

DEMO = CommandContext.system("demo", correlation_id="demo-load")
DEMO_PASSWORD = "Ledgerflow-2026!"  # development data only; demo loading is refused in production

DEPARTMENTS = [
    ("HQ", "总部 Head Office", "head_office", None),
    ("SH01", "上海分公司 Shanghai Branch", "branch", "HQ"),
    ("SH01-S1", "上海营业一部 Shanghai Sales 1", "business_group", "SH01"),
    ("BJ01", "北京分公司 Beijing Branch", "branch", "HQ"),
    ("NETFIN", "网络金融部 Online Finance", "online_finance", "HQ"),
    ("OPS", "运营管理部 Operations", "other", "HQ"),
    ("CLEAR", "结算部 Clearing", "other", "HQ"),
    ("FIN", "财务部 Finance", "other", "HQ"),
]

ALL_ACCESS = ["access.departments.view", "access.operators.view", "calendar.view"]
# Every department works in flows: sees the definitions and forms, handles its tasks, reads
# the customer directory and the archive of its records (004 §3 participants).
FLOW_WORK = ["flows.definitions.view", "flows.instances.view", "flows.tasks.handle", "forms.business_types.view",
             "forms.records.view", "forms.customers.view", "forms.data_sources.query", "archive.documents.read",
             "archive.documents.upload", "agreements.view", "agreements.review"]
# Whoever starts business: a flow, its form record, the documents that go with it.
STARTS = ["flows.instances.start", "forms.records.edit"]
ROLES = [
    ("admin", "系统管理员 Administrator", None),
    # SALES sends the tenant the e-signature link (a fresh one makes earlier ones stop working).
    ("sales", "销售 Sales", ALL_ACCESS + FLOW_WORK + STARTS + ["leads.view", "leads.work", "signatures.manage"]),
    ("account_manager", "客户经理 Account manager", ALL_ACCESS + FLOW_WORK + STARTS + ["leads.view", "leads.work"]),
    # Heads approve their department's expense claims; a timeout may escalate to them.
    ("department_head", "部门负责人 Department head", ALL_ACCESS + FLOW_WORK + STARTS),
    ("ops", "运营 Operations", ALL_ACCESS + FLOW_WORK + ["access.operators.export"]),
    # CLEARING keeps the fee-rate templates and follows the counter write-backs.
    ("clearing", "清算 Clearing", ALL_ACCESS + FLOW_WORK + ["feerates.templates.view", "feerates.templates.manage",
                                                          "feerates.writeback.view"]),
    ("finance", "财务 Finance", ALL_ACCESS + FLOW_WORK + ["access.operators.export"]),
    # Compliance reads everything it audits: instances, records, documents, trails, lead figures.
    # A second administrator of flows: monitors, overrides, and approves another's overrides (四眼原则).
    ("flow_admin", "流程管理员 Flow administrator", ALL_ACCESS + [
        "flows.definitions.view", "flows.instances.view", "flows.instances.monitor", "flows.instances.admin",
        # Expense claims waiting too long are escalated to them (管理层介入): they handle those tasks.
        "flows.tasks.handle", "flows.statistics.view", "flows.reports.manage", "forms.business_types.view",
        "audit.view"]),
    ("auditor", "合规稽核 Compliance auditor", ALL_ACCESS + [
        "audit.view", "audit.verify", "flows.definitions.view", "flows.instances.view",
        "forms.business_types.view", "forms.records.view", "forms.customers.view", "archive.documents.read",
        "leads.view", "leads.analytics.view", "flows.statistics.view", "agreements.view",
        # 人员筛查: compliance keeps the screening lists and reviews hits (a hit waits for them).
        "compliance.lists.manage", "compliance.screening.view", "compliance.screening.review",
        "signatures.verify"]),
]

# login, name, department, roles, lines, jurisdiction (department, with children)
OPERATORS = [
    ("admin", "系统管理员", "HQ", ["admin"], [c for c, _ in STANDARD_LINES], [("HQ", True)]),
    ("wang.fang", "王芳", "SH01", ["sales"], ["brokerage"], [("SH01", True)]),
    ("xu.ming", "徐明", "SH01", ["sales", "department_head"], ["brokerage"], [("SH01", True)]),
    ("li.na", "李娜", "SH01-S1", ["account_manager"], ["brokerage"], [("SH01-S1", False)]),
    ("zhang.wei", "张伟", "BJ01", ["sales"], ["brokerage", "ib"], [("BJ01", True)]),
    ("liu.yang", "刘洋", "BJ01", ["account_manager"], ["brokerage"], [("BJ01", False)]),
    ("chen.jing", "陈静", "NETFIN", ["sales"], ["brokerage", "fund_distribution"], [("NETFIN", True)]),
    ("zhao.lei", "赵磊", "OPS", ["ops"], ["brokerage", "asset_management"], [("HQ", True)]),
    ("sun.li", "孙丽", "OPS", ["ops"], ["brokerage"], [("HQ", True)]),
    ("zhou.qiang", "周强", "CLEAR", ["clearing"], ["brokerage"], [("HQ", True)]),
    ("huang.jie", "黄杰", "CLEAR", ["clearing"], ["brokerage"], [("HQ", True)]),
    ("wu.min", "吴敏", "FIN", ["finance"], [c for c, _ in STANDARD_LINES], [("HQ", True)]),
    ("zheng.hao", "郑浩", "FIN", ["finance"], ["brokerage"], [("HQ", True)]),
    ("ma.chao", "马超", "HQ", ["flow_admin"], [c for c, _ in STANDARD_LINES], [("HQ", True)]),
    ("qian.yu", "钱宇", "HQ", ["auditor"], [c for c, _ in STANDARD_LINES], [("HQ", True)]),
]


def _once(action, *args) -> int:
    try:
        action(DEMO, *args)
        return 1
    except AlreadyExistsError:
        return 0


def load_demo(container: Container) -> str:
    if container.settings.mode is Mode.production:
        raise RuntimeError("demo data is never loaded in production mode")
    from domain.access.catalogue import ACTION_KEYS

    access = container.access
    created = sum(_once(access.create_business_line, code, name) for code, name in STANDARD_LINES)
    dept = {code: natural_id("department", code) for code, *_ in DEPARTMENTS}
    created += sum(_once(access.create_department, code, name, kind, dept[parent] if parent else None)
                   for code, name, kind, parent in DEPARTMENTS)
    for key, name, perms in ROLES:
        permissions = sorted(ACTION_KEYS) if perms is None else sorted(set(perms))
        if _once(access.create_role, key, name, permissions):
            created += 1
        elif access.role(key).permissions != permissions:  # a demo loaded by an older release: catch up
            access.set_role_permissions(DEMO, key, permissions, None)
            created += 1
    for login, name, department, roles, lines, scope in OPERATORS:
        if not _once(access.create_operator, login, name, dept[department], "13800000000", f"{login}@example.com",
                     DEMO_PASSWORD):
            continue
        created += 1
        operator_id = natural_id("operator", login)
        access.grant_roles(DEMO, operator_id, roles)
        access.set_business_lines(DEMO, operator_id, lines)
        access.set_data_scope(DEMO, operator_id, [{"department_id": str(dept[d]), "include_children": c}
                                                  for d, c in scope], [])
    created += _load_calendar(container)
    # (resource, field, effect, mask, applies to roles, exempt roles)
    rules = [("access.operator", "phone", "masked", "phone", [], ["admin"]),
             ("access.operator", "email", "masked", "email", [], ["admin", "finance"]),
             # 004 §7.3: bank data only FINANCE sees in clear; business terms are SALES' and management's.
             ("flows.instance", "bank_account", "masked", "bank_card", [], ["admin", "finance", "auditor"]),
             ("flows.instance", "commercial", "hidden", None, ["ops"], [])]
    # Field rules have no natural key: define the demo's only if none was ever defined.
    if not container.store.recorder.select_notifications(start=1, limit=1, topics=[get_topic(FieldRule.Defined)]):
        for resource, field, effect, mask, applies_to, exempt in rules:
            access.define_field_rule(DEMO, resource, field, effect, mask, applies_to, [], exempt, [])
            created += 1
    created += _load_forms(container)
    created += _load_cockpit(container)
    from interfaces.demo_archive import load_archive

    created += load_archive(container.archive, container.store, DEMO)

    from interfaces.demo_leads import load_leads

    created += load_leads(container)
    link = _signer_link(container)
    return (f"demo data: {created} records created; operators log in with password {DEMO_PASSWORD!r}"
            + (f"\nthe tenant (王) signs the demo agreement at {link} (a new link each time the demo loads)"
               if link else ""))


def _load_calendar(container: Container) -> int:
    """The firm calendar with every year chinese-calendar knows from 2026 (the demo's dates) to next year."""
    calendar, created = container.calendar, _once(container.calendar.open_calendar, None, "公司工作日历 Firm calendar")
    this_year = datetime.now(timezone.utc).year
    for year in range(min(2026, this_year - 1), this_year + 2):
        if year in calendar.calendar().years:
            continue
        try:
            calendar.seed_year(DEMO, year)
            created += 1
        except YearUnknownError:
            pass  # a year the installed release does not know: an administrator enters it
    return created


# The management cockpit (管理驾驶舱, seed 001 §四) a flow administrator opens: hot businesses,
# slow nodes, first-pass rate by month, the handler ranking (docs/api.md, Statistics).
REPORTS = [
    ("hot_businesses", "热门业务 Hot businesses", {"source": "instances", "dimensions": ["business_type"],
                                                  "measures": ["count", "completed", "running"], "chart": "bar"}),
    ("slow_nodes", "慢节点 Slow nodes", {"source": "visits", "dimensions": ["definition_key", "node"],
                                        "measures": ["count", "p50_working_hours", "p90_working_hours"],
                                        "order_by": "p90_working_hours", "chart": "bar", "limit": 20}),
    ("first_pass_by_month", "一次通过率 First-pass rate", {"source": "instances", "measures": ["first_pass_rate"],
                                                        "grain": "month", "chart": "line"}),
    ("handler_ranking", "处理人排名 Handler ranking", {"source": "decisions", "dimensions": ["handler"],
                                                   "measures": ["count", "avg_handling_working_hours"],
                                                   "chart": "table", "limit": 20}),
]


def _load_cockpit(container: Container) -> int:
    reports = container.flow_reports
    created = sum(_once(reports.save_report, key, name, spec, None) for key, name, spec in REPORTS
                  if not container.store.versions([natural_id("flow_report", key)]))
    if not container.store.versions([natural_id("flow_cockpit", "management")]):
        reports.save_cockpit(DEMO, "management", "管理驾驶舱 Management cockpit", [k for k, *_ in REPORTS], None)
        created += 1
    return created


def _load_forms(container: Container) -> int:
    import json

    from infrastructure.forms.customers import FileCustomerDirectory
    from interfaces.demo_forms import BUSINESS_TYPES, CUSTOMERS

    forms, created = container.forms, 0
    for code, name, line, description, subject_forms in BUSINESS_TYPES:
        if not _once(forms.create_business_type, code, name, line, description, sorted(subject_forms)):
            continue
        for subject, schema in subject_forms.items():
            forms.save_draft(DEMO, code, subject, schema, None, True)
        forms.publish(DEMO, code, None)
        created += 1
    created += sum(_once(forms.define_data_source, key, name, kind, config) for key, name, kind, config in [
        ("customer", "客户查询 Customer lookup", "customer", {}),
        ("exchanges", "交易所 Exchanges", "static", {"options": [
            {"value": v, "label": v} for v in ("SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX")]}),
        ("customers_of_manager", "客户经理名下客户 Customers of a manager", "sql", {
            "sql": "SELECT fund_account, name FROM forms_customers WHERE account_manager = :manager"
                   " ORDER BY fund_account", "timeout_ms": 1000, "row_limit": 200, "cache_seconds": 60}),
    ])
    # The embedded account-opening system is a JSON file under the data directory.
    directory = container.settings.data_dir / "customers.json"
    if not directory.exists():
        directory.write_text(json.dumps(CUSTOMERS, ensure_ascii=False, indent=1), encoding="utf-8")
    counts = forms.sync_customers(DEMO, FileCustomerDirectory(directory).customers())
    # What the flows' business outputs need (issue 16): the tenant signing's agreement templates
    # (004 §5), the internal screening list the account opening screens against, the exchanges'
    # rates floating fee rates follow.
    from interfaces.demo_agreements import load_agreement_templates
    from interfaces.demo_compliance import load_demo_screening_list

    load_agreement_templates(container.agreements, DEMO)
    load_demo_screening_list(container)
    return created + counts["registered"] + _load_flows(container)


def _load_flows(container: Container) -> int:
    from interfaces.demo_flows import FLOWS, FOUR_EYES, REASON_CODES, SUMMARY_FIELDS

    created = 0
    for key, name, business_type, graph in FLOWS:
        if not _once(container.flows.create_definition, key, name, business_type, "brokerage", ""):
            continue
        settings: dict[str, Any] = {"deduplication": "approve_consecutive", "empty_assignee": "to_admin"}
        if key in SUMMARY_FIELDS:
            settings["summary_fields"] = SUMMARY_FIELDS[key]
        if key in REASON_CODES:
            settings["reason_codes"] = REASON_CODES[key]
        if key in FOUR_EYES:
            settings["override_approval"] = "second_administrator"
        container.flows.save_draft(DEMO, key, graph, settings, None)
        container.flows.publish(DEMO, key, None)
        created += 1
    return created + (_start_samples(container) if created else 0)


def _start_samples(container: Container) -> int:
    """Businesses under way (the published flows' first run): tasks in people's todo lists, copies,
    and so notifications in every demo operator's in-app list (ADR 0015)."""
    from interfaces.demo_flows import SAMPLES

    flows = container.flows
    # Assignees are resolved from the access read models: they must know the demo's operators first.
    access = ["access.departments", "access.principals"]
    if container.workers is None:
        for name in access:
            container.runners[name].catch_up()
    elif not container.progress.wait_for(access, container.store.head(), 60):
        raise RuntimeError("the access read models did not catch up with the demo's operators within 60 s")
    department_of = {login: natural_id("department", department) for login, _, department, *_ in OPERATORS}
    started_ids = {}
    for key, subject, title, data, initiator, copied, approver in SAMPLES:
        ctx = CommandContext(f"operator:{initiator}", "demo-load")
        # In the initiator's department, as the API starts it: a branch head sees his branch's flows.
        started = flows.start_instance(ctx, key, subject, data, title=title, department_id=department_of[initiator],
                                       fund_account=(data.get("customer") or {}).get("fund_account"))
        started_ids[title] = started.id
        _run_hooks(container, started.id)  # a screening before anyone reviews
        if copied:
            flows.cc(ctx, started.id, [f"operator:{login}" for login in copied], "请知悉 For your information")
        if approver is not None:
            (task,) = [t for t in flows.instance(started.id).tasks.values() if t.status == "open"]
            flows.approve(CommandContext(f"operator:{approver}", "demo-load"), started.id, task.id, "资料齐全")
    # Two businesses taken to their outputs (issue 16): a signing waiting for the tenant's
    # e-signature (its agreement generated), and a fee-rate change the counter has imported.
    from interfaces.demo_flows import DRIVEN, SIGNING_FILLS

    _drive(container, started_ids[DRIVEN["signing"]], SIGNING_FILLS)
    writeback = started_ids[DRIVEN["fee_rate"]]
    _drive(container, writeback, {})
    _counter_imports(container, writeback)
    return len(SAMPLES)


def _run_hooks(container: Container, instance_id: Any) -> None:
    """The system work a sample has reached (a screening, an agreement, a signing request, a counter
    file), run now as the scheduler would run it."""
    flows, ctx = container.flows, CommandContext.system("hooks", "demo-load")
    for _ in range(10):
        pending = flows.instance(instance_id).pending_system_work()
        if not pending:
            return
        for request in pending:
            flows.run_system_task(ctx, instance_id, request["request_id"])


def _drive(container: Container, instance_id: Any, fills: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Approve a sample's open tasks as their first able candidate would (filling the section an
    entry node requires) until it waits for something outside or ends."""
    from domain.shared.errors import DomainError

    flows = container.flows
    for _ in range(30):
        _run_hooks(container, instance_id)
        instance = flows.instance(instance_id)
        tasks = [t for t in instance.tasks.values() if t.status == "open"]
        if instance.status != "running" or not tasks:
            return
        for task in tasks:
            for who in task.candidates:
                ctx = CommandContext(who, "demo-load")
                try:
                    if task.node in fills:
                        section, value = fills[task.node]
                        flows.edit_at_task(ctx, instance_id, task.id, {**flows.instance(instance_id).data,
                                                                       section: value}, None)
                    flows.approve(ctx, instance_id, task.id, "同意 Agreed")
                    break
                except DomainError:
                    continue  # not this candidate (segregation of duties, already signed): the next
    raise RuntimeError(f"demo sample {instance_id} did not reach its waiting point")


def _counter_imports(container: Container, instance_id: Any) -> None:
    """The counter imports the sample's fee-rate file: its result file, read by the result feed."""
    import json

    from infrastructure.feerates.results import ResultFeed

    waiting = [r for r in container.flows.instance(instance_id).system_requests.values()
               if r["hook"] == "ctp_writeback" and r["status"] == "waiting"]
    if not waiting:
        return
    feed = ResultFeed(container.settings.feerates_counter_dir or container.settings.data_dir / "counter",
                      container.feerates)
    name = waiting[0]["result"]["file"]
    (feed.inbox / f"{name}.result.json").write_text(json.dumps({"file": name, "status": "imported",
                                                                "message": "导入成功 imported"}), encoding="utf-8")
    feed.poll()


def _signer_link(container: Container) -> str | None:
    """A fresh link for the demo tenant's pending signing request, as SALES sends it (earlier
    links stop working)."""
    if container.workers is None:
        container.runners["signatures.requests"].catch_up()
    else:
        container.progress.wait_for(["signatures.requests"], container.store.head(), 60)
    everyone = {"all_lines": True, "lines": [], "all_departments": True, "departments": [], "accounts": []}
    pending = container.signing_queries.page(everyone, status="pending", flow_instance=None, after=None, limit=1)
    if not pending:
        return None
    issued = container.signatures.reissue_link(CommandContext("operator:wang.fang", "demo-load"), pending[0]["id"],
                                               reason="演示：发给租户 demo: sent to the tenant")
    return issued.url
