"""Agreements on the real engines: the 004 signing's templates published against its form, the
generate_agreement hook producing one archived PDF per node visit, versions compared."""
from __future__ import annotations

import copy
import io
from uuid import uuid4

import pytest
from pypdf import PdfReader

from application.agreements.hook import GenerateAgreementHook
from application.flows.system_hooks import HookRequest
from domain.shared.context import CommandContext
from domain.shared.errors import InvalidInputError
from interfaces.demo_agreements import TENANT_SIGNING_ZH, load_agreement_templates
from tests.flows import publish_plain_signing

pytestmark = pytest.mark.usefixtures("embedded_only")

SETUP = CommandContext("admin:bootstrap", "setup")
FORM = {"basic": {"tenant_name_cn": "深圳前海星河跨境科技有限公司", "uscc": "91350100M000100Y43",
                  "contact_name": "王", "contact_phone": "13812345678"},
        "commercial": {"products": ["VCC", "collection"], "term_months": 24},
        "rates": {"fee_items": [{"id": "1", "product": "VCC", "item": "交易手续费", "percent": 2.5}]},
        "settlement": {"bank_name": "招商银行", "bank_account": "6225880212345678", "settlement_cycle": "T+1"}}


@pytest.fixture
def signing(container):
    container.access.create_business_line(SETUP, "brokerage", "Brokerage")
    publish_plain_signing(container, SETUP)
    assert load_agreement_templates(container.agreements, SETUP) == [("tenant_signing", "zh", 1),
                                                                      ("tenant_signing", "en", 1)]
    return container


def request(instance_id, form=FORM, request_id=None, language="zh", department_id=None) -> HookRequest:
    return HookRequest(instance_id=instance_id, request_id=request_id or f"{instance_id}:{uuid4()}",
                       node="generate_contract", hook="generate_agreement",
                       params={"template": "tenant_signing", "language": language}, form=form,
                       business_type="tenant_signing", business_line="brokerage", department_id=department_id,
                       initiator="operator:sam", subject="institution", fund_account=None)


def test_the_004_signing_generates_a_pdf_with_the_tenant_and_every_department_section_in_order(signing):
    hook = GenerateAgreementHook(signing.agreements)
    instance = uuid4()
    outcome = hook.run(request(instance))
    assert outcome.status == "done", outcome.result
    pdf = signing.agreements.pdf(outcome.result["agreement_id"], 1)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "深圳前海星河跨境科技有限公司" in text
    titles = [f"{s['number']} {s['title']}" for s in TENANT_SIGNING_ZH["sections"]]
    positions = [text.index(t) for t in titles]
    assert positions == sorted(positions)
    document = signing.archive.document(outcome.result["document_id"])
    assert (document.flow_instance, document.business_type, document.category, document.current["sha256"]) == (
        instance, "tenant_signing", "agreement", outcome.result["sha256"])


def test_a_retried_node_visit_gets_the_same_version_and_document(signing):
    hook = GenerateAgreementHook(signing.agreements)
    req = request(uuid4())
    first, again = hook.run(req), hook.run(req)
    assert first == again
    assert first.result["version"] == 1


def test_a_second_visit_with_an_edited_form_is_version_2_and_compares_per_section(signing):
    hook = GenerateAgreementHook(signing.agreements)
    instance = uuid4()
    first = hook.run(request(instance))
    edited = copy.deepcopy(FORM)
    edited["settlement"]["settlement_cycle"] = "T+7"
    second = hook.run(request(instance, edited))
    assert (second.result["agreement_id"], second.result["version"]) == (first.result["agreement_id"], 2)
    assert second.result["document_id"] != first.result["document_id"]
    agreement = signing.agreements.agreement(first.result["agreement_id"])
    from domain.agreements.compare import compare_sections
    changed = [d["section"] for d in compare_sections(agreement.generation(1)["sections"],
                                                      agreement.generation(2)["sections"])
               if d["status"] != "unchanged"]
    assert changed == ["4.2"]


def test_a_form_lacking_a_variable_fails_the_node_with_the_problem(signing):
    form = copy.deepcopy(FORM)
    del form["settlement"]
    outcome = GenerateAgreementHook(signing.agreements).run(request(uuid4(), form))
    assert outcome.status == "failed"
    assert outcome.result["problem"] == "agreement_variable_missing" and outcome.result["field"] == "4.1"


def test_an_english_version_is_generated_from_its_own_template(signing):
    outcome = GenerateAgreementHook(signing.agreements).run(request(uuid4(), language="en"))
    text = PdfReader(io.BytesIO(signing.agreements.pdf(outcome.result["agreement_id"], 1))).pages[0].extract_text()
    assert "Tenant Agreement" in text and "深圳前海星河跨境科技有限公司" in text


def test_publishing_refuses_variables_the_form_lacks_and_broken_syntax(signing):
    agreements = signing.agreements
    agreements.save_template_draft(SETUP, "tenant_signing", "zh", "协议", [
        {"number": "1.1", "title": "乙方", "body": "{{ basic.tenant_nmae }}"},
        {"number": "2.1", "title": "商务", "body": "{{ agreement.secret }}"}], None)
    with pytest.raises(InvalidInputError) as exc:
        agreements.publish_template(SETUP, "tenant_signing", "zh", None)
    assert [e["path"] for e in exc.value.errors] == ["sections.0.body", "sections.1.body"]
    assert "basic.tenant_nmae" in exc.value.errors[0]["message"]
    with pytest.raises(InvalidInputError):
        agreements.save_template_draft(SETUP, "tenant_signing", "zh", "协议",
                                       [{"number": "1.1", "title": "乙方", "body": "{% if %}"}], None)
    assert len(agreements.template("tenant_signing", "zh").versions) == 1
