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


def _scopes(state: dict[str, Any], d: Personal) -> Iterator[dict[str, Any]]:
    if d.each is None:
        yield state
        return
    for item in state.get(d.each) or ():
        if isinstance(item, dict):
            yield item


def transform(state: dict[str, Any], event_class: type, seal: Any) -> dict[str, Any]:
    """A copy of ``state`` with every declared personal value replaced by ``seal(ref, value)``
    (``ref`` the subject's ``subject_ref``). Absent, None and erased values stay as they are."""
    decls = declared(event_class)
    if not decls:
        return state
    out = _copy_paths(state, decls)
    for d in decls:
        for scope in _scopes(out, d):
            ref = subject_ref(d.kind, scope[d.subject])
            for path in d.fields:
                _replace(scope, path.split("."), lambda v, ref=ref: seal(ref, v))
    return out


def _copy_paths(state: dict[str, Any], decls: tuple[Personal, ...]) -> dict[str, Any]:
    """A copy deep where sealing writes: the event object in memory keeps its clear values."""
    import copy

    tops = {d.each or p.split(".")[0] for d in decls for p in d.fields}
    return {k: copy.deepcopy(v) if k in tops else v for k, v in state.items()}


def _replace(node: Any, parts: list[str], fn: Any) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        keys: Any = range(len(node)) if isinstance(node, list) else list(node) if isinstance(node, dict) else ()
    else:
        keys = [head] if isinstance(node, dict) and head in node else ()
    for k in keys:
        if rest:
            _replace(node[k], rest, fn)
        elif node[k] is not None and not is_erased(node[k]):  # the marker is no personal value
            node[k] = fn(node[k])
