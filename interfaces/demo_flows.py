"""Demo flows from the seeds: fee-rate change (000, 001 §1.1: a branch for special rates with
parallel OPS and CLEARING review), account opening with the 24-hour cooling-off pause, and the
tenant signing of seed 004 (§3 participants, §6 state machine, §7.3 edit rights per section)."""
from __future__ import annotations

from typing import Any


def approval(node_id: str, name: str, mode: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "approval", "name": name, "mode": mode,
            "assignees": [{"kind": "role", "value": role}], **extra}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "target": target, **extra}


SECTIONS = ("basic", "commercial", "rates", "settlement")


def owns(section: str) -> dict[str, str]:
    """004 §7.3: every department sees everything; each edits only its own section."""
    return {s: "editable" if s == section else "readonly" for s in SECTIONS}


FEE_RATE_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "name": "客户经理发起 Account manager starts"},
        {"id": "branch_review", "type": "approval", "name": "营业部负责人审核 Branch head review", "mode": "single",
         "assignees": [{"kind": "initiator_department_head"}], "return_targets": ["start"]},
        {"id": "rate_check", "type": "exclusive", "name": "是否特殊费率 Special rate?"},
        {"id": "special_split", "type": "parallel_split", "name": "并行审核 Parallel review"},
        approval("ops_review", "运营审核 OPS review", "any", "ops"),
        approval("clearing_review", "清算会签 CLEARING countersign", "all", "clearing"),
        {"id": "special_join", "type": "parallel_join", "name": "汇合 Join"},
        {"id": "counter_writeback", "type": "system", "name": "回写柜台 Write back to CTP", "hook": "export"},
        {"id": "end", "type": "end", "name": "完成 Done"},
    ],
    "edges": [
        edge("start", "branch_review"), edge("branch_review", "rate_check"),
        edge("rate_check", "special_split", condition="special_rows > 0", label="特殊费率 special"),
        edge("rate_check", "counter_writeback", default=True),
        edge("special_split", "ops_review"), edge("special_split", "clearing_review"),
        edge("ops_review", "special_join"), edge("clearing_review", "special_join"),
        edge("special_join", "counter_writeback"), edge("counter_writeback", "end"),
    ],
}

ACCOUNT_OPENING_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "name": "开户申请 Application"},
        approval("ops_review", "运营审核 OPS review", "single", "ops", return_targets=["start"],
                 sla_seconds=4 * 3600, sla_warning_seconds=3600),
        {"id": "cooling_off", "type": "pause", "name": "开户冷静期24小时 24-hour cooling-off",
         "pause_seconds": 86400, "description": "开户新规：审核通过后等待24小时再生效"},
        approval("compliance_review", "合规复核 Compliance review", "single", "auditor"),
        {"id": "archive", "type": "system", "name": "影像归档 Archive documents", "hook": "archive"},
        {"id": "end", "type": "end", "name": "开户完成 Opened"},
    ],
    "edges": [edge("start", "ops_review"), edge("ops_review", "cooling_off"), edge("cooling_off", "compliance_review"),
              edge("compliance_review", "archive"), edge("archive", "end")],
}

TENANT_SIGNING_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "name": "销售发起 SALES starts",
         "field_permissions": owns("commercial")},
        # Each department enters its own section (required before it can approve) and a second
        # person of the department reviews it: never the one who entered it (004 §10.1 risk 3).
        approval("ops_entry", "运营录入 OPS entry", "single", "ops", field_permissions=owns("basic"),
                 required_fields=["basic"], sla_seconds=8 * 3600, sla_warning_seconds=3600),
        approval("ops_review", "运营审核 OPS review", "single", "ops", return_targets=["ops_entry"],
                 field_permissions=owns("none"), independent_of=["initiator", "ops_entry"],
                 sla_seconds=8 * 3600),
        approval("clearing_entry", "清算配置 CLEARING entry", "single", "clearing", field_permissions=owns("rates"),
                 required_fields=["rates"], sla_seconds=8 * 3600),
        approval("clearing_review", "清算审核 CLEARING review", "single", "clearing",
                 return_targets=["clearing_entry", "start"], field_permissions=owns("none"),
                 independent_of=["initiator", "clearing_entry"], sla_seconds=8 * 3600),
        approval("finance_entry", "财务配置 FINANCE entry", "single", "finance", field_permissions=owns("settlement"),
                 required_fields=["settlement"], sla_seconds=8 * 3600),
        approval("finance_review", "财务审核 FINANCE final approval", "single", "finance",
                 return_targets=["finance_entry"], field_permissions=owns("none"),
                 independent_of=["initiator", "finance_entry"], sla_seconds=8 * 3600),
        {"id": "generate_contract", "type": "system", "name": "生成协议 Generate the contract", "hook": "export"},
        {"id": "tenant_sign", "type": "approval", "name": "租户签署 Tenant signs", "mode": "single",
         "assignees": [{"kind": "initiator"}]},
        {"id": "archive", "type": "system", "name": "协议归档 Archive", "hook": "archive"},
        {"id": "end", "type": "end", "name": "协议生效 In force"},
    ],
    "edges": [edge("start", "ops_entry"), edge("ops_entry", "ops_review"), edge("ops_review", "clearing_entry"),
              edge("clearing_entry", "clearing_review"), edge("clearing_review", "finance_entry"),
              edge("finance_entry", "finance_review"), edge("finance_review", "generate_contract"),
              edge("generate_contract", "tenant_sign"), edge("tenant_sign", "archive"), edge("archive", "end")],
}

