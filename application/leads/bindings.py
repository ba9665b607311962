"""渠道1.0 bindings: a phone bound to an account manager, an IB or a branch (firm-wide)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timezone
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from application.leads.inputs import BindingRow, first_error
from application.leads.ports import SaveAll
from application.shared.base import CommandResult, Loader, command
from domain.leads.binding import Binding, binding_id
from domain.leads.phone import InvalidPhoneError, normalise_phone
from domain.shared.aggregate import LedgerAggregate
from domain.shared.errors import NotFoundError


class Bindings:
    load: Loader
    save_all: SaveAll
    save_one: Callable[[LedgerAggregate], CommandResult]
    exists: Callable[[UUID], bool]
    existing: Callable[[Iterable[UUID]], set[UUID]]
    now_iso: Callable[[], str]

    # -- bindings (渠道1.0) ------------------------------------------------------------------------
    @command
    def import_bindings(self, rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
        """Bindings of phones to account managers / IBs / branches; per-row results."""
        results: list[dict[str, Any]] = []
        pending: dict[str, dict[str, Any]] = {}
        departments: dict[str, bool] = {}
        for n, raw in enumerate(rows, start=1):
            try:
                row = BindingRow.model_validate(raw)
            except ValidationError as exc:
                results.append({"row": n, "status": "rejected", "reason": first_error(exc)})
                continue
            try:
                phone = normalise_phone(row.phone)
            except InvalidPhoneError as exc:
                results.append({"row": n, "status": "rejected", "reason": exc.message})
                continue
            department = None
            if row.department_id is not None:
                department = str(row.department_id)
                if department not in departments:
                    departments[department] = self.exists(row.department_id)
                if not departments[department]:
                    results.append({"row": n, "status": "rejected",
                                    "reason": f"department {department} does not exist"})
                    continue
            pending[phone] = {"kind": row.kind, "holder": row.holder, "department_id": department,
                              "bound_at": row.bound_at.astimezone(timezone.utc).isoformat() if row.bound_at else None}
            results.append({"row": n, "status": "accepted", "phone": phone})
        known = self.existing(binding_id(p) for p in pending)
        aggregates = []
        for phone, entry in pending.items():
            bound_at = entry["bound_at"] or self.now_iso()
            if binding_id(phone) in known:
                binding = self.load(binding_id(phone), Binding)
                binding.rebind(phone, entry["kind"], entry["holder"], entry["department_id"], bound_at, source)
            else:
                binding = Binding.create(phone, entry["kind"], entry["holder"], entry["department_id"], bound_at,
                                         source)
            aggregates.append(binding)
        if aggregates:
            self.save_all(*aggregates)
        return results

    @command
    def unbind(self, phone: str, reason: str) -> CommandResult:
        """Remove the 渠道1.0 binding of a phone (recorded with the reason)."""
        normalised = self._phone(phone)
        try:
            binding = self.load(binding_id(normalised), Binding)
        except NotFoundError:
            raise NotFoundError(f"{normalised} is not bound", field="phone") from None
        binding.unbind(reason)
        return self.save_one(binding)

    @staticmethod
    def _phone(raw: str) -> str:
        try:
            return normalise_phone(raw)
        except InvalidPhoneError as exc:
            raise InvalidPhoneError(exc.message, field="phone") from None

    def bindings(self, phones: Iterable[str]) -> dict[str, Binding]:
        ids = {binding_id(p): p for p in phones}
        out = {}
        for found in self.existing(ids):
            binding = self.load(found, Binding)
            if binding.active:
                out[binding.phone] = binding
        return out

