"""Demo data of the compliance context: a small internal blacklist (内部黑名单) with one person the
demo's screening will hit — 王建国 (the traditional 王建國 and the pinyin "Wang Jianguo" hit too).
The ID number is the one the demo story uses; note its check digit is not GB 11643's (a list
may carry such typos: IDs are matched as written, ``domain/compliance/matching.py``)."""
from __future__ import annotations

from typing import Any

from domain.shared.context import CommandContext

DEMO_SCREENING = CommandContext.system("demo", correlation_id="demo-screening-list")
FILENAME = "screening_internal.csv"
INTERNAL_LIST = """\
entry_id,name,aliases,id_type,id_number,birth_date,remarks
DEMO-INT-001,王建国,王建國|Wang Jianguo,cn_ric,110101196503071234,1965-03-07,演示：内部黑名单（洗钱可疑，2025年报送）
DEMO-INT-002,Ivan Example,,passport,EX1234567,1970-01-01,演示：外部通报
"""


def load_demo_screening_list(container: Any) -> str:
    """Load the demo internal list (idempotent: the same content is not a new version)."""
    load = container.compliance.load_list(DEMO_SCREENING, "internal", FILENAME, INTERNAL_LIST.encode())
    return f"screening list internal: version {load.version}, {load.entry_count} entries" + (
        "" if load.changed else " (unchanged)")
