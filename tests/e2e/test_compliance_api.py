"""/api/v1/compliance over HTTP: list uploads (versions, validation), the loads and screenings
lists (keyset paging, status filter), the review of a hit — each behind its permission."""
from __future__ import annotations

from uuid import uuid4

from application.compliance.hook import AmlScreeningHook
from application.flows.system_hooks import HookRequest
from domain.shared.context import CommandContext
from domain.shared.ids import natural_id
from interfaces.demo_compliance import INTERNAL_LIST
from tests.e2e.test_notification_deliveries_api import _login as login_with
from tests.e2e.test_notification_deliveries_api import ok

URL = "/api/v1/compliance"
SETUP = CommandContext("admin:bootstrap", "setup")
LINE = "brokerage"


def _login(client, container, login, permissions):
    """An operator with these permissions in the brokerage line (the screenings' line)."""
    auth = login_with(client, container, login, permissions)
    access = container.access
    if not access.exists(natural_id("business_line", LINE)):
        access.create_business_line(SETUP, LINE, "经纪 Brokerage")
    result = access.set_business_lines(SETUP, natural_id("operator", login), [LINE])
    container.progress.wait_for(list(container.runners), result.position, 10)
    return auth


def _upload(client, auth, kind, name, content, media="text/csv"):
    return client.post(f"{URL}/lists/{kind}/loads", files={"file": (name, content, media)}, headers=auth)


def _screen(container, form, initiator="operator:wang.fang"):
    instance = uuid4()
    outcome = AmlScreeningHook(container.compliance).run(HookRequest(
        instance_id=instance, request_id=f"{instance}:1", node="aml", hook="aml_screening",
        params={"fields": ["tenant_name"], "lists": ["internal"]}, form=form, business_type="tenant_signing",
        business_line=LINE, department_id=None, initiator=initiator, subject="institution", fund_account=None))
    container.progress.wait_for(["compliance.screenings"], container.store.head(), 10)
    return outcome.result["screening_id"]


def test_list_files_are_uploaded_as_versions_and_listed_newest_first(client, live_container, auth):
    first = ok(_upload(client, auth, "internal", "internal.csv", INTERNAL_LIST.encode()), 201)
    assert (first["version"], first["entry_count"], first["changed"]) == (1, 2, True)
    again = ok(_upload(client, auth, "internal", "internal.csv", INTERNAL_LIST.encode()), 201)
    assert (again["version"], again["changed"]) == (1, False)
    ok(_upload(client, auth, "sanctions", "un.json", b'[{"entry_id": "UN-1", "name": "Ivan Example"}]',
               "application/json"), 201)
    page = ok(client.get(f"{URL}/lists/loads", params={"limit": 1, "wait_for_position": live_container.store.head()},
                         headers=auth))
    assert [(i["kind"], i["version"]) for i in page["items"]] == [("sanctions", 1)]
    rest = ok(client.get(f"{URL}/lists/loads", params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth))
    assert [(i["kind"], i["source_filename"]) for i in rest["items"]] == [("internal", "internal.csv")]
    assert rest["next_cursor"] is None


def test_a_malformed_list_file_is_a_422_naming_the_bad_rows_and_nothing_is_loaded(client, live_container, auth):
    bad = _upload(client, auth, "pep", "pep.csv", "entry_id,name\nP1,\nP1,张伟\n".encode())
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_list_file"
    assert [e["path"] for e in bad.json()["errors"]] == ["entries[0].name"]
    assert _upload(client, auth, "pep", "pep.csv", b"\xff\xfe garbage").status_code == 422
    assert _upload(client, auth, "pep", "pep.txt", b"entry_id,name\nP1,x\n", "text/plain").status_code in (415, 422)
    assert _upload(client, auth, "interpol", "x.csv", b"entry_id,name\nP1,x\n").status_code == 422
    assert ok(client.get(f"{URL}/lists/loads", headers=auth))["items"] == []


def test_without_the_permissions_uploads_reads_and_reviews_are_403(client, live_container):
    viewer = _login(client, live_container, "viewonly", ["compliance.screening.view"])
    assert _upload(client, viewer, "internal", "i.csv", INTERNAL_LIST.encode()).status_code == 403
    assert client.get(f"{URL}/lists/loads", headers=viewer).status_code == 403
    assert client.post(f"{URL}/screenings/{uuid4()}/review", json={"decision": "clear", "reason": "x"},
                       headers=viewer).status_code == 403
    nobody = _login(client, live_container, "norights", ["calendar.view"])
    assert client.get(f"{URL}/screenings", headers=nobody).status_code == 403


def test_a_hit_waits_in_the_review_queue_and_is_reviewed_once_not_by_the_initiator(client, live_container, auth):
    ok(_upload(client, auth, "internal", "internal.csv", INTERNAL_LIST.encode()), 201)
    hit = _screen(live_container, {"tenant_name": "王建國"}, initiator="operator:licompliance")
    _screen(live_container, {"tenant_name": "李娜"})
    queue = ok(client.get(f"{URL}/screenings", params={"status": "pending_review"}, headers=auth))
    assert [i["id"] for i in queue["items"]] == [hit]
    detail = client.get(f"{URL}/screenings/{hit}", headers=auth)
    assert detail.json()["hits"][0]["entry_id"] == "DEMO-INT-001" and detail.json()["list_versions"] == {"internal": 1}
    reviewer = _login(client, live_container, "licompliance", ["compliance.screening.view",
                                                                 "compliance.screening.review"])
    mine = client.post(f"{URL}/screenings/{hit}/review", json={"decision": "clear", "reason": "me"}, headers=reviewer)
    assert mine.status_code == 403 and mine.json()["code"] == "segregation_of_duties"
    cleared = client.post(f"{URL}/screenings/{hit}/review", json={"decision": "clear", "reason": "不同出生日期"},
                          headers={**auth, "If-Match": detail.headers["ETag"]})
    ok(cleared)
    twice = client.post(f"{URL}/screenings/{hit}/review", json={"decision": "confirm", "reason": "x"}, headers=auth)
    assert twice.status_code == 409 and twice.json()["code"] == "already_reviewed"
    assert client.post(f"{URL}/screenings/{hit}/review", json={"decision": "maybe", "reason": "x"},
                       headers=auth).status_code == 422
    done = ok(client.get(f"{URL}/screenings/{hit}", params={"wait_for_position": cleared.json()["position"]},
                         headers=auth))
    assert (done["status"], done["decided_by"], done["decision_reason"]) == ("cleared", "admin:bootstrap", "不同出生日期")
    assert client.get(f"{URL}/screenings/{uuid4()}", headers=auth).status_code == 404
