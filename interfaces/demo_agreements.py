"""Demo agreement templates for the tenant signing of seed 004 (租户签约, business type ``tenant_signing``):
the five parts of 004 §5.1, numbered and owned as §5.2 says, with the form's fields as variables
(interfaces/demo_forms.py TENANT_SIGNING). ``load_agreement_templates`` creates and publishes them."""
from __future__ import annotations

import contextlib
from typing import Any

from domain.shared.context import CommandContext
from domain.shared.errors import AlreadyExistsError

PRODUCTS_ZH = ('{% set names = {"VCC": "VCC虚拟卡", "collection": "收款服务", '
               '"fx_settlement": "结汇服务"} %}')

TENANT_SIGNING_ZH: dict[str, Any] = {"title": "租户签约协议", "sections": [
    {"number": "1.1", "title": "甲方信息",
     "body": "甲方（平台方）：Ledgerflow 示范期货有限公司\n协议编号：{{ agreement.number }}"},
    {"number": "1.2", "title": "乙方信息", "body": (
        "乙方（租户）：{{ basic.tenant_name_cn }}"
        "{% if basic.tenant_name_en is defined %}（{{ basic.tenant_name_en }}）{% endif %}\n"
        "统一社会信用代码：{{ basic.uscc }}\n"
        "{% if basic.registered_address is defined %}注册地址：{{ basic.registered_address }}\n{% endif %}"
        "{% if basic.legal_representative is defined %}法定代表人：{{ basic.legal_representative }}\n{% endif %}"
        "联系人：{{ basic.contact_name }}，电话：{{ basic.contact_phone }}"
        "{% if basic.contact_email is defined %}，邮箱：{{ basic.contact_email }}{% endif %}"
        "{% if basic.brand_name is defined %}\n品牌：{{ basic.brand_name }}{% endif %}")},
    {"number": "1.3", "title": "有效期限",
     "body": "本协议自双方签署之日起生效，有效期 {{ commercial.term_months }} 个月。"},
    {"number": "2.1", "title": "合作范围", "body": PRODUCTS_ZH + (
        "甲方向乙方提供以下产品与服务：{% for p in commercial.products %}{{ names[p] }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}。"
        "{% if commercial.expected_monthly_volume is defined %}\n预估月交易量："
        "{{ commercial.expected_monthly_volume }}。{% endif %}")},
    {"number": "2.2", "title": "服务等级承诺", "body": (
        "{% if commercial.sla is defined %}{{ commercial.sla }}{% else %}按甲方标准服务等级执行。{% endif %}")},
    {"number": "3.1", "title": "产品费率表", "body": PRODUCTS_ZH + (
        "{% for row in rates.fee_items %}{{ loop.index }}. {{ names[row.product] }} · {{ row.item }}："
        "{{ row.percent }}%{% if row.fixed_fee is defined %} + {{ row.fixed_fee }}{% endif %}\n{% endfor %}")},
    {"number": "3.2", "title": "返点政策", "body": (
        "{% if rates.rebate_percent is defined %}交易返点比例为 {{ rates.rebate_percent }}%。"
        "{% else %}本协议不设返点。{% endif %}")},
    {"number": "4.1", "title": "结算账户信息", "body": (
        "开户银行：{{ settlement.bank_name }}\n银行账号：{{ settlement.bank_account }}"
        "{% if settlement.swift_code is defined %}\nSWIFT：{{ settlement.swift_code }}{% endif %}")},
    {"number": "4.2", "title": "结算周期与限额", "body": (
        "结算周期：{{ settlement.settlement_cycle }}，节假日顺延。"
        "{% if settlement.single_min is defined %}\n单笔最低结算金额：{{ settlement.single_min }}。"
        "{% endif %}{% if settlement.daily_limit is defined %}\n日结算限额：{{ settlement.daily_limit }}。"
        "{% endif %}{% if settlement.reserve_percent is defined %}\n风险保证金比例："
        "{{ settlement.reserve_percent }}%。{% endif %}")},
    {"number": "5.1", "title": "保密条款",
     "body": "双方对因本协议知悉的对方商业秘密负有保密义务，本协议终止后继续有效。"},
    {"number": "5.2", "title": "争议解决",
     "body": "因本协议产生的争议，双方协商解决；协商不成的，提交甲方所在地人民法院诉讼解决。"},
]}

TENANT_SIGNING_EN: dict[str, Any] = {"title": "Tenant Agreement", "sections": [
    {"number": "1.1", "title": "Parties", "body": (
        "Platform: Ledgerflow Demo Futures Co., Ltd. Agreement no. {{ agreement.number }}.\n"
        "Tenant: {% if basic.tenant_name_en is defined %}{{ basic.tenant_name_en }}{% else %}"
        "{{ basic.tenant_name_cn }}{% endif %} (USCC {{ basic.uscc }}).")},
    {"number": "2.1", "title": "Scope and term", "body": (
        "Products: {{ commercial.products | join(', ') }}. Term: {{ commercial.term_months }} months.")},
    {"number": "3.1", "title": "Fees", "body": (
        "{% for row in rates.fee_items %}{{ row.product }} {{ row.item }}: {{ row.percent }}%\n{% endfor %}")},
    {"number": "4.1", "title": "Settlement", "body": (
        "Bank: {{ settlement.bank_name }}, account {{ settlement.bank_account }}, "
        "cycle {{ settlement.settlement_cycle }}.")},
    {"number": "5.1", "title": "General terms", "body": "Confidentiality survives termination. Disputes go to the "
                                                        "courts of the platform's domicile."},
]}

TEMPLATES = [("tenant_signing", "zh", "租户签约协议（中文）", TENANT_SIGNING_ZH),
             ("tenant_signing", "en", "Tenant agreement (English)", TENANT_SIGNING_EN)]


def load_agreement_templates(agreements: Any, ctx: CommandContext) -> list[tuple[str, str, int]]:
    """Create and publish the tenant-signing templates (after the business type's form is published);
    a second call changes nothing. Returns (key, language, published version)."""
    out = []
    for key, language, name, template in TEMPLATES:
        with contextlib.suppress(AlreadyExistsError):   # a second demo load
            agreements.create_template(ctx, key, language, name, "tenant_signing")
        current = agreements.template(key, language)
        if current.versions and {k: current.versions[-1][k] for k in ("title", "sections")} == template:
            out.append((key, language, len(current.versions)))
            continue
        agreements.save_template_draft(ctx, key, language, template["title"], template["sections"], None)
        out.append((key, language, agreements.publish_template(ctx, key, language, None)[1]))
    return out
