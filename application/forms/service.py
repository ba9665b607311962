"""The forms context's Application: business types and versions, data sources, form records,
customer directory sync."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.access.policy import SECRET_FIELDS, Policy
from application.forms.customer_lookup import CustomerFound, CustomerLookup
from application.forms.engine.schema import CompiledForm, FormSchemaError, compile_form, validate
from application.forms.engine.sql_guard import UnsafeSqlError, check_select, referenced_columns, scope_plan
from application.shared.base import CommandResult, LedgerApplication, command
from domain.access.masking import FieldRuleView, apply_rules
from domain.forms.business_type import BusinessType
from domain.forms.checked_sql import CheckedSql, DataSourceLimitError, RowScope
from domain.forms.customer import Customer
from domain.forms.data_source import DataSource
from domain.forms.diff import patch_with_old_values
from domain.forms.paths import numbers_as_declared
from domain.forms.record import FormRecord
from domain.shared.errors import InvalidInputError, NotFoundError, RuleViolationError
from domain.shared.ids import natural_id

MAX_CACHE_SECONDS = 86_400
CUSTOMER = "forms.customer"  # the field rules that customer rows of data sources obey


class HiddenFieldInQueryError(RuleViolationError):
    """The data source uses, other than as plain output, a column hidden or masked for the caller
    (HTTP 422): its rows would answer questions about the hidden value."""

    code = "data_source_uses_hidden_field"


class FormsApplication(LedgerApplication):
    name = "forms"

    def __init__(self, store: Any, *, allowed_tables: set[str], sql_runner: Any = None,
                 customer_lookup: CustomerLookup | None = None,
                 max_timeout_ms: int = 2000, max_rows: int = 500):
        super().__init__(store)
        self.allowed_tables = allowed_tables
        self.sql_runner = sql_runner
        self.customer_lookup = customer_lookup
        self.max_timeout_ms, self.max_rows = max_timeout_ms, max_rows
        self._compiled: dict[tuple[str, int, str], CompiledForm] = {}
        self._shapes: dict[tuple[str, str], dict[str, Any]] = {}  # definitions stored without a column map
        self._lock = threading.Lock()

    # -- business types ---------------------------------------------------------------------
    def business_type(self, code: str, expected_version: int | None = None) -> BusinessType:
        return self.load(natural_id("business_type", code), BusinessType,
                         expected_version=expected_version, what=f"business type {code!r}")

    def current_business_type(self, code: str) -> BusinessType:
        """Read-only and shared (see LedgerApplication.read_current): for flow starts."""
        return self.read_current(natural_id("business_type", code), BusinessType, what=f"business type {code!r}")

    @command
    def create_business_type(self, code: str, name: str, business_line: str, description: str,
                             subjects: list[str]) -> CommandResult:
        return self._create_business_type(code, name, business_line, description, subjects)

    def _create_business_type(self, code: str, name: str, business_line: str, description: str,
                              subjects: list[str]) -> CommandResult:
        if not self.exists(natural_id("business_line", business_line)):
            raise NotFoundError(f"unknown business line {business_line!r}", field="business_line")
        business_type = BusinessType.create(code, name, business_line, description, subjects)
        return self.create_unique(business_type, f"business type {code!r}")

    @command
    def save_draft(self, code: str, subject: str, schema: dict[str, Any], expected_version: int | None,
                   check: bool = False) -> CommandResult:
        """Drafts may be incomplete while an admin designs them; ``check`` reports problems now."""
        if check:
            self._check(schema, subject)
        business_type = self.business_type(code, expected_version)
        business_type.save_draft(subject, schema)
        return self.save_one(business_type)

    @command
    def publish(self, code: str, expected_version: int | None) -> tuple[CommandResult, int]:
        business_type = self.business_type(code, expected_version)
        problems: list[dict[str, str]] = []
        for subject, schema in sorted(business_type.drafts.items()):
            try:
                self._check(schema, subject)
            except InvalidInputError as exc:
                problems += exc.errors
        if problems:
            raise InvalidInputError(f"{len(problems)} problem(s) in the drafts; nothing was published", problems,
                                    code="invalid_form_schema")
        number = business_type.publish()
        return self.save_one(business_type), number

    @staticmethod
    def _check(schema: Any, subject: str) -> CompiledForm:
        try:
            return compile_form(schema)
        except FormSchemaError as exc:
            raise InvalidInputError(
                f"the {subject} form has {len(exc.problems)} problem(s)",
                [{"path": f"{subject}:{p.path}", "subject": subject, "field": p.path, "message": p.message}
                 for p in exc.problems], code="invalid_form_schema") from None

    def compiled(self, code: str, number: int, subject: str) -> CompiledForm:
        """Compiled once per published version (versions never change, so the cache is exact)."""
        key = (code, number, subject)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_form(self.business_type(code).form(number, subject))
            return self._compiled[key]

    @command
    def import_business_type(self, exported: dict[str, Any]) -> CommandResult:
        """Create a business type from an export, with its latest forms as drafts."""
        try:
            code, forms = exported["code"], exported["forms"]
            result = self._create_business_type(code, exported["name"], exported["business_line"],
                                                exported.get("description", ""), sorted(forms))
        except (KeyError, TypeError) as exc:
            raise RuleViolationError(f"not a business-type export: missing {exc}") from None
        business_type = self.business_type(code)
        for subject, schema in forms.items():
            business_type.save_draft(subject, schema)
        return self.save_one(business_type) if business_type.pending_events else result

    # -- validation and records -------------------------------------------------------------------
    def check_submission(self, code: str, number: int, subject: str, data: Any,
                         context: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
        compiled = self.compiled(code, number, subject)
        cleaned, errors = validate(compiled, numbers_as_declared(compiled.schema, data), context)
        return cleaned, [vars(e) for e in errors]

    def validated(self, code: str, number: int, subject: str, data: Any,
                  context: dict[str, Any]) -> dict[str, Any]:
        """The data with computed values applied, or InvalidInputError listing every field error."""
        cleaned, errors = self.check_submission(code, number, subject, data, context)
        if errors:
            raise InvalidInputError(f"{len(errors)} field(s) need attention", errors, code="invalid_form_data")
        return cleaned

    @command
    def start_record(self, code: str, subject: str, data: dict[str, Any], *, version: int | None = None,
                     fund_account: str | None = None, department_id: UUID | None = None,
                     node: str | None = None, context: dict[str, Any] | None = None) -> CommandResult:
        business_type = self.business_type(code)
        if not business_type.versions:
            raise RuleViolationError(f"business type {code!r} has no published version yet")
        number = version or business_type.versions[-1]["number"]
        business_type.published_version(number)
        context = context or {}
        cleaned = self.validated(code, number, subject, data, context)
        record = FormRecord(business_type_id=business_type.id, business_type=code, form_version=number, subject=subject,
                            business_line=business_type.business_line, fund_account=fund_account,
                            department_id=department_id, data=cleaned, node=node, inputs=context.get("ds", {}))
        return self.save_one(record)

    def record(self, record_id: UUID, expected_version: int | None = None) -> FormRecord:
        return self.load(record_id, FormRecord, expected_version=expected_version, what=f"form record {record_id}")

    @command
    def save_record(self, record_id: UUID, data: dict[str, Any], node: str | None, expected_version: int | None,
                    context: dict[str, Any] | None = None) -> CommandResult:
        record = self.record(record_id, expected_version)
        context = context or {}
        cleaned = self.validated(record.business_type, record.form_version, record.subject, data, context)
        patch, old_values = patch_with_old_values(record.data, cleaned)
        if not patch:
            raise RuleViolationError("nothing changed")
        record.save(patch=patch, old_values=old_values, data=cleaned, node=node, inputs=context.get("ds", {}))
        return self.save_one(record)

    # -- data sources ---------------------------------------------------------------------------
    def _checked_config(self, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        if kind == "static":
            options = config.get("options")
            if not isinstance(options, list) or not all(isinstance(o, dict) and "value" in o for o in options):
                raise RuleViolationError("static options are [{value, label}]", field="config.options")
            return {"options": options}
        if kind == "customer":
            return {}
        sql = config.get("sql")
        if not isinstance(sql, str):
            raise RuleViolationError("an SQL data source needs config.sql", field="config.sql")
        try:
            checked = check_select(sql, self.allowed_tables)
        except UnsafeSqlError as exc:
            raise RuleViolationError(f"unsafe SQL: {exc}", field="config.sql") from None
        timeout = int(config.get("timeout_ms", self.max_timeout_ms))
        rows = int(config.get("row_limit", self.max_rows))
        if not 1 <= timeout <= self.max_timeout_ms:
            raise RuleViolationError(f"timeout_ms must be 1..{self.max_timeout_ms}", field="config.timeout_ms")
        if not 1 <= rows <= self.max_rows:
            raise RuleViolationError(f"row_limit must be 1..{self.max_rows}", field="config.row_limit")
        cache = int(config.get("cache_seconds", 60))
        if not 0 <= cache <= MAX_CACHE_SECONDS:
            raise RuleViolationError(f"cache_seconds must be 0..{MAX_CACHE_SECONDS}", field="config.cache_seconds")
        connection = config.get("connection", "main")
        shape = self._shape(checked, connection, timeout)
        return {"sql": sql, "connection": connection, "timeout_ms": timeout, "row_limit": rows,
                "cache_seconds": cache, **shape}

    def _shape(self, checked: CheckedSql, connection: str, timeout_ms: int) -> dict[str, Any]:
        """What the database says the query outputs, and how its rows are scoped (sql_guard.scope_plan);
        RuleViolationError on config.sql for a query whose rows cannot be scoped."""
        try:
            columns, tables = self.sql_runner.describe(checked, connection=connection, timeout_ms=timeout_ms)
            plan = scope_plan(columns, tables)
        except (UnsafeSqlError, DataSourceLimitError) as exc:
            raise RuleViolationError(f"unsafe SQL: {exc}", field="config.sql") from None
        return {"columns": columns, "customer_data": plan["customer_data"], "scope": plan["checks"]}

    @command
    def define_data_source(self, key: str, name: str, kind: str, config: dict[str, Any]) -> CommandResult:
        source = DataSource.define(key, name, kind, {} if kind not in ("static", "customer", "sql")
                                   else self._checked_config(kind, config))
        return self.create_unique(source, f"data source {key!r}")

    def query_data_source_for(self, policy: Policy, key: str, params: dict[str, Any]) -> dict[str, Any]:
        """A data source as the caller may see it: customer rows only within the caller's data scope,
        enforced twice: by the database (row-level security on the caller's RowScope) and here (by
        the scope columns found at definition); the forms.customer field rules apply by the rows'
        SOURCE column names; rows that cannot be scoped are never returned. A query that uses a
        column hidden or masked for the caller anywhere but as plain output (a WHERE, a join, an
        ORDER BY, a subquery...) is refused for that caller (HiddenFieldInQueryError): its rows
        would reveal the value. The cache is per scope, and filtering happens here after it."""
        source = self._source(key)
        if source.kind == "static":
            return self._rows(source, params)
        if source.kind == "customer":
            result = self._rows(source, params)
            return {"rows": [policy.present(CUSTOMER, r) for r in result["rows"]
                             if policy.sees(department_id=_uuid(r.get("department_id")),
                                            investor_account=r.get("fund_account"))], "cached": result["cached"]}
        shape = self._stored_shape(key, source.config)  # before running: an unscopable query never runs
        rules = policy.rules(CUSTOMER)
        if shape["customer_data"]:
            self._require_no_hidden_field_used(key, source.config["sql"], shape["columns"], rules)
        result = self._rows(source, params, scope=row_scope(policy))
        rows = [{k: v for k, v in r.items() if k not in SECRET_FIELDS} for r in result["rows"]]
        if shape["customer_data"]:
            if not shape["scope"]:  # never for a definition checked by scope_plan
                raise RuleViolationError(f"data source {key!r} cannot be scoped; redefine it", field="key")
            output_rules = _rules_by_source(rules, shape["columns"])
            rows = [apply_rules(r, output_rules) for r in rows if all(
                policy.sees(department_id=_uuid(r.get(c["department_id"])) if c["department_id"] else None,
                            investor_account=_text(r.get(c["fund_account"])) if c["fund_account"] else None)
                for c in shape["scope"])]
        return {"rows": rows, "cached": result["cached"]}

    @staticmethod
    def _require_no_hidden_field_used(key: str, sql: str, columns: list[dict[str, Any]],
                                      rules: list[FieldRuleView]) -> None:
        """HiddenFieldInQueryError if the query uses a hidden or masked column other than as plain
        output (sql_guard.referenced_columns; an output alias counts as its source column)."""
        concealed = {r.field.lower() for r in rules if r.effect in ("hidden", "masked")}
        if not concealed:
            return
        try:
            used = set(referenced_columns(sql))
        except Exception:  # a query the parser cannot read is refused, never run
            used = {"*"}
        sources = {c["name"].lower(): (c.get("column") or c["name"]).lower() for c in columns}
        used |= {sources[name] for name in used if name in sources}
        blocked = sorted(concealed if "*" in used else concealed & used)
        if blocked:
            raise HiddenFieldInQueryError(
                f"data source {key!r} uses the field {blocked[0]!r}, which is hidden or masked for you, in a"
                " condition, join, ordering or subquery; its rows would reveal it", field=blocked[0])

    def _stored_shape(self, key: str, config: dict[str, Any]) -> dict[str, Any]:
        if "columns" in config:
            return config
        cache_key = (key, config["sql"])
        if cache_key not in self._shapes:  # stored before definitions carried their column map
            try:
                checked = check_select(config["sql"], self.allowed_tables)
                self._shapes[cache_key] = self._shape(checked, config["connection"], config["timeout_ms"])
            except (UnsafeSqlError, RuleViolationError) as exc:
                problem = getattr(exc, "message", exc)
                raise RuleViolationError(f"data source {key!r} cannot be scoped ({problem}); redefine it",
                                         field="key") from None
        return self._shapes[cache_key]

    def query_data_source(self, key: str, params: dict[str, Any]) -> dict[str, Any]:
        """Unfiltered rows (every customer row), for the system itself (flow branch conditions);
        callers use query_data_source_for."""
        return self._rows(self._source(key), params, scope=RowScope.everything())

    def _source(self, key: str) -> DataSource:
        try:
            return self.load(natural_id("data_source", key), DataSource)
        except NotFoundError:
            raise NotFoundError(f"data source {key!r} does not exist") from None

    def _rows(self, source: DataSource, params: dict[str, Any], *, scope: RowScope | None = None) -> dict[str, Any]:
        if source.kind == "static":
            return {"rows": source.config["options"], "cached": False}
        if source.kind == "customer":
            account = str(params.get("fund_account", ""))
            found = self.customer(account)
            return {"rows": [found.row] if found else [], "cached": False}
        config = source.config
        try:  # re-checked: the allow-list may have shrunk
            checked = check_select(config["sql"], self.allowed_tables)
        except UnsafeSqlError as exc:
            raise RuleViolationError(f"data source {source.key!r} is no longer allowed: {exc}", field="key") from None
        try:
            rows, cached = self.sql_runner.run(source.key, checked, params, connection=config["connection"],
                                               timeout_ms=config["timeout_ms"], row_limit=config["row_limit"],
                                               cache_seconds=config["cache_seconds"], scope=scope)
        except DataSourceLimitError as exc:
            raise RuleViolationError(str(exc), field="params") from None
        return {"rows": rows, "cached": cached}

    # -- customers ------------------------------------------------------------------------------
    def customer(self, fund_account: str) -> CustomerFound | None:
        """The customer of a fund account, live from the account-opening system when one is
        configured, else from the synced copy (CustomerLookup.find; the answer says which). Callers
        apply the data scope and field rules to the row, whichever source it came from."""
        return self.customer_lookup.find(fund_account) if self.customer_lookup else None

    @command
    def sync_customers(self, profiles: Any, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        counts = {"registered": 0, "updated": 0, "unchanged": 0}
        batch: list[Customer] = []
        for i, profile in enumerate(profiles, 1):
            customer_id = natural_id("customer", profile["fund_account"])
            if self.exists(customer_id):
                customer = self.load(customer_id, Customer)
                if customer.erased:  # its personal data was erased: never taken in again (ADR 0028)
                    counts["erased"] = counts.get("erased", 0) + 1
                elif customer.sync(profile):
                    batch.append(customer)
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            else:
                batch.append(Customer.register(profile["fund_account"], profile))
                counts["registered"] += 1
            if len(batch) >= 200:
                self.save_all(*batch)
                batch = []
            if progress:
                progress(i)
        if batch:
            self.save_all(*batch)
        return counts


def row_scope(policy: Policy) -> RowScope:
    """The customer rows a caller's data sources may read, as plain data for the runner."""
    principal = policy.principal
    if principal.departments is None:
        return RowScope.everything()
    return RowScope(False, tuple(sorted(principal.departments, key=str)), tuple(sorted(principal.investor_accounts)))


def _uuid(value: Any) -> UUID | None:
    """A department id as the policy compares it (cached rows carry it as text)."""
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _rules_by_source(rules: list[FieldRuleView], columns: list[dict[str, Any]]) -> list[FieldRuleView]:
    """The caller's field rules re-aimed at output columns: a rule on ``id_number`` applies to every
    output column whose source column (or, failing a source, whose name) is ``id_number``."""
    out = []
    for column in columns:
        source = column.get("column") or column["name"]
        for rule in rules:
            if rule.field in (source, column["name"]):
                out.append(FieldRuleView(rule.resource, column["name"], rule.effect, rule.mask, frozenset(),
                                         frozenset(), frozenset(), frozenset()))
    # hidden first: a column both hidden and masked is removed, never masked
    return sorted(out, key=lambda r: r.effect != "hidden")
