"""Read models of the leads context: channels, the lead list (one row per phone), every intake
(留资记录), the customer timeline (all activity / follow-ups / transfers / calls / intakes)."""
from __future__ import annotations

from typing import Any

from domain.leads.binding import Binding
from domain.leads.channel import Channel
from domain.leads.lead import Lead
from domain.leads.segment import Segment, SopTask
from domain.privacy.erasure import Erasure
from domain.privacy.personal import ERASED, is_erased
from projections.framework import PostgresProjection, SqlWriter, handles, json_text


def _json(value: Any) -> str:
    return json_text(value, default=str)  # dates and decimals inside lead facts as text


def _erased(row: Any) -> bool:
    """The lead's row (``RETURNING phone``) was redacted by its erasure."""
    if row is None:
        return False
    return is_erased(row["phone"] if isinstance(row, dict) else row[0])


class LeadsProjection(PostgresProjection):
    name = "leads.leads"
    tables = ("leads_channels", "leads_leads", "leads_intakes", "leads_timeline", "leads_bindings", "leads_segments",
              "leads_sop_tasks")
    schema = (
        "CREATE TABLE IF NOT EXISTS leads_channels (code text PRIMARY KEY, id uuid NOT NULL, name text NOT NULL,"
        " channel_type text NOT NULL, promotion_type text NOT NULL, business_line text NOT NULL,"
        " department_id uuid NOT NULL, enabled boolean NOT NULL, token_issued_at timestamptz,"
        " landing_pages jsonb NOT NULL DEFAULT '{}', version int NOT NULL, created_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS leads_leads (id uuid PRIMARY KEY, business_line text NOT NULL,"
        " phone text NOT NULL, status text NOT NULL, reason text, flag text NOT NULL, channel_code text NOT NULL,"
        " department_id uuid NOT NULL, owner text, assigned_at timestamptz, recycle_count int NOT NULL DEFAULT 0,"
        " lifecycle text NOT NULL DEFAULT 'prospect', intakes int NOT NULL DEFAULT 1,"
        " first_intake_at timestamptz NOT NULL, last_intake_at timestamptz NOT NULL, calls int NOT NULL DEFAULT 0,"
        " connected_calls int NOT NULL DEFAULT 0, follow_ups int NOT NULL DEFAULT 0,"
        " connected_follow_ups int NOT NULL DEFAULT 0, last_follow_up_at timestamptz,"
        " next_follow_up_at timestamptz, wechat_added boolean NOT NULL DEFAULT false,"
        " opening_intent text NOT NULL DEFAULT 'none', deposit_intent text NOT NULL DEFAULT 'none',"
        " opening_kind text, opening_node text, opening_at timestamptz, opened_at timestamptz, attribution jsonb,"
        " name text, version int NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS leads_leads_list ON leads_leads (business_line, last_intake_at DESC, id DESC)",
        "CREATE INDEX IF NOT EXISTS leads_leads_owner ON leads_leads (owner, last_intake_at DESC, id DESC)"
        " WHERE owner IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS leads_leads_recycle ON leads_leads (business_line, department_id, assigned_at)"
        " WHERE owner IS NOT NULL AND lifecycle = 'prospect'",
        "CREATE INDEX IF NOT EXISTS leads_leads_phone ON leads_leads (phone)",
        # Lookups by phone use its keyed hash (ADR 0028); NULL for leads created before it.
        "ALTER TABLE leads_leads ADD COLUMN IF NOT EXISTS phone_hash text",
        "CREATE INDEX IF NOT EXISTS leads_leads_phone_hash ON leads_leads (phone_hash)",
        "CREATE TABLE IF NOT EXISTS leads_intakes (lead_id uuid NOT NULL, seq int NOT NULL, phone text NOT NULL,"
        " business_line text NOT NULL, source text NOT NULL, status text NOT NULL, reason text, flag text NOT NULL,"
        " channel_code text NOT NULL, channel_name text NOT NULL, channel_type text NOT NULL,"
        " promotion_type text NOT NULL, at timestamptz NOT NULL, fields jsonb NOT NULL,"
        " PRIMARY KEY (lead_id, seq))",
        "CREATE TABLE IF NOT EXISTS leads_timeline (lead_id uuid NOT NULL, position bigint NOT NULL,"
        " kind text NOT NULL, category text NOT NULL, at timestamptz NOT NULL, actor text NOT NULL,"
        " detail jsonb NOT NULL, PRIMARY KEY (lead_id, position))",
        "CREATE TABLE IF NOT EXISTS leads_segments (business_line text NOT NULL, key text NOT NULL,"
        " id uuid NOT NULL, name text NOT NULL, filter jsonb NOT NULL, PRIMARY KEY (business_line, key))",
        "CREATE TABLE IF NOT EXISTS leads_sop_tasks (business_line text NOT NULL, key text NOT NULL,"
        " id uuid NOT NULL, config jsonb NOT NULL, reached int NOT NULL DEFAULT 0, last_run_on date,"
        " PRIMARY KEY (business_line, key))",
        "CREATE TABLE IF NOT EXISTS leads_bindings (phone text PRIMARY KEY, kind text NOT NULL, holder text NOT NULL,"
        " department_id text, bound_at timestamptz NOT NULL, active boolean NOT NULL, source text NOT NULL)",
    )

    # -- channels ---------------------------------------------------------------------------------
    @handles(Channel.Created)
    def channel_created(self, w: SqlWriter, e: Channel.Created, position: int) -> None:
        w.execute("INSERT INTO leads_channels (code, id, name, channel_type, promotion_type, business_line,"
                  " department_id, enabled, version, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,true,%s,%s)",
                  (e.code, e.originator_id, e.name, e.channel_type, e.promotion_type, e.business_line,
                   e.department_id, e.originator_version, e.timestamp))

    @handles(Channel.Updated)
    def channel_updated(self, w: SqlWriter, e: Channel.Updated, position: int) -> None:
        w.execute("UPDATE leads_channels SET name=%s, channel_type=%s, promotion_type=%s, department_id=%s,"
                  " enabled=%s, version=%s WHERE id=%s", (e.name, e.channel_type, e.promotion_type, e.department_id,
                                                          e.enabled, e.originator_version, e.originator_id))

    @handles(Channel.TokenIssued)
    def token(self, w: SqlWriter, e: Channel.TokenIssued, position: int) -> None:
        w.execute("UPDATE leads_channels SET token_issued_at=%s, version=%s WHERE id=%s",
                  (e.timestamp, e.originator_version, e.originator_id))

    @handles(Channel.LandingPageConfigured)
    def landing(self, w: SqlWriter, e: Channel.LandingPageConfigured, position: int) -> None:
        w.execute("UPDATE leads_channels SET landing_pages = landing_pages || jsonb_build_object(%s::text, %s::jsonb),"
                  " version=%s WHERE id=%s", (e.key, _json(e.config), e.originator_version, e.originator_id))

    # -- bindings ---------------------------------------------------------------------------------
    @handles(Binding.Bound, Binding.Rebound)
    def bound(self, w: SqlWriter, e: Binding.Bound | Binding.Rebound, position: int) -> None:
        w.execute("INSERT INTO leads_bindings VALUES (%s,%s,%s,%s,%s,true,%s) ON CONFLICT (phone) DO UPDATE SET"
                  " kind=EXCLUDED.kind, holder=EXCLUDED.holder, department_id=EXCLUDED.department_id,"
                  " bound_at=EXCLUDED.bound_at, active=true, source=EXCLUDED.source",
                  (e.phone, e.kind, e.holder, e.department_id, e.bound_at, e.source))

    @handles(Binding.Unbound)
    def unbound(self, w: SqlWriter, e: Binding.Unbound, position: int) -> None:
        w.execute("UPDATE leads_bindings SET active = false WHERE phone = %s", (e.phone,))

    # -- leads --------------------------------------------------------------------------------------
    # An event applied after its lead's erasure may still carry clear values: sealed by, or
    # opened in, a process that had the key cached (ADR 0028). Each handler learns from the
    # lead's row (RETURNING phone, no extra query) whether it was erased, and writes the marker.
    def _touch(self, w: SqlWriter, e: Lead.Event, position: int) -> bool:
        """An event that changes no column of the lead still moves its version and position.
        True: the lead was erased."""
        return _erased(w.execute("UPDATE leads_leads SET version=%s, position=%s WHERE id=%s RETURNING phone",
                                 (e.originator_version, position, e.originator_id)).fetchone())

    def _timeline(self, w: SqlWriter, e: Lead.Event, position: int, kind: str, category: str, at: Any,
                  detail: dict[str, Any], erased: bool = False) -> None:
        if erased:  # the keys the erasure handler redacts
            detail = {k: ERASED if k in ("content", "nickname") and isinstance(v, str) else v
                      for k, v in detail.items()}
        w.execute("INSERT INTO leads_timeline VALUES (%s,%s,%s,%s,%s,%s,%s::jsonb)",
                  (e.originator_id, position, kind, category, at, e.actor, _json(detail)))

    def _intake_row(self, w: SqlWriter, e: Lead.Created | Lead.IntakeRecorded, seq: int, phone: str,
                    erased: bool = False) -> None:
        i = e.intake
        fields = i.get("fields") or {}
        w.execute("INSERT INTO leads_intakes VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb)",
                  (e.originator_id, seq, phone, e.business_line, i["source"], e.status, e.reason, e.flag,
                   i["channel_code"], i["channel_name"], i["channel_type"], i["promotion_type"], i["at"],
                   _json(dict.fromkeys(fields, ERASED) if erased else fields)))

    @handles(Lead.Created)
    def created(self, w: SqlWriter, e: Lead.Created, position: int) -> None:
        i = e.intake
        assigned_at = i["at"] if e.owner else None
        w.execute("INSERT INTO leads_leads (id, business_line, phone, phone_hash, status, reason, flag, channel_code,"
                  " department_id, owner, assigned_at, first_intake_at, last_intake_at, name, version, position)"
                  " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                  (e.originator_id, e.business_line, e.phone,
                   None if is_erased(e.phone_digest) else e.phone_digest,  # a rebuild after the erasure
                   e.status, e.reason, e.flag,
                   i["channel_code"], e.department_id, e.owner, assigned_at, i["at"], i["at"],
                   (i.get("fields") or {}).get("name"), e.originator_version, position))
        self._intake_row(w, e, 1, e.phone)
        self._timeline(w, e, position, "intake", "intake", i["at"], {
            "channel_code": i["channel_code"], "channel_name": i["channel_name"], "status": e.status,
            "reason": e.reason, "flag": e.flag, "source": i["source"], "owner": e.owner,
            "department_id": e.department_id, "decisions": e.decisions,
            **({"rule_errors": i["rule_errors"]} if i.get("rule_errors") else {})})

    @handles(Lead.IntakeRecorded)
    def intake(self, w: SqlWriter, e: Lead.IntakeRecorded, position: int) -> None:
        i = e.intake
        row = w.execute("UPDATE leads_leads SET intakes = intakes + 1, last_intake_at = %s, flag = %s,"
                        " status = CASE WHEN %s = 'valid' THEN 'valid' ELSE status END,"
                        " reason = CASE WHEN %s = 'valid' THEN NULL ELSE reason END,"
                        " channel_code = CASE WHEN %s = 'valid' AND status <> 'valid' THEN %s ELSE channel_code END,"
                        " department_id = %s, owner = %s,"
                        " assigned_at = CASE WHEN %s::text IS NULL THEN NULL WHEN owner IS NULL OR owner <> %s"
                        " THEN %s ELSE assigned_at END,"
                        " version = %s, position = %s WHERE id = %s RETURNING phone, intakes",
                        (i["at"], e.flag, e.status, e.status, e.status, i["channel_code"], e.department_id, e.owner,
                         e.owner, e.owner, i["at"], e.originator_version, position, e.originator_id)).fetchone()
        self._intake_row(w, e, row["intakes"] if isinstance(row, dict) else row[1],
                         row["phone"] if isinstance(row, dict) else row[0], _erased(row))
        self._timeline(w, e, position, "intake", "intake", i["at"], {
            "channel_code": i["channel_code"], "channel_name": i["channel_name"], "status": e.status,
            "reason": e.reason, "flag": e.flag, "source": i["source"], "owner": e.owner,
            "department_id": e.department_id, "decisions": e.decisions,
            **({"rule_errors": i["rule_errors"]} if i.get("rule_errors") else {})}, _erased(row))

    @handles(Lead.Assigned)
    def assigned(self, w: SqlWriter, e: Lead.Assigned, position: int) -> None:
        w.execute("UPDATE leads_leads SET department_id=%s, owner=%s, assigned_at=%s, version=%s, position=%s"
                  " WHERE id=%s", (e.department_id, e.owner, e.at if e.owner else None, e.originator_version,
                                   position, e.originator_id))
        self._timeline(w, e, position, e.kind, "transfer", e.at, {
            "from_owner": e.previous_owner, "from_department": e.previous_department, "to_owner": e.owner,
            "to_department": e.department_id, "reason": e.reason, "decisions": e.decisions})

    @handles(Lead.Recycled, Lead.RecycledAfterWorkingDays)
    def recycled(self, w: SqlWriter, e: Lead.Recycled | Lead.RecycledAfterWorkingDays, position: int) -> None:
        w.execute("UPDATE leads_leads SET department_id=%s, owner=NULL, assigned_at=NULL,"
                  " recycle_count = recycle_count + 1, version=%s, position=%s WHERE id=%s",
                  (e.to_department, e.originator_version, position, e.originator_id))
        window = ({"days_basis": "working", "due_at": e.due_at} if isinstance(e, Lead.RecycledAfterWorkingDays)
                  else {})
        self._timeline(w, e, position, "recycled", "transfer", e.at, {
            "rule": e.rule, "days": e.days, **window, "from_owner": e.previous_owner,
            "from_department": e.previous_department, "to_department": e.to_department})

    @handles(Lead.FollowedUp)
    def followed(self, w: SqlWriter, e: Lead.FollowedUp, position: int) -> None:
        row = w.execute("UPDATE leads_leads SET follow_ups = follow_ups + 1, last_follow_up_at = %s,"
                        " connected_follow_ups = connected_follow_ups + %s,"
                        " next_follow_up_at = %s, opening_intent = COALESCE(%s, opening_intent),"
                        " deposit_intent = COALESCE(%s, deposit_intent), version=%s, position=%s WHERE id=%s"
                        " RETURNING phone", (e.at, int(bool(e.connected)), e.next_at, e.opening_intent,
                                             e.deposit_intent, e.originator_version, position,
                                             e.originator_id)).fetchone()
        self._timeline(w, e, position, "follow_up", "follow_up", e.at, {
            "content": e.content, "connected": e.connected, "next_at": e.next_at, "opening_intent": e.opening_intent,
            "deposit_intent": e.deposit_intent, "tags": e.tags, "by": e.by}, _erased(row))

    @handles(Lead.CallRecorded)
    def call(self, w: SqlWriter, e: Lead.CallRecorded, position: int) -> None:
        w.execute("UPDATE leads_leads SET calls = calls + 1, connected_calls = connected_calls + %s, version=%s,"
                  " position=%s WHERE id=%s", (int(e.connected), e.originator_version, position, e.originator_id))
        self._timeline(w, e, position, "call", "call", e.started_at, {
            "duration_seconds": e.duration_seconds, "connected": e.connected, "by": e.by})

    @handles(Lead.WechatAdded)
    def wechat(self, w: SqlWriter, e: Lead.WechatAdded, position: int) -> None:
        row = w.execute("UPDATE leads_leads SET wechat_added = true, version=%s, position=%s WHERE id=%s"
                        " RETURNING phone", (e.originator_version, position, e.originator_id)).fetchone()
        self._timeline(w, e, position, "wechat_added", "activity", e.at, {"nickname": e.nickname, "by": e.by},
                       _erased(row))

    @handles(Lead.SmsSent)
    def sms(self, w: SqlWriter, e: Lead.SmsSent, position: int) -> None:
        erased = self._touch(w, e, position)
        self._timeline(w, e, position, "sms", "activity", e.at, {
            "content": e.content, "template": e.template, "sensitive_hits": e.sensitive_hits, "by": e.by}, erased)

    @handles(Lead.ContentBlocked)
    def blocked(self, w: SqlWriter, e: Lead.ContentBlocked, position: int) -> None:
        erased = self._touch(w, e, position)
        self._timeline(w, e, position, "content_blocked", "activity", e.at, {
            "kind": e.kind, "content": e.content, "sensitive_hits": e.sensitive_hits, "by": e.by}, erased)

    @handles(Lead.OpeningProgressed)
    def opening(self, w: SqlWriter, e: Lead.OpeningProgressed, position: int) -> None:
        lifecycle = {"opened": "opened", "closed": "closed"}.get(e.kind)
        w.execute("UPDATE leads_leads SET opening_kind=%s, opening_node=COALESCE(%s, opening_node), opening_at=%s,"
                  " lifecycle = COALESCE(%s, lifecycle),"
                  " opened_at = CASE WHEN %s = 'opened' THEN %s::timestamptz ELSE opened_at END,"
                  " attribution = CASE WHEN %s = 'opened' THEN %s::jsonb ELSE attribution END,"
                  " version=%s, position=%s WHERE id=%s",
                  (e.kind, e.node, e.at, lifecycle, e.kind, e.at, e.kind, _json(e.attribution),
                   e.originator_version, position, e.originator_id))
        self._timeline(w, e, position, f"opening_{e.kind}", "activity", e.at, {
            "node": e.node, "external_id": e.external_id, "attribution": e.attribution})

    @handles(Lead.SopExecuted)
    def sop(self, w: SqlWriter, e: Lead.SopExecuted, position: int) -> None:
        erased = self._touch(w, e, position)
        self._timeline(w, e, position, f"sop_{e.action}", "activity", e.at, {
            "task": e.task, "reference": e.reference, "content": e.content,
            "sensitive_hits": getattr(e, "sensitive_hits", None) or []}, erased)

    # -- erasure (ADR 0028): the lead's personal values become the erased marker -------------------
    @handles(Erasure.SubjectErased)
    def erased(self, w: SqlWriter, e: Erasure.SubjectErased, position: int) -> None:
        if e.subject_kind != "lead":
            return
        # phone_hash too: the list's phone filter would still find the erased lead by it.
        w.execute("UPDATE leads_leads SET phone = %(x)s, phone_hash = NULL,"
                  " name = CASE WHEN name IS NULL THEN NULL ELSE %(x)s END WHERE id = %(id)s",
                  {"x": ERASED, "id": e.subject_id})
        w.execute("UPDATE leads_intakes SET phone = %(x)s, fields = (SELECT coalesce(jsonb_object_agg(k, %(x)s::text),"
                  " '{}'::jsonb) FROM jsonb_object_keys(fields) AS k) WHERE lead_id = %(id)s",
                  {"x": ERASED, "id": e.subject_id})
        for key in ("content", "nickname"):
            w.execute("UPDATE leads_timeline SET detail = jsonb_set(detail, ARRAY[%(k)s::text], to_jsonb(%(x)s::text))"
                      " WHERE lead_id = %(id)s AND jsonb_typeof(detail -> %(k)s::text) = 'string'",
                      {"k": key, "x": ERASED, "id": e.subject_id})

    # -- segments and SOP tasks -----------------------------------------------------------------
    @handles(Segment.Saved)
    def segment(self, w: SqlWriter, e: Segment.Saved, position: int) -> None:
        w.execute("INSERT INTO leads_segments VALUES (%s,%s,%s,%s,%s::jsonb)",
                  (e.business_line, e.key, e.originator_id, e.name, _json(e.filter)))

    @handles(Segment.Changed)
    def segment_changed(self, w: SqlWriter, e: Segment.Changed, position: int) -> None:
        w.execute("UPDATE leads_segments SET name=%s, filter=%s::jsonb WHERE id=%s",
                  (e.name, _json(e.filter), e.originator_id))

    @handles(SopTask.Saved)
    def sop_saved(self, w: SqlWriter, e: SopTask.Saved, position: int) -> None:
        w.execute("INSERT INTO leads_sop_tasks (business_line, key, id, config) VALUES (%s,%s,%s,%s::jsonb)",
                  (e.business_line, e.config["key"], e.originator_id, _json(e.config)))

    @handles(SopTask.Changed)
    def sop_changed(self, w: SqlWriter, e: SopTask.Changed, position: int) -> None:
        w.execute("UPDATE leads_sop_tasks SET config=%s::jsonb WHERE id=%s", (_json(e.config), e.originator_id))

    @handles(SopTask.Ran)
    def sop_ran(self, w: SqlWriter, e: SopTask.Ran, position: int) -> None:
        w.execute("UPDATE leads_sop_tasks SET reached = reached + %s, last_run_on = %s WHERE id=%s",
                  (sum(1 for c in e.contacts if c.get("reference")), e.on, e.originator_id))
