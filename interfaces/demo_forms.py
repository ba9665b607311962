"""Demo business types from the seeds: fee-rate change (手续费率), account opening (开户) and the
multi-department tenant signing of seed 004 (sections owned by SALES / OPS / CLEARING / FINANCE,
coloured as 004 §5.2 describes)."""
from __future__ import annotations

from typing import Any


def field(component: str, title: str, type_: str = "string", /, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "title": title, "x-component": component, "x-decorator": "FormItem", **extra}


def section(title: str, owner: str, color: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "title": title, "x-component": "Section",
            "x-component-props": {"title": title, "owner_department": owner, "color": color},
            "properties": properties, "required": required}


CUSTOMER = field("CustomerLookup", "客户 Customer", "object", **{
    "x-data-source": "customer",
    "properties": {"fund_account": field("Input", "资金账号 Fund account", format="fund-account"),
                   "name": field("Input", "客户名称 Name")},
    "required": ["fund_account"]})

FEE_RATE = {
    "type": "object",
    "properties": {
        "customer": CUSTOMER,
        "exchange": field("Select", "交易所 Exchange", enum=["SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX"]),
        "rates": field("ArrayTable", "费率明细 Rates", "array", minItems=1, items={
            "type": "object", "required": ["id", "product", "rate"],
            "properties": {
                "id": field("Input", "行号 Row id"),
                "product": field("Input", "品种 Product"),
                "rate": field("PercentInput", "费率(万分之) Rate", "number", minimum=0, maximum=100),
                "multiple_of_exchange": field("NumberPicker", "交易所倍数 Multiple", "number", minimum=0,
                                              **{"x-reactions": [{"fulfill": {"value": "row.rate / 0.5"}}]}),
                # Optional, for the counter write-back (docs/feerates.md): absent = as the rate says / none.
                "close_today_rate": field("PercentInput", "平今费率(万分之) Close-today rate", "number",
                                          minimum=0, maximum=100),
                "per_lot": field("MoneyInput", "每手(元) Per lot (yuan)", "number", minimum=0, maximum=1000),
                "long_margin": field("PercentInput", "多头保证金率(%) Long margin", "number", minimum=0, maximum=100),
                "short_margin": field("PercentInput", "空头保证金率(%) Short margin", "number", minimum=0,
                                      maximum=100),
                "hedge_flag": field("Select", "投机套保 Hedge flag", enum=["1", "2", "3", "5"]),
            }}),
        "fee_template": field("Select", "费率模板 Fee-rate template", pattern=r"^[a-z][a-z0-9_]{1,47}$",
                              description="A published template's key (浮动手续费); the rows override it"),
        "special_rows": field("NumberPicker", "低于1的费率行数 Rows below 1", "integer", **{
            "x-reactions": [{"fulfill": {"value": "rates.filter(r, r.rate < 1.0).size()"}}]}),
        "special_reason": field("Input.TextArea", "特殊审批理由 Reason for a special rate", **{
            "x-reactions": [{"when": "rates.exists(r, r.rate < 1.0)", "fulfill": {"state": {"visible": True}},
                             "otherwise": {"state": {"visible": False}}}]}),
        "effective_date": field("DatePicker", "生效日期 Effective date", format="date"),
    },
    "required": ["customer", "exchange", "rates", "special_reason", "effective_date"],
}

OPENING_INDIVIDUAL = {
    "type": "object",
    "properties": {
        "name": field("Input", "姓名 Name", maxLength=50),
        "id_number": field("IdCardInput", "身份证号 ID card", format="id-card-cn"),
        "phone": field("PhoneInput", "手机号 Mobile", format="phone-cn"),
        "bank_card": field("Input", "银行卡号 Bank card", format="bank-card"),
        "risk_level": field("Radio.Group", "风险等级 Risk level", enum=["C1", "C2", "C3", "C4", "C5"]),
        "attachments": field("Attachment", "影像资料 Documents", "array", items={
            "type": "object", "required": ["document_id"], "properties": {"document_id": {"type": "string"}}}),
    },
    "required": ["name", "id_number", "phone", "bank_card", "risk_level"],
}

OPENING_INSTITUTION = {
    "type": "object",
    "properties": {
        "company_name": field("Input", "机构名称 Company", maxLength=100),
        "uscc": field("Input", "统一社会信用代码 USCC", format="uscc"),
        "legal_representative": field("Input", "法定代表人 Legal representative"),
        "contact_phone": field("PhoneInput", "联系电话 Phone", format="phone-cn"),
        "registered_capital": field("MoneyInput", "注册资本 Registered capital", format="money"),
    },
    "required": ["company_name", "uscc", "legal_representative", "contact_phone"],
}

