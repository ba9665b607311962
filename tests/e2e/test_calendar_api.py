"""The business calendar over HTTP: an administrator opens it, seeds 2026 from chinese-calendar,
enters a year by hand, edits a day; anyone allowed to view it reads days and deadlines."""
from __future__ import annotations

from tests.e2e.signing_firm import ok

CAL = "/api/v1/calendar"


def test_an_administrator_sets_up_the_firm_calendar_and_reads_the_spring_festival(client, auth):
    assert client.get(CAL, headers=auth).status_code == 404
    ok(client.post(CAL, json={"name": "公司工作日历"}, headers=auth), 201)
    ok(client.post(f"{CAL}/years/2026/seed", headers=auth))
    calendar = client.get(CAL, headers=auth)
    body = ok(calendar)
    assert calendar.headers["ETag"] == f'"{body["version"]}"'
    assert body["years"][0]["year"] == 2026 and body["years"][0]["holidays"]["2026-02-17"] == "春节 Spring Festival"

    page = ok(client.get(f"{CAL}/days", params={"start": "2026-02-13", "end": "2026-02-24", "limit": 5},
                         headers=auth))
    assert [(d["day"], d["kind"]) for d in page["items"]] == [
        ("2026-02-13", "working"), ("2026-02-14", "workday"), ("2026-02-15", "holiday"), ("2026-02-16", "holiday"),
        ("2026-02-17", "holiday")]
    assert page["items"][1]["name"] == "春节 Spring Festival" and page["unknown_years"] == []
    rest = ok(client.get(f"{CAL}/days", params={"start": "2026-02-13", "end": "2026-02-24", "limit": 10,
                                                "cursor": page["next_cursor"]}, headers=auth))
    assert [d["day"] for d in rest["items"]][-1] == "2026-02-24" and rest["next_cursor"] is None
    assert rest["items"][-1]["working"] is True

    due = ok(client.get(f"{CAL}/deadline", params={"start": "2026-02-14T17:00:00+08:00", "hours": 2},
                        headers=auth))
    assert due["due_at"] == "2026-02-24T10:30:00+08:00"


def test_a_year_the_library_does_not_know_is_refused_for_seeding_and_entered_instead(client, auth):
    ok(client.post(CAL, json={"name": "公司工作日历"}, headers=auth), 201)
    refused = client.post(f"{CAL}/years/2031/seed", headers=auth)
    assert refused.status_code == 422 and refused.json()["code"] == "year_unknown"
    ok(client.put(f"{CAL}/years/2031", json={"holidays": {"2031-01-01": "元旦"}}, headers=auth))
    wrong = client.put(f"{CAL}/years/2031", json={"holidays": {"2030-12-31": "x"}}, headers=auth)
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_input"
    days = ok(client.get(f"{CAL}/days", params={"start": "2030-12-31", "end": "2031-01-01"}, headers=auth))
    assert days["unknown_years"] == [2030] and days["items"][1]["kind"] == "holiday"


def test_hours_are_set_with_if_match_and_days_edited_one_by_one(client, auth):
    opened = ok(client.post(CAL, json={"name": "公司工作日历"}, headers=auth), 201)
    stale = client.put(f"{CAL}/hours", json={"weekend": [6], "hours": [["08:30", "17:00"]]},
                       headers={**auth, "If-Match": f'"{opened["version"] + 5}"'})
    assert stale.status_code == 409
    ok(client.put(f"{CAL}/hours", json={"weekend": [6], "hours": [["08:30", "17:00"]]},
                  headers={**auth, "If-Match": f'"{opened["version"]}"'}))
    overlapping = client.put(f"{CAL}/hours", json={"weekend": [6], "hours": [["08:30", "12:00"], ["11:00", "17:00"]]},
                             headers=auth)
    assert overlapping.status_code == 422
    ok(client.put(f"{CAL}/days/2026-03-07", json={"kind": "holiday", "name": "台风停工"}, headers=auth))
    days = ok(client.get(f"{CAL}/days", params={"start": "2026-03-07", "end": "2026-03-07"}, headers=auth))
    assert days["items"] == [{"day": "2026-03-07", "kind": "holiday", "working": False, "name": "台风停工"}]
    naive = client.get(f"{CAL}/deadline", params={"start": "2026-03-09T09:00:00", "hours": 1}, headers=auth)
    assert naive.status_code == 422 and naive.json()["field"] == "start"
