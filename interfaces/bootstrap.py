"""Composition root: settings -> engines -> event store -> applications -> projections.

Nothing else opens a connection. Tests call ``Container.start`` with other settings.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from application.access.principals import PrincipalResolver
from application.access.service import AccessApplication
from application.agreements.hook import GenerateAgreementHook
from application.agreements.service import AgreementsApplication
from application.archive.exports import ExportLimits
from application.archive.mount import MountLimits
from application.archive.service import ArchiveApplication
from application.audit.anchoring import ChainAnchoring
from application.audit.service import AuditService
from application.calendar.app import CalendarApplication
from application.compliance.app import ComplianceApplication
from application.compliance.hook import AmlScreeningHook
from application.compliance.names import ChineseNameMatcher
from application.feerates.app import FeeRatesApplication
from application.feerates.archiving import ArchivedImportFiles
from application.feerates.hook import CtpWritebackHook
from application.flows.assignees import AssigneeResolver
from application.flows.reports import FlowReportsApplication
from application.flows.service import FlowsApplication
from application.forms.customer_lookup import CustomerLookup
from application.forms.service import FormsApplication
from application.leads.app import LeadsApplication
from application.notifications.app import NotificationsApplication
from application.notifications.delivery import Deliveries
from application.notifications.delivery_worker import Notifier
from application.privacy.app import PrivacyApplication
from application.signatures.hook import ESignHook
from application.signatures.service import SignaturesApplication
from domain.archive.content import BlobStore
from domain.archive.rules import RetentionRule
from domain.audit.anchors import checkpoint_key
from domain.notifications.delivery import RetryPolicy
from domain.shared.context import CommandContext
from infrastructure.archive.blobs import FilesystemBlobStore
from infrastructure.audit.factory import anchor_from_url
from infrastructure.calendar.chinese_holidays import ChineseHolidays
from infrastructure.compliance.entries import PostgresListEntries
from infrastructure.engines.clickhouse import ClickHouse
from infrastructure.engines.embedded import EmbeddedPostgres, EmbeddedRedis, quiet_platformdirs_warning
from infrastructure.engines.postgres import quiet_outages
from infrastructure.eventstore.store import EventLog, EventStore
from infrastructure.feerates.directory import DirectoryDropCounter
from infrastructure.feerates.layouts import load_layouts
from infrastructure.feerates.results import ResultFeed
from infrastructure.flows.scheduler import DueQueue, Scheduler
from infrastructure.forms.live_lookup import live_customers
from infrastructure.forms.sql_source import SqlSourceRunner
from infrastructure.leads.account_opening import FileOpeningFeed
from infrastructure.leads.locks import LineTurns
from infrastructure.leads.outbound import FileOutbound
from infrastructure.leads.progress import ImportProgressBoard, LeadsReadProgress
from infrastructure.leads.rate_limit import RateLimiter
from infrastructure.leads.recycler import Recycler, SopRunner
from infrastructure.leads.staff import AccessStaff
from infrastructure.notifications.channels import delivery_channels, wecom_userids
from infrastructure.notifications.outbox import OutboxStore
from infrastructure.notifications.recipients import AccessRecipients
from infrastructure.periodic import Every
from infrastructure.privacy.keywrap import LocalKeyWrapper
from infrastructure.projections import ProjectionRunner
from infrastructure.readmodels import ReadModelDb
from infrastructure.redis.progress import ProgressBoard
from infrastructure.redis.supervisor import RedisSupervisor
from infrastructure.redis.throttle import FailureThrottle
from infrastructure.settings import Settings
from infrastructure.signatures.factory import sealer_from_settings
from infrastructure.workers import ProjectionWorkers
from projections.access.queries import AccessQueries
from projections.agreements.queries import AgreementQueries
from projections.analytics.flow_facts import FlowFactsSink
from projections.analytics.flow_statistics import FlowStatistics
from projections.analytics.lead_conversion import LeadAnalytics
from projections.archive.queries import ArchiveQueries
from projections.compliance.queries import ComplianceQueries
from projections.feerates.templates import FeeRateQueries
from projections.flows.definitions import FlowQueries
from projections.flows.migrations import MigrationQueries
from projections.flows.queries import FlowInstanceQueries
from projections.flows.reports import FlowReportQueries
from projections.forms.queries import FormsQueries
from projections.framework import ClickHouseSink
from projections.leads.queries import LeadQueries
from projections.notifications.delivery import DeliveryRules
from projections.notifications.queries import NotificationQueries
from projections.registry import all_projections
from projections.signatures.requests import SigningQueries

log = logging.getLogger(__name__)


@dataclass
class Engines:
    database_url: str
    redis_url: str
    clickhouse_url: str
    embedded_postgres: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None

    @classmethod
    def start(cls, settings: Settings) -> Engines:
        quiet_platformdirs_warning()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        pg = redis_server = None
        database_url = settings.database_url
        if not database_url:
            pg = EmbeddedPostgres(settings.data_dir)
            database_url = pg.start()
        redis_url = settings.redis_url
        if not redis_url:
            redis_server = EmbeddedRedis(settings.data_dir)
            redis_url = redis_server.start()
        return cls(database_url, redis_url, settings.effective_clickhouse_url, pg, redis_server)

    def stop(self) -> None:
        if self.embedded_redis:
            self.embedded_redis.stop()
        if self.embedded_postgres:
            self.embedded_postgres.stop()


@dataclass
class Container:
    settings: Settings
    engines: Engines
    store: EventStore
    clickhouse: ClickHouse
    redis: RedisSupervisor
    progress: ProgressBoard
    runners: dict[str, ProjectionRunner]
    access: AccessApplication
    calendar: CalendarApplication
    audit: AuditService
    readmodels: ReadModelDb
    access_queries: AccessQueries
    forms: FormsApplication
    forms_queries: FormsQueries
    flows: FlowsApplication
    flow_queries: FlowQueries
    instance_queries: FlowInstanceQueries
    scheduler: Scheduler
    principals: PrincipalResolver
    archive: ArchiveApplication
    archive_queries: ArchiveQueries
    throttle: FailureThrottle
    leads: LeadsApplication
    lead_queries: LeadQueries
    lead_analytics: LeadAnalytics
    flow_statistics: FlowStatistics
    flow_reports: FlowReportsApplication
    flow_report_queries: FlowReportQueries
    lead_recycler: Recycler
    lead_rate_limiter: RateLimiter
    lead_sop: SopRunner
    notifications: NotificationsApplication
    notification_queries: NotificationQueries
    notification_deliveries: Deliveries
    notifier: Notifier
    # -- agreements (issue 16): templates, generation, section reviews --
    agreements: AgreementsApplication
    agreement_queries: AgreementQueries
    signatures: SignaturesApplication  # e-signature (ADR 0022)
    signing_queries: SigningQueries
    compliance: ComplianceApplication          # AML screening (issue 16, ADR 0020)
    privacy: PrivacyApplication                # erasure of personal data (ADR 0028)
    compliance_queries: ComplianceQueries
    feerates: FeeRatesApplication            # fee rates and the CTP write-back (ADR 0023)
    feerate_queries: FeeRateQueries
    feerate_results: Every
    workers: ProjectionWorkers | None = None  # started by start_workers, not a dependency
    audit_checkpoints: Every | None = None  # the periodic chain checkpoint (ADR 0027), with the workers
    owns_engines: bool = True
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: Settings, *, engines: Engines | None = None, workers: bool = False) -> Container:
        owns = engines is None
        engines = engines or Engines.start(settings)
        store = EventStore(
            engines.database_url, events_table=settings.events_table,
            chain_key=settings.audit_chain_key.get_secret_value().encode(),
            pool_size=pool_size(settings, workers), group_commit=settings.group_commit,
            max_batch_events=settings.group_commit_max_events, lock_timeout=settings.lock_timeout_seconds,
            timeout=settings.db_timeout_seconds,
            key_wrapper=LocalKeyWrapper(settings.master_key.get_secret_value().encode()),
            key_cache_seconds=settings.privacy_key_cache_seconds,
        )
        quiet_outages()  # an outage is logged by the engine watches, once (ADR 0026)
        store.watch(settings.engine_check_seconds)
        clickhouse = ClickHouse(engines.clickhouse_url, settings.clickhouse_database)
        clickhouse.watch(settings.engine_check_seconds, timeout=min(1.0, settings.db_timeout_seconds))
        archive = ArchiveApplication(
            store, blobs=blob_store(settings), max_file_bytes=settings.archive_max_file_bytes,
            mount_limits=MountLimits(settings.archive_mount_max_files, settings.archive_max_file_bytes,
                                     settings.archive_mount_max_total_bytes, settings.archive_mount_max_ratio),
            export_limits=ExportLimits(settings.data_dir / "blobs" / "tmp", settings.archive_export_max_files,
                                       settings.archive_export_max_bytes),
            retention=RetentionRule(default_days=settings.archive_retention_days))
        runners = {}
        for projection in all_projections(archiver=filing_archiver(archive), notifications=delivery_rules(settings)):
            runner = ProjectionRunner(store, projection, batch_size=settings.projection_batch_size,
                                      clickhouse=clickhouse if isinstance(projection, ClickHouseSink) else None)
            runner.create()
            runners[runner.name] = runner
        supervisor = RedisSupervisor(engines.redis_url, settings.redis_prefix, settings.redis_check_seconds)
        board = ProgressBoard(supervisor, lambda name: runners[name].position())
        supervisor.register("projection-positions",
                            board.rebuilder(lambda: {n: r.position() for n, r in runners.items()}))
        readmodels = ReadModelDb(store.datastore)
        access_queries = AccessQueries(readmodels)
        forms_queries = FormsQueries(readmodels)
        datasource_tables = {t.strip() for t in settings.datasource_tables.split(",") if t.strip()}
        sql_runner = SqlSourceRunner({"main": store.datastore}, supervisor, role=settings.datasource_role)
        sql_runner.ensure_role(datasource_tables)  # after the projections created their tables
        forms = FormsApplication(
            store, allowed_tables=datasource_tables, sql_runner=sql_runner,
            # ADR 0019: the account-opening system live, else the synced copy
            customer_lookup=CustomerLookup(forms_queries.customer, live_customers(settings)),
            max_timeout_ms=settings.datasource_timeout_ms, max_rows=settings.datasource_row_limit)
        due_queue = DueQueue(supervisor)
        calendar = CalendarApplication(store, holidays=ChineseHolidays())
        flows = FlowsApplication(store, forms=forms, candidates=AssigneeResolver(access_queries),
                                 facts=access_queries.initiator_facts, due_queue=due_queue,
                                 running_instances=MigrationQueries(readmodels).running,  # ADR 0012
                                 hot_instances=settings.flow_hot_instances, working_time=calendar.working_time)
        # Flow facts fold an instance's history from the store when they meet it mid-way (a restart).
        facts_sink = runners["analytics.flow_facts"].projection
        assert isinstance(facts_sink, FlowFactsSink)
        facts_sink.history = lambda instance_id, version: flows.events.get(instance_id, lte=version)
        facts_sink.working_time = calendar.working_time
        instance_queries = FlowInstanceQueries(readmodels)
        supervisor.register("flows-due-queue", due_queue.rebuilder(instance_queries.timers))
        lead_queries = LeadQueries(readmodels)
        outbound = FileOutbound(Path(settings.leads_outbound_file or settings.data_dir / "outbound.jsonl"))
        access = AccessApplication(store)
        leads = LeadsApplication(store, turns=LineTurns(store.datastore), reads=lead_queries, outbound=outbound,
                                 progress=ImportProgressBoard(supervisor), staff=AccessStaff(access),
                                 read_progress=LeadsReadProgress(board, settings.read_wait_max_seconds),
                                 timezone_name=settings.leads_report_timezone, working_time=calendar.working_time)
        lead_sop = SopRunner(leads, lead_queries)
        outbox = OutboxStore(store.datastore)
        outbox.create()  # the notifications.inbox projection writes it; either side may come first
        opening_file = Path(settings.leads_opening_file or settings.data_dir / "account_opening.jsonl")
        notification_queries = NotificationQueries(readmodels)
        flow_queries = FlowQueries(readmodels)
        # -- e-signature (ADR 0022): the seal from settings, the archive as its document store. The
        # flow's callback (on_complete) and the e_sign hook are wired with the flow's system nodes.
        signing_queries = SigningQueries(readmodels)
        signatures = SignaturesApplication(
            store, archive=archive, sealer=sealer_from_settings(settings), link_hours=settings.signatures_link_hours,
            public_base_url=settings.public_base_url, seal_location=settings.signatures_seal_location,
            reads=signing_queries)
        # -- compliance: AML screening lists and screenings (ADR 0020) --
        list_entries = PostgresListEntries(store.datastore)
        list_entries.create()  # the content list-load events point to (not a read model)
        compliance = ComplianceApplication(store, entries=list_entries, names=ChineseNameMatcher())
        # -- end compliance --
        # -- fee rates and the CTP write-back (issue 16 item 1, ADR 0023) ------------------------------
        counter_dir = settings.feerates_counter_dir or settings.data_dir / "counter"
        feerates = FeeRatesApplication(
            store, broker_id=settings.feerates_broker_id, layouts=load_layouts(settings.feerates_layouts_file),
            counters={c: DirectoryDropCounter(counter_dir, c) for c in settings.feerates_counters.split(",")},
            import_archive=ArchivedImportFiles(archive))  # on_complete: set where the system hooks are wired
        feerate_results = Every(settings.feerates_results_poll_seconds, ResultFeed(counter_dir, feerates).poll,
                                "feerates-results")
        # -- end fee rates ------------------------------------------------------------------------------
        container = cls(
            settings=settings, engines=engines, store=store, clickhouse=clickhouse, redis=supervisor,
            progress=board, runners=runners, access=access,
            calendar=calendar,
            audit=audit_service(settings, store), readmodels=readmodels, access_queries=access_queries,
            forms=forms, forms_queries=forms_queries,
            flows=flows, flow_queries=flow_queries, instance_queries=instance_queries,
            scheduler=Scheduler(due_queue, flows, instance_queries, settings.scheduler_poll_seconds),
            principals=PrincipalResolver(access_queries, settings.bootstrap_admin_token.get_secret_value(),
                                         stored_versions=store.versions,
                                         parked=runners["access.principals"].has_parked),
            archive=archive, archive_queries=ArchiveQueries(readmodels),
            throttle=FailureThrottle(supervisor, max_delay=settings.throttle_max_delay_seconds,
                                     window=settings.throttle_window_seconds),
            leads=leads, lead_queries=lead_queries,
            lead_analytics=LeadAnalytics(clickhouse, settings.leads_report_timezone),
            flow_statistics=FlowStatistics(clickhouse, settings.flows_statistics_timezone,
                                           reason_codes=flow_queries.reason_codes,
                                           working_day_seconds=settings.flows_working_day_hours * 3600,
                                           cycle_target_days=settings.flows_kpi_cycle_target_days,
                                           first_pass_target=settings.flows_kpi_first_pass_target),
            flow_reports=FlowReportsApplication(store), flow_report_queries=FlowReportQueries(readmodels),
            lead_recycler=Recycler(leads, lead_queries, settings.leads_recycle_poll_seconds, lead_sop,
                                   FileOpeningFeed(opening_file)),
            lead_rate_limiter=RateLimiter(supervisor, settings.leads_intake_rate_per_minute), lead_sop=lead_sop,
            notifications=NotificationsApplication(store, policy=settings.notify_policy(),
                                                   inbox=notification_queries),
            notification_queries=notification_queries,
            notification_deliveries=Deliveries(outbox), notifier=notifier(settings, outbox, access_queries),
            # -- agreements (issue 16) --
            agreements=AgreementsApplication(store, forms=forms, archive=archive),
            agreement_queries=AgreementQueries(readmodels),
            signatures=signatures, signing_queries=signing_queries,
            compliance=compliance, compliance_queries=ComplianceQueries(readmodels),
            privacy=PrivacyApplication(store),
            feerates=feerates, feerate_queries=FeeRateQueries(readmodels), feerate_results=feerate_results,
            owns_engines=owns,
        )
        register_hooks(container)
        supervisor.start()
        board.start()
        if workers:
            container.start_workers()
        return container

    def start_workers(self) -> None:
        self.scheduler.start()
        self.lead_recycler.start()
        self.notifier.start()
        if self.feerates.on_complete is not None:  # results are read once the flow can hear them
            self.feerate_results.start()
        # New outbox rows are committed with the inbox projection's position: wake the notifier then.
        self.progress.subscribe(lambda name: self.notifier.wake() if name in (None, "notifications.inbox") else None)
        self.workers = ProjectionWorkers(self.store, list(self.runners.values()), self.progress,
                                         self.engines.database_url, self.settings.projection_poll_seconds,
                                         self.settings.projection_rebuild_batch_size)
        self.workers.start()
        self.audit_checkpoints = Every(self.settings.audit_checkpoint_seconds,
                                       self.audit.anchoring.checkpoint_if_moved, "audit-checkpoints")
        self.audit_checkpoints.start()

    def close(self) -> None:
        if self.audit_checkpoints:
            self.audit_checkpoints.stop()
        self.scheduler.stop()
        self.lead_recycler.stop()
        self.notifier.stop()
        self.feerate_results.stop()
        if self.workers:
            self.workers.stop()
        self.progress.stop()
        self.redis.stop()
        self.clickhouse.close()
        self.store.close()
        if self.owns_engines:
            self.engines.stop()


def audit_service(settings: Settings, store: EventStore) -> AuditService:
    log = EventLog(store)
    anchor = anchor_from_url(settings.audit_anchor, settings.data_dir)
    return AuditService(log, ChainAnchoring(log, anchor, checkpoint_key(store.chain_key)))


def pool_size(settings: Settings, workers: bool) -> int:
    """Connections for the process: the setting, plus one per projection thread when this process
    runs the workers — each holds a connection for its batch (a sink folding history takes a
    second for a moment), and the commands of the same process must not wait behind them."""
    return settings.db_pool_size + (len(all_projections()) if workers else 0)


def register_hooks(c: Container) -> None:
    """The system hooks flows hand work to (ADR 0024), each over its context's application, and the
    answers that come back later (a counter's import result, a seal, a screening review) routed
    to the waiting flow."""
    for hook in (GenerateAgreementHook(c.agreements), ESignHook(c.signatures), AmlScreeningHook(c.compliance),
                 CtpWritebackHook(c.feerates)):
        c.flows.register_hook(hook)
    c.signatures.on_complete = answering(c.flows, "e-sign")
    c.compliance.on_complete = answering(c.flows, "aml-screening")
    c.feerates.on_complete = answering(c.flows, "ctp-writeback")


def answering(flows: FlowsApplication, actor: str) -> Callable[[str, str, dict[str, Any]], None]:
    """``on_complete(request_id, status, result)`` for a context whose work a flow waits for: the
    answer is recorded on the flow (once; a repeat is "gone") under the request's correlation id."""

    def complete(request_id: str, status: str, result: dict[str, Any]) -> None:
        instance_id = UUID(request_id.partition(":")[0])
        flows.complete_system_task(CommandContext.system(actor, request_id), instance_id, request_id, status, result)

    return complete


def delivery_rules(settings: Settings) -> DeliveryRules:
    """What the notifications projection takes from settings (ADR 0015)."""
    return DeliveryRules(policy=settings.notify_policy(), max_age=timedelta(seconds=settings.notify_max_age_seconds),
                         base_url=settings.public_base_url)


def blob_store(settings: Settings) -> BlobStore:
    """The archive's content store chosen by settings (ADR 0009)."""
    root = settings.data_dir / "blobs"
    if settings.archive_blob_store == "s3":
        from infrastructure.archive.s3 import S3BlobStore

        if not settings.archive_s3_bucket:
            raise ValueError("LEDGERFLOW_ARCHIVE_S3_BUCKET is required when LEDGERFLOW_ARCHIVE_BLOB_STORE=s3")
        secret = settings.archive_s3_secret_key
        return S3BlobStore(root / "tmp", bucket=settings.archive_s3_bucket,
                           endpoint_url=settings.archive_s3_endpoint_url, region=settings.archive_s3_region,
                           access_key=settings.archive_s3_access_key,
                           secret_key=secret.get_secret_value() if secret else None)
    return FilesystemBlobStore(root)


def notifier(settings: Settings, outbox: OutboxStore, access_queries: AccessQueries) -> Notifier:
    """The delivery worker over the channels the settings configure (ADR 0015)."""
    s = settings
    return Notifier(outbox, delivery_channels(s), AccessRecipients(access_queries, wecom_userids(s)),
                    policy=RetryPolicy(s.notify_max_attempts, s.notify_backoff_seconds, s.notify_backoff_max_seconds),
                    lease_seconds=s.notify_lease_seconds, batch_size=s.notify_batch_size,
                    concurrency=s.notify_concurrency, poll_seconds=s.notify_poll_seconds,
                    keep_sent_days=s.notify_keep_sent_days)


def filing_archiver(archive: ArchiveApplication) -> Any:
    """The automatic-archiving process manager's command port: files as ``system:archive-filing``
    under the completed flow's correlation id."""

    def file(instance_id: Any, documents: list[Any], *, correlation_id: str, customer: str | None,
             fund_account: str | None, business_type: str, department_id: Any,
             business_line: str | None = None) -> Any:
        ctx = CommandContext.system("archive-filing", correlation_id)
        return archive.file_flow_attachments(ctx, instance_id, documents, customer=customer,
                                             fund_account=fund_account, business_type=business_type,
                                             department_id=department_id, business_line=business_line)

    return file
