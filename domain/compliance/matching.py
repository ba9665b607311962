"""The screening rule, pure: which subject hits which list entry, and why.

An ID number hits when it equals the entry's after normalisation (exact: an ID is an identifier,
not a spelling). A name hits when its similarity to the entry's name or an alias reaches the
threshold. How similar two names are — simplified and traditional characters, pinyin against
Latin spellings — needs dictionaries that live in libraries, which the domain does not import:
it is the ``NameMatcher`` port, implemented in application/compliance/names.py (ADR 0020)."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from domain.compliance.lists import ListEntry

MatchedOn = Literal["id", "name"]
DEFAULT_THRESHOLD = 0.85
_SEPARATORS = frozenset(" -_/.\t")
# GB 11643-1999 (居民身份证号码): weights and check characters of the ISO 7064 MOD 11-2 check digit.
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"


class NameMatcher(Protocol):
    def prepare(self, name: str) -> Any:
        """A name's comparable form (computed once per list entry and per subject)."""

    def score(self, a: Any, b: Any) -> float:
        """Similarity of two prepared names, 0 (nothing alike) to 1 (the same name)."""


@dataclass(frozen=True)
class Subject:
    """A person named on a form: where (``ref``: the field path and item), the name, the ID number."""
    ref: str
    name: str
    id_number: str = ""


@dataclass(frozen=True)
class Hit:
    subject: int            # index into the screened subjects
    list_kind: str
    list_version: int
    entry_id: str
    entry_name: str
    score: float
    matched_on: MatchedOn

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "list_kind": self.list_kind, "list_version": self.list_version,
                "entry_id": self.entry_id, "entry_name": self.entry_name, "score": self.score,
                "matched_on": self.matched_on}


@dataclass(frozen=True)
class PreparedList:
    """One version of one list, made ready to match: ID keys indexed, names prepared."""
    kind: str
    version: int
    entries: tuple[ListEntry, ...]
    names: tuple[tuple[Any, ...], ...]                  # per entry: its prepared name and aliases
    by_id: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: str, version: int, entries: Iterable[ListEntry], matcher: NameMatcher) -> PreparedList:
        items = tuple(entries)
        by_id: dict[str, list[int]] = {}
        for index, entry in enumerate(items):
            key = id_key(entry.id_number)
            if key:
                by_id.setdefault(key, []).append(index)
        names = tuple(tuple(matcher.prepare(n) for n in (e.name, *e.aliases)) for e in items)
        return cls(kind, version, items, names, {k: tuple(v) for k, v in by_id.items()})


def id_key(id_number: str) -> str:
    """An ID number as compared: full-width folded, separators dropped, upper-case; a first-generation
    15-digit Chinese ID becomes its 18-digit form (century 19 and the check digit), so both
    generations of one card are one key. A wrong check digit is kept as written: lists and forms
    carry typos, and an exact ID match must not silently change the number."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", id_number) if ch not in _SEPARATORS).upper()
    if len(text) == 15 and text.isascii() and text.isdigit():
        body = text[:6] + "19" + text[6:]
        return body + _RIC_CHECK[sum(int(d) * w for d, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]
    return text


def mask_id(id_number: str) -> str:
    """What a screening keeps of an ID number (PIPL: sensitive personal information): the first six
    and last four characters; the full number stays in the form it came from."""
    key = id_key(id_number)
    if len(key) <= 8:
        return "*" * len(key)
    return key[:6] + "*" * (len(key) - 10) + key[-4:]


def screen(subjects: Sequence[Subject], lists: Sequence[PreparedList], matcher: NameMatcher,
           threshold: float = DEFAULT_THRESHOLD) -> list[Hit]:
    """Every (subject, entry) pair that hits, best first per subject; an ID hit is reported once,
    as an ID hit, even when the name matches too."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    hits: list[Hit] = []
    for index, subject in enumerate(subjects):
        prepared = matcher.prepare(subject.name) if subject.name else None
        key = id_key(subject.id_number) if subject.id_number else ""
        found: list[Hit] = []
        for screening_list in lists:
            by_id = set(screening_list.by_id.get(key, ())) if key else set()
            for position, entry in enumerate(screening_list.entries):
                if position in by_id:
                    found.append(Hit(index, screening_list.kind, screening_list.version, entry.entry_id, entry.name,
                                     1.0, "id"))
                    continue
                if prepared is None:
                    continue
                score = max(matcher.score(prepared, name) for name in screening_list.names[position])
                if score >= threshold:
                    found.append(Hit(index, screening_list.kind, screening_list.version, entry.entry_id, entry.name,
                                     round(score, 4), "name"))
        hits.extend(sorted(found, key=lambda h: (-h.score, h.list_kind, h.entry_id)))
    return hits
