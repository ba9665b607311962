"""One decorator for the commands on a flow instance, in place of three stacked ones: the command
runs as its context's actor, may start from the instance kept in memory since its last command
(application/shared/hot.py explains why that is safe), and — when the action commutes (two
all-sign approvals) — re-runs on a lost race. Typed with ParamSpec, so callers and "go to
definition" see the method's own parameters after the CommandContext."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from application.shared.hot import HotAggregates
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import ConcurrencyConflictError

P = ParamSpec("P")
R = TypeVar("R")


class HasHotCache(Protocol):
    """A use-case class whose host keeps the instances in memory (FlowsApplication.hot)."""
    hot: HotAggregates


S = TypeVar("S", bound=HasHotCache)
ATTEMPTS = 8  # a commuting action retried this often on lost races before the 409 stands


def instance_command(*, commutes: bool = False, hot: bool = True) -> Callable[
        [Callable[Concatenate[S, P], R]], Callable[Concatenate[S, CommandContext, P], R]]:
    """``hot``: may start from the cached instance (only for commands that always write or refuse:
    one that may end without writing would leave the cache without it). ``commutes``: retried on a
    lost race; the domain refuses the actions that do not commute (an any-sign task decided
    meanwhile answers 409)."""

    def wrap(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, CommandContext, P], R]:
        attempts = ATTEMPTS if commutes else 1

        @functools.wraps(method)
        def run(self: S, ctx: CommandContext, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if not isinstance(ctx, CommandContext):
                raise TypeError(f"{method.__qualname__} needs a CommandContext first")
            with acting_as(ctx):
                for attempt in range(attempts):
                    try:
                        if hot:
                            return self.hot.run(lambda: method(self, *args, **kwargs))
                        return method(self, *args, **kwargs)
                    except ConcurrencyConflictError:
                        if attempt == attempts - 1:
                            raise
            raise AssertionError("unreachable")

        return run

    return wrap
