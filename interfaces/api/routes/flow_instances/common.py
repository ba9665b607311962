"""What every flow-instance route shares: the permissions it asks for, paging, and the one
visibility check of an instance — from the event store for commands, from the read model for
reads only when the read model holds the instance's newest version."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request

from application.access.policy import Policy
from domain.flows.fields import _ABSENT as HIDDEN  # present_change's "not for you" marker
from domain.flows.fields import drop_paths, present_form_edit, restore_unseen
from domain.flows.graph import Graph
from domain.flows.visibility import Participation, hidden_from, hidden_in
from domain.forms.diff import diff
from domain.shared.context import CommandContext
from domain.shared.errors import NotFoundError
from interfaces.api.deps import ContainerDep, consistent_with, requires

READS = Depends(consistent_with("flows.instances"))
Starter = Annotated[Policy, Depends(requires("flows.instances.start"))]
Viewer = Annotated[Policy, Depends(requires("flows.instances.view"))]
Handler = Annotated[Policy, Depends(requires("flows.tasks.handle"))]
Admin = Annotated[Policy, Depends(requires("flows.instances.admin"))]
RESOURCE = "flows.instance"
Limit = Annotated[int, Query(ge=1, le=200)]
Keyword = Annotated[str | None, Query(min_length=1, max_length=100,
                                      description="Substring of the title, fund account or summary fields")]




def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def present_summary(policy: Policy, summary: dict[str, Any]) -> dict[str, Any]:
    """Summary values through the field rules, matched by name as in the form data."""
    if not summary:
        return {}
    nested: dict[str, Any] = {}
    for path, given in summary.items():
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[leaf] = given
    shown = policy.present(RESOURCE, {"data": nested})["data"]
    out = {}
    for path in summary:
        value: Any = shown
        for part in path.split("."):
            value = value.get(part, HIDDEN) if isinstance(value, dict) else HIDDEN
        if value is not HIDDEN:
            out[path] = value
    return out



def require_visible(container: ContainerDep, policy: Policy, instance_id: UUID) -> str:
    """The one visibility check of an instance outside its read model: its scope from the event
    store, so acting right after starting works (the department is read fresh: an administrator
    may have moved the flow). Answers the instance's business line."""
    scope = container.flows.scope_of(instance_id)  # NotFoundError names the instance
    policy.require_scoped(f"flow instance {instance_id}", scope)
    return str(scope["business_line"])


def acting_on(request: Request, container: ContainerDep, policy: Policy, instance_id: UUID) -> CommandContext:
    """A command on an instance: visible to the caller, run in the instance's business line."""
    return policy.context(request.state.correlation_id, require_visible(container, policy, instance_id))



def _present_timeline(entries: list[dict[str, Any]], present: Any, hidden: set[str]) -> list[dict[str, Any]]:
    return [{**e, "detail": present_form_edit(e["detail"], present, hidden)}
            if e["kind"] == "form_edited" and isinstance(e.get("detail"), dict) else e for e in entries]


@dataclass(frozen=True)
class InstanceView:
    """One instance as one viewer may read it: its read-model row (scope checked), its form data
    without the fields its nodes hide from the viewer (field rules not applied yet: ``present``
    applies them), its current handlers, and the version all of it is as of (the ETag)."""

    row: dict[str, Any]
    data: dict[str, Any]
    hidden: set[str]
    handlers: list[str]
    version: int
    graph: Graph
    present: Callable[[dict[str, Any]], dict[str, Any]]


def instance_view(container: ContainerDep, policy: Policy, instance_id: UUID) -> InstanceView:
    """The read model answers when it holds the instance's newest version (one primary-key lookup
    of the stored version; the row, data, tasks and handlers come from one statement, so from one
    snapshot). Otherwise — it lags behind this instance, or a migration left tasks at nodes the
    graph no longer has — the event store decides visibility, hidden fields and handlers (style
    example 5; an authorization decision never rests on a read model behind its subject)."""
    actor = policy.principal.actor

    def present(record: dict[str, Any]) -> dict[str, Any]:
        return dict(policy.present(RESOURCE, {"data": record})["data"])

    row = container.instance_queries.detail(instance_id)
    stored = container.store.versions([instance_id]).get(instance_id)
    if row is not None and stored is not None and row["version"] == stored:
        graph = container.flows.published_graph(row["definition_key"], row["definition_version"])
        known = {n.id for n in graph.nodes}
        if all(t["node"] in known for t in row["tasks"]):
            policy.require_scoped(f"flow instance {instance_id}", row)
            # Signers who signed are in decided_by (SignerApproved), pending ones in signers_*.
            took_part = [Participation(t["node"], frozenset({*t["candidates"], *t["decided_by"],
                                                            *t["signers_before"], *t["signers_after"]}))
                         for t in row["tasks"]]
            hidden = hidden_from(actor, took_part, graph, {})
            return InstanceView(row, drop_paths(row["data"], hidden), hidden, list(row["handlers"]), stored,
                                graph, present)
    require_visible(container, policy, instance_id)
    instance = container.flows.instance(instance_id)
    if row is None:  # started, but not in the read model yet (wait_for_position waits for it)
        raise NotFoundError(f"flow instance {instance_id} does not exist")
    graph = container.flows.published_graph(instance.definition_key, instance.definition_version)
    hidden = hidden_in(instance, graph, actor)
    handlers = sorted({h for t in instance.tasks.values() if t.status == "open" for h in instance.current_handlers(t)})
    return InstanceView(row, drop_paths(instance.data, hidden), hidden, handlers, instance.version, graph,
                        present)


def _names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {n for v in value.values() for n in _names(v)}
    if isinstance(value, list):
        return {n for v in value for n in _names(v)}
    return set()


def _sent_data(container: ContainerDep, policy: Policy, instance_id: UUID, sent: dict[str, Any]) -> dict[str, Any]:
    """Form data sent by a handler (checked by ``acting_on`` first): what the field rules kept from
    them (masked values echoed back, hidden fields left out) is restored from the stored data;
    changing a field a rule makes hidden, masked or read-only for them is refused (403) — a masked
    value never overwrites."""
    instance = container.flows.instance(instance_id)
    stored = instance.data
    graph = container.flows.published_graph(instance.definition_key, instance.definition_version)
    view = drop_paths(policy.present(RESOURCE, {"data": stored})["data"],
                      hidden_in(instance, graph, policy.principal.actor))
    data = restore_unseen(sent, view, stored)
    policy.require_editable(RESOURCE, _changed_names(stored, data))
    return data


def _changed_names(stored: dict[str, Any], data: dict[str, Any]) -> set[str]:
    """Every field name and dotted path an edit from ``stored`` to ``data`` touches."""
    changed: set[str] = set()
    for change in diff(stored, data):
        parts = [re.sub(r"\[.*?\]", "", p) for p in change.path.split(".")]
        changed |= {*parts, *(".".join(parts[:i]) for i in range(1, len(parts) + 1))}
        changed |= _names(change.old) | _names(change.new)  # a section added or removed whole
    return changed

