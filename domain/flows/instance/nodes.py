"""The engine: tokens walk the graph, one handler per node kind. A handler's ``run`` is the hook
that decides what a token standing on its kind of node does next (as SpiffWorkflow's task specs'
``_run_hook``) and answers whether anything moved; ``NodeEngine.advance`` steps every token until
nothing does. Gateways, splits, joins, pauses and system tasks advance on their own; approval
nodes open tasks that people decide; a call node waits for its child (instance/calls.py)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.flows.graph import Edge, Node, matching_join
from domain.flows.instance.runtime import FlowRuntime
from domain.flows.instance.tasks import Segregation, sla_times
from domain.shared.errors import RuleViolationError

if TYPE_CHECKING:
    from domain.flows.instance import FlowInstance


class NodeHandler:
    """A node that waits: nothing moves until someone or something outside acts (a call node's
    child ending, an administrator's jump)."""

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        return False


class Start(NodeHandler):
    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        if flow.awaiting_resubmit:  # returned to the initiator: they resubmit (or withdraw)
            return False
        flow._move(token, rt.next_after(node.id))
        return True


class System(NodeHandler):
    """A hook the application runs outside the command (rt.external: instance/system_work.py) is
    requested once and waited for; any other hook (notify, archive, export) is done on the spot."""

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        if rt.external(node.hook or ""):
            if flow.system_request_at(token, node.id) is not None:
                return False
            flow.request_system_work(token, node)
            return True
        flow._system_done(token=token, node=node.id, hook=node.hook or "")
        flow._move(token, rt.next_after(node.id))
        return True


class Approval(NodeHandler):
    """Opens a task for the node's candidates (resolved now, recorded in TaskOpened), or passes the
    node when nobody can take it and the flow says ``skip``."""

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        if flow.open_task(token) is not None:
            return False
        found = rt.resolve(node)
        excluded = flow.excluded_for(node.independent_of)
        candidates = [c for c in found if c not in excluded]
        removed = [c for c in found if c in excluded]
        why = ("no assignee independent of " + ", ".join(node.independent_of)) if removed else "no assignee"
        if not candidates and flow.empty_assignee == "skip":
            flow._skipped(token=token, node=node.id, reason=why)
            flow._move(token, rt.next_after(node.id))
            return True
        if not candidates:
            raise RuleViolationError(f"nobody can take node {node.name!r}: {why} resolved")
        mode = node.mode or "single"
        task_id = flow._next_id("k")
        segregation: Segregation = {"independent_of": list(node.independent_of), "excluded": removed} \
            if node.independent_of else {}
        flow._task_opened(task=task_id, token=token, node=node.id, mode=mode, candidates=candidates,
                          threshold=node.vote_threshold, **sla_times(node, rt), **segregation)
        # An independent node is never approved on someone's earlier approval. De-duplication never
        # decides for an independent review, nor for an entry whose required sections someone must fill.
        who = flow._dedup_approver(candidates) if mode in ("single", "any") and not node.independent_of \
            and not node.required_fields else None
        if who:
            flow._approved(task=task_id, node=node.id, by=who, comment="approved earlier in this flow (de-duplicated)")
            flow._task_closed(task=task_id, outcome="approved")
            flow._move(token, rt.next_after(node.id))
        return True


def _holding(flow: FlowInstance, edges: list[Edge], rt: FlowRuntime, *, first: bool
             ) -> tuple[list[str], dict[str, Any]]:
    """The targets of the conditional edges whose condition holds (``first``: the first one only),
    and the data-source values the conditions consulted."""
    inputs: dict[str, Any] = {}
    taken: list[str] = []
    for e in edges:
        if not e.default and e.condition:
            holds, used = rt.evaluate(e.condition, flow._activation())
            inputs.update(used)
            if holds:
                taken.append(e.target)
                if first:
                    break
    return taken, inputs


class Exclusive(NodeHandler):
    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        edges = rt.outgoing(node.id)
        taken, inputs = _holding(flow, edges, rt, first=True)
        target = taken[0] if taken else next(e for e in edges if e.default).target
        flow._branch_taken(token=token, gateway=node.id, targets=[target], inputs=inputs)
        flow._move(token, target)
        return True


class ParallelSplit(NodeHandler):
    def branches(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> list[str]:
        return [e.target for e in rt.outgoing(node.id)]

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        taken = self.branches(flow, token, node, rt)
        # The matching join waits for the branches taken, not for every incoming edge.
        flow._forked(token=token, node=node.id, children={f"{token}.{i}": target for i, target in enumerate(taken, 1)},
                     join=matching_join(rt.graph, node.id))
        return True


class Inclusive(ParallelSplit):
    def branches(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> list[str]:
        edges = rt.outgoing(node.id)
        taken, inputs = _holding(flow, edges, rt, first=False)
        taken = taken or [e.target for e in edges if e.default]
        if not taken:  # publishing requires a default; never pass an approval silently
            raise RuleViolationError(f"no branch of {node.name!r} applies and it has no default")
        flow._branch_taken(token=token, gateway=node.id, targets=taken, inputs=inputs)
        return taken


class Join(NodeHandler):
    """Waits for the branches its split took (every incoming edge for a join no split announced)."""

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        arrived = flow.arrivals.get(node.id, [])
        needed = flow.expected.get(node.id) or sum(1 for e in rt.graph.edges if e.target == node.id)
        if token not in arrived:
            arrived = arrived + [token]
        if len(arrived) >= needed:
            joined = flow._next_id("t")
            flow._joined(node=node.id, tokens=arrived, token=joined)
            # On past the join: left on it, the new token would count as an arrival.
            flow._move(joined, rt.next_after(node.id))
            return True
        if token not in flow.arrivals.get(node.id, []):
            flow._arrived(node=node.id, token=token)
        return False


class Pause(NodeHandler):
    """Records when the pause is due; the scheduler (or an administrator) ends it (instance/timers.py)."""

    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        if token in flow.pauses:
            return False
        if node.pause_seconds:
            due = rt.now + timedelta(seconds=node.pause_seconds)
        else:
            raw = str(flow.data.get(node.pause_until_field or "", ""))
            try:
                due = datetime.fromisoformat(raw)
            except ValueError:
                raise RuleViolationError(f"pause needs a date in field {node.pause_until_field!r}") from None
            if due.tzinfo is None:
                due = due.replace(tzinfo=rt.now.tzinfo)
        flow._pause_started(token=token, node=node.id, due_at=due.isoformat())
        return False


class End(NodeHandler):
    def run(self, flow: FlowInstance, token: str, node: Node, rt: FlowRuntime) -> bool:
        flow._token_ended(token=token, node=node.id)
        return True


HANDLERS: dict[str, NodeHandler] = {
    "start": Start(), "approval": Approval(), "system": System(), "exclusive": Exclusive(),
    "parallel_split": ParallelSplit(), "inclusive": Inclusive(), "parallel_join": Join(), "inclusive_join": Join(),
    "pause": Pause(), "call": NodeHandler(), "end": End(),
}


class NodeEngine:
    """``advance``, mixed into FlowInstance."""
    status: str
    tokens: dict[str, str]
    visited: list[str]
    _entered: Callable[..., None]
    _completed: Callable[..., None]
    _next_id: Callable[[str], str]

    def advance(self, rt: FlowRuntime) -> None:
        """Move every token that is not waiting on people or time as far as it can go."""
        if self.status != "running":
            return
        flow: Any = self
        if not self.tokens and not self.visited:
            start = next(n for n in rt.graph.nodes if n.type == "start")
            self._entered(token=self._next_id("t"), node=start.id)
        moved, rounds, limit = True, 0, 10 * len(rt.graph.nodes) + 10
        while moved and self.status == "running":
            moved = False
            rounds += 1
            if rounds > limit:  # publishing refuses loops without a waiting node; never spin anyway
                raise RuleViolationError(f"the flow did not come to rest within {limit} steps (a loop?)")
            for token, node_id in list(self.tokens.items()):
                node = rt.node(node_id)
                moved = HANDLERS[node.type].run(flow, token, node, rt) or moved
            if not self.tokens and self.status == "running":
                self._completed()
