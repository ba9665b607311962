"""System hooks: the work a flow's system node hands to the rest of the firm (issue 16) — write
the counter's fee-rate import file, generate an agreement, ask the tenant to e-sign, screen the
names on a form. The flow records that it asked (``SystemTaskRequested``) and waits; the
scheduler runs the hook outside the command (retried with backoff until it answers); the hook
answers ``done`` (the token moves on), ``failed`` (likewise, with the problem in its result, for
a gateway to route), or ``waiting`` (something outside answers later — the counter's import
result, the tenant's signature — through ``FlowsApplication.complete_system_task``).

A hook's side effects are keyed by ``request.request_id``: it is the same for every retry of one
node visit, so a hook that runs twice (a crash after it wrote but before the flow recorded it)
produces the same file or document again, never a second, different one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from uuid import UUID

Status = Literal["done", "waiting", "failed"]


@dataclass(frozen=True)
class HookRequest:
    instance_id: UUID
    request_id: str                 # "<instance id>:<task id>": stable per node visit, the idempotency key
    node: str                       # the system node's id
    hook: str                       # the node's hook name (graph: ``hook``)
    params: dict[str, Any]          # the node's ``hook_params`` from the flow graph (configuration)
    form: dict[str, Any]            # the instance's form data when the node was entered
    business_type: str
    business_line: str
    department_id: UUID | None
    initiator: str                  # "operator:<login>"
    subject: str                    # the form's subject kind (individual, institution, ...)
    fund_account: str | None        # the customer, where the flow has one
    title: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # earlier system nodes' results


@dataclass(frozen=True)
class HookOutcome:
    status: Status
    result: dict[str, Any] = field(default_factory=dict)  # JSON; conditions see it as outputs.<node>.<key>


class SystemHook(Protocol):
    """One kind of system work. ``run`` may be called again for the same request (retries): it must
    give the same outcome and leave the same side effects. A hook may also offer
    ``check(params: dict) -> list[str]``: the problems of a node's ``hook_params``, refused at publish."""
    name: str

    def run(self, request: HookRequest) -> HookOutcome: ...
