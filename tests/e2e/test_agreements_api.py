"""The agreements API over HTTP with the 004 signing's four departments: the colour-coded preview
with marks, section reviews limited to the owning department, comments by the departments
involved, compare, the PDF download, template management and scope."""
from __future__ import annotations

import copy
from uuid import uuid4

from application.agreements.hook import GenerateAgreementHook
from domain.shared.ids import natural_id
from interfaces.demo_agreements import load_agreement_templates
from tests.e2e.signing_firm import SETUP, ok
from tests.integration.test_agreements import FORM, request

HQ = natural_id("department", "HQ")   # the signing firm's one department
REVIEW = ["flows.instances.view", "flows.tasks.handle", "agreements.view", "agreements.review"]


def generated(client, app, signing, form=FORM):
    load_agreement_templates(app.agreements, SETUP)
    for key in ("sales", "ops", "clearing", "finance"):
        position = app.access.set_role_permissions(SETUP, key, REVIEW, None).position
    assert app.progress.wait_for(list(app.runners), position, 10)
    instance = uuid4()
    hook = GenerateAgreementHook(app.agreements)
    outcome = hook.run(request(instance, form, department_id=HQ))
    assert outcome.status == "done", outcome.result
    return instance, outcome.result["agreement_id"], hook


def test_the_preview_marks_each_section_in_its_departments_colour(client, live_container, signing):
    _, agreement, _ = generated(client, live_container, signing)
    base = f"/api/v1/agreements/{agreement}/versions/1"
    ok(client.post(f"{base}/sections/1.2/approve", json={}, headers=signing["olga"]))
    ok(client.post(f"{base}/sections/3.1/reject", json={"text": "返点超出授权"}, headers=signing["clara"]))
    ok(client.post(f"{base}/sections/2.1/comments", json={"text": "<script>x</script>"}, headers=signing["fiona"]), 201)
    r = client.get(f"{base}/preview", headers=signing["sam"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"] and "sandbox" in r.headers[
        "content-security-policy"]
    html = r.text
    assert '<section id="s1.2" class="dept-blue" data-section="1.2" data-department="OPS" data-colour="blue" ' \
           'data-mark="approved">' in html
    assert 'data-department="SALES" data-colour="green" data-mark="commented"' in html
    assert 'data-section="3.1" data-department="CLEARING" data-colour="yellow" data-mark="rejected"' in html
    assert 'data-department="FINANCE" data-colour="purple" data-mark="pending"' in html
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    detail = ok(client.get(f"/api/v1/agreements/{agreement}", headers=signing["olga"]))
    marks = {s["number"]: s["symbol"] for s in detail["versions"][0]["sections"]}
    assert (marks["1.2"], marks["2.1"], marks["3.1"], marks["4.1"]) == ("✅", "📝", "❌", "⏳")


def test_a_department_reviews_only_its_own_sections(client, live_container, signing):
    _, agreement, _ = generated(client, live_container, signing)
    base = f"/api/v1/agreements/{agreement}/versions/1/sections"
    r = client.post(f"{base}/3.1/approve", json={}, headers=signing["olga"])
    assert r.status_code == 403, r.text
    assert client.post(f"{base}/9.1/approve", json={}, headers=signing["olga"]).status_code == 422
    assert client.post(f"{base}/4.9/approve", json={}, headers=signing["fiona"]).status_code == 404
    assert client.post(f"{base}/4.1/reject", json={}, headers=signing["fiona"]).status_code == 422
    ok(client.post(f"{base}/5.1/approve", json={}, headers=signing["fiona"]))
    ok(client.post(f"{base}/3.1/comments", json={"text": "请核对费率"}, headers=signing["olga"]), 201)


def test_two_versions_compare_and_the_pdf_downloads(client, live_container, signing):
    instance, agreement, hook = generated(client, live_container, signing)
    edited = copy.deepcopy(FORM)
    edited["basic"]["tenant_name_cn"] = "深圳前海星河科技有限公司"
    assert hook.run(request(instance, edited, department_id=HQ)).result["version"] == 2
    diff = ok(client.get(f"/api/v1/agreements/{agreement}/compare", params={"from": 1, "to": 2},
                         headers=signing["sam"]))
    changed = {d["section"]: d for d in diff["sections"] if d["status"] != "unchanged"}
    assert list(changed) == ["1.2"] and changed["1.2"]["colour"] == "blue"
    assert {"op": "delete", "text": "跨境"} in changed["1.2"]["changes"]
    old = client.post(f"/api/v1/agreements/{agreement}/versions/1/sections/1.2/approve", json={},
                      headers=signing["olga"])
    assert old.status_code == 409 and old.json()["code"] == "agreement_version_superseded"
    pdf = client.get(f"/api/v1/agreements/{agreement}/versions/2/pdf", headers=signing["clara"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers[
        "content-disposition"]
    listed = ok(client.get("/api/v1/agreements", params={"instance_id": str(instance)}, headers=signing["sam"]))
    assert [(a["id"], a["latest_version"]) for a in listed["items"]] == [(agreement, 2)]


def test_without_the_permission_nothing_is_shown(client, live_container, signing):
    _, agreement, _ = generated(client, live_container, signing)
    position = live_container.access.set_role_permissions(SETUP, "sales", ["flows.instances.view"], None).position
    assert live_container.progress.wait_for(list(live_container.runners), position, 10)
    assert client.get(f"/api/v1/agreements/{agreement}", headers=signing["sam"]).status_code == 403
    assert client.get(f"/api/v1/agreements/{uuid4()}", headers=signing["olga"]).status_code == 404


def test_templates_are_managed_and_published_over_http(client, live_container, signing, auth):
    load_agreement_templates(live_container.agreements, SETUP)
    t = ok(client.get("/api/v1/agreements/templates/tenant_signing/zh", headers=auth))
    assert [s["colour"] for s in t["versions"][0]["sections"]][:4] == ["blue", "blue", "blue", "green"]
    body = {"title": "协议", "sections": [{"number": "1.1", "title": "乙方", "body": "{{ basic.nope }}"}]}
    ok(client.put("/api/v1/agreements/templates/tenant_signing/zh/draft", json=body, headers=auth))
    r = client.post("/api/v1/agreements/templates/tenant_signing/zh/publish", headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "invalid_agreement_template"
    created = client.post("/api/v1/agreements/templates", json={"key": "tenant_signing", "language": "zh",
                                                                "name": "x", "business_type": "tenant_signing"},
                          headers=auth)
    assert created.status_code == 409
    listed = ok(client.get("/api/v1/agreements/templates", params={"limit": 1, "wait_for_position":
                                                                   live_container.store.head()}, headers=auth))
    assert [t["language"] for t in listed["items"]] == ["en"] and listed["next_cursor"]
