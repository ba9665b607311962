"""Agreements without engines: 004 §5.2 parts and marks, review rights, template checks, the
sandboxed bodies, the colour-coded preview (escaped), comparing versions, the PDF's text."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from pypdf import PdfReader

from application.agreements.pdf import PdfDocument, PdfRenderer
from application.agreements.preview import preview_html
from application.agreements.templating import MissingVariableError, TemplateRenderError, referenced_paths, render
from domain.agreements.agreement import Agreement, SupersededVersionError
from domain.agreements.compare import compare_sections
from domain.agreements.sections import part_of
from domain.agreements.template import AgreementTemplate, check_sections
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import InvalidInputError, PermissionDeniedError, RuleViolationError

AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
SECTIONS = [{"number": "1.1", "title": "乙方信息", "text": "乙方：甲公司"},
            {"number": "2.1", "title": "合作范围", "text": "VCC虚拟卡"},
            {"number": "3.1", "title": "产品费率表", "text": "2.5%"},
            {"number": "4.1", "title": "结算账户信息", "text": "招商银行"},
            {"number": "5.1", "title": "保密条款", "text": "保密"}]


@pytest.fixture(autouse=True)
def acting():
    with acting_as(CommandContext("operator:olga", "corr")):
        yield


def agreement(sections=SECTIONS) -> Agreement:
    a = Agreement.open(uuid4(), "tenant_signing", "zh", "租户签约协议", "tenant_signing", "brokerage", None, None)
    a.generate(request_id="r1", template_version=1, form_sha256="f", sections=sections, generated_at=AT,
               pdf_sha256="p", pdf_size=1, renderer="test")
    return a


def test_each_part_belongs_to_its_department_and_colour_as_004_says():
    assert [(part_of(n).department, part_of(n).colour) for n in ("1.1", "2.3", "3.1", "4.2", "5.1")] == [
        ("OPS", "blue"), ("SALES", "green"), ("CLEARING", "yellow"), ("FINANCE", "purple"), ("GENERAL", "grey")]


def test_a_section_is_pending_until_its_department_approves_and_a_later_comment_reopens_it():
    a = agreement()
    assert set(a.marks(1).values()) == {"pending"}
    a.approve_section(1, "1.1", frozenset({"ops"}), "")
    a.reject_section(1, "3.1", frozenset({"clearing"}), "费率超出授权")
    a.comment_section(1, "2.1", frozenset({"finance"}), "请补充SLA")
    assert a.marks(1) == {"1.1": "approved", "2.1": "commented", "3.1": "rejected", "4.1": "pending",
                          "5.1": "pending"}
    a.comment_section(1, "1.1", frozenset({"sales"}), "地址有误")
    assert a.marks(1)["1.1"] == "commented"
    assert a.reviews_of(1, "1.1")[-1] | {"at": None} == {
        "kind": "commented", "number": 1, "section": "1.1", "role": "sales", "text": "地址有误",
        "actor": "operator:olga", "at": None}


def test_a_department_approves_only_its_own_sections_and_finance_the_general_terms():
    a = agreement()
    with pytest.raises(PermissionDeniedError):
        a.approve_section(1, "3.1", frozenset({"ops", "sales"}), "")
    with pytest.raises(PermissionDeniedError):
        a.reject_section(1, "5.1", frozenset({"ops"}), "no")
    a.approve_section(1, "5.1", frozenset({"finance"}), "")
    with pytest.raises(RuleViolationError):
        a.reject_section(1, "4.1", frozenset({"finance"}), "  ")


def test_only_the_departments_involved_comment():
    with pytest.raises(PermissionDeniedError):
        agreement().comment_section(1, "1.1", frozenset({"admin", "auditor"}), "看过了")


def test_reviews_go_to_the_latest_version_only():
    a = agreement()
    a.generate(request_id="r2", template_version=1, form_sha256="g", sections=SECTIONS, generated_at=AT,
               pdf_sha256="q", pdf_size=1, renderer="test")
    with pytest.raises(SupersededVersionError):
        a.approve_section(1, "1.1", frozenset({"ops"}), "")
    a.approve_section(2, "1.1", frozenset({"ops"}), "")


def test_a_retried_request_gets_its_version_back():
    a = agreement()
    assert a.generate(request_id="r1", template_version=1, form_sha256="x", sections=SECTIONS, generated_at=AT,
                      pdf_sha256="other", pdf_size=2, renderer="test") == 1
    assert len(a.generations) == 1


def test_template_sections_are_numbered_per_004_and_kept_in_order():
    ordered = check_sections([{"number": "2.1", "title": "b", "body": ""}, {"number": "1.10", "title": "a", "body": ""},
                              {"number": "1.2", "title": "a", "body": ""}])
    assert [s["number"] for s in ordered] == ["1.2", "1.10", "2.1"]
    with pytest.raises(InvalidInputError) as exc:
        check_sections([{"number": "6.1", "title": "x", "body": ""}, {"number": "1.1", "title": " ", "body": ""},
                        {"number": "1.1", "title": "y", "body": ""}])
    assert [e["path"] for e in exc.value.errors] == ["sections.0.number", "sections.1.title", "sections.2.number"]


def test_an_unchanged_draft_is_not_published_twice():
    t = AgreementTemplate.create("tenant_signing", "zh", "协议", "tenant_signing", "brokerage")
    t.save_draft("协议", [{"number": "1.1", "title": "甲方", "body": "x"}])
    assert t.publish() == 1
    with pytest.raises(RuleViolationError):
        t.publish()


def test_bodies_read_form_paths_and_refuse_what_the_form_lacks():
    body = ("{{ basic.tenant_name_cn }}{% for row in rates.fee_items %}{{ row.item }}{% endfor %}"
            "{% if basic.brand_name is defined %}{{ basic.brand_name }}{% endif %}{{ agreement.number }}")
    assert referenced_paths(body) == {"basic.tenant_name_cn", "rates.fee_items", "basic.brand_name",
                                      "agreement.number"}
    form = {"basic": {"tenant_name_cn": "甲公司"}, "rates": {"fee_items": [{"item": "开卡费"}]},
            "agreement": {"number": "AG-1"}}
    assert render(body, form, "1.1") == "甲公司开卡费AG-1"
    with pytest.raises(MissingVariableError):
        render("{{ basic.uscc }}", form, "1.2")


def test_the_sandbox_refuses_reaching_into_python():
    with pytest.raises(TemplateRenderError):
        render("{{ basic.__class__.__mro__ }}", {"basic": {}}, "1.1")
    with pytest.raises(MissingVariableError):
        render("{% for i in range(10) %}x{% endfor %}", {}, "1.1")   # no globals at all


def test_the_preview_colours_each_section_by_department_with_its_mark_and_escapes_every_text():
    evil = [{"number": "1.1", "title": "<b>乙方</b>", "text": "<script>alert(1)</script>"}, *SECTIONS[1:]]
    a = agreement(evil)
    a.approve_section(1, "1.1", frozenset({"ops"}), "")
    a.comment_section(1, "2.1", frozenset({"ops"}), '"><img src=x onerror=alert(2)>')
    html = preview_html(a, 1)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for number, colour, mark in [("1.1", "blue", "approved"), ("2.1", "green", "commented"),
                                 ("3.1", "yellow", "pending"), ("4.1", "purple", "pending"), ("5.1", "grey", "pending")]:
        assert f'class="dept-{colour}" data-section="{number}"' in html
        assert f'data-colour="{colour}" data-mark="{mark}"' in html
    assert html.index('data-section="1.1"') < html.index('data-section="2.1"') < html.index('data-section="5.1"')
    assert "✅" in html and "📝" in html and "⏳" in html


def test_comparing_versions_shows_added_removed_and_inline_changes():
    old = SECTIONS[:3]
    new = [{**SECTIONS[0], "text": "乙方：乙公司"}, SECTIONS[1], SECTIONS[3]]
    diff = {d["section"]: d for d in compare_sections(old, new)}
    assert [d["status"] for d in diff.values()] == ["changed", "unchanged", "removed", "added"]
    assert diff["1.1"]["changes"] == [{"op": "equal", "text": "乙方："}, {"op": "delete", "text": "甲"},
                                      {"op": "insert", "text": "乙"}, {"op": "equal", "text": "公司"}]


def test_the_pdf_has_extractable_chinese_text_in_section_order_and_the_same_bytes_each_time():
    renderer = PdfRenderer()
    doc = PdfDocument(title="租户签约协议", agreement_number="AG-1", language="zh", template="tenant_signing v1",
                      version=1, generated_at=AT, sections=SECTIONS)
    first = renderer.render(doc)
    assert renderer.render(doc) == first
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(first)).pages)
    positions = [text.index(f"{s['number']} {s['title']}") for s in SECTIONS]
    assert positions == sorted(positions)
    assert "甲公司" in text and "CLEARING" in text
    assert len(first) < 100_000   # the font is subset


def test_a_template_cannot_build_a_value_large_enough_to_exhaust_the_process():
    assert render("{{ 'ab' * 3 }} {{ 2 ** 10 }}", {}, "1.1") == "ababab 1024"
    for body in ("{{ 'a' * 10**10 }}", "{{ 7 ** 99999999 }}", "{{ [1] * 10**9 }}"):
        with pytest.raises(TemplateRenderError, match="sandbox"):
            render(body, {}, "1.1")
