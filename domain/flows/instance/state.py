"""The moves every part of the engine makes on an instance's state: ids, entering a node,
cancelling tasks, restarting at a node, and what conditions see. ``State`` is mixed into
``FlowInstance``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.flows.instance.tasks import Task


class State:
    data: dict[str, Any]
    initiator: str
    initiator_facts: dict[str, Any]
    fund_account: str | None
    call_results: dict[str, dict[str, Any]]
    tasks: dict[str, Task]
    delegations: dict[str, dict[str, str]]
    tokens: dict[str, str]
    pauses: dict[str, str]
    arrivals: dict[str, list[str]]
    expected: dict[str, int]
    visited: list[str]
    _seq: int
    # from the host: the events of FlowInstance
    _entered: Callable[..., None]

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._seq + 1}"

    def _move(self, token: str, target: str) -> None:
        self._entered(token=token, node=target)

    def _activation(self) -> dict[str, Any]:
        return {**self.data, "initiator": {"actor": self.initiator, **self.initiator_facts},
                "fund_account": self.fund_account, "calls": self.call_results}

    def _cancel(self, task_ids: list[str]) -> None:
        for k, t in self.tasks.items():
            if k in task_ids:
                t.status = "cancelled"
        self.delegations = {k: v for k, v in self.delegations.items() if k not in task_ids}

    def _restart_at(self, token: str, node: str) -> None:
        """A return, take-back or jump: one token on ``node``, nothing else waiting."""
        self._seq += 1
        self.tokens, self.pauses, self.arrivals, self.expected = {token: node}, {}, {}, {}
        self.visited = [*self.visited, node]
