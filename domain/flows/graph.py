"""Flow graphs: the nodes and edges of a flow definition, and the structural checks that must
pass before a version is published. Pure: conditions are compiled by a function the
application passes in (CEL lives outside the domain)."""
from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.flows.rules import FIELD_PATH, Rule, check_rules
from domain.flows.timeouts import Assignee, Timeout, check_timeout

NodeType = Literal["start", "approval", "exclusive", "parallel_split", "parallel_join", "inclusive",
                   "inclusive_join", "pause", "system", "end", "call"]
ApprovalMode = Literal["single", "any", "all", "sequential", "vote"]
FieldAccess = Literal["editable", "readonly", "hidden"]
NodeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: NodeId
    type: NodeType
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000, description="Shown to the initiator at launch")
    mode: ApprovalMode | None = None
    vote_threshold: float | None = Field(None, gt=0, le=1, description="vote: share of approvals needed")
    assignees: list[Assignee] = Field(default_factory=list)
    field_permissions: dict[str, FieldAccess] = Field(default_factory=dict)
    return_targets: list[str] | Literal["any_earlier"] = Field(default_factory=list)
    return_to_any_visited: bool = Field(
        False, description="Returns may name any visited approval node or the start (outside parallel regions)")
    pause_seconds: int | None = Field(None, gt=0, le=366 * 86400)
    pause_until_field: str | None = Field(None, max_length=128)
    hook: str | None = Field(None, max_length=64, description=(
        "system task: a registered hook (ctp_writeback, generate_agreement, e_sign, aml_screening: the token "
        "waits for its answer, outputs.<node>) or notify, archive, export (done on the spot)"))
    hook_params: dict[str, Any] = Field(default_factory=dict, description="system task: the hook's configuration")
    on_hook_failure: Literal["reject", "continue"] | None = Field(
        None, description="system task: a hook answering failed rejects the flow (reject) or the token goes on "
                          "and may branch on outputs.<node>.status (continue, the default)")
    sla_seconds: int | None = Field(None, gt=0, le=366 * 86400)
    sla_warning_seconds: int | None = Field(None, gt=0, le=366 * 86400,
                                            description="warn this long before the SLA deadline")
    sla_basis: Literal["working", "wall"] = Field(
        "working", description="SLA and timeout durations count working time of the business calendar, or wall time")
    timeout: Timeout | None = Field(None, description="What happens once the SLA deadline has passed")
    independent_of: list[str] = Field(
        default_factory=list, max_length=20,
        description="Segregation of duties: 'initiator' and/or ids of approval nodes whose handlers (in this "
                    "round) may not act here")
    required_fields: list[str] = Field(
        default_factory=list, max_length=50,
        description="Form sections or dotted field paths that must be present and valid to approve here")
    call_flow: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{1,47}$",
        description="call (父子流程): the flow started as a child; the parent waits for its outcome")
    on_child_failure: Literal["reject", "continue"] | None = Field(
        None, description="call: a child not completed rejects the parent (reject, the default) or the parent "
                          "goes on and may branch on calls.<node>.outcome (continue)")


class Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: NodeId
    target: NodeId
    condition: str | None = Field(None, max_length=2000, description="CEL over form, initiator and ds")
    default: bool = False
    label: str | None = Field(None, max_length=100)


