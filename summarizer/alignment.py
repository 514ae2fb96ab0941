"""Aligning a piece of text to the article: exact, then normalised, with code-point spans.

Spans are ``[start, end)`` in Python string code points of the stored article text. Normalised
matching compares under NFKC, casefold, one kind of quote/apostrophe/dash, ``...`` for ellipses
and single spaces, through an index map back to the original text, so spans stay right on
Cyrillic, accents, emoji and combining marks. There is no fuzzy match: what the record keeps is
the article's own text (schema 2.x still reads "fuzzy" in older records' stats).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from summarizer.schema import Alignment

_QUOTES = dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02", '"')
_QUOTES.update(dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'"))
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
_DROP = frozenset("\u200b\u200c\u2060\ufeff\u00ad")
_FOLD = {**_QUOTES, **_DASHES, "\u2026": "..."}


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    alignment: Alignment


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus, for each of its code points, the index in the original."""

    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` of the normalised slice ``[start, end)``."""
        return self.index[start], self.index[end - 1] + 1


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in _DROP:
        return ""
    ch = _FOLD.get(ch, ch)
    if ch.isspace():
        return " "
    out = unicodedata.normalize("NFKC", ch).casefold()
    return "".join(_FOLD.get(c, c) for c in out)


@lru_cache(maxsize=64)
def normalize(text: str) -> Normalized:
    chars: list[str] = []
    index: list[int] = []
    last = " "  # drops leading spaces and collapses runs
    # Indices must point into ``text`` itself: stored articles are NFC already, and a text
    # that is not is folded char by char as it stands (never recomposed, which would shift).
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        if len(folded) == 1:  # the common case, without the inner loop
            if folded == " " == last:
                continue
            chars.append(folded)
            index.append(i)
            last = folded
            continue
        for out in folded:
            if out == " " == last:
                continue
            chars.append(out)
            index.append(i)
            last = out
    while chars and chars[-1] == " ":
        chars.pop()
        index.pop()
    return Normalized("".join(chars), tuple(index))


def fold(text: str) -> str:
    """The comparison form of a piece of text (composed first, so "e" + accent equals "é")."""
    if len(text) <= _SHORT:
        return _fold_short(text)
    return normalize(unicodedata.normalize("NFC", text)).text


# Words and short phrases are folded again and again (every name of every answer against every
# cited sentence): those are cached apart from ``normalize``'s few whole texts.
_SHORT = 40


@lru_cache(maxsize=1 << 16)
def _fold_short(text: str) -> str:
    return normalize.__wrapped__(unicodedata.normalize("NFC", text)).text


def _strip_item(item: str) -> str:
    return item.strip().strip("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e").strip()


def _bounded(text: str, start: int, end: int) -> bool:
    """No letter or digit runs on across either end of ``text[start:end]``."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() and text[start : start + 1].isalnum()) and not (
        after.isalnum() and text[end - 1 : end].isalnum()
    )


def align(item: str, article: str, *, whole_words: bool = False) -> Match | None:
    """Where ``item`` sits in ``article``, or None. Never raises on any text.

    ``whole_words`` (for names) refuses matches inside longer words: "Russia" in "Russian".
    """
    needle = _strip_item(item)
    if not needle:
        return None
    # Stored articles are NFC (articles.normalize_text): try the item as given, then as NFC.
    for candidate in dict.fromkeys((needle, unicodedata.normalize("NFC", needle))):
        pos = article.find(candidate)
        while pos >= 0:
            if not whole_words or _bounded(article, pos, pos + len(candidate)):
                return Match(pos, pos + len(candidate), "exact")
            pos = article.find(candidate, pos + 1)
    hay = normalize(article)
    small = fold(needle)
    if not small:
        return None
    pos = hay.text.find(small)
    while pos >= 0:
        start, end = hay.span(pos, pos + len(small))
        # A match that starts or ends inside an expanded character ("ﬁ" -> "fi") is not one.
        if fold(article[start:end]) == small and (not whole_words or _bounded(article, start, end)):
            return Match(start, end, "normalized")
        pos = hay.text.find(small, pos + 1)
    return None
