"""The catalogue of menus and action keys the API exposes, so a UI can render menus and
buttons and an administrator can build roles from them. Later contexts add their entries."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    key: str
    title: str


@dataclass(frozen=True)
class Menu:
    key: str
    title: str
    actions: tuple[Action, ...]


MENUS: tuple[Menu, ...] = (
    Menu("access", "权限管理 Access control", (
        Action("access.departments.view", "View departments"),
        Action("access.departments.manage", "Create, rename, move and close departments"),
        Action("access.operators.view", "View operators"),
        Action("access.operators.manage", "Create and edit operators, reset passwords"),
        Action("access.operators.export", "Export operators"),
        Action("access.roles.manage", "Define roles and grant them"),
        Action("access.scopes.manage", "Grant business lines and data scopes"),
        Action("access.field_rules.manage", "Define field rules"),
        Action("access.business_lines.manage", "Define business lines"),
        Action("access.api_tokens.manage", "Issue and revoke API tokens"),
    )),
    Menu("forms", "业务与表单 Business types and forms", (
        Action("forms.business_types.view", "View business types and their forms"),
        Action("forms.business_types.manage", "Create business types, edit drafts, publish versions"),
        Action("forms.data_sources.manage", "Define data sources (static, customer, SQL)"),
        Action("forms.data_sources.query", "Query data sources while filling forms"),
        Action("forms.records.view", "View form records and their change history"),
        Action("forms.records.edit", "Start and edit form records"),
        Action("forms.customers.view", "Look customers up by fund account"),
    )),
    Menu("flows", "流程 Flows", (
        Action("flows.definitions.view", "View flow definitions and diagrams"),
        Action("flows.definitions.manage", "Design and publish flow definitions"),
        Action("flows.instances.start", "Start flows"),
        Action("flows.instances.view", "View flow instances in your lines and scope"),
        Action("flows.tasks.handle", "Handle tasks: approve, reject, return, transfer"),
        Action("flows.instances.admin", "Monitor flows: terminate, end pauses early"),
        Action("flows.instances.monitor", "Monitoring board: find, count and export instances in your scope"),
        Action("flows.statistics.view", "Flow statistics and KPIs in your lines and scope: volumes, durations, SLA, "
                                        "first pass, rejections, handlers (export)"),
        Action("flows.reports.manage", "Save, change and delete reports and cockpits (报表, 管理驾驶舱) others run"),
        Action("flows.instances.migrate", "Move running instances to a newer published version (dry run, apply)"),
    )),
    Menu("archive", "影像资料 Image archive", (
        Action("archive.documents.read", "View and download documents by customer and by business"),
        Action("archive.documents.upload", "Upload documents and new versions (also the third-party archive API)"),
        Action("archive.documents.manage", "Reclassify, edit, delete and restore documents"),
        Action("archive.documents.export", "Define export rules and produce packages for regulators"),
        Action("archive.sync", "Import cloud-platform batches and resolve their anomalies"),
        Action("archive.mount", "Mount historical loose documents in bulk"),
    )),
    Menu("agreements", "协议 Agreements", (
        Action("agreements.templates.view", "View agreement templates and their versions"),
        Action("agreements.templates.manage", "Create agreement templates, edit drafts, publish versions"),
        Action("agreements.view", "View generated agreements in your lines and scope: preview, PDF, compare"),
        Action("agreements.review", "Approve or reject your department's sections, comment on any section (批注)"),
    )),
    Menu("signatures", "电子签章 E-signature", (
        Action("signatures.manage", "Ask signers to e-sign archived agreements, list and revoke requests, re-issue "
                                    "links, retry a seal"),
        Action("signatures.verify", "Verify the seals and hashes of archived PDFs"),
    )),
    Menu("leads", "渠道2.0 Leads", (
        Action("leads.channels.view", "View channels and landing pages"),
        Action("leads.channels.manage", "Create channels, issue intake tokens, configure landing pages"),
        Action("leads.intake", "Submit and import leads"),
        Action("leads.rules.manage", "Define assignment, recycle and intake-filter rules, blacklist, sensitive words"),
        Action("leads.view", "View leads in your lines and scope"),
        Action("leads.assign", "Assign and transfer leads by hand"),
        Action("leads.work", "Follow up, record calls, add WeChat, send SMS"),
        Action("leads.opening.ingest", "Deliver account-opening events (adapter webhook)"),
        Action("leads.analytics.view", "View and export conversion analytics"),
    )),
    Menu("calendar", "工作日历 Business calendar", (
        Action("calendar.view", "View the business calendar: working hours, holidays, make-up working days"),
        Action("calendar.manage", "Edit the business calendar: seed or enter a year's holidays, set hours and days"),
    )),
    Menu("feerates", "手续费率 Fee rates", (
        Action("feerates.templates.view", "View fee-rate templates and the exchanges' rates"),
        Action("feerates.templates.manage", "Create, revise and publish fee-rate templates; load the exchanges' rates"),
        Action("feerates.writeback.view", "View counter write-backs (import files and their results)"),
        # For the counter's (or its operator's) API token: results of imports come back through it.
        Action("feerates.writeback.report", "Report a counter import result (imported / failed)"),
    )),
    Menu("notification_deliveries", "消息投递 Notification delivery", (
        Action("notifications.deliveries.view", "View external deliveries (e-mail, SMS, WeCom, OA) and the "
                                                "dead-letter list"),
        Action("notifications.deliveries.manage", "Send dead-letter deliveries again"),
    )),
    Menu("compliance", "合规 Compliance (AML screening 人员筛查)", (
        Action("compliance.lists.manage", "Load screening lists (sanctions, PEP, internal blacklist) and view their "
                                          "versions"),
        Action("compliance.screening.view", "View screenings of flows and their hits"),
        Action("compliance.screening.review", "Review a screening's hits: clear or confirm"),
    )),
    Menu("oa", "OA 与移动端 OA and mobile clients", (
        # Honoured for API tokens only, and only for operators who granted the token a delegation
        # (ADR 0016); an operator's own session never acts for anyone else.
        Action("oa.act_on_behalf", "API tokens: list the todo of, and act on tasks for, operators who delegated "
                                   "to the client"),
    )),
    Menu("audit", "审计 Audit", (
        Action("audit.view", "View event trails and past states"),
        Action("audit.verify", "Verify the tamper-evidence chain"),
    )),
    Menu("privacy", "个人信息 Privacy", (
        Action("privacy.erase", "Erase a lead's or a customer's personal data (PIPL art. 47): irreversible"),
    )),
    Menu("operations", "运维 Operations", (
        Action("ops.projections.view", "View projection status and lag"),
        Action("ops.projections.manage", "Re-apply events a projection parked (after a fix)"),
        Action("ops.metrics.view", "Scrape metrics"),
    )),
)

ACTION_KEYS: frozenset[str] = frozenset(a.key for m in MENUS for a in m.actions)


def unknown_actions(keys: set[str] | frozenset[str]) -> list[str]:
    return sorted(k for k in keys if k not in ACTION_KEYS)
