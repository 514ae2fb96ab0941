"""What every field's grounding shares: the result (kept spans, rejected items, notes, what
an editor must check) and the helpers that find a cited sentence, its support and a phrase in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import BaseModel

from summarizer.alignment import align, fold
from summarizer.prose import MIN_SHARE_ELSEWHERE, check_prose, content_stems, word_stems
from summarizer.schema import Grounded, GroundingStats, Rejected, Span, Summary
from summarizer.speakers import OPENING_MARKS
from summarizer.units import Sentence, Units, sentence_spans


@dataclass
class GroundingResult:
    draft: Summary
    grounded: list[Grounded] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # what the brief shows that an editor must check

    @property
    def stats(self) -> GroundingStats:
        counts = {"exact": 0, "normalized": 0, "fuzzy": 0}
        for g in self.grounded:
            if g.span.alignment in counts:
                counts[g.span.alignment] += 1
        return GroundingStats(
            items=len(self.grounded) + len(self.rejected), rejected=len(self.rejected), **counts
        )

    @property
    def needs_review(self) -> bool:
        """The brief shows something to check: a stand-in, prose naming what the article does
        not, a speaker the model chose. Items dropped (listed in ``rejected``, never shown) and
        notes on what the code settled (a relocated event, a forced ``unverified``) do not."""
        return bool(self.review)


def field_cap(model: type[BaseModel], name: str) -> int | None:
    """The answer schema's length cap of one field (the grammar stops the model there)."""
    return next((m.max_length for m in model.model_fields[name].metadata if hasattr(m, "max_length")), None)


_BROKEN_END = frozenset(
    ["the", "a", "an", "of", "to", "by", "with", "for", "from", "at", "and", "or", "that", "who"]
)


_BROKEN_END |= frozenset(["which", "via", "their", "its", "his", "her", "as", "than"])


# A picture credit a scraped page leaves at the start of the sentence after its caption:
# "(Photo: AP) At least seven people ...", "(Darren Staples/Reuters) There are few ...".
_CREDIT_FIRST = re.compile(
    r"\((?:(?i:photo|picture|image|video|credit)s?\s*:[^()\n]{1,80}|[^()/\n]{2,60}/[^()/\n]{2,60})\)\s+"
    r"(?=[\"\u201c'\u2018]?\w)"
)


# A dateline heading a lead: "WASHINGTON (AP) — ", "FAIRVIEW, W.Va. - ", "JAKARTA - ": where the
# report was filed, not where the news happened (the seed's Kyiv story is datelined Jakarta).
# The place in capitals, no initials ("U.S. - China talks" is no dateline); a place of three
# letters or fewer only with its state or agency ("WHO - The World Health Organization ...").
_DATELINE_FIRST = re.compile(
    r"(?P<place>[A-Z][A-Z'\u2019-]+(?:\s+[A-Z][A-Z'\u2019-]+){0,3})"
    r"(?P<state>,\s*[A-Z][\w.'\u2019-]+(?:\s+[A-Z][\w.'\u2019-]+){0,2})?"
    r"(?P<agency>\s*\([^()\n]{1,40}\))?\s*(?:--|-|\u2013|\u2014)\s+"
)
LEAD_SENTENCES = 3  # citable sentences at the top of an article where a dateline may stand


def _after(lead_in: re.Match[str] | None, text: str) -> str:
    """``text`` from the end of ``lead_in`` when a sentence follows it there (20 characters or
    more, opening with a capital or a digit: "Łódź residents", "12 people"), else all of it."""
    if lead_in is None or len(text) - lead_in.end() < 20:
        return text
    first = text[lead_in.end() :].lstrip("\"\u201c'\u2018")[:1]
    return text[lead_in.end() :] if first.isupper() or first.isdigit() else text


def without_credit(text: str) -> str:
    """``text`` without a picture credit it opens with, when a sentence follows it."""
    return _after(_CREDIT_FIRST.match(text), text)


