"""Which form fields a node hides from a viewer (节点字段权限 on reading).

A node's ``field_permissions`` may mark fields ``hidden``: they are hidden from everybody who
is or was a handler there — a candidate, someone who decided, a signer added before or after
(pending or signed) — not only from whoever holds the task now, so a handler who moved on does
not see them appear. The same rule answers for the aggregate (commands, fallbacks) and for the
read model (the instance detail), which is why it takes plain participations. Pure."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.flows.fields import hidden_paths
from domain.flows.graph import Graph

if TYPE_CHECKING:
    from domain.flows.instance import FlowInstance, Task


@dataclass(frozen=True)
class Participation:
    """The people who are or were handlers of one task, at its node."""

    node: str
    people: frozenset[str]


def participation(task: Task, current: Iterable[str] = ()) -> Participation:
    """A task's participants as the aggregate knows them (``current``: its handlers now)."""
    return Participation(task.node, frozenset({*task.candidates, *task.approvals, *task.rejections,
                                               *task.before, *task.after, *task.signed, *current}))


def hidden_from(actor: str, participations: Iterable[Participation], graph: Graph,
                retired: Mapping[str, list[str]]) -> set[str]:
    """Dotted paths hidden from ``actor``. A node the graph no longer has (a migration retired
    it, ADR 0012) hides what ``retired`` recorded for it when the instance moved."""
    known = {n.id for n in graph.nodes}
    return {path for p in participations if actor in p.people
            for path in (hidden_paths(graph.node(p.node).field_permissions) if p.node in known
                         else retired.get(p.node, []))}


def hidden_in(instance: FlowInstance, graph: Graph, actor: str) -> set[str]:
    """Fields hidden from ``actor`` in the instance as the event store has it."""
    return hidden_from(actor, [participation(t, instance.current_handlers(t) if t.status == "open" else ())
                               for t in instance.tasks.values()],
                       graph, getattr(instance, "retired_hidden", {}))
