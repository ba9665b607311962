"""Which fields of which events are personal data, and whose (ADR 0028).

An event class declares its personal fields once, beside the class: the event store seals each
such value under the key of its data subject (a lead, a customer) and opens it on read. When
the subject's key is destroyed (erasure) every sealed value of that subject reads as ``ERASED``,
in every reader: aggregates, projections, rebuilds, the audit trail and exports."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

# The kinds of data subject whose keys the store keeps.
SubjectKind = Literal["lead", "customer"]
SUBJECT_KINDS: tuple[str, ...] = get_args(SubjectKind)

# What a sealed value reads as once its subject's key is gone.
ERASED = "erased"


def is_erased(value: Any) -> bool:
    return isinstance(value, str) and value == ERASED


def subject_ref(kind: str, subject_id: object) -> str:
    """The text naming a subject in key rows and sealed values: ``lead:<uuid>``."""
    return f"{kind}:{subject_id}"


@dataclass(frozen=True)
class Personal:
    """Personal fields of one subject in an event.

    ``fields`` are dotted paths from the scope; ``*`` stands for every value of a mapping or
    every item of a list (``intake.fields.*`` seals each value, the field names stay readable).
    The scope is the event's state, or with ``each`` every item of that list (a batch event
    about many subjects); ``subject`` names the key holding the subject's id in the scope."""

    kind: SubjectKind
    fields: tuple[str, ...]
    subject: str = "originator_id"
    each: str | None = None


_DECLARED: dict[type, tuple[Personal, ...]] = {}


def personal(event_class: type, *declarations: Personal) -> None:
    """Declare the personal fields of ``event_class`` (beside the class, in its own module)."""
    for d in declarations:
        if d.kind not in SUBJECT_KINDS:
            raise ValueError(f"unknown subject kind {d.kind!r}")
    _DECLARED[event_class] = _DECLARED.get(event_class, ()) + declarations


def declared(event_class: type) -> tuple[Personal, ...]:
    return _DECLARED.get(event_class, ())


def declarations() -> Iterator[tuple[type, Personal]]:
    """Every declaration (for docs and tests)."""
    for cls, decls in _DECLARED.items():
        for d in decls:
            yield cls, d


def transform(state: dict[str, Any], event_class: type, seal: Any) -> dict[str, Any]:
    """A copy of ``state`` with every declared personal value replaced by ``seal(ref, value)``
    (``ref`` the subject's ``subject_ref``). Absent, None and erased values stay as they are.
    Only the containers on a declared path are copied (a batch event's long lists are not deep
    copied twice per save); the event object in memory keeps its clear values."""
    decls = declared(event_class)
    if not decls:
        return state
    out = dict(state)
    for d in decls:
        if d.each is None:
            out = _scope(out, d, seal)
        elif isinstance(out.get(d.each), list):
            out[d.each] = [_scope(item, d, seal) if isinstance(item, dict) else item for item in out[d.each]]
    return out


def _scope(scope: dict[str, Any], d: Personal, seal: Any) -> dict[str, Any]:
    ref = subject_ref(d.kind, scope[d.subject])
    for path in d.fields:
        scope = _replaced(scope, path.split("."), ref, seal)
    return scope


def _replaced(node: Any, parts: list[str], ref: str, seal: Any) -> Any:
    head, rest = parts[0], parts[1:]
    keys: Any
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        out: Any = dict(node)
    elif isinstance(node, list) and head == "*":
        keys, out = range(len(node)), list(node)
    else:
        return node
    for k in keys:
        value = out[k]
        if rest:
            out[k] = _replaced(value, rest, ref, seal)
        elif value is not None and not is_erased(value):  # the marker is no personal value
            out[k] = seal(ref, value)
    return out
