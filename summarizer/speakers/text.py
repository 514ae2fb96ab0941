"""The article as the speaker rules see it: its paragraphs, sentences, names outside
quotations, and where a name stands in its sentence."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from summarizer.speakers.lexicon import MODIFIED_HEAD, OPENING_MARKS, ROLE, STOP
from summarizer.speakers.spans import Name, Region, Sentence, Span
from summarizer.speakers.words import canonical_names, capitalised, clean


class Text:
    """The article's text, spans and names, for one ``attribute`` call."""

    def __init__(
        self,
        text: str,
        *,
        paragraphs: Sequence[Span],
        sentences: Sequence[Sentence],
        names: Sequence[Name],
        places: frozenset[str],
        quotes: Sequence[Region],
    ) -> None:
        self.text = text
        self.paragraphs = paragraphs
        self.sentences = sentences
        self.places = places
        self.quote_spans = sorted((r.start, r.end) for r in quotes)
        self.names = [n for n in names if not self.inside_quote(n.start)]
        self._starts = [n.start for n in self.names]
        self._sentence_starts = [s.start for s in sentences]
        self.canonical = canonical_names(names)
        self.full_names = frozenset(
            clean(n.text) for n in names if len(n.text.split()) > 1 and not ROLE.match(n.text.split()[0])
        )
        self.surnames = frozenset(n.split()[-1] for n in self.full_names)
        self._genders: dict[str, str | None] = {}

    # -- positions ---------------------------------------------------------------------------

    def opens_clause(self, n: Name, sentence_start: int) -> bool:
        """``n`` stands where a subject stands: at the sentence's start, or after a comma, a
        colon, "and"/"but"/"while", past role words and titles ("and spokeswoman Jennifer
        Palmieri", "After meeting Obama, Trump")."""
        if re.match(r"['\u2019]?s?\s*(?:[.!?]|$)", self.text[n.end : n.end + 3]):
            return False  # "… with her young son, Artur.": the sentence ends on it, an object
        before = self.text[sentence_start : n.start]
        if MODIFIED_HEAD.search(before):
            return True  # "Clinton communications director Jen Parkes came …"
        while m := re.search(r"([^\W\d_][\w.'\u2019-]*)\s+$", before):
            word = m.group(1)
            if not (ROLE.match(word) or word.lower() in ("the", "a", "an") or capitalised(word)):
                break
            before = before[: m.start()]
        return (
            not before.strip()
            or re.search(r"(?:[,;:\u2014\u2013\"\u201d]|\b(?:and|but|while|as|when))\s*$", before) is not None
        )

    def possessive(self, n: Name) -> bool:
        return self.text[n.end : n.end + 2] in ("'s", "\u2019s") or n.text.endswith(("'s", "\u2019s"))

    def sentence_at(self, pos: int) -> int:
        """Index of the sentence holding ``pos`` (the last one starting at or before it)."""
        return max(0, bisect.bisect_right(self._sentence_starts, pos) - 1)

    def inside_quote(self, pos: int) -> bool:
        k = bisect.bisect_right(self.quote_spans, (pos, len(self.text) + 1)) - 1
        return k >= 0 and self.quote_spans[k][0] <= pos < self.quote_spans[k][1]

    def names_in(self, lo: int, hi: int) -> list[Name]:
        k = bisect.bisect_left(self._starts, lo)
        out = []
        while k < len(self.names) and self.names[k].start < hi:
            if self.names[k].end <= hi:
                out.append(self.names[k])
            k += 1
        return out

    def stop(self, word: str, at: int) -> bool:
        """Whether the word at ``at`` ends a phrase: a stop word, unless it is capitalised inside
        one of the article's names ("Theresa May", "Will Smith")."""
        return word.lower() in STOP and not (word[:1].isupper() and self.in_name(at))

    def in_name(self, at: int) -> bool:
        """Whether ``at`` is inside one of the article's names, past its first letter."""
        k = bisect.bisect_right(self._starts, at) - 1
        return k >= 0 and self.names[k].start < at < self.names[k].end

    def paragraph_opens_with_mark(self, r: Region) -> bool:
        p = self.paragraphs[r.paragraph]
        lead = self.text[p.start : r.start - 1]
        return not lead.strip() and self.text[r.start - 1 : r.start] in OPENING_MARKS
