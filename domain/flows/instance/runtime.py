"""What the engine needs from outside while it moves an instance, bundled once per command: the
pinned version's graph, assignee resolution, condition evaluation and the clock (ADR 0008: ports
into the domain, so the domain stays free of I/O and of the CEL library)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.calendar.working_time import WorkingTime
from domain.flows.graph import Edge, Graph, Node

Resolve = Callable[[Node], list[str]]           # node -> candidate actors (operator:<login>)
# A CEL condition over the activation (form fields, initiator, fund_account); answers whether it
# holds and the data-source values it consulted, which the branch decision records.
Evaluate = Callable[[str, dict[str, Any]], tuple[bool, dict[str, Any]]]


@dataclass
class FlowRuntime:
    graph: Graph
    resolve: Resolve
    evaluate: Evaluate
    now: datetime
    # The business calendar of the instance's department, asked for only when a deadline is
    # computed (opening a task with an SLA, a timeout step): most commands never need it.
    calendar: Callable[[], WorkingTime] = WorkingTime
    # The pinned form's validation of whole form data (raises a DomainError): what a rule's
    # set_field checks its result with before recording it.
    validate: Callable[[dict[str, Any]], dict[str, Any]] = dict
    # Whether a system node's hook is run by the application outside the command (a registered
    # SystemHook: the token waits for its answer) rather than done on the spot.
    external: Callable[[str], bool] = lambda hook: False
    _time: WorkingTime | None = field(init=False, default=None, repr=False)
    _out: dict[str, list[Edge]] = field(init=False, repr=False)
    _nodes: dict[str, Node] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._out = self.graph.outgoing()
        self._nodes = {n.id: n for n in self.graph.nodes}

    @property
    def time(self) -> WorkingTime:
        if self._time is None:
            self._time = self.calendar()
        return self._time

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def outgoing(self, node_id: str) -> list[Edge]:
        return self._out[node_id]

    def after(self, node: Node, seconds: int, start: datetime | None = None) -> datetime:
        """``seconds`` after ``start`` (now by default), in working time unless the node counts wall time."""
        start = start or self.now
        if node.sla_basis == "wall":
            return start + timedelta(seconds=seconds)
        return self.time.add(start, timedelta(seconds=seconds))

    def next_after(self, node_id: str) -> str:
        """Where a token goes on from a node with one outgoing edge."""
        return self._out[node_id][0].target
