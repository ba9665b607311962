"""An employee as the leads context needs to know them: their department, and whether they can
receive leads of a line now (the ``Staff`` port in application/leads/staff.py answers it)."""
from __future__ import annotations

from dataclasses import dataclass

from domain.shared.errors import RuleViolationError


@dataclass(frozen=True)
class Employee:
    department_id: str
    unavailable: str | None = None  # why the employee cannot receive leads of the line; None: able


class AssigneeUnavailableError(RuleViolationError):
    """A lead given by hand to an employee who cannot receive leads of its line now."""

    code = "assignee_unavailable"
