"""Aligning a piece of text to the article: exact -> normalised -> fuzzy, with code-point spans.

Spans are ``[start, end)`` in Python string code points of the stored article text. Normalised
matching compares under NFKC, casefold, one kind of quote/apostrophe/dash, ``...`` for ellipses
and single spaces, through an index map back to the original text, so spans stay right on
Cyrillic, accents, emoji and combining marks. Fuzzy matching is token-level
(rapidfuzz Indel similarity over word sequences): a paraphrase test, never a quote test.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Indel

from summarizer.schema import Alignment

_QUOTES = dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02", '"')
_QUOTES.update(dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'"))
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
_DROP = frozenset("\u200b\u200c\u2060\ufeff\u00ad")
_FOLD = {**_QUOTES, **_DASHES, "\u2026": "..."}
FUZZY_THRESHOLD = 80.0


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    alignment: Alignment
    score: float = 100.0


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
    return normalize(unicodedata.normalize("NFC", text)).text


def _strip_item(item: str) -> str:
    return item.strip().strip("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e").strip()


def _bounded(text: str, start: int, end: int) -> bool:
    """No letter or digit runs on across either end of ``text[start:end]``."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() and text[start : start + 1].isalnum()) and not (
        after.isalnum() and text[end - 1 : end].isalnum()
    )


def align(item: str, article: str, *, fuzzy: bool = True, whole_words: bool = False) -> Match | None:
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
    if not fuzzy or len(small) < 12:
        return None
    found = _token_fuzzy(small, hay)
    if found is None:
        return None
    start, end, score = found
    return Match(start, end, "fuzzy", score)


_TOKEN = re.compile(r"\w+", re.UNICODE)


def _token_fuzzy(small: str, hay: Normalized) -> tuple[int, int, float] | None:
    """Best window of article tokens by Indel similarity over token sequences (rapidfuzz).

    Scans windows of the item's length, then refines the best few with lengths +-25 %, so a
    paraphrase that drops or adds a word or two still lines up with its sentence.
    """
    needle = _TOKEN.findall(small)
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(hay.text)]
    words = [hay.text[a:b] for a, b in spans]
    n = len(needle)
    if n < 3 or not words:
        return None
    size = min(n, len(words))
    coarse = sorted(
        range(len(words) - size + 1),
        key=lambda i: -Indel.normalized_similarity(needle, words[i : i + size]),
    )[:5]
    best: tuple[float, int, int] | None = None
    for i in coarse:
        for width in range(max(1, (3 * n) // 4), (5 * n) // 4 + 2):
            for j in (i - 1, i, i + 1):
                if j < 0 or j + width > len(words):
                    continue
                score = Indel.normalized_similarity(needle, words[j : j + width]) * 100
                if best is None or score > best[0]:
                    best = (score, j, j + width)
    if best is None or best[0] < FUZZY_THRESHOLD:
        return None
    score, i, j = best
    start, end = hay.span(spans[i][0], spans[j - 1][1])
    return start, end, round(score, 1)


# --------------------------------------------------------------------------- quoted speech

_OPEN_CLOSE = {"\u201c": "\u201d", "\u00ab": "\u00bb", "\u201e": "\u201c", "\u2018": "\u2019"}


@lru_cache(maxsize=64)
def quoted_regions(article: str) -> tuple[tuple[int, int], ...]:
    """``[start, end)`` of the text inside quotation marks, paragraph by paragraph.

    Typographic pairs open and close explicitly; straight double quotes toggle. An unclosed
    quote runs to the end of its paragraph (wire style for multi-paragraph quotes).
    """
    regions: list[tuple[int, int]] = []
    offset = 0
    for para in article.split("\n"):
        i, n = 0, len(para)
        while i < n:
            ch = para[i]
            closer = '"' if ch == '"' else _OPEN_CLOSE.get(ch)
            if closer is None or (ch == "\u2018" and i > 0 and para[i - 1].isalnum()):
                i += 1
                continue
            j = para.find(closer, i + 1)
            end = n if j < 0 else j
            if end > i + 1:
                regions.append((offset + i + 1, offset + end))
            i = end + 1
        offset += len(para) + 1
    return tuple(regions)


def inside_quotes(start: int, end: int, article: str) -> bool:
    return any(a <= start and end <= b for a, b in quoted_regions(article))


# --------------------------------------------------------------------------- names

_WORD = re.compile(r"\w[\w'\u2019-]*", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "in",
        "on",
        "at",
        "for",
        "to",
        "by",
        "from",
        "with",
        "his",
        "her",
        "its",
        "their",
        "mr",
        "mrs",
        "ms",
        "dr",
    ]
)


@lru_cache(maxsize=64)
def _article_words(article: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in _WORD.findall(fold(article)))


def name_in_article(name: str, article: str) -> bool:
    """A person, group or place is named in the article.

    The whole name as a whole-word match, or else every word of it occurs in the article (so
    a surname alone, "the mayor of Bucha" or a reordered name passes; an invented name, or a
    real one with planted words around it, does not).
    """
    if not name.strip():
        return False
    if align(name, article, fuzzy=False, whole_words=True) is not None:
        return True
    words = _article_words(article)
    tokens = [t for t in _WORD.findall(name) if t.casefold() not in _STOP]
    return bool(tokens) and all(t.casefold() in words for t in tokens)


def name_near(name: str, article: str, start: int, *, before: int = 3, after: int = 1) -> bool:
    """``name`` (or one of its capitalised words) occurs within a few paragraphs of ``start``.

    Paragraphs are the non-empty lines; wire copy often names a speaker in one paragraph and
    quotes them ("he said") in the next two.
    """
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in article.split("\n"):
        if line.strip():
            lines.append((pos, line))
        pos += len(line) + 1
    here = max((k for k, (s, _) in enumerate(lines) if s <= start), default=0)
    window = "\n".join(line for _, line in lines[max(0, here - before) : here + after + 1])
    if fold(name) in fold(window):
        return True
    tokens = [t for t in _WORD.findall(name) if t.casefold() not in _STOP and t[:1].isupper()]
    words = _article_words(window)
    return any(t.casefold() in words for t in tokens)
