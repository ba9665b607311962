"""对比查看 (004 §7.2): what changed between two generated versions of an agreement, per section:
added, removed, changed (with the inline text changes) or unchanged. Characters are compared, not
words: Chinese text has no spaces to split words on."""
from __future__ import annotations

import difflib
from typing import Any

from domain.agreements.sections import sort_key


def _inline(old: str, new: str) -> list[dict[str, str]]:
    """The new text as runs of equal / inserted / deleted characters (deleted runs carry the old text)."""
    runs: list[dict[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            runs.append({"op": "equal", "text": new[b0:b1]})
            continue
        if op in ("delete", "replace"):
            runs.append({"op": "delete", "text": old[a0:a1]})
        if op in ("insert", "replace"):
            runs.append({"op": "insert", "text": new[b0:b1]})
    return runs


def compare_sections(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One entry per section number present in either version, in 004 order."""
    before = {s["number"]: s for s in old}
    after = {s["number"]: s for s in new}
    out: list[dict[str, Any]] = []
    for number in sorted(before.keys() | after.keys(), key=sort_key):
        a, b = before.get(number), after.get(number)
        if a is None and b is not None:
            out.append({"section": number, "status": "added", "title": b["title"],
                        "changes": [{"op": "insert", "text": b["text"]}]})
        elif b is None and a is not None:
            out.append({"section": number, "status": "removed", "title": a["title"],
                        "changes": [{"op": "delete", "text": a["text"]}]})
        elif a is not None and b is not None:
            same = (a["title"], a["text"]) == (b["title"], b["text"])
            entry: dict[str, Any] = {"section": number, "status": "unchanged" if same else "changed",
                                     "title": b["title"], "changes": [] if same else _inline(a["text"], b["text"])}
            if a["title"] != b["title"]:
                entry["old_title"] = a["title"]
            out.append(entry)
    return out
