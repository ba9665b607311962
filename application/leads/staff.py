"""Who may receive leads: the employees a rule names, as the access context knows them now.

A port (ADR 0013): the composition root gives the leads application an implementation over the
access context (``infrastructure/leads/staff.py``); without one, every employee counts as able
and a lead stays in the rule's department."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from domain.leads.employee import Employee

__all__ = ["Employee", "EveryoneAvailable", "Staff"]


class Staff(Protocol):
    def employees(self, members: Iterable[str], business_line: str) -> dict[str, Employee]:
        """The existing employees among ``members`` (``operator:<login>``; department members
        are ignored), each with their department and whether they can receive leads of
        ``business_line``: active, working in the line, holding a leads permission."""
        ...


class EveryoneAvailable:
    """No lookup (applications built without the access context, e.g. benches)."""

    def employees(self, members: Iterable[str], business_line: str) -> dict[str, Employee]:
        return {}
