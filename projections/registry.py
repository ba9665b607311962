"""Every projection the service runs, by name. Later contexts append theirs."""
from __future__ import annotations

from projections.access.departments import DepartmentsProjection
from projections.access.principals import PrincipalsProjection
from projections.agreements.catalogue import AgreementsProjection
from projections.analytics.event_facts import EventFactsSink
from projections.analytics.flow_decisions import FlowDecisionsSink
from projections.analytics.flow_facts import FlowFactsSink
from projections.analytics.lead_conversion import LeadConversionSink
from projections.archive.documents import ArchiveDocumentsProjection
from projections.archive.filing import ArchiveFilingProcess, Archiver
from projections.compliance.screenings import ComplianceProjection
from projections.feerates.templates import FeeRateTemplatesProjection
from projections.flows.definitions import FlowDefinitionsProjection
from projections.flows.instances import FlowInstancesProjection
from projections.flows.migrations import FlowMigrationsProjection
from projections.flows.reports import FlowReportsProjection
from projections.forms.catalogue import FormsCatalogueProjection
from projections.forms.records import FormRecordsProjection
from projections.framework import ClickHouseSink, PostgresProjection
from projections.leads.leads import LeadsProjection
from projections.notifications.delivery import DeliveryRules
from projections.notifications.inbox import NotificationsProjection
from projections.signatures.requests import SigningRequestsProjection


def all_projections(archiver: Archiver | None = None, notifications: DeliveryRules | None = None
                    ) -> list[PostgresProjection | ClickHouseSink]:
    """``archiver``: the automatic-archiving command port (ArchiveFilingProcess); None to list them.
    ``notifications``: the firm's notification policy and limits from settings (defaults: none)."""
    return [DepartmentsProjection(), PrincipalsProjection(), FormsCatalogueProjection(), FormRecordsProjection(),
            FlowDefinitionsProjection(), FlowInstancesProjection(), EventFactsSink(), FlowDecisionsSink(),
            FlowFactsSink(),  # the event store and the calendar are given at composition
            ArchiveDocumentsProjection(), ArchiveFilingProcess(archiver), LeadsProjection(), LeadConversionSink(),
            FlowMigrationsProjection(),  # after flows.instances: it indexes flows_instances
            FlowReportsProjection(),
            NotificationsProjection(notifications),  # after flows.instances and leads (ADR 0015)
            AgreementsProjection(),
            SigningRequestsProjection(),
            ComplianceProjection(),  # AML screening (ADR 0020)
            FeeRateTemplatesProjection()]
