"""父子流程 (call activities) and 流程接龙 (chaining), as the parent or the completed flow records
them; application/flows/calls.py starts, resumes and cancels the children. ``Calls`` is mixed
into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.flows.graph import Graph, Node
from domain.flows.instance.runtime import FlowRuntime
from domain.shared.errors import RuleViolationError


class Calls:
    status: str
    tokens: dict[str, str]
    chain: dict[str, Any] | None
    calls: list[dict[str, Any]]
    # from the host: NodeEngine and the events of FlowInstance
    advance: Callable[[FlowRuntime], None]
    _move: Callable[[str, str], None]
    _finished: Callable[..., None]
    _chained: Callable[..., None]
    _child_started: Callable[..., None]
    _child_not_started: Callable[..., None]
    _child_finished: Callable[..., None]
    _child_cancelled: Callable[..., None]

    def record_chain(self, next_flow: str, next_instance: UUID | None, problem: str | None) -> None:
        """流程接龙: the follow-up flow started (or could not start) when this one completed."""
        if self.status != "completed" or self.chain is not None:
            raise RuleViolationError("only a completed flow chains, and only once")
        self._chained(next_flow=next_flow, next_instance=next_instance, problem=problem)

    def calls_to_start(self, graph: Graph) -> list[tuple[str, Node]]:
        """Tokens standing on a call node with no child running or refused for this visit (a loop
        back to the node, or a jump onto it, calls again). The application starts the children."""
        if self.status != "running":
            return []
        taken = {(c["token"], c["node"]) for c in self.calls if c["status"] in ("running", "not_started")}
        return [(token, graph.node(node)) for token, node in self.tokens.items()
                if graph.node(node).type == "call" and (token, node) not in taken]

    def record_child(self, token: str, node: str, child_flow: str, child_instance: UUID | None,
                     problem: str | None = None) -> None:
        """The child started (saved with this event), or could not start: the token then waits at
        the call node with the problem shown until an administrator jumps (onto the node: retry)."""
        if child_instance is not None:
            self._child_started(token=token, node=node, child_flow=child_flow, child_instance=child_instance)
        else:
            self._child_not_started(token=token, node=node, child_flow=child_flow, problem=problem or "")

    def call_of(self, child_instance: UUID) -> dict[str, Any] | None:
        return next((c for c in self.calls if c["child_instance"] == child_instance), None)

    def child_finished(self, child_instance: UUID, outcome: str, data: dict[str, Any], rt: FlowRuntime) -> str:
        """The child ended (completed, rejected, terminated or withdrawn): its outcome and final form
        data are recorded (conditions read them as ``calls.<node>``) and the token goes on; a child
        that did not complete rejects this flow unless the node says ``on_child_failure: continue``.
        "resumed", "rejected", or "gone" when this flow no longer waits for it (told twice)."""
        call = self.call_of(child_instance)
        if (call is None or call["status"] != "running" or self.status != "running"
                or self.tokens.get(call["token"]) != call["node"]):
            return "gone"
        node = rt.node(call["node"])
        self._child_finished(token=call["token"], node=node.id, child_instance=child_instance, outcome=outcome,
                             data=data)
        if outcome != "completed" and (node.on_child_failure or "reject") == "reject":
            self._finished(status="rejected", reason=f"the child flow {call['child_flow']} was {outcome}")
            return "rejected"
        self._move(call["token"], rt.next_after(node.id))
        self.advance(rt)
        return "resumed"

    def cancel_calls(self) -> list[UUID]:
        """Children this flow no longer waits for (it ended, or a jump, return or take-back moved its
        token off the call node) are cancelled with the reason; the application terminates them."""
        gone = [c for c in self.calls if c["status"] == "running"
                and (self.status != "running" or self.tokens.get(c["token"]) != c["node"])]
        for c in gone:
            reason = f"the parent flow was {self.status}" if self.status != "running" \
                else f"the parent flow left {c['node']}"
            self._child_cancelled(token=c["token"], node=c["node"], child_instance=c["child_instance"], reason=reason)
        return [c["child_instance"] for c in gone]
