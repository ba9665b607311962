"""Running-instance migration (ADR 0012): moving a running flow instance to a newer published
version of its definition, with a node mapping {old node id: new node id}.

Pure. ``plan_instance`` reads an instance's state and the two graphs and answers either the
moves it would make (every token to its node in the new version, and what happens to what it
waits on) or the reasons it refuses. ``apply_migration`` is the state change of the instance's
``Migrated`` event: it uses only what the event carries, so a replay never recomputes a plan
against graphs or a mapping rule that may have changed since."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.flows.fields import hidden_paths
from domain.flows.graph import SPLIT_JOIN, Graph, matching_join
from domain.shared.errors import InvalidInputError

if TYPE_CHECKING:
    from domain.flows.instance.tasks import Task

# Where a running instance can stand still: a task, a pause, the initiator's resubmission, a join
# waiting for its branches. Tokens never rest on gateways, splits, system tasks or ends; a node
# type added later that waits on something else is refused until the migration knows how to carry it.
RESTING = ("approval", "pause", "start", "parallel_join", "inclusive_join")
JOINS = ("parallel_join", "inclusive_join")


@dataclass(frozen=True)
class MigrationTarget:
    """What every instance of one migration shares: the versions, their graphs and the mapping."""
    from_version: int
    to_version: int
    old: Graph
    new: Graph
    mapping: dict[str, str]
    settings: dict[str, str]   # the new version's empty_assignee and deduplication
    nodes: dict[str, str] = field(default_factory=dict)  # old id -> new id, identities included

    @property
    def renames(self) -> dict[str, str]:
        """The ids that change: what the Migrated event applies to tasks, visits and joins."""
        return {old: new for old, new in self.nodes.items() if old != new}


def migration_target(from_version: int, to_version: int, old: Graph, new: Graph, mapping: dict[str, str],
                     settings: dict[str, str]) -> MigrationTarget:
    """The shared part of a migration, once the mapping is known to be sound: its keys are nodes
    of the old version, its values nodes of the new one of the same type. Ids both versions have
    map to themselves unless the mapping says otherwise."""
    old_nodes, new_nodes = {n.id: n for n in old.nodes}, {n.id: n for n in new.nodes}
    problems = []
    for source, target in mapping.items():
        where = f"mapping.{source}"
        if source not in old_nodes:
            problems.append({"path": where, "message": f"version {from_version} has no node {source!r}"})
        elif target not in new_nodes:
            problems.append({"path": where, "message": f"version {to_version} has no node {target!r}"})
        elif old_nodes[source].type != new_nodes[target].type:
            problems.append({"path": where, "message": f"{source!r} is a {old_nodes[source].type} node but "
                                                       f"{target!r} is a {new_nodes[target].type} node"})
    if problems:
        raise InvalidInputError(f"{len(problems)} problem(s) in the node mapping; nothing was planned", problems,
                                code="invalid_migration_mapping")
    nodes = {**{i: i for i in old_nodes if i in new_nodes}, **mapping}
    return MigrationTarget(from_version, to_version, old, new, dict(mapping), dict(settings), nodes)


@dataclass(frozen=True)
class InstancePlan:
    reasons: list[str]                       # why the instance cannot move (empty: it can)
    moves: list[dict[str, Any]]              # {token, from, to, wait, task} for every token
    retired_hidden: dict[str, list[str]]     # fields hidden at nodes the new version no longer has

    @property
    def safe(self) -> bool:
        return not self.reasons


def plan_instance(instance: Any, target: MigrationTarget) -> InstancePlan:
    """Every token to its node in the new version, or the reasons the instance must stay."""
    if instance.status != "running":
        return InstancePlan([f"the flow is {instance.status}"], [], {})
    if instance.definition_version != target.from_version:
        return InstancePlan([f"the flow runs version {instance.definition_version}, "
                             f"not version {target.from_version}"], [], {})
    reasons: list[str] = []
    moves = []
    for token, node_id in sorted(instance.tokens.items()):
        move, why = _move(instance, target, token, node_id)
        reasons += why
        if move is not None:
            moves.append(move)
    if reasons:
        return InstancePlan(list(dict.fromkeys(reasons)), [], {})
    return InstancePlan([], moves, _retired_hidden(instance, target))


def _move(instance: Any, target: MigrationTarget, token: str, node_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    node = target.old.node(node_id)
    if node.type not in RESTING:
        return None, [f"waiting at {node_id!r}, a {node.type} node: a migration cannot carry that wait"]
    new_id = target.nodes.get(node_id)
    if new_id is None:
        return None, [f"{node_id!r} ({node.name}) has no counterpart in version {target.to_version}: "
                      "map it to a node of the same type"]
    new_node = target.new.node(new_id)
    if new_node.type != node.type:
        return None, [f"{node_id!r} is a {node.type} node but {new_id!r} in version {target.to_version} "
                      f"is a {new_node.type} node"]
    why = [problem for split in _regions_holding(target.old, node_id)
           if (problem := _region_problem(target, split)) is not None]
    if why:
        return None, why
    task = next((t for t in instance.tasks.values() if t.token == token and t.status == "open"), None)
    if node.type == "approval":
        if task is None:
            return None, [f"{node_id!r} has no open task to carry"]
        wait = "task_kept" if _task_fits(task, node, new_node, target) else "task_reopened"
    elif node.type == "pause":
        wait = "pause"        # the pause keeps the due time recorded when it started
    elif node.type == "start":
        wait = "resubmit"     # returned to the initiator: still theirs to resubmit
    else:
        wait = "join"
    return {"token": token, "from": node_id, "to": new_id, "wait": wait,
            "task": task.id if task is not None else None}, []


def _task_fits(task: Task, old: Any, node: Any, target: MigrationTarget) -> bool:
    """An open task stays open (its candidates, approvals, signers and deadline kept) when the new
    node decides the same way and asks the same people: same mode, vote threshold and assignees,
    independent of the same nodes. Otherwise it is cancelled and the node opens a new task under
    the new version's rules (a task kept for people the new version no longer asks would let
    them decide a step that is not theirs)."""
    independent = {target.nodes.get(ref, ref) for ref in task.independent_of}
    return (task.mode == (node.mode or "single") and task.threshold == node.vote_threshold
            and old.assignees == node.assignees and independent == set(node.independent_of))


def _region(graph: Graph, split_id: str, join: str | None) -> set[str]:
    """The nodes between a split and its join (nested regions included)."""
    out = graph.outgoing()
    found: set[str] = set()
    pending = [e.target for e in out[split_id]]
    while pending:
        node_id = pending.pop()
        if node_id != join and node_id not in found:
            found.add(node_id)
            pending += [e.target for e in out[node_id]]
    return found


def _regions_holding(graph: Graph, node_id: str) -> list[str]:
    """The splits whose region (its nodes or its join) holds the node."""
    holding = []
    for split in (n.id for n in graph.nodes if n.type in SPLIT_JOIN):
        join = matching_join(graph, split)
        if node_id == join or node_id in _region(graph, split, join):
            holding.append(split)
    return holding


def _region_problem(target: MigrationTarget, split: str) -> str | None:
    """A token inside a parallel or inclusive region (or waiting at its join) moves only when the
    region is structurally the same in the new version: every node mapped, the same kinds, the
    same edges between them, the same join. Otherwise a join could wait for a branch that no
    longer exists, or pass before one that does."""
    old, new, nodes = target.old, target.new, target.nodes
    join = matching_join(old, split)
    members = _region(old, split, join) | {split}
    kind = old.node(split).type.replace("_split", "")
    where = f"the {kind} region from {split!r} to {join!r}"
    missing = sorted(n for n in members | {join or split} if n not in nodes)
    if missing:
        return f"{where} holds a token, and {', '.join(map(repr, missing))} has no counterpart in " \
               f"version {target.to_version}"
    new_split, new_join = nodes[split], nodes[join] if join else None
    new_members = _region(new, new_split, new_join) | {new_split}
    mapped_edges = {(nodes[e.source], nodes[e.target]) for e in old.edges if e.source in members}
    new_edges = {(e.source, e.target) for e in new.edges if e.source in new_members}
    if (matching_join(new, new_split) != new_join or {nodes[n] for n in members} != new_members
            or mapped_edges != new_edges
            or any(old.node(n).type != new.node(nodes[n]).type for n in members)):
        return f"{where} holds a token, and it is not the same region in version {target.to_version}"
    return None


def _retired_hidden(instance: Any, target: MigrationTarget) -> dict[str, list[str]]:
    """Fields a node hid from its handlers, for nodes with tasks that the new version no longer
    has: they stay hidden from those handlers (the view looks them up here, not in the graph)."""
    old_nodes = {n.id: n for n in target.old.nodes}
    out = {}
    for node_id in sorted({t.node for t in instance.tasks.values()}):
        if node_id not in target.nodes and node_id in old_nodes:
            paths = sorted(hidden_paths(old_nodes[node_id].field_permissions))
            if paths:
                out[node_id] = paths
    return out


def apply_migration(state: Any, *, to_version: int, renames: dict[str, str], moves: list[dict[str, Any]],
                    settings: dict[str, str], retired_hidden: dict[str, list[str]]) -> None:
    """The Migrated event's state change, from what the event carries alone."""
    def renamed(node_id: str) -> str:
        return renames.get(node_id, node_id)

    reopened = {m["task"] for m in moves if m["wait"] == "task_reopened"}
    state.definition_version = to_version
    state.tokens = {**state.tokens, **{m["token"]: m["to"] for m in moves}}
    for k, t in state.tasks.items():
        if k in reopened:
            t.status = "cancelled"
        else:
            t.node, t.independent_of = renamed(t.node), [renamed(ref) for ref in t.independent_of]
    state.delegations = {k: v for k, v in state.delegations.items() if k not in reopened}
    state.arrivals = {renamed(k): v for k, v in state.arrivals.items()}
    state.expected = {renamed(k): v for k, v in state.expected.items()}
    state.visited = [renamed(n) for n in state.visited]
    acted: dict[str, list[str]] = {}
    for node_id, people in state.acted.items():
        acted[renamed(node_id)] = list(dict.fromkeys([*acted.get(renamed(node_id), []), *people]))
    state.acted = acted
    state.empty_assignee = settings.get("empty_assignee", state.empty_assignee)
    state.deduplication = settings.get("deduplication", state.deduplication)
    state.retired_hidden = {**getattr(state, "retired_hidden", {}), **retired_hidden}
    state._seq += 1
    # A decision taken under the old version is not taken back under the new one (拿回 stops here,
    # as it does at a system task).
    state.system_done_at = state._seq
