"""Agreement templates and agreements as rows, for the lists (templates by business type, an
instance's agreements); the documents themselves (sections, reviews) are read from the aggregate."""
from __future__ import annotations

from domain.agreements.agreement import Agreement
from domain.agreements.template import AgreementTemplate
from projections.framework import PostgresProjection, SqlWriter, handles


class AgreementsProjection(PostgresProjection):
    name = "agreements.catalogue"
    tables = ("agreements_templates", "agreements_agreements")
    schema = (
        "CREATE TABLE IF NOT EXISTS agreements_templates (id uuid PRIMARY KEY, key text NOT NULL,"
        " language text NOT NULL, name text NOT NULL, business_type text NOT NULL, business_line text NOT NULL,"
        " latest_version int NOT NULL DEFAULT 0, has_draft boolean NOT NULL DEFAULT false, version int NOT NULL,"
        " updated_at timestamptz NOT NULL, UNIQUE (key, language))",
        "CREATE TABLE IF NOT EXISTS agreements_agreements (id uuid PRIMARY KEY, instance_id uuid NOT NULL,"
        " template_key text NOT NULL, language text NOT NULL, title text NOT NULL, business_type text NOT NULL,"
        " business_line text NOT NULL, department_id uuid, fund_account text, latest_version int NOT NULL DEFAULT 0,"
        " document_id uuid, generated_at timestamptz, version int NOT NULL, created_at timestamptz NOT NULL)",
        "CREATE INDEX IF NOT EXISTS agreements_by_instance ON agreements_agreements (instance_id, created_at, id)",
    )

    @handles(AgreementTemplate.Created)
    def template_created(self, w: SqlWriter, e: AgreementTemplate.Created, position: int) -> None:
        w.execute("INSERT INTO agreements_templates (id, key, language, name, business_type, business_line, version,"
                  " updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                  (e.originator_id, e.key, e.language, e.name, e.business_type, e.business_line,
                   e.originator_version, e.timestamp))

    @handles(AgreementTemplate.DraftSaved)
    def template_draft(self, w: SqlWriter, e: AgreementTemplate.DraftSaved, position: int) -> None:
        w.execute("UPDATE agreements_templates SET has_draft = true, version = %s, updated_at = %s WHERE id = %s",
                  (e.originator_version, e.timestamp, e.originator_id))

    @handles(AgreementTemplate.Published)
    def template_published(self, w: SqlWriter, e: AgreementTemplate.Published, position: int) -> None:
        w.execute("UPDATE agreements_templates SET latest_version = %s, version = %s, updated_at = %s WHERE id = %s",
                  (e.number, e.originator_version, e.timestamp, e.originator_id))

    @handles(Agreement.Created)
    def agreement_created(self, w: SqlWriter, e: Agreement.Created, position: int) -> None:
        w.execute("INSERT INTO agreements_agreements (id, instance_id, template_key, language, title, business_type,"
                  " business_line, department_id, fund_account, version, created_at)"
                  " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                  (e.originator_id, e.instance_id, e.template_key, e.language, e.title, e.business_type,
                   e.business_line, e.department_id, e.fund_account, e.originator_version, e.timestamp))

    @handles(Agreement.Generated)
    def generated(self, w: SqlWriter, e: Agreement.Generated, position: int) -> None:
        w.execute("UPDATE agreements_agreements SET latest_version = %s, document_id = NULL, generated_at = %s,"
                  " version = %s WHERE id = %s", (e.number, e.generated_at, e.originator_version, e.originator_id))

    @handles(Agreement.Filed)
    def filed(self, w: SqlWriter, e: Agreement.Filed, position: int) -> None:
        w.execute("UPDATE agreements_agreements SET document_id = CASE WHEN latest_version = %s THEN %s"
                  " ELSE document_id END, version = %s WHERE id = %s",
                  (e.number, e.document_id, e.originator_version, e.originator_id))

    @handles(Agreement.SectionApproved, Agreement.SectionRejected, Agreement.SectionCommented)
    def reviewed(self, w: SqlWriter, e: Agreement.SectionApproved, position: int) -> None:
        w.execute("UPDATE agreements_agreements SET version = %s WHERE id = %s",
                  (e.originator_version, e.originator_id))
