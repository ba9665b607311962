"""All settings in one place (prefix ``LEDGERFLOW_``); see docs/settings.md."""
from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.notifications.policy import FirmPolicy
from infrastructure.forms.cap_live import check_url_template, parse_fields

DEV_ADMIN_TOKEN = "dev-admin-token-change-me"
DEV_AUDIT_CHAIN_KEY = "dev-audit-chain-key-change-me"
DEV_MASTER_KEY = "dev-master-key-change-me"


class Mode(str, Enum):
    development = "development"
    test = "test"
    production = "production"


class InsecureSettingsError(ValueError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERFLOW_", env_file=".env", extra="ignore")

    mode: Mode = Field(Mode.development, description="development, test or production.")
    data_dir: Path = Field(Path("var"), description="Where embedded engines and blobs keep their files.")
    database_url: str | None = Field(
        None, description="PostgreSQL URL; unset = embedded PostgreSQL under data_dir/postgres."
    )
    redis_url: str | None = Field(None, description="Redis URL; unset = embedded redis-server.")
    clickhouse_url: str | None = Field(
        None,
        description="http(s)://user:pass@host:8123 for a server, chdb:///dir for embedded; "
        "unset = chdb:///<data_dir>/clickhouse.",
    )
    clickhouse_database: str = Field("ledgerflow", description="ClickHouse database for analytics sinks.")
    redis_prefix: str = Field("ledgerflow:", description="Prefix of every Redis key this service writes.")
    events_table: str = Field("ledgerflow_events", description="Name of the event store table.")

    bootstrap_admin_token: SecretStr = Field(
        SecretStr(DEV_ADMIN_TOKEN), description="Bearer token with full rights (bootstrap administration)."
    )
    audit_chain_key: SecretStr = Field(
        SecretStr(DEV_AUDIT_CHAIN_KEY), description="HMAC key of the tamper-evidence hash chain."
    )
    audit_anchor: str | None = Field(
        None, description="Where checkpoints of the audit chain head are appended (ADR 0027): file:///path "
        "(JSON lines), s3://bucket/prefix?endpoint=URL&region=R&retain_days=N (object-locked bucket, credentials "
        "from the AWS environment) or tsa+https://host/path?file=/path (RFC 3161 time-stamping authority, tokens "
        "kept in a local file); unset = file://<data_dir>/audit/anchors.jsonl.")
    audit_checkpoint_seconds: float = Field(
        300.0, gt=0, description="How often the worker process anchors a checkpoint of the chain head (only "
        "when the head moved).")
    master_key: SecretStr = Field(
        SecretStr(DEV_MASTER_KEY), description="Master key wrapping every data subject's key (personal fields of "
                                               "events, ADR 0028); losing it loses every personal value.")
    privacy_key_cache_seconds: float = Field(
        15.0, ge=0, le=3600, description="How long a process keeps a subject's unwrapped key: after an erasure "
                                         "another process may still read (never write) the subject's values this "
                                         "long.")

    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8000, description="HTTP listen port.")
    max_body_bytes: int = Field(1_048_576, description="Largest accepted request body, in bytes.")
    cors_origins: str = Field("", description="Comma-separated browser origins (UI) allowed to call the API; "
                                             "empty = CORS off.")
    hsts_seconds: int = Field(0, ge=0, description="Strict-Transport-Security max-age when TLS terminates in front "
                                                   "of the API (0 = no HSTS header).")
    login_free_failures: int = Field(5, ge=1, description="Failed logins per login name before each further one "
                                                          "must wait a growing delay.")
    address_free_failures: int = Field(20, ge=1, description="Failed logins or bad bearer tokens per client address "
                                                             "before the growing delay applies to that address.")
    throttle_max_delay_seconds: int = Field(900, ge=1, description="Longest delay the login/bearer throttle imposes.")
    throttle_window_seconds: int = Field(3600, ge=1, description="A throttle forgets failures this long after the "
                                                                 "last one.")
    db_pool_size: int = Field(8, description="PostgreSQL connections per process.")
    group_commit: bool = Field(True, description="Save concurrent commands in one transaction (ADR 0002).")
    group_commit_max_events: int = Field(2000, description="Most events in one group commit.")
    lock_timeout_seconds: int = Field(10, description="Longest wait for the event table lock.")
    db_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="Longest a request waits on an unreachable PostgreSQL before it answers 503 "
        "`database_unavailable` (pool wait, connect, group-commit queue; ADR 0026).")
    engine_check_seconds: float = Field(
        0.5, gt=0, le=10, description="How often PostgreSQL and ClickHouse are probed (readiness, outage warnings, "
        "failing fast while PostgreSQL is down).")
    projection_batch_size: int = Field(500, description="Events per projection transaction.")
    projection_rebuild_batch_size: int = Field(10_000, ge=1, description="Events per transaction of a blue/green "
                                                                           "rebuild (ADR 0029).")
    flow_hot_instances: int = Field(2000, ge=0, description="Flow instances kept in memory between their commands "
                                                             "(0 = reload every time; ADR 0008).")
    projection_poll_seconds: float = Field(1.0, description="Polling interval when no wake-up arrives.")
    read_wait_max_seconds: float = Field(10.0, description="Longest wait a read may ask for (wait_for_position).")
    idempotency_key_hours: float = Field(24.0, gt=0, le=24 * 30, description=(
        "How long a command's Idempotency-Key is remembered: a retry within it gets the first answer (ADR 0025)."))
    redis_check_seconds: float = Field(1.0, description="How often Redis health is checked.")
    run_workers: bool = Field(True, description="serve: run projection workers in the API process.")
    scheduler_poll_seconds: float = Field(1.0, description="How often the scheduler looks for due timers.")
    datasource_tables: str = Field(
        "forms_customers", description="Comma-separated tables SQL data sources may read (schema.table or table).")
    datasource_timeout_ms: int = Field(2000, description="Longest a SQL data source may run (statement timeout).")
    datasource_row_limit: int = Field(500, description="Most rows a SQL data source may return.")
    datasource_role: str = Field(
        "ledgerflow_datasource", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role (NOLOGIN) every SQL data source runs as; created at start-up if missing "
                    "(the database user needs CREATEROLE, or a DBA creates it and grants it to that user).")
    customer_directory: str | None = Field(
        None, description="Account-opening system: http(s)://... for its API, or a JSON file path; "
        "unset = <data_dir>/customers.json.")
    # Live customer lookup (ADR 0019, docs/integrations.md): CAP asked per fund account, the copy behind it.
    customer_live_url: str | None = Field(
        None, description="The account-opening system's one-customer URL, holding {fund_account} once "
        "(https://cap.example/api/customers/{fund_account}); unset = no live lookup: the synced copy is the source.")
    customer_live_record_path: str = Field(
        "", max_length=200, description="Dotted path to the customer record in the JSON answer (data.customer); "
                                        "empty = the answer itself.")
    customer_live_fields: str = Field(
        "", max_length=2000, description="Comma-separated field=answer_key pairs (name=custName,id_number=cert.no) "
                                         "where the answer's key differs from the profile field's name.")
    customer_live_auth_header: str = Field(
        "Authorization", pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Header carrying LEDGERFLOW_CUSTOMER_LIVE_TOKEN (Authorization: Bearer <token>; any other "
                    "header: the token as it is).")
    customer_live_token: SecretStr | None = Field(None, description="Credential for the live lookup; unset = none.")
    customer_live_ca_file: Path | None = Field(None, description="CA bundle for the live lookup's certificate "
                                                                 "(an internal CA); unset = the system's.")
    customer_live_timeout_seconds: float = Field(
        1.0, gt=0, le=10, description="One attempt: connecting, each read and the whole answer.")
    customer_live_attempts: int = Field(3, ge=1, le=5, description="Attempts per lookup (timeouts, connection "
                                                                   "errors, 5xx and 429 are tried again).")
    customer_live_backoff_seconds: float = Field(0.1, ge=0, le=5, description="First wait between attempts; "
                                                 "doubles with each further failure, with jitter.")
    customer_live_backoff_max_seconds: float = Field(1.0, ge=0, le=10, description="Longest wait between attempts.")
    customer_live_budget_seconds: float = Field(
        3.0, gt=0, le=15, description="A whole lookup, retries and waits included; then the copy is served.")
    customer_live_breaker_failures: int = Field(
        5, ge=1, le=100, description="Consecutive failed attempts that open the circuit (the copy is then served "
                                     "at once, marked stale).")
    customer_live_breaker_reset_seconds: float = Field(
        30.0, gt=0, le=3600, description="How long the circuit stays open before one trial attempt.")
    customer_live_cache_seconds: float = Field(
        30.0, ge=0, le=300, description="How long a live answer (found or not) is reused; 0 = no cache.")
    customer_live_cache_size: int = Field(10_000, ge=1, le=1_000_000, description="Most answers cached per process.")

    @model_validator(mode="after")
    def _check_customer_live(self) -> Settings:
        """A live lookup that cannot work refuses to start, named; in production it goes over TLS
        (fund accounts and ID numbers travel in it)."""
        if self.customer_live_url is None:
            return self
        check_url_template(self.customer_live_url)
        parse_fields(self.customer_live_fields)
        if self.mode is Mode.production and not self.customer_live_url.startswith("https://"):
            raise InsecureSettingsError("refusing to send customer lookups in clear in production: "
                                        "LEDGERFLOW_CUSTOMER_LIVE_URL must be https://")
        return self
    archive_max_file_bytes: int = Field(
        100 * 1_048_576, description="Largest archive file (upload, version, mount member), in bytes.")
    archive_blob_store: str = Field("filesystem", pattern="^(filesystem|s3)$",
                                    description="Archive content store: filesystem (<data_dir>/blobs) or s3.")
    archive_s3_bucket: str | None = Field(None, description="S3 bucket for archive blobs (archive_blob_store=s3).")
    archive_s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, Ceph...).")
    archive_s3_region: str | None = Field(None, description="S3 region.")
    archive_s3_access_key: str | None = Field(None, description="S3 access key id.")
    archive_s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")
    archive_mount_max_files: int = Field(10_000, description="Most members a static-mount zip may hold.")
    archive_mount_max_total_bytes: int = Field(
        2 * 1024 * 1_048_576, description="Most uncompressed bytes a static-mount zip may expand to.")
    archive_mount_max_ratio: int = Field(100, description="Highest compression ratio of a static-mount zip member.")
    archive_export_max_files: int = Field(10_000, ge=1, description="Most documents one export package may hold.")
    archive_export_max_bytes: int = Field(
        16 * 1024 * 1_048_576, ge=1, description="Most content bytes one export package may hold (checked before "
                                                 "writing).")
    archive_retention_days: int | None = Field(
        365 * 20, description="Days after deletion before a document's content may be purged; unset = never.")

    leads_import_max_bytes: int = Field(
        50 * 1024 * 1024, description="Largest lead import file (CSV/XLSX) accepted by the API and CLI, in bytes.")
    leads_intake_rate_per_minute: int = Field(
        6000, description="Most leads one channel token may submit per minute (0 = unlimited).")
    leads_recycle_poll_seconds: float = Field(60.0, description="How often the lead recycling job runs.")
    leads_report_timezone: str = Field("Asia/Shanghai", description="Time zone of lead analytics days/weeks/months.")
    flows_statistics_timezone: str = Field(
        "Asia/Shanghai", description="Time zone of flow statistics' and reports' days, weeks and months.")
    flows_working_day_hours: float = Field(
        7.5, gt=0, le=24, description="Hours of a working day, in which flow statistics count working days.")
    flows_kpi_cycle_target_days: float = Field(
        5.0, gt=0, description="004 KPI: target of a business's average cycle, in working days.")
    flows_kpi_first_pass_target: float = Field(
        0.8, ge=0, le=1, description="004 KPI: target first-pass rate (0-1).")
    leads_outbound_file: str | None = Field(
        None, description="Embedded SMS/outbound-call adapter: requests appended as JSON lines; unset = "
        "<data_dir>/outbound.jsonl.")
    leads_opening_file: str | None = Field(
        None, description="Account-opening events as JSON lines, tailed in embedded mode; unset = "
        "<data_dir>/account_opening.jsonl.")

    # Fee rates and the counter write-back (ADR 0023, docs/feerates.md).
    feerates_broker_id: str = Field("9999", pattern=r"^[0-9A-Za-z]{1,10}$",
                                    description="The firm's CTP BrokerID, written into every counter record.")
    feerates_counters: str = Field("ctp2,other", pattern=r"^[a-z][a-z0-9_]{0,31}(,[a-z][a-z0-9_]{0,31})*$",
                                   description="Counters import files may go to (comma-separated); each is a "
                                               "directory drop under feerates_counter_dir/outbox/<counter>.")
    feerates_counter_dir: Path | None = Field(None, description="Counter directory drop: outbox/<counter>/, sent/, "
                                              "results/; unset = <data_dir>/counter.")
    feerates_layouts_file: Path | None = Field(None, description="JSON file of further import-file layouts "
                                               "({\"layouts\": {name: layout}}); unset = the built-ins only.")
    feerates_results_poll_seconds: float = Field(5.0, gt=0, description="How often the counter's result files "
                                                 "are read.")

    # Notifications (ADR 0015, docs/notifications.md): the firm's policy and the live stream.
    notify_channels: str = Field(
        "email,sms,wecom,oa", description="External notification channels the firm has enabled (comma-separated: "
                                          "email, sms, wecom, oa); operators may choose only these.")
    notify_default_channels: str = Field(
        "", description="External channels every kind of notification goes to for an operator who chose none "
                        "for it (in-app always); empty = in-app only.")
    notify_required_in_app: str = Field(
        "task_arrived,returned_to_you,sla_breached,sla_escalated",
        description="Kinds of notification nobody may mute in the in-app list (comma-separated).")
    notify_max_age_seconds: int = Field(
        3600, ge=0, description="Only events younger than this enqueue external messages: a projection rebuild or "
                                "a first start on an old store re-derives the in-app list and sends nothing.")
    notify_stream_keepalive_seconds: float = Field(
        15.0, gt=0, le=300, description="The notification stream (SSE) sends a keep-alive comment this often.")
    notify_stream_max_seconds: float = Field(
        600.0, gt=0, le=86_400, description="A notification stream ends after this long; the browser's EventSource "
                                            "reconnects with Last-Event-ID, so nothing is lost (bounds a connection's "
                                            "life behind proxies).")
    public_base_url: str = Field(
        "http://localhost:8000", description="The UI's public address: deep links in external notifications "
                                             "(e-mail, SMS, WeCom, OA) start with it.")

    def notify_policy(self) -> FirmPolicy:
        def names(value: str) -> list[str]:
            return [v.strip() for v in value.split(",") if v.strip()]

        return FirmPolicy.of(names(self.notify_channels), names(self.notify_default_channels),
                             names(self.notify_required_in_app))

    @model_validator(mode="after")
    def _check_notify_policy(self) -> Settings:
        self.notify_policy()  # unknown channels or kinds refuse to start, named
        return self

    # -- notification delivery (docs/notification-delivery.md, ADR 0015) -------------------------
    notify_poll_seconds: float = Field(1.0, gt=0, description="How often the delivery worker looks for due "
                                                              "outbox rows when nothing woke it.")
    notify_batch_size: int = Field(50, ge=1, le=1000, description="Outbox rows one delivery pass claims.")
    notify_concurrency: int = Field(4, ge=1, le=64, description="Sends in flight at once per process.")
    notify_max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a delivery goes to the "
                                                                  "dead-letter list.")
    notify_backoff_seconds: float = Field(30.0, gt=0, description="Delay before the second attempt; it doubles "
                                                                  "with each further failure (with jitter).")
    notify_backoff_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between two attempts.")
    notify_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Longest wait for a gateway's answer.")
    notify_lease_seconds: float = Field(300.0, gt=0, description="A delivery still 'sending' this long after its "
                                        "claim is taken as interrupted (its worker died): sent again with the same "
                                        "key where the other side deduplicates, else in_doubt.")
    notify_keep_sent_days: int = Field(90, ge=0, description="Sent outbox rows are deleted after this many days "
                                                             "(0 = kept).")
    notify_sink_dir: Path | None = Field(None, description="Channels without a gateway write JSON lines here "
                                         "(development and test modes only); unset = <data_dir>/notifications.")
    notify_smtp_host: str | None = Field(None, description="SMTP server for e-mail; unset = no SMTP.")
    notify_smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL).")
    notify_smtp_security: str = Field("starttls", pattern="^(starttls|ssl|none)$",
                                      description="starttls, ssl (implicit TLS) or none.")
    notify_smtp_username: str | None = Field(None, description="SMTP login; unset = no AUTH.")
    notify_smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    notify_smtp_from: str = Field("Ledgerflow <ledgerflow@localhost>", description="From: of notification e-mails.")
    notify_smtp_ca_file: Path | None = Field(None, description="CA bundle for the SMTP server's certificate "
                                                               "(an internal CA); unset = the system's.")
    notify_sms_url: str | None = Field(None, description="The SMS gateway (or the firm's shim in front of it) "
                                                         "that takes POST {request_id, phone, text}; unset = none.")
    notify_sms_auth: str = Field("hmac", pattern="^(hmac|bearer)$", description="How requests to the SMS gateway "
                                 "prove themselves: hmac (signed timestamp and body) or bearer (the secret as a "
                                 "token).")
    notify_sms_secret: SecretStr | None = Field(None, description="HMAC key or bearer token for the SMS gateway.")
    notify_wecom_corp_id: str | None = Field(None, description="WeCom corpid; unset = no WeCom.")
    notify_wecom_secret: SecretStr | None = Field(None, description="The WeCom application's secret.")
    notify_wecom_agent_id: int | None = Field(None, description="The WeCom application's agentid.")
    notify_wecom_base_url: str = Field("https://qyapi.weixin.qq.com", description="WeCom API address (a proxy, "
                                                                                   "or a fake in tests).")
    notify_wecom_duplicate_check_seconds: int = Field(
        1800, ge=1, le=14_400, description="WeCom's duplicate_check_interval (at most 4 h): an interrupted send is "
        "repeated only within it.")
    notify_wecom_userids: str = Field("", description="login=userid pairs, comma-separated, where a WeCom userid "
                                                      "is not the login name.")
    notify_oa_url: str | None = Field(None, description="The OA's webhook for to-dos; unset = none.")
    notify_oa_secret: SecretStr | None = Field(None, description="Shared HMAC key of the OA webhook.")

    @model_validator(mode="after")
    def _notify_channels_complete(self) -> Settings:
        """A configured channel has what it needs; in production its secrets are long and no SMTP
        password travels in clear."""
        missing = [name for name, wanted, value in (
            ("LEDGERFLOW_NOTIFY_SMS_SECRET", self.notify_sms_url, self.notify_sms_secret),
            ("LEDGERFLOW_NOTIFY_WECOM_SECRET", self.notify_wecom_corp_id, self.notify_wecom_secret),
            ("LEDGERFLOW_NOTIFY_WECOM_AGENT_ID", self.notify_wecom_corp_id, self.notify_wecom_agent_id),
            ("LEDGERFLOW_NOTIFY_OA_SECRET", self.notify_oa_url, self.notify_oa_secret)) if wanted and value is None]
        if missing:
            raise ValueError("notification channel settings missing: " + ", ".join(missing))
        # A claimed batch is sent `concurrency` at a time, each send waiting up to the timeout: the
        # lease must outlast the slowest batch, or live sends would be taken for interrupted ones.
        slowest = self.notify_timeout_seconds * -(-self.notify_batch_size // self.notify_concurrency)
        if self.notify_lease_seconds < 2 * slowest:
            raise ValueError(f"LEDGERFLOW_NOTIFY_LEASE_SECONDS must be at least {2 * slowest:g}: twice the timeout "
                             "times the batch size over the concurrency")
        if self.mode is Mode.production:
            weak = [name for name, secret in (("LEDGERFLOW_NOTIFY_SMS_SECRET", self.notify_sms_secret),
                                              ("LEDGERFLOW_NOTIFY_OA_SECRET", self.notify_oa_secret))
                    if secret is not None and len(secret.get_secret_value()) < 24]
            if weak:
                raise InsecureSettingsError("refusing to start in production with short secrets: " + ", ".join(weak)
                                            + " (at least 24 characters)")
            if self.notify_smtp_password is not None and self.notify_smtp_security == "none":
                raise InsecureSettingsError("refusing to send the SMTP password in clear in production: set "
                                            "LEDGERFLOW_NOTIFY_SMTP_SECURITY to starttls or ssl")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Settings:
        """Development-default secrets are refused outside development mode; in production every
        secret must also be at least 24 characters."""
        secrets = {"LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN": (self.bootstrap_admin_token, DEV_ADMIN_TOKEN),
                   "LEDGERFLOW_AUDIT_CHAIN_KEY": (self.audit_chain_key, DEV_AUDIT_CHAIN_KEY),
                   "LEDGERFLOW_MASTER_KEY": (self.master_key, DEV_MASTER_KEY)}
        if self.mode is Mode.development:
            return self
        weak = [name for name, (secret, default) in secrets.items() if secret.get_secret_value() == default
                or (self.mode is Mode.production and len(secret.get_secret_value()) < 24)]
        if weak:
            raise InsecureSettingsError(
                f"refusing to start in {self.mode.value} mode with development-default or short secrets: "
                + ", ".join(weak) + " (set each to a random value of at least 24 characters)")
        return self

    @model_validator(mode="after")
    def _notify_channels_served(self) -> Settings:
        """Fail closed: in production every channel the firm enables has its gateway, or the
        service does not start (a channel without one would queue messages nobody ever sends).
        Development and test modes write such a channel to the file sink instead."""
        if self.mode is not Mode.production:
            return self
        gateways = {"email": ("LEDGERFLOW_NOTIFY_SMTP_HOST", self.notify_smtp_host),
                    "sms": ("LEDGERFLOW_NOTIFY_SMS_URL", self.notify_sms_url),
                    "wecom": ("LEDGERFLOW_NOTIFY_WECOM_CORP_ID", self.notify_wecom_corp_id),
                    "oa": ("LEDGERFLOW_NOTIFY_OA_URL", self.notify_oa_url)}
        unserved = []
        for channel in sorted(self.notify_policy().enabled):
            setting, value = gateways.get(channel, ("its gateway settings", None))
            if not value:
                unserved.append(f"{channel} ({setting})")
        if unserved:
            raise ValueError("refusing to start in production with notification channels enabled but no gateway: "
                             + ", ".join(unserved) + "; configure each, or leave it out of "
                             "LEDGERFLOW_NOTIFY_CHANNELS (empty = in-app notifications only)")
        return self

    # -- e-signature (docs/signatures.md, ADR 0022) -------------------------------------------------
    signatures_pkcs12_path: Path | None = Field(
        None, description="The firm's seal: a PKCS#12 file (key, certificate, chain). Unset in development and test "
                          "= a development CA and seal generated once under <data_dir>/signatures/dev; required in "
                          "production.")
    signatures_pkcs12_passphrase: SecretStr | None = Field(None, description="Passphrase of the seal's PKCS#12 file.")
    signatures_trust_roots: Path | None = Field(
        None, description="PEM file of the CA certificate(s) seals are verified against; unset = the self-signed "
                          "certificates in the PKCS#12 chain (or the development CA).")
    signatures_tsa_url: str | None = Field(None, description="RFC 3161 timestamp authority for PAdES B-T seals; "
                                                             "unset = PAdES B-B (no timestamp).")
    signatures_link_hours: int = Field(72, ge=1, le=720, description="How long a signing link works by default.")
    signatures_seal_location: str = Field("", max_length=200, description="The seal's /Location (e.g. the firm's "
                                                                          "city).")

    @property
    def effective_clickhouse_url(self) -> str:
        return self.clickhouse_url or f"chdb:///{self.data_dir.resolve() / 'clickhouse'}"
