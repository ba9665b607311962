"""IF-THEN rules (domain/flows/rules.py) as the application runs them: before every save of an
instance the rules its new events trigger fire, recorded by ``system:rules`` (the person whose
step triggered them is in the correlation id, not the actor: the rule acted, not them); flows a
rule starts are built and saved *with* the instance that records RuleFlowStarted, as called
children are (application/flows/calls.py), so one is never lost nor started twice; timed rules
(``task_overdue``) are fired by the scheduler (``fire_rule``)."""
from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from application.flows.commands import instance_command
from application.shared.base import CommandResult
from application.shared.hot import HotAggregates
from domain.flows.instance import FlowInstance, FlowRuntime
from domain.flows.rules import RULES_ACTOR
from domain.shared.context import CommandContext, acting_as, current_context
from domain.shared.errors import DomainError

RULE_TIMER = "rule"  # the scheduler's kind; its key is "<task>:<rule>"


class Rules:
    hot: HotAggregates
    # from the host: Instances, Starts
    instance: Callable[..., FlowInstance]
    _runtime: Callable[..., FlowRuntime]
    save_instance: Callable[[FlowInstance], CommandResult]
    _new_instance_from: Callable[..., FlowInstance]

    def run_rules(self, instance: FlowInstance, rt: FlowRuntime | None = None) -> None:
        """Fire the rules this command's events trigger, as ``system:rules``."""
        runtime = rt or self._runtime(instance)
        if runtime.graph.rules:
            with acting_as(CommandContext.system(RULES_ACTOR.removeprefix("system:"),
                                                 current_context().correlation_id)):
                instance.run_rules(runtime)

    def start_rule_flows(self, instance: FlowInstance, build: Callable[[FlowInstance], list[FlowInstance]]
                         ) -> list[FlowInstance]:
        """The flows rules asked this instance to start: built now (with whatever they call at
        once, ``build``) and recorded on it, or the reason one could not start."""
        started: list[FlowInstance] = []
        for pending in instance.starts_pending():
            with acting_as(CommandContext.system(RULES_ACTOR.removeprefix("system:"),
                                                 current_context().correlation_id)):
                try:
                    flow = self._new_instance_from(instance, pending["flow"], chained_from=instance.id)
                    family = [flow, *build(flow)]
                except DomainError as exc:  # recorded on the instance, not lost
                    instance.record_rule_start(pending["rule"], pending["flow"], None, exc.message)
                    continue
                instance.record_rule_start(pending["rule"], pending["flow"], flow.id, None)
            started += family
        return started

    @instance_command(hot=False)
    def fire_rule(self, instance_id: UUID, key: str) -> str:
        """Fired by the scheduler when a task_overdue rule falls due for a task (key
        ``<task>:<rule>``): "fired", "not_due" or "gone". Firing twice has one effect."""
        task_id, _, rule_id = key.partition(":")
        instance = self.instance(instance_id)
        with acting_as(CommandContext.system(RULES_ACTOR.removeprefix("system:"), current_context().correlation_id)):
            outcome: str = instance.rule_timer(task_id, rule_id, self._runtime(instance))
        if outcome == "fired":
            self.save_instance(instance)
        return outcome
