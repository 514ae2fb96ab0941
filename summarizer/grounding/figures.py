"""Key figures: the number's own words, and what it counts read from the number's clause."""

from __future__ import annotations

import re

from summarizer.alignment import fold
from summarizer.grounding.findings import Findings
from summarizer.meaning import number_clause, unbound_numbers
from summarizer.prose import check_prose, content_stems, content_words
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


_COUNTED = re.compile(r"\s*((?:[^\W\d_][\w'\u2019-]*\s?){1,4})")


def _counts_problem(counts: str, number: str, clause: str, sentence: str) -> str | None:
    """What a figure counts must be said by the number's own clause ("86 Ukrainian soldiers
    were released", not the "Russian" of the next clause; names may come from the sentence:
    "people trapped in Mariupol"), and say more than the number. A name right after the number
    is whom it counts: "212 Peruvian sailors" are not Chilean ones though "Chilean" is near."""
    words = {fold(w) for w in content_words(counts)}
    if not words or words <= {fold(w) for w in content_words(number)}:
        return NOTHING_COUNTED
    if problem := check_prose(counts, clause, share=0.5, context=sentence):
        return problem
    if unbound_numbers(f"{number} {counts}", sentence):
        return f"the article's {number} are not the {counts!r}"
    return None


_DANGLING = _LITTLE | {
    "via",
    "by",
    "in",
    "on",
    "at",
    "of",
    "to",
    "from",
    "with",
    "for",
    "and",
    "or",
    "that",
    "who",
}


def _tidy(prose: str, article: str) -> str:
    """A small model's short phrase without its slips: letters of a script the article never
    uses ("lying in the街道": Qwen drifts into Chinese) and a dangling end ("bombarded by the")."""
    kept = "".join(ch for ch in prose if not (ch.isalpha() and ord(ch) > 0x2E7F and ch not in article))
    words = kept.split()
    while words and (fold(words[-1].strip(",;:")) in _DANGLING or not content_words(words[-1])):
        words.pop()
    return " ".join(words).strip(" ,;:") or prose


def _counted_words(text: str, start: int, end: int) -> str | None:
    """The words right after a number, up to the first little word: "6,266 people were" ->
    "people", "86 Ukrainian soldiers." -> "Ukrainian soldiers". None when none follow."""
    m = _COUNTED.match(text, start, end)
    if m is None:
        return None
    words: list[str] = []
    following = m.group(1).split()
    if following[:1] == ["of"]:  # "tens of thousands of people"
        following = following[1:]
    for w in following:
        if fold(w) in _LITTLE or not content_words(w):
            break
        words.append(w)
    return " ".join(words) or None


class Figures(Findings):
    """Key figures."""

    def figures(self, answer: PointerDraft) -> list[KeyFigure]:
        by_id = {n.id: n for n in self.u.numbers}
        out: list[KeyFigure] = []
        seen: set[str] = set()
        for i, f in enumerate(answer.figures):
            n = by_id.get(f.number)
            if n is None:
                self.reject(f"key_figures[{i}].number", f.number, "no such number id in this article")
                continue
            if f.number in seen:
                continue
            s = self.u.sentences[n.sentence]
            counts = _tidy(f.counts, self.text)
            clause = number_clause(self.text, n.span.start, n.span.end)
            why = _counts_problem(counts, n.span.text, clause, self.text[s.start : s.end])
            if why == NOTHING_COUNTED and (noun := _counted_words(self.text, n.span.end, s.end)):
                counts, why = noun, None  # the model pointed at the number; the article says what it counts
            if why:
                self.reject(f"key_figures[{i}].counts", f.counts, why)
                continue
            if fold(counts).startswith(fold(n.span.text)):  # "6,266 people evacuated" -> "people evacuated"
                counts = counts[len(n.span.text) :].strip() or counts
            if any(_same_figure(k, n.span.text, counts, self.text[s.start : s.end]) for k in out):
                continue  # the same figure again (a photo caption repeating the lead's "More than 51 people")
            seen.add(f.number)
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
