"""Hostile inputs for property tests, and the check that whatever a command stored projects.

Strategies: text a store or read model may choke on (NUL, lone surrogates, control and
bidirectional characters, full-width digits, emoji, CJK, long and incompressible strings),
numbers at and beyond the 64-bit edges and the non-finite floats, JSON values nested deeper than
any limit and with hostile keys.

``settle`` runs every projection to the head and reports what it could not apply (an exception
from catching up, a parked event). It then repairs the container (sets the event aside) so the
next example starts clean: with one database per test function, one failure must not turn every
later example into a failure, or hypothesis could not shrink to the input that matters.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from domain.shared.errors import DomainError

SPECIALS = [
    "\x00", "a\x00b", "\ud800", "x\udfffy", "\udbff\udc00",      # NUL and lone surrogates (the last is a pair of them)
    "\x01", "\x07", "\x1b[31m", "\x7f", "\x85", "\r\n", "\t", "\x0b\x0c", "\u2028", "\u2029",
    "\u202e", "\u200f", "\u200e", "\u2066", "\ufeff", "\u200b",   # bidi marks, BOM, zero width
    "１２３４５", "０", "٣", "𝟘",                                     # full-width / other-script digits
    "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "\U0010ffff", "\ufffd", "\ufffe",
    "中文", "客户张三", "한국어", "עברית", "العربية",
    "", " ", "   ", "'; DROP TABLE x; --", "%s", "%(x)s", "{}", "{0}", "\\", '"', "'", "$1", "::", "NULL",
    "null", "true", "1e309", "NaN", "-0", "\\u0000", "<script>", "../../etc/passwd",
]

CJK = [(0x4E00, 0x9FFF), (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x1F300, 0x1F64F), (0x0600, 0x06FF)]


def _noise(seed: int, length: int, ranges: list[tuple[int, int]]) -> str:
    """An incompressible string (PostgreSQL compresses long values before size limits apply)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(length))


long_text = st.one_of(
    st.builds(_noise, st.integers(0, 2**32), st.sampled_from([300, 3_000, 12_000]), st.just(CJK)),
    st.builds(_noise, st.integers(0, 2**32), st.sampled_from([3_000, 12_000]), st.just([(0x21, 0x7E)])),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "中", "\u202e", "😀"]), st.sampled_from([1_000, 100_000])),
)

piece = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=8),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Mn"]), max_size=4),
    st.characters(categories=["Cs"]),  # a lone surrogate anywhere in a string
)

short_hostile_text = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=20),
    st.lists(piece, min_size=1, max_size=6).map("".join),
)
"""Any str of a few characters: ordinary and hostile, never huge."""
hostile_text = st.one_of(short_hostile_text, long_text)
"""Any str: ordinary, hostile and huge."""

EDGE_NUMBERS: list[Any] = [
    0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 2**70, -(2**70),
    10**30, 0.0, -0.0, 0.1, 1e-300, 5e-324, 1e308, -1.7976931348623157e308, 1e300 * 10,
    float("nan"), float("inf"), float("-inf"),
]
hostile_number = st.one_of(st.sampled_from(EDGE_NUMBERS), st.integers(), st.floats())
"""Any int or float, at and beyond every edge."""


def _nest(depth: int, as_list: bool, key: str, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {key: value}
    return value


json_leaf = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
hostile_key = st.one_of(st.sampled_from(["id", "value", "name", "\x00", "a\x00", "\ud800", "", "中文", "😀",
                                         "$ref", "_type_", "_data_"]), st.text(max_size=10))
deep_json = st.builds(_nest, st.integers(20, 52), st.booleans(), st.sampled_from(["a", "\x00", "中"]), json_leaf)
hostile_json = st.one_of(
    json_leaf,
    deep_json,
    st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(hostile_key, inner, max_size=4)),
                 max_leaves=12),
)
"""Any JSON-like value (str keys), hostile at every level."""
hostile_object = st.one_of(st.dictionaries(hostile_key, hostile_json, max_size=5),
                           st.builds(lambda k, v: {k: v}, hostile_key, deep_json))
"""A JSON object, hostile inside."""


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


# -- the property ------------------------------------------------------------------------------------
def settle(container: Any) -> list[str]:
    """Run every projection to the head; return what went wrong, and set it aside."""
    problems = []
    head = container.store.head()
    for name, runner in container.runners.items():
        try:
            runner.catch_up()
        except Exception as exc:  # a stalled projection, whatever the cause
            problems.append(f"{name}: catching up raised {type(exc).__name__}: {str(exc)[:300]}")
            with container.store.datastore.transaction(commit=True) as cur:  # skip past it for the next example
                cur.execute("UPDATE projection_tracking SET position = %s WHERE name = %s", (head, name))
            runner.last_error = None
            continue
        status = runner.status()
        if runner.last_error is not None:
            problems.append(f"{name}: last_error {runner.last_error}")
            runner.last_error = None
        if status.parked:
            for p in runner.parked():
                problems.append(f"{name}: parked {p['topic']} at {p['position']}: {p['error'][:300]}")
            with container.store.datastore.transaction(commit=True) as cur:
                cur.execute("DELETE FROM projection_parked WHERE name = %s", (name,))
    return problems


def either_refused_or_projected(container: Any, run: Callable[[], Any],
                                stored_refusals: tuple[type[DomainError], ...] = ()) -> Any:
    """The property: the command is refused with a DomainError and stores nothing (except the
    refusals that record themselves, ``stored_refusals``), or it succeeds; either way every
    projection then applies every stored event."""
    head = container.store.head()
    result = None
    try:
        result = run()
    except stored_refusals:
        pass
    except DomainError:
        assert container.store.head() == head, "a refused command stored events"
    problems = settle(container)
    assert not problems, "\n".join(problems)
    return result
