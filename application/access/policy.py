"""The one policy module: every command and query asks it about business lines, data scope,
action permissions and field rules. No endpoint decides access on its own.

Invisible records (another business line, outside the data scope) answer 404, exactly like
records that do not exist, so nobody learns what they may not see; records the caller may
see but not act on answer 403 (ADR 0006).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from domain.access.catalogue import ACTION_KEYS, MENUS
from domain.access.masking import FieldRuleView, apply_rules
from domain.shared.context import CommandContext
from domain.shared.errors import NotFoundError, PermissionDeniedError

R = TypeVar("R")

# Values that never leave the API, whoever asks (credentials).
SECRET_FIELDS = frozenset({"password_hash", "access_hash", "refresh_hash", "token_hash"})


@dataclass(frozen=True)
class Principal:
    actor: str                      # recorded on events: operator:<login>, api_token:<id>, admin:bootstrap
    kind: str                       # operator | api_token | bootstrap | delegated
    permissions: frozenset[str]
    business_lines: frozenset[str] | None = None   # None: every line
    departments: frozenset[UUID] | None = None     # None: every department
    investor_accounts: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    operator_id: UUID | None = None
    department_id: UUID | None = None
    display_name: str | None = None
    session_id: UUID | None = None
    scopes: frozenset[str] = frozenset()
    jurisdiction: tuple[dict[str, Any], ...] = ()
    # API tokens act for the operator who issued them: "yourself" and four-eyes checks compare
    # people, not credentials, so nobody approves their own request with a second token.
    acting_for: UUID | None = None
    issuer_actor: str | None = None
    # A delegated request (kind "delegated", ADR 0016): the API token acting for ``actor``.
    via: str | None = None

    @property
    def self_id(self) -> UUID | None:
        """The operator this request acts as or for."""
        return self.operator_id or self.acting_for

    @property
    def person(self) -> str:
        """Who answers for this request: operator:<login> (also for their tokens) or admin:bootstrap."""
        return self.issuer_actor or self.actor

    @staticmethod
    def bootstrap() -> Principal:
        return Principal(actor="admin:bootstrap", kind="bootstrap", permissions=ACTION_KEYS)


@dataclass
class Policy:
    principal: Principal
    load_rules: Callable[[str], list[FieldRuleView]] = field(default=lambda resource: [])

    # -- who acts ------------------------------------------------------------------------
    def context(self, correlation_id: str, business_line: str | None = None) -> CommandContext:
        return CommandContext(actor=self.principal.actor, correlation_id=correlation_id, business_line=business_line,
                              via=self.principal.via)

    # -- actions ---------------------------------------------------------------------------
    def can(self, action: str) -> bool:
        return action in self.principal.permissions

    def require(self, action: str) -> None:
        if action not in ACTION_KEYS:
            raise ValueError(f"unknown action {action!r}")  # a programming error, never user input
        if not self.can(action):
            raise PermissionDeniedError(f"you lack the permission {action!r}")

    def menus(self) -> list[dict[str, Any]]:
        out = []
        for menu in MENUS:
            actions = [a.key for a in menu.actions if self.can(a.key)]
            if actions:
                out.append({"key": menu.key, "title": menu.title, "actions": actions})
        return out

    # -- records ---------------------------------------------------------------------------
    def sees_line(self, line: str | None) -> bool:
        lines = self.principal.business_lines
        return line is None or lines is None or line in lines

    def sees(self, *, business_line: str | None = None, department_id: UUID | None = None,
             investor_account: str | None = None) -> bool:
        if not self.sees_line(business_line):
            return False
        departments = self.principal.departments
        if departments is None:
            return True
        return (department_id is not None and department_id in departments) or (
            investor_account is not None and investor_account in self.principal.investor_accounts)

    def require_line(self, what: str, line: str | None, field: str | None = None) -> None:
        """404 unless the caller works in ``line`` (records scoped by business line only:
        business types, flow definitions, channels, line configuration)."""
        if not self.sees_line(line):
            raise NotFoundError(f"{what} does not exist", field=field)

    def require_visible(self, what: str, **record: Any) -> None:
        if not self.sees(**record):
            raise NotFoundError(f"{what} does not exist")

    def require_scoped(self, what: str, record: R | None) -> R:
        """404 unless ``record`` exists and lies in the caller's lines and scope. ``record`` is a
        read-model row or an aggregate carrying business_line, department_id and fund_account;
        returns it, known to exist."""
        def get(key: str) -> Any:
            return record.get(key) if isinstance(record, dict) else getattr(record, key, None)

        if record is None or not self.sees(business_line=get("business_line"), department_id=get("department_id"),
                                           investor_account=get("fund_account")):
            raise NotFoundError(f"{what} does not exist")
        return record

    def scope_params(self) -> dict[str, Any]:
        """Parameters for the standard scope predicate of read-model queries:
        ``(%(all_lines)s OR business_line = ANY(%(lines)s)) AND (%(all_departments)s OR
        department_id = ANY(%(departments)s) OR investor_account = ANY(%(accounts)s))``."""
        p = self.principal
        return {
            "all_lines": p.business_lines is None, "lines": sorted(p.business_lines or ()),
            "all_departments": p.departments is None, "departments": sorted(p.departments or ()),
            "accounts": sorted(p.investor_accounts),
        }

    # -- administering other operators --------------------------------------------------------
    def require_grantable(self, permissions: Iterable[str] = (), lines: Iterable[str] = ()) -> None:
        """Nobody hands out permissions or business lines they do not hold themselves."""
        excess = sorted(set(permissions) - self.principal.permissions)
        if self.principal.business_lines is not None:
            excess += sorted(set(lines) - self.principal.business_lines)
        if excess:
            raise PermissionDeniedError(f"you cannot grant what you do not hold: {', '.join(excess)}")

    def require_may_administer(self, target_id: UUID, target_permissions: Iterable[str],
                               target_lines: Iterable[str], *, self_allowed: bool = False) -> None:
        """Changing another operator's credentials, status or grants needs at least their power:
        otherwise a manager could reset an administrator's password and become them."""
        if not self_allowed and target_id == self.principal.self_id:
            raise PermissionDeniedError("you cannot change your own access; ask another administrator")
        try:
            self.require_grantable(target_permissions, target_lines)
        except PermissionDeniedError:
            raise PermissionDeniedError("this operator holds permissions or business lines you do not hold") from None

    def require_scope_covers(self, departments: Iterable[UUID], accounts: Iterable[str] = ()) -> None:
        """Every department (and investor account) must already be in the caller's scope."""
        if self.principal.departments is None:
            return
        departments_out = sum(1 for d in departments if d not in self.principal.departments)
        accounts_out = sorted(a for a in accounts if a not in self.principal.investor_accounts)
        if departments_out or accounts_out:
            # Count, never name, departments the caller cannot see: names would reveal them.
            parts = [f"{departments_out} department(s)"] if departments_out else []
            parts += [f"investor accounts {', '.join(accounts_out)}"] if accounts_out else []
            raise PermissionDeniedError(f"outside your data scope: {' and '.join(parts)}")

    def has_firm_wide_reach(self, all_departments: Iterable[UUID], all_lines: Iterable[str]) -> bool:
        """Every business line and every department of the firm: what changing firm-wide things
        (firm-wide roles, tokens of other reaches) needs."""
        p = self.principal
        lines_ok = p.business_lines is None or set(all_lines) <= p.business_lines
        return lines_ok and (p.departments is None or set(all_departments) <= p.departments)

    def require_firm_wide_reach(self, all_departments: Iterable[UUID], all_lines: Iterable[str], what: str) -> None:
        if not self.has_firm_wide_reach(all_departments, all_lines):
            raise PermissionDeniedError(f"{what} needs firm-wide reach (every department and business line)")

    # -- fields ----------------------------------------------------------------------------
    def rules(self, resource: str) -> list[FieldRuleView]:
        departments = [str(self.principal.department_id)] if self.principal.department_id else []
        return [r for r in self.load_rules(resource) if r.applies(self.principal.roles, departments)]

    def present(self, resource: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as this caller may see it: secrets dropped, hidden fields removed,
        masked fields masked. Every list, detail, export, diff and trail goes through it."""
        clean = {k: v for k, v in record.items() if k not in SECRET_FIELDS}
        return apply_rules(clean, self.rules(resource))

    def present_all(self, resource: str, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        rules = self.rules(resource)
        return [apply_rules({k: v for k, v in r.items() if k not in SECRET_FIELDS}, rules) for r in records]

    def require_editable(self, resource: str, fields: Iterable[str]) -> None:
        """Refuse every *sent* field that is hidden, masked or read-only for the caller, whatever
        its value: answering differently for a right guess would reveal the hidden value."""
        read_only = {r.field for r in self.rules(resource) if r.effect in ("read_only", "hidden", "masked")}
        blocked = sorted(set(fields) & read_only)
        if blocked:
            raise PermissionDeniedError(f"field {blocked[0]!r} is read-only for you", field=blocked[0])