# 费用报销 with the three IF-THEN rules of seed 001 §三 (domain/flows/rules.py): route by region, warn
# at 1.5 h and escalate at 2 h, approve travel under 5,000 of managers on their own. FINANCE's review
# has a node timeout too (超时处理): two reminders four working hours apart, then the flow
# administrators join.
EXPENSE_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "name": "员工提交 Employee submits"},
        {"id": "head_review", "type": "approval", "name": "部门负责人审批 Department head", "mode": "single",
         "assignees": [{"kind": "initiator_department_head"}], "return_targets": ["start"],
         "sla_seconds": 4 * 3600},
        {"id": "finance_review", "type": "approval", "name": "财务审核 Finance review", "mode": "any",
         "assignees": [{"kind": "role", "value": "finance"}], "return_targets": ["start"],
         "sla_seconds": 8 * 3600, "timeout": {"remind_every_seconds": 4 * 3600, "remind_times": 2,
                                              "action": "escalate",
                                              "escalate_to": [{"kind": "role", "value": "flow_admin"}]}},
        {"id": "end", "type": "end", "name": "报销完成 Paid"},
    ],
    "edges": [edge("start", "head_review"), edge("head_review", "finance_review"), edge("finance_review", "end")],
    "amount_field": "expense.amount",
    "rules": [
        {"id": "north_to_beijing_finance", "name": "华北报销由北京财务审核 Northern claims to Beijing finance",
         "trigger": "task_opened", "nodes": ["finance_review"], "condition": 'expense.region == "north"',
         "actions": [{"kind": "assign", "to": [{"kind": "operator", "value": "zheng.hao"}]}]},
        {"id": "warn_at_90_minutes", "name": "1.5小时预警 Warn at 1.5 h", "trigger": "task_overdue",
         "nodes": ["head_review"], "after_seconds": 5400,
         "actions": [{"kind": "mark_urgent"},
                     {"kind": "notify", "handlers": True, "message": "已等待1.5小时，请尽快审批 Waiting 1.5 h"}]},
        {"id": "escalate_at_2_hours", "name": "2小时升级 Escalate at 2 h", "trigger": "task_overdue",
         "nodes": ["head_review"], "after_seconds": 7200,
         "actions": [{"kind": "assign", "mode": "add", "to": [{"kind": "role", "value": "flow_admin"}]},
                     {"kind": "notify", "to": [{"kind": "initiator"}],
                      "message": "审批超过2小时，已升级给流程管理员 Escalated after 2 h"}]},
        {"id": "small_travel_of_managers", "name": "经理差旅费5000元以下自动通过 Managers' travel under 5,000",
         "trigger": "task_opened", "nodes": ["head_review"],
         "condition": 'expense.kind == "travel" && context.amount < 5000.0 && initiator.rank == "manager"',
         "actions": [{"kind": "approve",
                      "reason": "经理差旅费低于5000元，按规则自动通过 Manager's travel under 5,000"}]},
    ],
}

# OA 摘要: what todo and board rows show of each business, without opening it.
SUMMARY_FIELDS = {
    "fee_rate_change": ["customer.name", "customer.fund_account", "exchange", "effective_date"],
    "tenant_signing": ["basic.tenant_name_cn", "commercial.term_months", "commercial.expected_monthly_volume"],
}

