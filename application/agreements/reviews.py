"""Section reviews (004 §5.2 marks, §7.3 approval rights, §7.2 批注): the owning department approves or
rejects its sections; every department involved comments on any section. The roles come from the
caller's principal; the aggregate decides what they allow."""
from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from application.shared.base import CommandResult, command
from domain.agreements.agreement import Agreement


class Reviews:
    # from the host
    agreement: Callable[..., Agreement]
    save_one: Callable[..., CommandResult]

    @command
    def approve_section(self, agreement_id: UUID, number: int, section: str, roles: frozenset[str], comment: str,
                        expected_version: int | None = None) -> CommandResult:
        agreement = self.agreement(agreement_id, expected_version)
        agreement.approve_section(number, section, roles, comment)
        return self.save_one(agreement)

    @command
    def reject_section(self, agreement_id: UUID, number: int, section: str, roles: frozenset[str], reason: str,
                       expected_version: int | None = None) -> CommandResult:
        agreement = self.agreement(agreement_id, expected_version)
        agreement.reject_section(number, section, roles, reason)
        return self.save_one(agreement)

    @command
    def comment_section(self, agreement_id: UUID, number: int, section: str, roles: frozenset[str], text: str,
                        expected_version: int | None = None) -> CommandResult:
        agreement = self.agreement(agreement_id, expected_version)
        agreement.comment_section(number, section, roles, text)
        return self.save_one(agreement)
