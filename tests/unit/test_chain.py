"""The chain walk names only the rows at fault (ADR 0004, ADR 0027)."""
import uuid

from infrastructure.eventstore.chain import GENESIS, link_hash, verify_rows

KEY = b"k" * 32


def chain(n):
    """walk_sql rows: position, prev link, hash, originator id (text), version, topic, state, event position."""
    rows, prev_pos, prev = [], 0, GENESIS
    for pos in range(1, n + 1):
        oid = str(uuid.UUID(int=pos))
        h = link_hash(KEY, prev, pos, oid, 1, "t", b"{}")
        rows.append([pos, prev_pos, h, oid, 1, "t", b"{}", pos])
        prev_pos, prev = pos, h
    return rows


def problems(rows, **start):
    return [(p.position, p.kind) for p in verify_rows(KEY, rows, **start) if not isinstance(p, int)]


def test_an_intact_chain_verifies():
    assert problems(chain(5)) == []


def test_a_modified_state_is_reported_at_its_position_only():
    rows = chain(5)
    rows[2][6] = b'{"amount": 1}'
    assert problems(rows) == [(3, "modified")]


def test_a_deleted_event_row_is_reported():
    rows = chain(5)
    rows[1][3:] = [None, None, None, None, None]
    assert problems(rows) == [(2, "deleted")]


def test_deleting_event_and_chain_rows_reports_the_deleted_position_not_the_next_event():
    rows = chain(6)
    del rows[3]
    assert problems(rows) == [(4, "deleted")]


def test_deleting_several_middle_rows_names_the_range():
    rows = chain(8)
    del rows[2:5]  # positions 3, 4, 5
    found = [p for p in verify_rows(KEY, rows) if not isinstance(p, int)]
    assert [(p.position, p.kind) for p in found] == [(5, "deleted")]
    assert "positions 3–4" in found[0].detail


def test_a_modified_event_after_a_deletion_is_not_blamed_on_its_successor():
    rows = chain(7)
    del rows[2]  # position 3
    rows[4][6] = b'{"x": 1}'  # position 6
    assert problems(rows) == [(3, "deleted"), (6, "modified")]


def test_an_entry_linking_back_past_its_predecessor_is_a_broken_link():
    rows = chain(4)
    rows.append([25, 2, b"\x01" * 32, str(uuid.UUID(int=99)), 1, "t", b"{}", 25])
    assert problems(rows) == [(25, "broken_link")]


def test_a_walk_from_a_checkpoint_trusts_its_hash():
    rows = chain(6)
    assert problems(rows[3:], after=3, after_hash=rows[2][2]) == []
    assert problems(rows[3:], after=3, after_hash=b"\x02" * 32) == [(4, "modified")]


def test_a_wrong_key_fails_every_row():
    assert len([p for p in verify_rows(b"other", chain(3)) if not isinstance(p, int)]) == 3

