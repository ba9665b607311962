"""Read models of the forms context: business types, published versions, data sources, customers."""
from __future__ import annotations

from domain.forms.business_type import BusinessType
from domain.forms.customer import Customer
from domain.forms.data_source import DataSource
from domain.privacy.erasure import Erasure
from domain.privacy.personal import ERASED
from domain.shared.ids import natural_id
from projections.framework import PostgresProjection, SqlWriter, handles, json_text

_PERSONAL_COLUMNS = ("name", "id_number", "phone")
_MARKER = f"'{ERASED}'"  # a constant, inlined (the statement's parameters are positional)
_ROW_ERASED = (f"(forms_customers.customer_id = EXCLUDED.customer_id AND {_MARKER} IN ("
               + ", ".join(f"forms_customers.{c}" for c in _PERSONAL_COLUMNS) + "))")
_KEEP_ERASED = ", ".join(f"{c} = CASE WHEN EXCLUDED.{c} IS NOT NULL AND {_ROW_ERASED} THEN {_MARKER}"
                         f" ELSE EXCLUDED.{c} END" for c in _PERSONAL_COLUMNS)


class FormsCatalogueProjection(PostgresProjection):
    name = "forms.catalogue"
    tables = ("forms_business_types", "forms_versions", "forms_data_sources", "forms_customers")
    schema = (
        "CREATE TABLE IF NOT EXISTS forms_business_types (id uuid PRIMARY KEY, code text UNIQUE NOT NULL,"
        " name text NOT NULL, business_line text NOT NULL, description text NOT NULL, subjects text[] NOT NULL,"
        " drafts jsonb NOT NULL DEFAULT '{}', latest_version int NOT NULL DEFAULT 0, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS forms_versions (business_type_id uuid NOT NULL, number int NOT NULL,"
        " forms jsonb NOT NULL, published_at timestamptz NOT NULL, published_by text NOT NULL,"
        " PRIMARY KEY (business_type_id, number))",
        "CREATE TABLE IF NOT EXISTS forms_data_sources (id uuid PRIMARY KEY, key text UNIQUE NOT NULL,"
        " name text NOT NULL, kind text NOT NULL, config jsonb NOT NULL, version int NOT NULL)",
        "CREATE TABLE IF NOT EXISTS forms_customers (fund_account text PRIMARY KEY, name text, subject text,"
        " id_type text, id_number text, phone text, department_id uuid, account_manager text, opened_on text,"
        " status text, risk_level text, updated_at timestamptz NOT NULL, position bigint NOT NULL)",
        # The customer aggregate's id, so an erasure (which names the subject by it) finds the row.
        "ALTER TABLE forms_customers ADD COLUMN IF NOT EXISTS customer_id uuid",
        "CREATE INDEX IF NOT EXISTS forms_customers_customer_id ON forms_customers (customer_id)",
    )

    @handles(BusinessType.Created)
    def created(self, w: SqlWriter, e: BusinessType.Created, position: int) -> None:
        w.execute("INSERT INTO forms_business_types (id, code, name, business_line, description, subjects, version,"
                  " updated_at, position) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.code, e.name, e.business_line, e.description, e.subjects,
                   e.originator_version, e.timestamp, position))

    @handles(BusinessType.DraftSaved)
    def draft(self, w: SqlWriter, e: BusinessType.DraftSaved, position: int) -> None:
        w.execute("UPDATE forms_business_types SET drafts = jsonb_set(drafts, ARRAY[%s], %s::jsonb), version = %s,"
                  " updated_at = %s, position = %s WHERE id = %s",
                  (e.subject, json_text(e.schema), e.originator_version, e.timestamp, position, e.originator_id))

    @handles(BusinessType.Published)
    def published(self, w: SqlWriter, e: BusinessType.Published, position: int) -> None:
        w.execute("INSERT INTO forms_versions VALUES (%s, %s, %s::jsonb, %s, %s)",
                  (e.originator_id, e.number, json_text(e.forms), e.timestamp, e.actor))
        w.execute("UPDATE forms_business_types SET latest_version = %s, version = %s, updated_at = %s,"
                  " position = %s WHERE id = %s",
                  (e.number, e.originator_version, e.timestamp, position, e.originator_id))

    @handles(DataSource.Defined)
    def source_defined(self, w: SqlWriter, e: DataSource.Defined, position: int) -> None:
        w.execute("INSERT INTO forms_data_sources VALUES (%s, %s, %s, %s, %s::jsonb, %s)",
                  (e.originator_id, e.key, e.name, e.kind, json_text(e.config), e.originator_version))

    # An update applied after the customer's erasure may still carry clear values (sealed by, or
    # opened in, a process that had the key cached, ADR 0028): an erased row keeps the marker.
    @handles(Customer.Registered, Customer.Updated)
    def customer(self, w: SqlWriter, e: Customer.Registered | Customer.Updated, position: int) -> None:
        p = e.profile
        department = natural_id("department", p["department_code"]) if p.get("department_code") else None
        w.execute("INSERT INTO forms_customers (fund_account, name, subject, id_type, id_number, phone,"
                  " department_id, account_manager, opened_on, status, risk_level, updated_at, position,"
                  " customer_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                  " ON CONFLICT (fund_account) DO UPDATE SET " + _KEEP_ERASED + ", subject = EXCLUDED.subject,"
                  " id_type = EXCLUDED.id_type, department_id = EXCLUDED.department_id,"
                  " account_manager = EXCLUDED.account_manager,"
                  " opened_on = EXCLUDED.opened_on, status = EXCLUDED.status, risk_level = EXCLUDED.risk_level,"
                  " updated_at = EXCLUDED.updated_at, position = EXCLUDED.position,"
                  " customer_id = EXCLUDED.customer_id",
                  (p["fund_account"], p.get("name"), p.get("subject"), p.get("id_type"), p.get("id_number"),
                   p.get("phone"), department, p.get("account_manager"), p.get("opened_on"), p.get("status"),
                   p.get("risk_level"), e.timestamp, position, e.originator_id))

    @handles(Erasure.SubjectErased)
    def erased(self, w: SqlWriter, e: Erasure.SubjectErased, position: int) -> None:
        """The customer's personal columns become the erased marker (ADR 0028)."""
        if e.subject_kind != "customer":
            return
        w.execute("UPDATE forms_customers SET " + ", ".join(
            f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE %(x)s END" for c in _PERSONAL_COLUMNS) +
            " WHERE customer_id = %(id)s", {"x": ERASED, "id": e.subject_id})
