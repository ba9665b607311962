"""Who is acting, on whose behalf and in which request.

Every event carries these facts. They are ambient for the duration of one command
(set by the HTTP middleware, the CLI or a system component), so aggregate methods
need not thread them through every signature.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CommandContext:
    actor: str
    correlation_id: str
    business_line: str | None = None
    # The credential a person acts through when it is not their own (a client holding their
    # delegation, ADR 0016): recorded beside ``actor`` on every event, so the trail names both.
    via: str | None = None

    @staticmethod
    def system(component: str, correlation_id: str | None = None) -> CommandContext:
        return CommandContext(
            actor=f"system:{component}",
            correlation_id=correlation_id or uuid.uuid4().hex,
        )


_current: ContextVar[CommandContext | None] = ContextVar("ledgerflow_command_context", default=None)


def current_context() -> CommandContext:
    ctx = _current.get()
    if ctx is None:
        # Refusing to record an anonymous fact is safer than guessing an actor.
        raise RuntimeError("no CommandContext: events must say who acted (use acting_as)")
    return ctx


@contextmanager
def acting_as(ctx: CommandContext, *, business_line: str | None = None) -> Iterator[CommandContext]:
    if business_line is not None:
        ctx = replace(ctx, business_line=business_line)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
