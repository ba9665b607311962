"""Sensitive words (敏感词): which words of a compliance list an outgoing text holds.

Text and words are folded the same way first (``fold``), so spacing, zero-width characters,
punctuation, case, full-width forms and common traditional characters do not hide a word.
Chinese is written without spaces, so "contains the characters" is not "contains the word":
确保本月到账 (make sure it arrives this month) holds 保本 (guaranteed principal) only across
the boundary of 确保 and 本月. The folded text is therefore cut into words by forward maximum
matching over the listed words plus a small lexicon of everyday words that straddle them
(``COMMON_WORDS``), and a listed word hits only when it is one of the words."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from domain.shared.errors import RuleViolationError

# Traditional -> simplified for characters common in financial promotion (a small table: the
# check is a compliance net, not a converter).
_TRADITIONAL = str.maketrans(
    "穩賺證謹險資勝額準確獲嚴漲專貴財會員費幣領導單號碼電話聯係繫買賣價錢銀戶開賬帳貸擔保虧損隻盤"
    "紅權債務補貼優惠獎勵禮贈劵券實現際內幕消息報漲跌機構莊壟斷鏈們個為這與無從來對發",
    "稳赚证谨险资胜额准确获严涨专贵财会员费币领导单号码电话联系系买卖价钱银户开账帐贷担保亏损只盘"
    "红权债务补贴优惠奖励礼赠券券实现际内幕消息报涨跌机构庄垄断链们个为这与无从来对发")

# Everyday words that end in the first character, or start with the last, of a word on the
# compliance list (保本, 稳赚, 内幕, 包赚, 翻倍...): they are words of their own, so a listed word
# that straddles one of them is not in the text. Extend with the list.
COMMON_WORDS = frozenset({
    "确保", "担保", "保证", "保险", "本月", "本周", "本日", "本年", "本季", "本次", "本人", "本期",
    "本地", "本科", "本来", "本身", "稳定", "稳健", "赚钱", "内容", "内部", "幕后", "翻译", "倍数",
})


def fold(text: str) -> str:
    """NFKC (full-width -> ASCII), casefold, traditional -> simplified, and only letters and
    digits kept (whitespace, zero-width and format characters, punctuation, symbols dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TRADITIONAL)
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def _words(folded: str, lexicon: set[str], longest: int) -> Iterable[str]:
    """Forward maximum matching: at each place the longest lexicon word, else one character."""
    i = 0
    while i < len(folded):
        for size in range(min(longest, len(folded) - i), 0, -1):
            if size == 1 or folded[i:i + size] in lexicon:
                yield folded[i:i + size]
                i += size
                break


def hits(words: Iterable[str], text: str) -> list[str]:
    """The listed words (as listed) that are words of ``text``."""
    listed = {f: w for w in words if (f := fold(w))}
    if not listed:
        return []
    folded = fold(text)
    lexicon = set(listed) | {w for w in COMMON_WORDS if w not in listed}
    longest = max(len(w) for w in lexicon)
    found = {listed[w] for w in _words(folded, lexicon, longest) if w in listed}
    return sorted(found)


class SensitiveContentError(RuleViolationError):
    code = "sensitive_content"
