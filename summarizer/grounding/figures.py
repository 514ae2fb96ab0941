"""Key figures: the number's own words, and what it counts read from the words that follow it."""

from __future__ import annotations

import re

from summarizer.alignment import fold
from summarizer.grounding.findings import Findings
from summarizer.prose import content_stems, content_words
from summarizer.schema import KeyFigure, PointerDraft

MIN_SHARE_REPEATED = 0.8  # a figure's sentence this like a kept one's repeats it


_LITTLE = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "was",
        "were",
        "are",
        "is",
        "be",
        "been",
        "have",
        "has",
        "had",
        "who",
        "which",
        "that",
        "than",
        "as",
        "per",
        "into",
        "over",
        "after",
        "before",
        "since",
        "during",
        "said",
        "says",
        "will",
        "would",
    ]
)


def _same_figure(kept: KeyFigure, text: str, counts: str, source: str) -> bool:
    """The same number, counting the same, told by a sentence that mostly repeats the kept
    one's (a photo caption repeating the lead); "two people died" in Leeds and in York stay two."""
    if fold(kept.text) != fold(text) or fold(kept.counts) != fold(counts):
        return False
    a, b = content_stems(kept.source_text), content_stems(source)
    return bool(a and b) and len(a & b) / min(len(a), len(b)) >= MIN_SHARE_REPEATED


NOTHING_COUNTED = "says nothing about what the number counts"

# A word of what a number counts (letters, apostrophes, hyphens), on the number's line.
_WORD = re.compile(r"[^\S\n]*([^\W\d_]\w*(?:['\u2019-]\w+)*)")
# Words between a number and what it counts: "tens of thousands of people", "650,000 such emails".
_BETWEEN = frozenset(["of", "such", "more", "other", "additional", "extra", "further"])
# Time words end what a number counts: "six laps later", "a chute last week".
_WHEN = frozenset(
    ["last", "next", "this", "earlier", "later", "ago", "today", "yesterday", "tomorrow", "now"]
)
# "6,266 people were evacuated": a passive after the counted words says what befell them.
_PASSIVE = re.compile(
    r"[^\S\n]+(?:was|were|are|is|have been|has been|had been|being)[^\S\n]+(?:(?:also|all|later|then|now|"
    r"still|\w+ly)[^\S\n]+)?(?!(?:often|even|then|open|seven|eleven|\w*teen|women|men|children|citizens|"
    r"kitchen|garden|golden|wooden)\b)(?P<done>[^\W\d_]+(?:ed|en)|hurt|held|shot|hit|left|found|lost|put|sent|"
    r"caught|struck|kept|brought|seen|sold|built|made|fled)\b",
    re.IGNORECASE,
)
# Between the two numbers of a range: "four to five", "10 or 12", "3-4".
_RANGE = re.compile(r"\s*(?:to|or|-|\u2013)\s*")
MAX_COUNTED = 3  # words of what a number counts, and a passive's act after them


def counted_words(text: str, start: int, end: int) -> str | None:
    """What the number ending at ``start`` counts, in the article's words: the words right after
    it up to the first little word, and the act of a passive that follows them ("6,266 people
    were evacuated" -> "people evacuated", "86 Ukrainian soldiers." -> "Ukrainian soldiers",
    "a 37-year-old driver" -> "year-old driver"). ``end``: where they must stop (the sentence's
    end, or the next number's start). None when no such word follows."""
    if text[start : start + 1] in ("-", "\u2010", "\u2011"):  # "37-year-old", "an 11-point lead"
        start += 1
    words: list[str] = []
    at = start
    while len(words) < MAX_COUNTED and (m := _WORD.match(text, at, end)):
        word = m[1]
        if not words and fold(word) in _BETWEEN:
            at = m.end()
            continue
        acronym = len(word) >= 2 and word.isupper()  # "Two US soldiers", "5 UN peacekeepers"
        if (
            fold(word) in _LITTLE
            or fold(word) in _WHEN
            or not (content_words(word) or acronym or word == "new")
        ):
            break
        if words and word.endswith("ing") and words[-1].islower():  # "soldiers lying dead": a clause
            break  # ("3 Chinese fishing boats" goes on)
        words.append(word)
        at = m.end()
    if not any(content_words(w) or w.isupper() for w in words):  # "2 new." says nothing
        return None
    if passive := _PASSIVE.match(text, at, end):
        words.append(passive["done"])
    return " ".join(words)


class Figures(Findings):
    """Key figures: the model picks the numbers (ids), the article says what each counts."""

    def figures(self, answer: PointerDraft) -> list[KeyFigure]:
        by_id = {n.id: n for n in self.u.numbers}
        out: list[KeyFigure] = []
        seen: set[str] = set()
        for i, nid in enumerate(answer.figures):
            n = by_id.get(nid)
            if n is None:
                self.reject(f"key_figures[{i}].number", nid, "no such number id in this article")
                continue
            if nid in seen:
                continue
            s = self.u.sentences[n.sentence]
            after = self._range_end(n.span.end)
            counts = counted_words(self.text, after, self._next_number(after, s.end))
            if counts is None:
                self.reject(f"key_figures[{i}].counts", n.span.text, NOTHING_COUNTED)
                continue
            if any(_same_figure(k, n.span.text, counts, self.text[s.start : s.end]) for k in out):
                continue  # the same figure again (a photo caption repeating the lead's "More than 51 people")
            seen.add(nid)
            path = f"key_figures[{len(out)}]"
            self.keep(f"{path}.text", n.span.start, n.span.end)
            self.keep(f"{path}.source_text", s.start, s.end)
            out.append(
                KeyFigure(
                    text=n.span.text,
                    value=n.span.value,
                    unit=n.span.unit,
                    counts=counts,
                    qualifier=n.span.qualifier,
                    source_text=self.text[s.start : s.end],
                    number=n.id,
                )
            )
        return out

    def _next_number(self, at: int, end: int) -> int:
        """Where the next number after ``at`` starts, if before ``end``: what one number counts
        does not run into the next ("for three days Five-year-old Zhao", a lost full stop)."""
        stop = min([n.span.start for n in self.u.numbers if at <= n.span.start < end], default=end)
        while stop > at and stop < end and not self.text[stop - 1].isspace():
            stop -= 1  # a number inside a word ("COVID-19", "F-16") ends what counts before the word
        return stop

    def _range_end(self, end: int) -> int:
        """Where a range the number opens ends ("four to five points": what "four" counts
        follows "five"), else ``end``."""
        for n in self.u.numbers:
            if n.span.start >= end and _RANGE.fullmatch(self.text, end, n.span.start):
                return n.span.end
        return end
