"""004 §5.2 协议标识系统: a section's number says which part of the agreement it belongs to, and the
part says which department owns it, the colour it is shown in, and who may approve it.

Departments are the role codes of 004 §二 (SALES, OPS, CLEARING, FINANCE), matched against an
operator's role keys in lower case. 5.x (附加条款, general terms) belongs to no department;
FINANCE approves it, as the final approver of the whole agreement (004 §7.3)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from domain.shared.errors import NotFoundError

SECTION_NUMBER = re.compile(r"^([1-5])\.([1-9][0-9]?)$")


@dataclass(frozen=True)
class Part:
    digit: str
    title_zh: str
    title_en: str
    department: str      # the 004 role code shown on the section, GENERAL for 5.x
    colour: str          # the 004 colour name, also the CSS class of the preview
    approver: str        # the role key whose members approve or reject the part's sections
    rgb: tuple[int, int, int]


PARTS: dict[str, Part] = {p.digit: p for p in (
    Part("1", "基本信息", "Basic information", "OPS", "blue", "ops", (37, 99, 235)),
    Part("2", "商务条款", "Commercial terms", "SALES", "green", "sales", (22, 163, 74)),
    Part("3", "费率与计费", "Rates and billing", "CLEARING", "yellow", "clearing", (202, 138, 4)),
    Part("4", "结算条款", "Settlement", "FINANCE", "purple", "finance", (147, 51, 234)),
    Part("5", "附加条款", "General terms", "GENERAL", "grey", "finance", (107, 114, 128)),
)}

# The departments involved in an agreement: their members may comment (批注) on any section.
INVOLVED_ROLES = frozenset({"ops", "sales", "clearing", "finance"})

# 004 §5.2 审批标记, derived per section from its reviews (the last one decides).
MARKS = {"approved": "✅", "pending": "⏳", "rejected": "❌", "commented": "📝"}
MARK_LABELS = {"approved": "已审批 Approved", "pending": "审批中 Pending", "rejected": "已拒绝 Rejected",
               "commented": "待补充 Commented"}


def part_of(number: str) -> Part:
    match = SECTION_NUMBER.fullmatch(number)
    if not match:
        raise NotFoundError(f"{number!r} is not a section number such as 1.1 or 4.2", field="section")
    return PARTS[match.group(1)]


def sort_key(number: str) -> tuple[int, int]:
    major, minor = number.split(".")
    return int(major), int(minor)


def mark_of(reviews: list[dict[str, str]]) -> str:
    """The section's mark from its reviews in order: an approval or rejection stands until a later
    review; a comment after it (or before any) reopens the section as 📝 待补充."""
    kinds = {"approved": "approved", "rejected": "rejected", "commented": "commented"}
    return kinds[reviews[-1]["kind"]] if reviews else "pending"