class Graph(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nodes: list[Node] = Field(min_length=2, max_length=500)
    edges: list[Edge] = Field(min_length=1, max_length=2000)
    rules: list[Rule] = Field(default_factory=list, description="IF-THEN rules (domain/flows/rules.py)")
    amount_field: str | None = Field(None, pattern=FIELD_PATH,
                                     description="the form path of the business's amount: rules read it as "
                                                 "context.amount")

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def outgoing(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = defaultdict(list)
        for e in self.edges:
            out[e.source].append(e)
        return out

    def incoming(self) -> dict[str, list[Edge]]:
        inc: dict[str, list[Edge]] = defaultdict(list)
        for e in self.edges:
            inc[e.target].append(e)
        return inc


BRANCHING = {"exclusive", "inclusive"}
SPLIT_JOIN = {"parallel_split": "parallel_join", "inclusive": "inclusive_join"}


def check_graph(graph: Graph, compile_condition: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """Every problem as (where, what). ``compile_condition`` returns an error message or None."""
    problems: list[tuple[str, str]] = []
    ids = [n.id for n in graph.nodes]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    problems += [(f"nodes.{i}", "duplicate node id") for i in duplicates]
    known = set(ids)
    for i, e in enumerate(graph.edges):
        for end in (e.source, e.target):
            if end not in known:
                problems.append((f"edges[{i}]", f"dangling edge: no node {end!r}"))
    starts = [n.id for n in graph.nodes if n.type == "start"]
    if len(starts) != 1:
        problems.append(("nodes", f"a flow has exactly one start node, found {len(starts)}"))
    elif starts != ["start"]:
        # Returns to the initiator and resubmission address the start node by this id.
        problems.append((f"nodes.{starts[0]}", "the start node's id must be 'start'"))
    if not any(n.type == "end" for n in graph.nodes):
        problems.append(("nodes", "a flow needs at least one end node"))
    if problems:
        return problems
    out, inc = graph.outgoing(), graph.incoming()
    reachable, queue = {starts[0]}, deque(starts)
    while queue:
        for e in out[queue.popleft()]:
            if e.target not in reachable:
                reachable.add(e.target)
                queue.append(e.target)
    problems += [(f"nodes.{n}", "unreachable from the start node") for n in ids if n not in reachable]
    for n in graph.nodes:
        where = f"nodes.{n.id}"
        if n.type == "start" and inc[n.id]:
            problems.append((where, "the start node cannot have incoming edges"))
        if n.type == "end" and out[n.id]:
            problems.append((where, "an end node cannot have outgoing edges"))
        if n.type != "end" and not out[n.id]:
            problems.append((where, "dead end: no outgoing edge (connect it to an end node)"))
        if n.type not in BRANCHING | {"parallel_split"} and len(out[n.id]) > 1:
            problems.append((where, f"a {n.type} node has one outgoing edge; branch with a gateway"))
        if n.type == "approval":
            if not n.assignees:
                problems.append((where, "an approval node needs assignees"))
            if n.mode is None:
                problems.append((where, "an approval node needs a mode: single, any, all, sequential or vote"))
            if n.mode == "vote" and n.vote_threshold is None:
                problems.append((where, "a vote node needs vote_threshold (e.g. 0.5)"))
            if n.sla_warning_seconds is not None and (n.sla_seconds is None
                                                      or n.sla_warning_seconds >= n.sla_seconds):
                problems.append((where, "sla_warning_seconds needs sla_seconds and must be shorter than it"))
            if isinstance(n.return_targets, list):
                problems += [(where, f"return target {t!r} is not a node") for t in n.return_targets if t not in known]
                returnable = None
                for t in n.return_targets:
                    if t in known:
                        returnable = return_targets_allowed(graph) if returnable is None else returnable
                        if t not in returnable:
                            problems.append((where, f"return target {t!r} must be an approval or the start, "
                                                    "outside any parallel or inclusive branch"))
        if n.return_to_any_visited and n.type != "approval":
            problems.append((where, "return_to_any_visited is a setting of approval nodes"))
        problems += [(where, p) for p in check_timeout(n.type, n.sla_seconds, n.timeout, known)]
        problems += _check_segregation(graph, n)
        if n.type == "pause" and (n.pause_seconds is None) == (n.pause_until_field is None):
            problems.append((where, "a pause node waits either pause_seconds or until pause_until_field"))
        if n.type == "system" and not n.hook:
            problems.append((where, "a system task names its hook"))
        if n.hook_params and (n.type != "system" or len(json.dumps(n.hook_params, default=str)) > 8192):
            problems.append((where, "hook_params belong to a system task and stay under 8 KB"))
        if n.on_hook_failure is not None and n.type != "system":
            problems.append((where, "on_hook_failure is a setting of system tasks"))
        problems += _check_call_node(n)
        if n.type in BRANCHING:
            defaults = [e for e in out[n.id] if e.default]
            if len(defaults) != 1:  # inclusive too: otherwise no branch might be taken at all
                problems.append((where, f"an {n.type} gateway needs exactly one default branch, "
                                        f"found {len(defaults)}"))
            for e in out[n.id]:
                if not e.default and not e.condition:
                    problems.append((where, f"branch to {e.target!r} needs a condition or default: true"))
        for e in out[n.id]:
            if e.condition is not None:
                if n.type not in BRANCHING:
                    problems.append((where, f"only gateways have conditions (edge to {e.target!r})"))
                error = compile_condition(e.condition)
                if error:
                    problems.append((f"{where}.edges[{e.target}]", f"condition does not compile: {error}"))
    problems += _check_splits(graph, out)
    problems += _check_cycles(graph, out)
    problems += check_rules(graph.rules, {n.id: n.type for n in graph.nodes},
                            {n.id for n in graph.nodes if n.sla_seconds},
                            {n.id for n in graph.nodes if n.independent_of or n.required_fields}, compile_condition)
    return problems


WAITING = {"approval", "pause"}  # not "call": a child may complete at once, so a loop needs more
INITIATOR = "initiator"


def _check_call_node(n: Node) -> list[tuple[str, str]]:
    """A call node names the flow it starts; its settings belong to call nodes only (the target's
    existence, business line and call loops are checked by the application)."""
    where = f"nodes.{n.id}"
    if n.type == "call":
        return [] if n.call_flow else [(where, "a call node names the flow it starts (call_flow)")]
    return [(where, f"only call nodes take {what}") for what in ("call_flow", "on_child_failure")
            if getattr(n, what) is not None]


def _check_segregation(graph: Graph, n: Node) -> list[tuple[str, str]]:
    """independent_of names the initiator or other approval nodes; required_fields only on approvals."""
    where = f"nodes.{n.id}"
    if n.type != "approval":
        return [(where, f"only approval nodes take {what}") for what in ("independent_of", "required_fields")
                if getattr(n, what)]
    problems = []
    for ref in n.independent_of:
        if ref == n.id:
            problems.append((where, "independent_of cannot name the node itself"))
        elif ref != INITIATOR and ref not in {m.id for m in graph.nodes if m.type == "approval"}:
            problems.append((where, f"independent_of: {ref!r} is neither 'initiator' nor an approval node"))
        elif ref != INITIATOR and n.id not in _downstream(graph, ref):
            problems.append((where, f"independent_of: {ref!r} does not come before this node"))
    return problems


def _downstream(graph: Graph, source: str) -> set[str]:
    out, seen, queue = graph.outgoing(), set(), deque([source])
    while queue:
        for e in out[queue.popleft()]:
            if e.target not in seen:
                seen.add(e.target)
                queue.append(e.target)
    return seen


def segregation_warnings(graph: Graph) -> list[tuple[str, str]]:
    """Publishing warns (it does not refuse) about a review that is not independent of the entry it
    reviews: an approval node that edits nothing, reached straight from an approval node that edits
    something, without that node in ``independent_of``. Acknowledge with ``independent_of``."""
    warnings = []
    incoming = graph.incoming()
    for n in graph.nodes:
        if n.type != "approval" or any(a == "editable" for a in n.field_permissions.values()):
            continue
        for e in incoming[n.id]:
            entry = graph.node(e.source) if e.source in {m.id for m in graph.nodes} else None
            if entry is not None and entry.type == "approval" and entry.id not in n.independent_of \
                    and any(a == "editable" for a in entry.field_permissions.values()):
                warnings.append((f"nodes.{n.id}", f"reviews the entry at {entry.id!r} but is not independent of "
                                                  f"it: add independent_of: [{entry.id!r}]"))
    return warnings


def _check_cycles(graph: Graph, out: dict[str, list[Edge]]) -> list[tuple[str, str]]:
    """A loop must wait on people or time somewhere: a cycle of gateways and system tasks alone
    would spin for ever. Every strongly connected component with a cycle needs an approval or
    a pause node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in (n.id for n in graph.nodes):
        if root in index:
            continue
        work = [(root, iter([e.target for e in out[root]]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:  # iterative Tarjan: graphs may have 500 nodes
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([e.target for e in out[child]])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    problems = []
    for component in components:
        looping = len(component) > 1 or any(e.target == component[0] for e in out[component[0]])
        if looping and not any(graph.node(n).type in WAITING for n in component):
            problems.append((f"nodes.{sorted(component)[0]}", "this loop ("
                             + ", ".join(sorted(component)) + ") has no approval or pause node: it would never stop"))
    return problems


def _check_splits(graph: Graph, out: dict[str, list[Edge]]) -> list[tuple[str, str]]:
    """Every split's branches must meet again at one join of the matching kind before the end."""
    problems = []
    for split in (n for n in graph.nodes if n.type in SPLIT_JOIN):
        join_type = SPLIT_JOIN[split.type]
        joins_per_branch = []
        for e in out[split.id]:
            joins_per_branch.append(_first_join(graph, out, e.target, join_type))
        found = set(joins_per_branch)
        if None in found or len(found) != 1:
            problems.append((f"nodes.{split.id}", f"the branches of this {split.type} must all meet at one "
                                                 f"{join_type} node"))
    return problems


def return_targets_allowed(graph: Graph) -> set[str]:
    """Nodes a task may be returned to: approvals and the start, outside every split/join region
    (a single token put back inside a branch would leave its join waiting for ever)."""
    inside = inside_regions(graph)
    return {n.id for n in graph.nodes if n.type in ("approval", "start") and n.id not in inside}


def jump_targets_allowed(graph: Graph) -> set[str]:
    """Nodes an administrator may jump a flow to (跳转): any node outside every split/join region
    except the ends and the joins (a lone token there would wait for branches never taken)."""
    inside = inside_regions(graph)
    return {n.id for n in graph.nodes if n.id not in inside
            and n.type not in ("end", "parallel_join", "inclusive_join")}


def inside_regions(graph: Graph) -> set[str]:
    """Nodes between a split (parallel or inclusive) and its join."""
    out = graph.outgoing()
    inside: set[str] = set()
    for split in (n for n in graph.nodes if n.type in SPLIT_JOIN):
        join = matching_join(graph, split.id)
        queue = deque(e.target for e in out[split.id])
        while queue:
            node_id = queue.popleft()
            if node_id == join or node_id in inside:
                continue
            inside.add(node_id)
            queue.extend(e.target for e in out[node_id])
    return inside


def matching_join(graph: Graph, split_id: str) -> str | None:
    """The join where a split's branches meet (checked at publish)."""
    out = graph.outgoing()
    split = graph.node(split_id)
    return _first_join(graph, out, out[split_id][0].target, SPLIT_JOIN[split.type]) if out[split_id] else None


def _first_join(graph: Graph, out: dict[str, list[Edge]], start: str, join_type: str) -> str | None:
    depth, seen, node_id = 0, set(), start
    queue = deque([(start, 0)])
    while queue:
        node_id, depth = queue.popleft()
        if (node_id, depth) in seen or depth > len(graph.nodes):  # loops cannot nest splits forever
            continue
        seen.add((node_id, depth))
        node = graph.node(node_id)
        if node.type == join_type:
            if depth == 0:
                return node_id
            depth -= 1
        elif node.type in SPLIT_JOIN and SPLIT_JOIN[node.type] == join_type:
            depth += 1
        for e in out[node_id]:
            queue.append((e.target, depth))
    return None
