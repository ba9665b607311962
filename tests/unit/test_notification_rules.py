"""Who hears of what, in which words, on which channels, and when quiet hours let a message go:
the notifications context's pure rules (ADR 0015)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.utils import get_topic

from domain.notifications import recipients as rules
from domain.notifications.kinds import KINDS, LANGUAGES, notification_id, outbox_key
from domain.notifications.policy import FirmPolicy, quiet_until
from domain.notifications.preferences import NotificationPreferences
from domain.notifications.reads import NotificationReads
from domain.notifications.recipients import TaskView
from domain.notifications.templates import FIELDS, TEMPLATES, fields, render
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import InvalidInputError, RuleViolationError

A, B, C, S = "operator:a", "operator:b", "operator:c", "operator:s"
SH = ZoneInfo("Asia/Shanghai")


def test_every_kind_has_words_in_every_language_from_the_events_fields_only():
    assert sorted(TEMPLATES) == sorted(KINDS)
    for kind, by_language in TEMPLATES.items():
        assert sorted(by_language) == sorted(LANGUAGES), kind
        for title, body in by_language.values():
            assert set(title.get_identifiers()) | set(body.get_identifiers()) <= set(FIELDS), kind
    assert render("task_arrived", "en", fields(title="T", node="N")) == ("New task: T", "\"T\" is waiting for you at "
                                                                                       "\"N\".")
    assert render("task_arrived", "fr", fields(title="T", node="N"))[0] == "新待办：T"  # zh when unknown


def test_a_sequential_task_is_held_by_the_next_in_line_and_each_newcomer_hears_of_it():
    task = TaskView(node="n", mode="sequential", candidates=(A, B, C))
    assert rules.task_opened(task, returned=False) == rules.Notice("task_arrived", (A,))
    after = task.approved(A)
    assert rules.handed_over(task, after).recipients == (B,)
    anyone = TaskView(node="n", mode="any", candidates=(A, B))
    assert rules.task_opened(anyone, returned=False).recipients == (A, B)
    assert rules.handed_over(anyone, anyone.approved(A)).recipients == ()


def test_added_signers_delegates_and_reassignment_reach_whoever_holds_the_task_now():
    task = TaskView(node="n", mode="single", candidates=(A,))
    before = task.signer_added(B, "before")
    assert rules.handed_over(task, before).recipients == (B,)
    assert rules.handed_over(before, before.signer_approved()).recipients == (A,)
    after = task.signer_added(C, "after")
    assert rules.handed_over(task, after).recipients == ()                        # not yet: once A has approved
    assert rules.handed_over(after, after.after_signers_pending()).recipients == (C,)
    delegated = task.handed(A, B, delegated=True)
    assert rules.handed_over(task, delegated).recipients == (B,)
    assert rules.handed_over(delegated, delegated.delegation_answered(B)).recipients == (A,)
    assert rules.handed_over(task, task.reassigned([B, C])).recipients == (B, C)
    assert rules.handed_over(TaskView("n", "any", (A, B)), TaskView("n", "any", (A, B)).claimed(A)).recipients == ()


def test_nobody_is_told_of_their_own_act_and_only_operators_are_told():
    notice = rules.copied([A, B, A, "admin:bootstrap", "operator:"])
    assert notice.to(B) == [A]
    assert rules.task_opened(TaskView("start", "resubmit", (S,)), returned=False).kind == "returned_to_you"
    assert rules.task_closed("approved", S) == rules.Notice("instance_approved", (S,))
    assert rules.task_closed("resubmitted", S) is None
    assert rules.lead_owned(A, A) is None and rules.lead_owned(None, A) == rules.Notice("lead_assigned", (A,))
    assert rules.lead_opening("entered", A) is None and rules.lead_opening("opened", None) is None


def test_channels_follow_the_operators_choice_within_the_firms_policy():
    policy = FirmPolicy.of(["email", "sms"], ["email"], ["task_arrived"])
    assert policy.channels_for("copied", None) == ["in_app", "email"]          # the firm's default
    assert policy.channels_for("copied", {"copied": ["wecom", "sms"]}) == ["sms"]  # wecom is not enabled
    assert policy.channels_for("task_arrived", {"task_arrived": ["sms"]}) == ["in_app", "sms"]  # cannot be muted
    with pytest.raises(ValueError, match="fax"):
        FirmPolicy.of(["fax"], [], [])
    with pytest.raises(InvalidInputError) as refused:
        policy.check("zh", {"task_arrived": ["email"], "copied": ["wecom"]}, None)
    assert [e["path"] for e in refused.value.errors] == ["channels.task_arrived", "channels.copied"]


def test_quiet_hours_push_an_external_message_to_their_end_even_over_midnight():
    quiet = {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}
    late = datetime(2026, 3, 2, 23, 30, tzinfo=SH)
    assert quiet_until(late, quiet) == datetime(2026, 3, 3, 8, 0, tzinfo=SH)
    early = datetime(2026, 3, 3, 7, 0, tzinfo=SH)
    assert quiet_until(early.astimezone(timezone.utc), quiet) == datetime(2026, 3, 3, 8, 0, tzinfo=SH)
    noon = datetime(2026, 3, 3, 12, 0, tzinfo=SH)
    assert quiet_until(noon, quiet) == noon and quiet_until(noon, None) == noon
    lunch = {"start": "12:00", "end": "13:30", "timezone": "Asia/Shanghai"}
    assert quiet_until(noon, lunch) == datetime(2026, 3, 3, 13, 30, tzinfo=SH)


def test_ids_and_keys_are_the_same_on_every_replay():
    from uuid import UUID
    event = UUID("6b1d7e0c-3f0e-4e57-9d55-1c3f3a1f8e2a")
    assert notification_id(event, 3, A, "copied") == notification_id(event, 3, A, "copied")
    assert notification_id(event, 3, A, "copied") != notification_id(event, 3, B, "copied")
    assert outbox_key(event, 3, A, "sms") == f"{event}:3:{A}:sms"


def test_preferences_change_by_events_and_refuse_what_changes_nothing():
    with acting_as(CommandContext(A, "c")):
        preferences = NotificationPreferences.open(A)
        preferences.set("en", {"copied": ["email", "in_app", "email"]}, None, FirmPolicy())
        assert preferences.as_dict() == {"language": "en", "channels": {"copied": ["email", "in_app"]},
                                         "quiet_hours": None}
        with pytest.raises(RuleViolationError, match="nothing changed"):
            preferences.set("en", {"copied": ["in_app", "email"]}, None, FirmPolicy())
        marks = NotificationReads.open(A, "2026-03-02")
        with pytest.raises(RuleViolationError):
            marks.mark([], None)


# Stored events name their class by topic and carry their fields by name: these may only grow.
STORED = {
    "domain.notifications.preferences:NotificationPreferences.Created": ("recipient",),
    "domain.notifications.preferences:NotificationPreferences.PreferencesSet": ("language", "channels",
                                                                                 "quiet_hours"),
    "domain.notifications.reads:NotificationReads.Created": ("recipient", "day"),
    "domain.notifications.reads:NotificationReads.NotificationsRead": ("ids", "up_to"),
}


def test_notification_event_topics_and_fields_are_the_stored_ones():
    classes = [NotificationPreferences.Created, NotificationPreferences.PreferencesSet, NotificationReads.Created,
               NotificationReads.NotificationsRead]
    envelope = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "correlation_id",
                "business_line"}
    found = {get_topic(c): tuple(f.name for f in dataclasses.fields(c) if f.name not in envelope) for c in classes}
    assert found == STORED
