"""Moving a running instance to a newer version (ADR 0012; domain/flows/migration.py plans it).
``Migrating`` is mixed into ``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from domain.flows.instance.runtime import FlowRuntime
from domain.flows.migration import InstancePlan, MigrationTarget
from domain.shared.errors import RuleViolationError


class Migrating:
    # from the host: TaskRules, NodeEngine and the events of FlowInstance
    require_running: Callable[[], None]
    advance: Callable[[FlowRuntime], None]
    _migrated: Callable[..., None]

    def migrate(self, target: MigrationTarget, plan: InstancePlan, by: str, reason: str, migration_id: UUID,
                rt: FlowRuntime) -> None:
        """Move to the plan's version, then advance there (``rt`` runs the new version's graph):
        a task the plan reopens opens again."""
        self.require_running()
        if not plan.safe:
            raise RuleViolationError("; ".join(plan.reasons))
        self._migrated(from_version=target.from_version, to_version=target.to_version, mapping=target.mapping,
                       renames=target.renames, moves=plan.moves, settings=target.settings,
                       retired_hidden=plan.retired_hidden, by=by, reason=reason, migration_id=migration_id)
        self.advance(rt)
