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

    def _empty_state(self) -> None:
        """What a new instance holds before anything happened (Started sets the rest)."""
        self.chain: dict[str, Any] | None = None  # what happened to the follow-up flow
        self.approvers: list[str] = []            # who approved, in order (for de-duplication)
        self.delegations: dict[str, dict[str, str]] = {}  # task -> {delegate: delegator}
        self.status = "running"
        self.tokens: dict[str, str] = {}          # token -> node
        self.tasks: dict[str, Task] = {}
        self.arrivals: dict[str, list[str]] = {}  # join node -> tokens arrived
        self.expected: dict[str, int] = {}        # inclusive join -> branches taken
        self.pauses: dict[str, str] = {}          # token -> due at (ISO)
        self.visited: list[str] = []
        self.decisions = 0                         # approvals so far (withdrawal allowed while 0)
        self.awaiting_resubmit = False             # returned to the initiator
        self.acted: dict[str, list[str]] = {}     # node -> who approved or edited there since its task opened
        self.system_done_at = 0                    # _seq when a system task last ran (take-back stops there)
        self.cc_to: list[str] = []                 # everyone copied (抄送)
        self.cc_unread: list[str] = []             # copied to, not marked read yet
        self.overrides: dict[str, dict[str, Any]] = {}  # administrator overrides awaiting a second one
        self._seq = 0
        self.calls: list[dict[str, Any]] = []
        self.call_results: dict[str, dict[str, Any]] = {}
        self.system_requests: dict[str, dict[str, Any]] = {}  # request id -> system work handed to a hook
        self.outputs: dict[str, dict[str, Any]] = {}          # system node -> its hook's answer
        self.rule_starts: list[dict[str, str]] = []  # flows rules asked to start, not started yet

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._seq + 1}"

    def _move(self, token: str, target: str) -> None:
        self._entered(token=token, node=target)

    def _activation(self) -> dict[str, Any]:
        return {**self.data, "initiator": {"actor": self.initiator, **self.initiator_facts},
                "fund_account": self.fund_account, "calls": self.call_results,
                "outputs": self.outputs}

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
