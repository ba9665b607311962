"""Which resource (for field rules) and which data scope each aggregate type belongs to,
so that trails and past states are filtered exactly like the context's own reads.
Contexts register their aggregates here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.access.business_line import BusinessLine
from domain.access.credentials import ApiToken, Session
from domain.access.delegation import DelegationGrant
from domain.access.department import Department
from domain.access.field_rule import FieldRule
from domain.access.operator import Operator
from domain.access.role import Role
from domain.flows.definition import FlowDefinition
from domain.flows.instance import FlowInstance
from domain.flows.migration_record import InstanceMigration
from domain.forms.business_type import BusinessType
from domain.forms.customer import Customer
from domain.forms.data_source import DataSource
from domain.forms.record import FormRecord
from domain.leads.binding import Binding
from domain.leads.channel import Channel
from domain.leads.lead import Lead
from domain.leads.rulebook import RuleBook
from domain.leads.segment import Segment, SopClaim, SopTask
from domain.leads.settings import LeadSettings
from domain.shared.ids import natural_id


def _lead_department(lead: Lead) -> UUID | None:
    return UUID(lead.department_id) if lead.department_id else None


def _customer_department(customer: Customer) -> UUID | None:
    code = customer.profile.get("department_code")
    return natural_id("department", code) if code else None


@dataclass(frozen=True)
class AuditedResource:
    resource: str
    department_of: Callable[[Any], UUID | None] = lambda aggregate: None
    account_of: Callable[[Any], str | None] = lambda aggregate: None
    admin_only: bool = False  # catalogue records: visible to whoever may audit, not scope-bound
    line_only: bool = False   # configuration of a business line: visible to that line's auditors


RESOURCES: dict[type, AuditedResource] = {
    Department: AuditedResource("access.department", department_of=lambda a: a.id),
    Operator: AuditedResource("access.operator", department_of=lambda a: a.department_id),
    Role: AuditedResource("access.role", admin_only=True),
    BusinessLine: AuditedResource("access.business_line", admin_only=True),
    FieldRule: AuditedResource("access.field_rule", admin_only=True),
    Session: AuditedResource("access.session", admin_only=True),
    ApiToken: AuditedResource("access.api_token", admin_only=True),
    DelegationGrant: AuditedResource("access.delegation", admin_only=True),
    BusinessType: AuditedResource("forms.business_type", line_only=True),
    FlowDefinition: AuditedResource("flows.definition", line_only=True),
    FlowInstance: AuditedResource("flows.instance", department_of=lambda a: a.department_id,
                                  account_of=lambda a: a.fund_account),
    InstanceMigration: AuditedResource("flows.migration", line_only=True),  # ids and nodes, no titles
    DataSource: AuditedResource("forms.data_source", admin_only=True),
    FormRecord: AuditedResource("forms.record", department_of=lambda a: a.department_id,
                                account_of=lambda a: a.fund_account),
    Customer: AuditedResource("forms.customer", department_of=_customer_department,
                              account_of=lambda a: a.fund_account),
    Lead: AuditedResource("leads.lead", department_of=_lead_department),
    Channel: AuditedResource("leads.channel", line_only=True),
    LeadSettings: AuditedResource("leads.settings", line_only=True),
    RuleBook: AuditedResource("leads.rulebook", line_only=True),
    Segment: AuditedResource("leads.segment", line_only=True),
    SopTask: AuditedResource("leads.sop_task", line_only=True),
    SopClaim: AuditedResource("leads.sop_claim", line_only=True),
    Binding: AuditedResource("leads.binding", admin_only=True),  # firm-wide, keyed by phone
}


def resource_of(aggregate: Any) -> AuditedResource | None:
    return RESOURCES.get(type(aggregate))
