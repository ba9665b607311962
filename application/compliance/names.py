"""Name similarity for screening, aware of Chinese: the ``NameMatcher`` the domain's rule uses.

- Traditional characters are folded to simplified with OpenCC (``t2s``): 張偉 is 张伟.
- Two names written in Chinese characters are compared character by character (rapidfuzz's
  normalised Indel similarity): 王建国 / 王建國 score 1.0, 李娜 / 李四 0.5. Characters decide here,
  not sound: 张伟 and 章伟 are two people.
- A Chinese name against a Latin one compares the Latin spelling with the name's pinyin
  (pypinyin, every reading of a character that has several: 单 is dan and shan), surname first
  or last, spaces ignored: "Zhang Wei", "ZHANGWEI" and "Wei Zhang" all spell 张伟.
- Two Latin names compare their letters in either order, case and accents folded.
The libraries' dictionaries are why this is not in domain/ (ADR 0020)."""
from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass

import opencc
from pypinyin import Style, pinyin
from rapidfuzz.distance import Indel

MAX_READINGS = 16   # pinyin spellings kept per name (heteronyms multiply)


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f"


@dataclass(frozen=True)
class NameForm:
    han: str                    # the Chinese characters, simplified, in order ('' when none)
    spellings: frozenset[str]   # Latin letters without spaces, in the orders the name may be written


class ChineseNameMatcher:
    def __init__(self) -> None:
        self._t2s = opencc.OpenCC("t2s")

    def prepare(self, name: str) -> NameForm:
        text = unicodedata.normalize("NFKC", name)
        han = self._t2s.convert("".join(ch for ch in text if _is_han(ch)))
        if han:
            return NameForm(han, self._pinyin(han))
        folded = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold())
                         if not unicodedata.combining(ch))
        tokens = "".join(ch if "a" <= ch <= "z" else " " for ch in folded).split()
        spellings = frozenset({"".join(tokens), "".join(reversed(tokens))} - {""})
        return NameForm("", spellings)

    @staticmethod
    def _pinyin(han: str) -> frozenset[str]:
        readings = [[r.replace("v", "u") for r in dict.fromkeys(options)]
                    for options in pinyin(han, style=Style.NORMAL, heteronym=True, errors="ignore")]
        spellings: set[str] = set()
        for combination in itertools.islice(itertools.product(*readings), MAX_READINGS):
            spellings.add("".join(combination))
            if len(combination) > 1:  # a Chinese name written the Western way: given name, then surname
                spellings.add("".join(combination[1:]) + combination[0])
        return frozenset(spellings)

    def score(self, a: NameForm, b: NameForm) -> float:
        if a.han and b.han:
            return Indel.normalized_similarity(a.han, b.han)
        if not a.spellings or not b.spellings:
            return 0.0
        return max(Indel.normalized_similarity(x, y) for x in a.spellings for y in b.spellings)