# Reasons a rejection or return may give (kept for statistics; "counted" = 驳回计入考核).
REASON_CODES = {
    "tenant_signing": [
        {"code": "RATE_BEYOND_AUTHORITY", "label": "费率超出权限 Rate beyond authority", "counted": True},
        {"code": "DATA_INCOMPLETE", "label": "资料不全 Data incomplete", "counted": True},
        {"code": "CUSTOMER_REQUEST", "label": "客户要求 Customer's request", "counted": False}],
    "fee_rate_change": [
        {"code": "RATE_BEYOND_AUTHORITY", "label": "费率超出权限 Rate beyond authority", "counted": True},
        {"code": "CUSTOMER_REQUEST", "label": "客户要求 Customer's request", "counted": False}],
}
# 四眼原则: an administrator's override of these flows waits for a second administrator.
FOUR_EYES = {"tenant_signing"}

def _replaced(graph: dict[str, Any], nodes: dict[str, dict[str, Any]], added: list[dict[str, Any]],
              edges: list[dict[str, Any]], dropped: set[tuple[str, str]]) -> dict[str, Any]:
    return {"nodes": [nodes.get(n["id"], n) for n in graph["nodes"]] + added,
            "edges": [e for e in graph["edges"] if (e["source"], e["target"]) not in dropped] + edges}


# The business outputs the demo ships with (issue 16: system nodes whose hooks the firm has
# registered, ADR 0024). The graphs above keep plain system steps: the flow tests of other
# concerns run them without a counter, an agreement or a signer.
#
# 手续费率审批: the approved rates go to the CTP counter as an import file; a failed import comes
# back to CLEARING, who fix it and send it again.
FEE_RATE_WITH_WRITEBACK = _replaced(
    FEE_RATE_FLOW,
    {"counter_writeback": {"id": "counter_writeback", "type": "system", "name": "回写柜台 Write back to CTP",
                           "hook": "ctp_writeback", "hook_params": {"counter": "ctp2", "layout": "ctp2"}}},
    [{"id": "imported", "type": "exclusive", "name": "柜台导入成功? Imported?"},
     approval("writeback_repair", "柜台导入失败处理 Fix the failed import", "any", "clearing")],
    [edge("counter_writeback", "imported"),
     edge("imported", "writeback_repair", condition='outputs.counter_writeback.status == "failed"',
          label="导入失败 failed"),
     edge("imported", "end", default=True), edge("writeback_repair", "counter_writeback")],
    {("counter_writeback", "end")})
# 开户审批: 人员筛查 before anyone reviews; a hit waits for compliance, a confirmed hit ends it.
OPENING_WITH_SCREENING = _replaced(
    ACCOUNT_OPENING_FLOW, {},
    [{"id": "screening", "type": "system", "name": "人员筛查 AML screening", "hook": "aml_screening",
      "hook_params": {"fields": ["name"], "id_fields": ["id_number"], "lists": ["internal"], "threshold": 0.85},
      "on_hook_failure": "reject"}],
    [edge("start", "screening"), edge("screening", "ops_review")],
    {("start", "ops_review")})
# 租户签约 (004 §6): 生成协议 → 租户签署 → 协议生效. The agreement is generated from the form, the
# tenant e-signs it through a one-time link (the signed PDF is sealed and archived); an expired or
# revoked link comes back to SALES, who ask again.
SIGNING_WITH_AGREEMENT = _replaced(
    TENANT_SIGNING_FLOW,
    {"generate_contract": {"id": "generate_contract", "type": "system", "name": "生成协议 Generate the agreement",
                           "hook": "generate_agreement",
                           "hook_params": {"template": "tenant_signing", "language": "zh"}},
     "tenant_sign": {"id": "tenant_sign", "type": "system", "name": "租户签署 Tenant e-signs", "hook": "e_sign",
                     "hook_params": {"document_from": "generate_contract", "signer_name_field": "basic.contact_name",
                                     "signer_phone_field": "basic.contact_phone", "customer_field": "basic.uscc"}}},
    [{"id": "signed", "type": "exclusive", "name": "已签署? Signed?"},
     {"id": "sign_again", "type": "approval", "name": "重新发起签署 Ask the tenant again", "mode": "single",
      "assignees": [{"kind": "initiator"}]}],
    [edge("tenant_sign", "signed"),
     edge("signed", "sign_again", condition='outputs.tenant_sign.status == "failed"', label="未签署 not signed"),
     edge("signed", "archive", default=True), edge("sign_again", "tenant_sign")],
    {("tenant_sign", "archive")})

