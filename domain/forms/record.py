"""Form record: the data of one submission of a business type's form, pinned to a version.
Every save records the RFC 6902 patch from the previous data, the old values it replaced,
who saved it and at which node, and the data-source values that fed computed fields."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.shared.aggregate import LedgerAggregate


class FormRecord(LedgerAggregate):
    class Started(LedgerAggregate.Created):
        business_type_id: UUID
        business_type: str
        form_version: int
        subject: str
        business_line: str
        fund_account: str | None
        department_id: UUID | None
        data: dict[str, Any]
        node: str | None
        inputs: dict[str, Any]

    @event(Started)
    def __init__(self, business_type_id: UUID, business_type: str, form_version: int, subject: str,
                 business_line: str, fund_account: str | None, department_id: UUID | None,
                 data: dict[str, Any], node: str | None, inputs: dict[str, Any]):
        self.business_type_id, self.business_type = business_type_id, business_type
        self.form_version, self.subject, self.business_line = form_version, subject, business_line
        self.fund_account, self.department_id = fund_account, department_id
        self.data, self.node = data, node

    class Saved(LedgerAggregate.Event):
        patch: list[dict[str, Any]]
        old_values: dict[str, Any]
        data: dict[str, Any]
        node: str | None
        inputs: dict[str, Any]

    @event(Saved)
    def save(self, patch: list[dict[str, Any]], old_values: dict[str, Any], data: dict[str, Any],
             node: str | None, inputs: dict[str, Any]) -> None:
        self.data, self.node = data, node
