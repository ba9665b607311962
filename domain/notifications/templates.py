"""The words of each kind of notification, per language (zh by default, en). Templates are
``string.Template``s over the event's own fields — never free text from a request — so what an
SMS or a WeCom message says is fixed here and reviewable (ADR 0015)."""
from __future__ import annotations

from string import Template
from typing import TypedDict

from domain.notifications.kinds import DEFAULT_LANGUAGE, LANGUAGES


class Fields(TypedDict):
    """What a template may use: every kind gets every field ("" where the event has none)."""
    title: str         # the flow instance's title
    node: str          # the node's name in the instance's version (its id when unnamed)
    instance_id: str
    link: str          # the deep-link path in the UI, e.g. /flows/instances/<id>
    due_at: str        # an SLA's deadline
    channel: str       # a lead's channel code
    lead_id: str
    message: str       # rule_notice: the message of the IF-THEN rule as published with its flow version



FIELDS: tuple[str, ...] = tuple(Fields.__annotations__)


def fields(*, title: str = "", node: str = "", instance_id: str = "", link: str = "", due_at: str = "",
           channel: str = "", lead_id: str = "", message: str = "") -> Fields:
    return Fields(title=title, node=node, instance_id=instance_id, link=link, due_at=due_at, channel=channel,
                  lead_id=lead_id, message=message)


def _t(title: str, body: str) -> tuple[Template, Template]:
    return Template(title), Template(body)


TEMPLATES: dict[str, dict[str, tuple[Template, Template]]] = {
    "task_arrived": {
        "zh": _t("新待办：${title}", "「${title}」已到「${node}」，等待您处理。"),
        "en": _t("New task: ${title}", "\"${title}\" is waiting for you at \"${node}\"."),
    },
    "task_urged": {
        "zh": _t("催办：${title}", "「${title}」在「${node}」的待办被催办，请尽快处理。"),
        "en": _t("Reminder: ${title}", "You are asked to handle \"${title}\" at \"${node}\" soon."),
    },
    "sla_warning": {
        "zh": _t("即将超时：${title}", "「${title}」在「${node}」的待办即将超时（时限 ${due_at}）。"),
        "en": _t("Due soon: ${title}", "\"${title}\" at \"${node}\" is due at ${due_at}."),
    },
    "sla_breached": {
        "zh": _t("已超时：${title}", "「${title}」在「${node}」的待办已超过时限（${due_at}），请立即处理。"),
        "en": _t("Overdue: ${title}", "\"${title}\" at \"${node}\" passed its deadline (${due_at})."),
    },
    "sla_escalated": {
        "zh": _t("超时升级：${title}", "「${title}」在「${node}」的待办已超时，已升级给您。"),
        "en": _t("Escalated: ${title}", "\"${title}\" is overdue at \"${node}\" and was escalated to you."),
    },
    "returned_to_you": {
        "zh": _t("被退回：${title}", "「${title}」被退回到「${node}」，请您处理。"),
        "en": _t("Returned: ${title}", "\"${title}\" was returned to you at \"${node}\"."),
    },
    "instance_approved": {
        "zh": _t("审批通过：${title}", "您发起的「${title}」已通过「${node}」。"),
        "en": _t("Approved: ${title}", "Your \"${title}\" was approved at \"${node}\"."),
    },
    "instance_rejected": {
        "zh": _t("已拒绝：${title}", "您发起的「${title}」在「${node}」被拒绝。"),
        "en": _t("Rejected: ${title}", "Your \"${title}\" was rejected at \"${node}\"."),
    },
    "instance_completed": {
        "zh": _t("已办结：${title}", "您发起的「${title}」已办结。"),
        "en": _t("Completed: ${title}", "Your \"${title}\" is complete."),
    },
    "copied": {
        "zh": _t("抄送：${title}", "「${title}」抄送给您，请知悉。"),
        "en": _t("For your information: ${title}", "\"${title}\" was copied to you."),
    },
    "lead_assigned": {
        "zh": _t("新线索", "收到一条线索，请尽快跟进（渠道 ${channel}）。"),
        "en": _t("New lead", "A lead was assigned to you: please follow it up soon (channel ${channel})."),
    },
    "rule_notice": {
        "zh": _t("规则提醒：${title}", "「${title}」${node}：${message}"),
        "en": _t("Rule notice: ${title}", "\"${title}\" ${node}: ${message}"),
    },
    "lead_account_opened": {
        "zh": _t("线索已开户", "您跟进的线索已开户（渠道 ${channel}）。"),
        "en": _t("Lead opened an account", "A lead of yours opened an account (channel ${channel})."),
    },
}


def render(kind: str, language: str, values: Fields) -> tuple[str, str]:
    """(title, body) of a notification in ``language`` (zh when the language is not known)."""
    title, body = TEMPLATES[kind][language if language in LANGUAGES else DEFAULT_LANGUAGE]
    mapping = dict(values)
    return title.substitute(mapping), body.substitute(mapping)
