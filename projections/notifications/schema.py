"""The tables of the notifications projection (ADR 0015).

``notifications`` is the in-app list (站内信), keyed by (event, recipient, kind). The
``notifications_flow_*``, ``notifications_leads`` and ``notifications_preferences`` tables are
the projection's own memory of what earlier events said (a task's handlers, a version's node
names, a lead's owner, an operator's language and channels): one projection applies events in
order, two projections do not, so it never reads another projection's tables.

``notifications_outbox`` is the contract with the notifier (the delivery worker): one row per
(event, recipient, external channel), written in the same transaction as the in-app row and never
truncated by a rebuild — it is in ``SCHEMA`` but not in ``TABLES``."""
from __future__ import annotations

OUTBOX = (
    "CREATE TABLE IF NOT EXISTS notifications_outbox (key text PRIMARY KEY, notification_id uuid NOT NULL,"
    " recipient text NOT NULL, channel text NOT NULL CHECK (channel IN ('email','sms','wecom','oa')),"
    " kind text NOT NULL, language text NOT NULL, subject text NOT NULL, body text NOT NULL, link text,"
    " payload jsonb NOT NULL DEFAULT '{}', status text NOT NULL DEFAULT 'pending', attempts int NOT NULL DEFAULT 0,"
    " next_attempt_at timestamptz NOT NULL, last_error text, created_at timestamptz NOT NULL, sent_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS notifications_outbox_due ON notifications_outbox (next_attempt_at)"
    " WHERE status IN ('pending','failed')",
)

TABLES = ("notifications", "notifications_preferences", "notifications_readers", "notifications_flow_instances",
          "notifications_flow_tasks", "notifications_flow_versions", "notifications_flow_keys", "notifications_leads")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notifications (id uuid PRIMARY KEY, recipient text NOT NULL, kind text NOT NULL,"
    " title text NOT NULL, body text NOT NULL, link text, instance_id uuid, task_id text, lead_id uuid,"
    " business_line text, department_id uuid, source_id uuid NOT NULL, source_version int NOT NULL,"
    " position bigint NOT NULL, created_at timestamptz NOT NULL, read_at timestamptz)",
    # An operator's list, newest first (keyset on position, id), all or unread only, or of one kind.
    "CREATE INDEX IF NOT EXISTS notifications_page ON notifications (recipient, position DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (recipient, position DESC, id DESC)"
    " WHERE read_at IS NULL",
    "CREATE INDEX IF NOT EXISTS notifications_kind ON notifications (recipient, kind, position DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS notifications_source ON notifications (source_id, source_version)",
    "CREATE TABLE IF NOT EXISTS notifications_preferences (recipient text PRIMARY KEY, id uuid NOT NULL UNIQUE,"
    " language text NOT NULL, channels jsonb NOT NULL DEFAULT '{}', quiet_hours jsonb)",
    # Whose read marks an aggregate (one per operator and day) holds.
    "CREATE TABLE IF NOT EXISTS notifications_readers (id uuid PRIMARY KEY, recipient text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notifications_flow_instances (id uuid PRIMARY KEY, title text NOT NULL,"
    " initiator text NOT NULL, business_line text, department_id uuid, definition_key text NOT NULL,"
    " definition_version int NOT NULL, summary jsonb NOT NULL DEFAULT '{}', returned_token text)",
    "CREATE TABLE IF NOT EXISTS notifications_flow_tasks (instance_id uuid NOT NULL, task_id text NOT NULL,"
    " state jsonb NOT NULL, PRIMARY KEY (instance_id, task_id))",
    "CREATE TABLE IF NOT EXISTS notifications_flow_versions (definition_key text NOT NULL, number int NOT NULL,"
    " names jsonb NOT NULL, summary_fields text[] NOT NULL DEFAULT '{}', PRIMARY KEY (definition_key, number))",
    "CREATE TABLE IF NOT EXISTS notifications_flow_keys (id uuid PRIMARY KEY, key text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notifications_leads (id uuid PRIMARY KEY, owner text, channel_code text NOT NULL)",
    *OUTBOX,
)
