"""System work (issue 16): a system node whose hook the application runs outside the command —
the counter's fee-rate file, an agreement, an e-signature, a screening. The node records the
request (``SystemTaskRequested``) and the token waits there; the hook's answer arrives later as a
command: ``waiting`` (recorded, still waiting for the outside), then ``done`` or ``failed``
(recorded with its result, which conditions read as ``outputs.<node>``; the token goes on either
way, so a gateway after the node routes a failure). ``SystemWork`` is mixed into FlowInstance;
its mutators are bound there."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.flows.graph import Node
from domain.flows.instance import events
from domain.flows.instance.runtime import FlowRuntime
from domain.shared.errors import RuleViolationError

STATUSES = ("done", "failed")


class SystemWork:
    id: UUID
    status: str
    tokens: dict[str, str]
    system_requests: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    _seq: int
    # from the host: NodeEngine and the events of FlowInstance
    advance: Callable[[FlowRuntime], None]
    _move: Callable[[str, str], None]
    _system_requested: Callable[..., None]
    _system_waiting: Callable[..., None]
    _system_completed: Callable[..., None]
    _finished: Callable[..., None]

    def request_system_work(self, token: str, node: Node) -> None:
        """The token stands on an external system node: ask once per visit (the id is new per visit,
        so a loop back to the node asks again and its hook writes a new file)."""
        if self.system_request_at(token, node.id) is None:
            self._system_requested(token=token, node=node.id, hook=node.hook or "",
                                   request_id=f"{self.id}:s{self._seq + 1}")

    def system_request_at(self, token: str, node: str) -> dict[str, Any] | None:
        """The open request of the token standing on ``node`` (this visit's), if any."""
        return next((r for r in self.system_requests.values()
                     if r["token"] == token and r["node"] == node and r["status"] in ("requested", "waiting")), None)

    def system_request(self, request_id: str) -> dict[str, Any] | None:
        """An open request whose token still stands on its node, or None (answered, or the flow
        moved on: a jump, return, take-back, withdrawal)."""
        r = self.system_requests.get(request_id)
        if r is None or r["status"] not in ("requested", "waiting") or self.status != "running" \
                or self.tokens.get(r["token"]) != r["node"]:
            return None
        return r

    def pending_system_work(self) -> list[dict[str, Any]]:
        """Requests whose hook has not answered yet (the scheduler runs them)."""
        return [{"request_id": k, **r} for k, r in self.system_requests.items()
                if r["status"] == "requested" and self.system_request(k) is not None]

    def system_work_waits(self, request_id: str, result: dict[str, Any]) -> str:
        """The hook ran and waits for the outside: recorded once ("waiting"), else "gone"."""
        r = self.system_request(request_id)
        if r is None or r["status"] != "requested":
            return "gone"
        self._system_waiting(request_id=request_id, node=r["node"], result=result)
        return "waiting"

    def complete_system_work(self, request_id: str, status: str, result: dict[str, Any], rt: FlowRuntime) -> str:
        """The hook's answer: the token goes on ("completed"); a failure at a node that says
        ``on_hook_failure: reject`` ends the flow ("rejected"); "gone" when nothing waits for it."""
        if status not in STATUSES:
            raise RuleViolationError(f"a system task ends done or failed, not {status!r}")
        r = self.system_request(request_id)
        if r is None:
            return "gone"
        self._system_completed(request_id=request_id, token=r["token"], node=r["node"], status=status,
                               result=result)
        node = rt.node(r["node"])
        if status == "failed" and node.on_hook_failure == "reject":
            # A neutral reason: the timeline is read by the initiator, and a screening's confirmed
            # hit must not be told to the customer (the result itself is compliance's to read).
            self._finished(status="rejected", reason=f"{node.name}: not passed")
            return "rejected"
        self._move(r["token"], rt.next_after(r["node"]))
        self.advance(rt)
        return "completed"


@event(events.SystemTaskRequested)
def system_requested(self: Any, token: str, node: str, hook: str, request_id: str) -> None:
    self._seq += 1
    self.system_requests = {**self.system_requests,
                            request_id: {"token": token, "node": node, "hook": hook, "status": "requested"}}


@event(events.SystemTaskWaiting)
def system_waiting(self: Any, request_id: str, node: str, result: dict[str, Any]) -> None:
    self.system_requests = {**self.system_requests,
                            request_id: {**self.system_requests[request_id], "status": "waiting", "result": result}}


@event(events.SystemTaskCompleted)
def system_completed(self: Any, request_id: str, token: str, node: str, status: str,
                     result: dict[str, Any]) -> None:
    self.system_requests = {**self.system_requests,
                            request_id: {**self.system_requests[request_id], "status": status, "result": result}}
    self.outputs = {**self.outputs, node: {"status": status, **result}}