FLOWS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("fee_rate_change", "手续费率审批 Fee-rate approval", "fee_rate_change", FEE_RATE_WITH_WRITEBACK),
    ("account_opening", "开户审批 Account opening", "account_opening", OPENING_WITH_SCREENING),
    ("tenant_signing", "租户签约 Tenant signing", "tenant_signing", SIGNING_WITH_AGREEMENT),
    ("expense_claim", "费用报销 Expense claim", "expense_claim", EXPENSE_FLOW),
]


# A few businesses under way, as the demo's operators would have started them (so every demo login
# finds tasks or copies, and their notifications): flow, subject, title, data, initiator, copied to,
# and who has approved the first step since (if anyone).
SAMPLES: list[tuple[str, str, str, dict[str, Any], str, list[str], str | None]] = [
    ("tenant_signing", "institution", "上海某某贸易有限公司租户签约", {"commercial": {"products": ["VCC"],
                                                                           "term_months": 12}},
     "wang.fang", ["zhou.qiang", "huang.jie", "wu.min", "zheng.hao", "ma.chao", "qian.yu"], None),
    ("fee_rate_change", "individual", "张三手续费率调整", {
        "customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
        "special_reason": "大客户", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]},
     "li.na", ["wang.fang", "zhang.wei"], None),
    ("account_opening", "individual", "李四开户", {
        "name": "李四", "id_number": "11010519491231002X", "phone": "13812345678",
        "bank_card": "6222021234567890128", "risk_level": "C3"},
     "chen.jing", ["liu.yang", "li.na"], "zhao.lei"),  # then the 24-hour cooling-off
    # 人员筛查: 王建国 is on the firm's internal list; his opening waits for compliance (qian.yu).
    ("account_opening", "individual", "王建国开户", {
        "name": "王建国", "id_number": "110101196503071236", "phone": "13912345678",
        "bank_card": "6222021234567890128", "risk_level": "C3"},
     "chen.jing", [], None),
    # Taken to their outputs by the demo (DRIVEN): the agreement generated and waiting for the
    # tenant's e-signature; the fee-rate file imported by the counter.
    ("tenant_signing", "institution", "甲公司租户签约（待租户签署）", {
        "commercial": {"products": ["VCC"], "term_months": 12}}, "wang.fang", [], None),
    ("fee_rate_change", "individual", "王五手续费率调整（已回写柜台）", {
        "customer": {"fund_account": "88001234"}, "exchange": "SHFE", "effective_date": "2026-12-01",
        "special_reason": "年度重点客户 Key account", "rates": [{"id": "r1", "product": "cu", "rate": 0.5}]},
     "wang.fang", [], None),
    # 费用报销 and its rules: wang.fang's claim waits for her head, xu.ming (warned at 1.5 h,
    # escalated at 2 h); xu.ming's own travel under 5,000 is approved by rule and waits for FINANCE.
    ("expense_claim", "employee", "王芳北京出差报销", {"expense": {
        "kind": "travel", "amount": 6800.0, "region": "north", "purpose": "北京客户拜访 Client visit in Beijing"}},
     "wang.fang", [], None),
    ("expense_claim", "employee", "徐明杭州差旅报销", {"expense": {
        "kind": "travel", "amount": 3200.0, "region": "east", "purpose": "杭州营业部巡检 Hangzhou branch visit"}},
     "xu.ming", [], None),
]


DRIVEN = {"signing": "甲公司租户签约（待租户签署）", "fee_rate": "王五手续费率调整（已回写柜台）"}
# What each department enters at its entry node of the driven signing (004 §5).
SIGNING_FILLS: dict[str, tuple[str, dict[str, Any]]] = {
    "ops_entry": ("basic", {"tenant_name_cn": "甲公司（上海）贸易有限公司", "uscc": "91350100M000100Y43",
                            "contact_name": "王", "contact_phone": "13812345678"}),
    "clearing_entry": ("rates", {"fee_items": [{"id": "r1", "product": "VCC", "item": "交易手续费", "percent": 0.3}]}),
    "finance_entry": ("settlement", {"bank_name": "招商银行", "bank_account": "6222021234567890128",
                                     "settlement_cycle": "T+1"}),
}


def without_settings(graph: dict[str, Any], *names: str) -> dict[str, Any]:
    """A copy of ``graph`` whose nodes lack the named settings (tests of one concern at a time)."""
    return {**graph, "nodes": [{k: v for k, v in node.items() if k not in names} for node in graph["nodes"]]}
