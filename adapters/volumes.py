"""A volume's place in its series from how libraries catalogue it: 上・中・下, 前編・後編, 一〜十, 1-10, BOOK2, 第3巻.

Only the order matters (``Volume.number``): 上 1, 中 2, 下 3 sorts 上・下 and 上・中・下 alike.
"""

from __future__ import annotations

import re
import unicodedata

from adapters.models import Volume

_POSITIONS = {"上": 1, "中": 2, "下": 3, "前": 1, "後": 2}
_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_DIGITS = re.compile(r"\d+")
_KANJI_NUMBER = re.compile(r"[一二三四五六七八九十]+")


def volume_number(label: str | None) -> int | None:
    """The order of a volume label, or None if it names no position."""
    text = unicodedata.normalize("NFKC", label or "").strip()
    if not text:
        return None
    digits = _DIGITS.search(text)
    if digits:
        return int(digits.group(0))
    kanji = _KANJI_NUMBER.search(text)
    if kanji:
        return _kanji_value(kanji.group(0))
    for char, position in _POSITIONS.items():
        if text.startswith(char):
            return position
    return None


def _kanji_value(text: str) -> int:
    """一 .. 九十九 (enough for volume numbers)."""
    if "十" not in text:
        return _KANJI_DIGITS.get(text[-1], 0)
    tens, _, ones = text.partition("十")
    return (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (_KANJI_DIGITS.get(ones, 0) if ones else 0)


def volume(series: str | None, label: str | None) -> Volume | None:
    """A ``Volume`` where both the series and a numbered label are known."""
    series = (series or "").strip()
    number = volume_number(label)
    if not series or number is None:
        return None
    return Volume(series, (label or "").strip(), number)