TENANT_SIGNING = {
    "type": "object",
    "properties": {
        "basic": section("1 基本信息 Basic information (OPS)", "OPS", "blue", {
            "tenant_name_cn": field("Input", "租户中文名称 Tenant name (CN)"),
            "tenant_name_en": field("Input", "租户英文名称 Tenant name (EN)"),
            "uscc": field("Input", "统一社会信用代码 USCC", format="uscc"),
            "registered_address": field("Input", "注册地址 Registered address"),
            "legal_representative": field("Input", "法定代表人 Legal representative"),
            "contact_name": field("Input", "主要联系人 Contact"),
            "contact_phone": field("PhoneInput", "联系电话 Phone", format="phone-cn"),
            "contact_email": field("Input", "联系邮箱 Email", format="email"),
            "own_brand": field("Checkbox", "使用自有品牌 Own brand", "boolean"),
            "brand_name": field("Input", "品牌名称 Brand", **{"x-reactions": [{
                "when": "has(basic.own_brand) && basic.own_brand", "fulfill": {"state": {"visible": True}},
                "otherwise": {"state": {"visible": False}}}]}),
        }, ["tenant_name_cn", "uscc", "contact_name", "contact_phone"]),
        "commercial": section("2 商务条款 Commercial terms (SALES)", "SALES", "green", {
            "products": field("Checkbox.Group", "签约产品 Products", "array",
                              items={"type": "string", "enum": ["VCC", "collection", "fx_settlement"]}),
            "expected_monthly_volume": field("MoneyInput", "预估月交易量 Expected monthly volume", format="money"),
            "term_months": field("NumberPicker", "合作期限(月) Term (months)", "integer", minimum=1, maximum=120),
            "sla": field("Input.TextArea", "服务等级承诺 SLA"),
        }, ["products", "term_months"]),
        "rates": section("3 费率与计费 Rates and billing (CLEARING)", "CLEARING", "yellow", {
            "fee_items": field("ArrayTable", "费率表 Rate table", "array", items={
                "type": "object", "required": ["id", "product", "item", "percent"],
                "properties": {
                    "id": field("Input", "行号 Row id"),
                    "product": field("Select", "产品 Product", enum=["VCC", "collection", "fx_settlement"]),
                    "item": field("Input", "费率项目 Fee item"),
                    "percent": field("PercentInput", "百分比 Percent", "number", minimum=0, maximum=100),
                    "fixed_fee": field("MoneyInput", "固定费 Fixed fee", format="money"),
                }}),
            "rebate_percent": field("PercentInput", "返点比例 Rebate", "number", minimum=0, maximum=100),
        }, ["fee_items"]),
        "settlement": section("4 结算条款 Settlement (FINANCE)", "FINANCE", "purple", {
            "bank_name": field("Input", "银行名称 Bank"),
            "bank_account": field("Input", "银行账号 Account number", format="bank-card"),
            "swift_code": field("Input", "SWIFT Code", pattern="^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$"),
            "settlement_cycle": field("Select", "结算周期 Cycle", enum=["T+1", "T+7", "T+15", "T+30"]),
            "single_min": field("MoneyInput", "单笔最低 Minimum per settlement", format="money"),
            "daily_limit": field("MoneyInput", "日限额 Daily limit", format="money"),
            "reserve_percent": field("PercentInput", "风险保证金比例 Reserve", "number", minimum=0, maximum=100),
        }, ["bank_name", "bank_account", "settlement_cycle"]),
    },
    "required": ["basic", "commercial"],
}

# 费用报销 (seed 001 §三's examples): what the demo's IF-THEN rules read (interfaces/demo_flows.py).
EXPENSE = {
    "type": "object",
    "properties": {
        "expense": {"type": "object", "title": "报销 Expense", "x-component": "Section",
                    "x-component-props": {"title": "报销 Expense"}, "properties": {
            "kind": field("Select", "类别 Kind", enum=["travel", "entertainment", "training", "other"]),
            "amount": field("NumberPicker", "金额(元) Amount (CNY)", "number", minimum=0, maximum=10_000_000),
            "region": field("Select", "地区 Region", enum=["east", "north", "south", "west"]),
            "purpose": field("Input.TextArea", "事由 Purpose", maxLength=500),
            "priority": field("Select", "优先级 Priority", enum=["normal", "high"]),
        }, "required": ["kind", "amount", "region", "purpose"]},
    },
    "required": ["expense"],
}

BUSINESS_TYPES = [
    ("fee_rate_change", "手续费率变更 Fee-rate change", "brokerage",
     "Change a customer's commission rates; approved rates go to the trading counter (CTP).",
     {"individual": FEE_RATE, "institution": FEE_RATE}),
    ("account_opening", "开户 Account opening", "brokerage",
     "Open a futures account; a 24-hour cooling-off pause follows approval.",
     {"individual": OPENING_INDIVIDUAL, "institution": OPENING_INSTITUTION}),
    ("tenant_signing", "租户签约 Tenant signing", "brokerage",
     "Multi-department contract (seed 004): SALES, OPS, CLEARING and FINANCE each own a section.",
     {"institution": TENANT_SIGNING}),
    ("expense_claim", "费用报销 Expense claim", "brokerage",
     "An employee's expense claim: department head, then FINANCE; IF-THEN rules route, warn, escalate and "
     "approve small travel claims of managers on their own.",
     {"employee": EXPENSE}),
]

CUSTOMERS = [
    {"fund_account": "88001234", "name": "张三", "subject": "individual", "id_type": "resident_id",
     "id_number": "11010519491231002X", "phone": "13812345678", "department_code": "SH01-S1",
     "account_manager": "li.na", "opened_on": "2024-03-01", "status": "active", "risk_level": "C3"},
    {"fund_account": "88005678", "name": "上海某某贸易有限公司", "subject": "institution", "id_type": "uscc",
     "id_number": "91350100M000100Y43", "phone": "13987654321", "department_code": "SH01",
     "account_manager": "wang.fang", "opened_on": "2023-11-15", "status": "active", "risk_level": "C4"},
    {"fund_account": "66002468", "name": "李四", "subject": "individual", "id_type": "resident_id",
     "id_number": "110105194912310021", "phone": "13700001111", "department_code": "BJ01",
     "account_manager": "liu.yang", "opened_on": "2025-06-20", "status": "active", "risk_level": "C2"},
]
