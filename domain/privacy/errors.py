"""Errors of the privacy context."""
from __future__ import annotations

from domain.shared.errors import RuleViolationError


class SubjectErasedError(RuleViolationError):
    """Personal data of an erased subject cannot be recorded again under the same subject."""

    code = "subject_erased"