def without_dateline(text: str) -> str:
    """``text`` (an article's lead) without the dateline it opens with."""
    m = _DATELINE_FIRST.match(text)
    if (
        m is not None
        and len(m.group("place").replace(" ", "")) < 4
        and not (m.group("state") or m.group("agency"))
    ):
        return text
    return _after(m, text)


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip("\"'\u201d\u2019)").endswith((".", "!", "?"))


def prose_sentences(prose: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence of the model's prose: split where syntok ends one with
    a full stop, "!" or "?" (abbreviations and initials are no end: "the F.B.I. Director" is
    one sentence); a semicolon or a line break ends none here."""
    out: list[tuple[int, int]] = []
    for a, b in sentence_spans(prose):
        if out and not _ends_sentence(prose[out[-1][0] : out[-1][1]]):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def whole(prose: str, cap: int | None, *, sentences: bool = False) -> str:
    """Prose the model or the grammar broke off ("… from the Russian army who had ab", "… who
    had abandoned the"): at its length cap and not ending a sentence, back to its last full
    sentence (``sentences``, the brief) or its last whole word; an article, preposition or
    conjunction at the end dropped; with an ellipsis. A brief that stops mid-sentence below its
    cap goes back to its last full sentence too (the dev set's "… transition talks. The meeting
    lasted over an hour and was described as"). "…, police said" stays as it is."""
    text = prose.rstrip()
    words = text.split()
    open_end = not text.endswith((".", "!", "?", '"', "\u201d"))
    cut = open_end and cap is not None and len(prose) >= cap
    if open_end and sentences:
        spans = prose_sentences(text)  # "the F.B.I. Director" ends no sentence
        end = text[: spans[-1][0]].rstrip() if len(spans) > 1 else ""
        if len(end) > len(text) // 3:
            return end
    if cut:
        words = words[:-1]
    elif not (words and fold(words[-1].strip(",;:")) in _BROKEN_END):
        return prose
    while words and fold(words[-1].strip(",;:")) in _BROKEN_END:
        words.pop()
    return " ".join(words).rstrip(",;:") + "\u2026" if words else prose


MIN_LEAD_WORDS = 8


_SENTENCE_ENDS = (".", "!", "?", '"', "\u201d", "\u2019", ")", "\u3002", "\uff01", "\uff1f")  # 。！？


_OPENING_MARKS = frozenset(OPENING_MARKS + "'")  # and a single quote


class Findings:
    """The findings of one ``resolve`` call and the helpers every field uses."""

    def __init__(
        self,
        units: Units,
        published_at: str | None,
        title: str | None = None,
        *,
        lead: bool = True,
        publisher: str | None = None,
    ) -> None:
        self.u = units
        self.publisher = publisher
        self.lead_stands_in = lead
        self.text = units.text
        self.published_at = published_at
        self.title = title or ""
        self.grounded: list[Grounded] = []
        self.rejected: list[Rejected] = []
        self.notes: list[str] = []
        self.review: list[str] = []  # what the brief will show that an editor must check
        self.stood_in: set[str] = set()  # sentences shown in the brief in place of the model's

    def reject(self, path: str, value: str, reason: str) -> None:
        self.rejected.append(Rejected(field=path, value=value, reason=reason))

    def keep(self, path: str, start: int, end: int) -> None:
        span = Span(start=start, end=end, alignment="exact")
        self.grounded.append(Grounded(field=path, value=self.text[start:end], span=span))

    def shown(self, s: Sentence) -> str:
        """Sentence ``s`` as it stands in for the model's words: without a picture credit it
        opens with, nor a dateline when it is among the article's first citable sentences."""
        text = without_credit(self.text[s.start : s.end].strip())
        return without_dateline(text) if s in self.u.citable[:LEAD_SENTENCES] else text

    def sentence(self, path: str, sid: str) -> Sentence | None:
        s = self.u.sentence(sid)
        if s is None:
            self.reject(path, sid, "no such sentence id in this article")
        elif s.withheld:
            self.reject(path, sid, "this passage is withheld as a suspected injection and cannot be cited")
            return None
        return s

    def cited(self, path: str, sid: str, key: str, prose: str, *, denial: bool = False) -> Sentence | None:
        """The citable sentence that supports ``prose`` (the cited one, or the one that says
        it), or None with the rejection recorded under ``path.key``."""
        s = self.sentence(f"{path}.sentence", sid)
        if s is None:
            return None
        s, why = self.supporting(s, prose, denial=denial)
        if why:
            self.reject(f"{path}.{key}", prose, why)
            return None
        return s

    def supporting(self, s: Sentence, prose: str, *, denial: bool = False) -> tuple[Sentence, str | None]:
        """The cited sentence if it supports the prose; else the one citable sentence that
        does, best by shared words (small models write the right words and miscount ids:
        the code finds the sentence, as it copies the text); else the cited one's reason."""
        why = check_prose(prose, self.text[s.start : s.end], denial=denial, context=self.context(s))
        if why is None:
            return s, None
        words = content_stems(prose)
        ranked = sorted(
            (o for o in self.u.citable if o is not s),
            key=lambda o: -len(words & content_stems(self.text[o.start : o.end])),
        )
        for other in ranked[:3]:
            if (
                check_prose(
                    prose,
                    self.text[other.start : other.end],
                    share=MIN_SHARE_ELSEWHERE,
                    denial=denial,
                    context=self.context(other),
                )
                is None
            ):
                self.notes.append(f"cited {s.id} for '{prose[:40]}'; {other.id} says it")
                return other, None
        return s, why

    def context(self, s: Sentence) -> str:
        """Where the names of prose citing ``s`` may also come from: the title, the paragraph."""
        a, b = self.around(s)
        return f"{self.title} {self.text[a:b]}"

    def around(self, s: Sentence, before: int = 0) -> tuple[int, int]:
        """Span of the sentence's paragraph (and ``before`` paragraphs ahead of it)."""
        first = self.u.paragraphs[max(0, s.paragraph - before)]
        return first.start, self.u.paragraphs[s.paragraph].end

    def phrase(self, value: str, lo: int, hi: int) -> tuple[int, int] | None:
        """``value`` as whole words inside ``text[lo:hi]``, ignoring case, quotes and dashes."""
        if not value.strip():
            return None
        m = align(value, self.text[lo:hi], whole_words=True)
        return (lo + m.start, lo + m.end) if m is not None else None

    def written(self, words: str, span: tuple[int, int]) -> str:
        """The article's own words at ``span`` that ``words`` were found as; the model's
        casing stands when only that differs ("Riverton" for a "RIVERTON —" dateline)."""
        written = self.text[span[0] : span[1]]
        return words.strip() if words.strip().casefold() == written.casefold() else written

    def lead(self) -> Sentence | None:
        """The article's first sentence of eight words or more among its first five citable
        ones that ends as a sentence (not a headline line, not the title) and is not someone's
        quotation (scraped pages open with residue)."""
        return next((s for s in self.u.citable[:5] if self.reports(s, MIN_LEAD_WORDS)), None)

    def reports(self, s: Sentence, min_words: int = 1) -> bool:
        """``s`` can stand as an event by itself: it ends as a sentence, is not the title line
        and is not someone's quotation."""
        sentence = self.text[s.start : s.end].rstrip()
        words = sentence.split()
        quoted = self.quoted(s.start) or words[0][:1] in _OPENING_MARKS
        headline = not sentence.endswith(_SENTENCE_ENDS) or fold(sentence) == fold(self.title)
        return len(words) >= min_words and not headline and not quoted

    def quoted(self, pos: int) -> bool:
        return any(q.start <= pos < q.end for q in self.u.quotations)

    @cached_property
    def sentence_stems(self) -> list[tuple[str, frozenset[str]]]:
        """Each citable sentence with the stems of all its words (and of a hyphenated word's
        parts: "EU-wide" names the EU), computed once per answer."""
        texts = [self.text[o.start : o.end] for o in self.u.citable]
        return [(t, word_stems(t) | word_stems(t.replace("-", " "))) for t in texts]
