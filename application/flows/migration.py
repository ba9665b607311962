"""Running-instance migration (ADR 0012): move running instances of a flow to a newer published
version with a node mapping. A capability of FlowsApplication, whose graphs, assignee resolution,
hot cache and saves it uses.

A dry run plans every selected instance on a fresh load (nothing is saved but the record of the
dry run); applying migrates every safe instance with its own optimistic save and records what
became of each. Instances are *found* in the read model (running, at the version) but every
decision is taken on the aggregate, which the read model may lag behind."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.flows.commands import instance_command
from application.shared.base import CommandResult, Loader
from application.shared.hot import HotAggregates
from domain.flows.definition import FlowDefinition
from domain.flows.graph import Graph
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.flows.migration import MigrationTarget, migration_target, plan_instance
from domain.flows.migration_record import InstanceMigration
from domain.shared.context import current_context
from domain.shared.errors import ConcurrencyConflictError, DomainError, NotFoundError, RuleViolationError
from domain.shared.text import require_text

MAX_INSTANCES = 200      # per call: the report stays bounded; continue with ``after``
DEFAULT_LIMIT = 100
ATTEMPTS = 3             # an instance that changes under the migration is planned again, this often
REASON_LENGTH = 2000


@dataclass(frozen=True)
class MigrationRequest:
    key: str
    from_version: int
    to_version: int
    mapping: dict[str, str]
    reason: str
    instance_ids: list[UUID] | None = None   # else the running instances at from_version, by id
    after: UUID | None = None                # ...after this instance id (the previous call's next_after)
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class MigrationReport:
    result: CommandResult          # the migration record: its id and the position to wait for
    dry_run: bool
    items: list[dict[str, Any]]    # one per instance, in the order handled
    more: bool                     # more running instances than ``limit`` were found
    next_after: UUID | None        # pass as ``after`` to handle the next ones


def no_instances(key: str, version: int, scope: dict[str, Any] | None, after: UUID | None, limit: int) -> list[UUID]:
    return []


RunningInstances = Callable[[str, int, dict[str, Any] | None, UUID | None, int], list[UUID]]


class InstanceMigrations:
    """Use cases of running-instance migration."""
    # Port (read model): ids of running instances of (key, version) in a data scope, id > after,
    # ordered by id, at most ``limit``. Given by the composition root.
    running_instances: RunningInstances
    hot: HotAggregates
    # from the host: LedgerApplication, Definitions, Instances
    load: Loader
    instance: Callable[[UUID], FlowInstance]
    save_instance: Callable[[FlowInstance], CommandResult]
    _runtime: Callable[[FlowInstance, Graph], FlowRuntime]
    save_one: Callable[..., CommandResult]
    current_definition: Callable[[str], FlowDefinition]
    published_graph: Callable[[str, int], Graph]

    @instance_command(hot=False)
    def plan_migration(self, request: MigrationRequest, scope: dict[str, Any] | None = None) -> MigrationReport:
        """Dry run: what would become of each instance. Records the plan (who looked, and why)."""
        return self._migration(request, scope, dry_run=True)

    @instance_command(hot=False)
    def migrate_instances(self, request: MigrationRequest, scope: dict[str, Any] | None = None
                          ) -> MigrationReport:
        """Migrate every safe instance; the unsafe ones stay where they are, with their reasons."""
        return self._migration(request, scope, dry_run=False)

    def migration(self, migration_id: UUID) -> InstanceMigration:
        return self.load(migration_id, InstanceMigration, what=f"migration {migration_id}")

    def _migration(self, request: MigrationRequest, scope: dict[str, Any] | None, *, dry_run: bool
                   ) -> MigrationReport:
        reason = require_text(request.reason, "reason", REASON_LENGTH)
        if not reason.strip():
            raise RuleViolationError("a migration needs a reason", field="reason")
        line, target = self._migration_target(request)
        ids, more = self._selected(request, scope)
        actor = current_context().actor

        def record(items: list[dict[str, Any]]) -> InstanceMigration:
            return InstanceMigration.plan(request.key, line, request.from_version, request.to_version,
                                          target.mapping, reason, dry_run=dry_run, by=actor, items=items)

        if dry_run:
            items = [self._migrate_one(i, request.key, target, None, reason) for i in ids]
            result = self.save_one(record([_recorded(i) for i in items]))
        else:
            migration = record([])
            self.save_one(migration)  # on record before any instance moves
            items = []
            for instance_id in ids:
                items.append(self._migrate_one(instance_id, request.key, target, migration.id, reason))
                migration.record(_recorded(items[-1]))
            migration.finish()
            result = self.save_one(migration)
        return MigrationReport(result, dry_run, items, more, ids[-1] if more and ids else None)

    def _migration_target(self, request: MigrationRequest) -> tuple[str, MigrationTarget]:
        definition = self.current_definition(request.key)
        for name, number in (("from_version", request.from_version), ("to_version", request.to_version)):
            if not 1 <= number <= len(definition.versions):
                raise RuleViolationError(f"flow {request.key!r} has no published version {number}", field=name)
        if request.to_version <= request.from_version:
            raise RuleViolationError("instances move to a newer version only", field="to_version")
        settings = definition.published_version(request.to_version)["settings"]
        old = self.published_graph(request.key, request.from_version)
        new = self.published_graph(request.key, request.to_version)
        target = migration_target(request.from_version, request.to_version, old, new, request.mapping,
                                  {k: settings[k] for k in ("empty_assignee", "deduplication") if k in settings})
        return definition.business_line, target

    def _selected(self, request: MigrationRequest, scope: dict[str, Any] | None) -> tuple[list[UUID], bool]:
        if request.instance_ids is not None:
            if len(request.instance_ids) > MAX_INSTANCES:
                raise RuleViolationError(f"at most {MAX_INSTANCES} instances per call", field="instance_ids")
            return list(dict.fromkeys(request.instance_ids)), False
        if not 1 <= request.limit <= MAX_INSTANCES:
            raise RuleViolationError(f"limit is 1 to {MAX_INSTANCES}", field="limit")
        found = self.running_instances(request.key, request.from_version, scope, request.after, request.limit + 1)
        return found[:request.limit], len(found) > request.limit

    def _migrate_one(self, instance_id: UUID, key: str, target: MigrationTarget, migration_id: UUID | None,
                     reason: str) -> dict[str, Any]:
        """Plan one instance on its stored state and carry the plan out; with a migration id, save
        it (a lost race plans again on what the other command did: nothing of it is lost)."""
        for _ in range(ATTEMPTS):
            if migration_id is not None:
                self.hot.discard(instance_id)  # decided on the stored state; the saved one goes back
            item: dict[str, Any] = {
                "instance_id": instance_id, "title": None, "outcome": "unsafe", "reasons": [], "moves": [],
                "current_nodes": [], "current_nodes_after": [], "tasks_opened": [], "instance_version": None}
            try:
                instance = self.instance(instance_id)
            except NotFoundError as exc:
                return {**item, "reasons": [exc.message]}
            item.update(title=instance.title, current_nodes=sorted(set(instance.tokens.values())))
            if instance.definition_key != key:
                return {**item, "reasons": [f"the instance runs flow {instance.definition_key!r}, not {key!r}"]}
            plan = plan_instance(instance, target)
            if not plan.safe:
                return {**item, "reasons": plan.reasons}
            before = set(instance.tasks)
            try:
                instance.migrate(target, plan, current_context().actor, reason, migration_id or UUID(int=0),
                                 self._runtime(instance, target.new))
            except DomainError as exc:  # e.g. nobody can take a reopened task (empty_assignee: block)
                return {**item, "reasons": [exc.message]}
            item.update(outcome="safe", moves=plan.moves, current_nodes_after=sorted(set(instance.tokens.values())),
                        tasks_opened=[{"node": t.node, "candidates": t.candidates}
                                      for k, t in instance.tasks.items() if k not in before and t.status == "open"])
            if migration_id is None:
                return item  # a dry run: the changed copy is dropped, never saved
            try:
                saved = self.save_instance(instance)  # with the timers of reopened tasks
            except ConcurrencyConflictError:
                continue
            return {**item, "outcome": "migrated", "instance_version": saved.version}
        return {**item, "outcome": "conflict", "moves": [], "current_nodes_after": [], "tasks_opened": [],
                "reasons": [f"the instance changed under the migration {ATTEMPTS} times; try it again"]}


def _recorded(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the migration record keeps it: ids and nodes, not the instance's title (the
    record is audited per business line; titles stay behind each instance's own scope)."""
    return {k: v for k, v in item.items() if k != "title"}
