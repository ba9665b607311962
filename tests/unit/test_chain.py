import uuid

from infrastructure.eventstore.chain import GENESIS, link_hash, verify_rows

KEY = b"k" * 32


def chain(n):
    rows, prev_pos, prev = [], 0, GENESIS
    for pos in range(1, n + 1):
        oid = uuid.UUID(int=pos)
        h = link_hash(KEY, prev, pos, oid, 1, "t", b"{}")
        rows.append({"position": pos, "prev_notification_id": prev_pos, "hash": h, "originator_id": oid,
                     "originator_version": 1, "topic": "t", "state": b"{}", "event_position": pos})
        prev_pos, prev = pos, h
    return rows


def problems(rows):
    return [p for p in verify_rows(KEY, rows) if not isinstance(p, int)]


def test_an_intact_chain_verifies():
    assert problems(chain(5)) == []


def test_a_modified_state_is_reported_at_its_position():
    rows = chain(5)
    rows[2]["state"] = b'{"amount": 1}'
    found = problems(rows)
    assert [(p.position, p.kind) for p in found] == [(3, "modified")]


def test_a_deleted_event_row_is_reported():
    rows = chain(5)
    rows[1].update(originator_id=None, originator_version=None, topic=None, state=None, event_position=None)
    assert [(p.position, p.kind) for p in problems(rows)] == [(2, "deleted")]


def test_deleting_event_and_chain_rows_breaks_the_link():
    rows = chain(5)
    del rows[3]
    assert (4 + 1, "broken_link") in [(p.position, p.kind) for p in problems(rows)]


def test_a_wrong_key_fails_every_row():
    assert len([p for p in verify_rows(b"other", chain(3)) if not isinstance(p, int)]) == 3
