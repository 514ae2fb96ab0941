"""Grounding v2: the model's pointers become a record whose every quoted word is the article's.

``resolve(answer, units)`` is pure and deterministic. Ids become text and spans copied from
our own offsets (so quotes, figures and evidence are verbatim by construction); the model's
choices are checked (ids exist and are citable, speakers are offered names, explicit reporting
patterns win over a different choice); the model's prose is held to what it cites
(``summarizer.prose``); names and time words must be words of the cited sentence or its
paragraph. What fails is left out and listed in ``rejected`` with field, value and reason.

``GroundingCheck`` is the validation hook: strict, it raises only when an answer is useless
(no event survives), which instructor turns into a re-ask; lenient, it records. Re-asks cost a
full answer on a CPU, so they are kept for answers worth nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from summarizer.alignment import align, fold
from summarizer.answer import quote_choices
from summarizer.canonical import canonical
from summarizer.dates import FULL_DATE, days_apart, find_clock_words, find_time_words, resolve_date
from summarizer.meaning import number_clause, unasserted, unbound_numbers
from summarizer.prose import (
    HEDGED,
    MIN_SHARE_ELSEWHERE,
    check_prose,
    content_stems,
    content_words,
    meaning_problem,
    share_problem,
    stem,
    unsupported_names,
    unsupported_numbers,
)
from summarizer.schema import (
    Claim,
    ClaimPick,
    Event,
    EventPick,
    Grounded,
    GroundingStats,
    KeyFigure,
    PointerDraft,
    Quote,
    QuoteAttribution,
    Rejected,
    Source,
    Span,
    Summary,
    When,
    Where,
)
from summarizer.speakers import OPENING_MARKS, UNNAMED
from summarizer.units import PLACE_BEFORE, Quotation, Sentence, Units

# ", the Ukrainian military said." / ", according to local officials." at the end of an account
_WHO = r"(?P<who>(?:the\s+)?[^,;\"\u201c\u201d]{2,60}?)"
_CLAIMANTS = (
    re.compile(rf",\s+{_WHO}\s+(?:said|says|claimed|reported|announced|stated)\.[\"\u201d]?$"),
    re.compile(rf",\s+according\s+to\s+{_WHO}\.[\"\u201d]?$"),
)
_NOTHING = frozenset({"null", "none", "n/a", "na", "unknown", "not stated", "-"})


def _given(words: str | None) -> str | None:
    """The model's words, or None for an empty answer written as text ("null", "unknown")."""
    return None if words is None or words.strip().lower() in _NOTHING else words


MIN_LEAD_WORDS = 8
_VAGUE_START = re.compile(r"(?i)(tens|hundreds|thousands|millions|billions|dozens|scores)\b")
MIN_SHARE_PROSE = 0.5  # of a headline's or brief sentence's words, in its three best sentences
BRIEF_SENTENCE = 160  # an article sentence standing in for one of the brief's, at most
# Picture agencies whose credits sit in scraped paragraphs ("Photo: Alamy"): never an event's actor.
_PICTURE_CREDIT = re.compile(
    r"(?i:alamy|getty(?: images)?|shutterstock|rex(?: features)?|swns)(?: (?i:images|photos?))?"
)
MIN_SHARE_REPEATED = 0.8  # a figure's sentence this like a kept one's repeats it
_SENTENCE_ENDS = (".", "!", "?", '"', "\u201d", "\u2019", ")", "\u3002", "\uff01", "\uff1f")  # 。！？
_OPENING_MARKS = frozenset(OPENING_MARKS + "'")  # and a single quote
MIN_SHARE_POINTED = 1 / 3  # an event's wording this close to its sentence is about it
# "in Russian hands", "the American city of" name no place ("Vatican" does)
_DEMONYM = re.compile(r"(?:ian|ean|ese|ish)s?$|\b(?:American|African|Mexican)s?$")

_UNVERIFIED = re.compile(
    r"could\s+not\s+(be\s+)?(immediately\s+|independently\s+)?(verif|confirm)|"
    r"(unable|impossible)\s+to\s+(independently\s+)?(verif|confirm)|"
    r"has\s+not\s+been\s+(independently\s+)?(verified|confirmed)|unverified",
    re.IGNORECASE,
)
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
# A denial is a denying verb, not any negation: "he did not say how many" denies nothing.
_DENIED = re.compile(
    r"\b(den(?:y|ies|ied|ial)|refut\w*|reject(?:s|ed)? (?:the|these|those|this|that|such) "
    r"(?:claims?|reports?|allegations?|accounts?)|disput(?:e|es|ed)|dismiss(?:es|ed)?|"
    r"called (?:it|them|the \w+(?: \w+)?) (?:false|untrue|fake|baseless|a lie))\b",
    re.IGNORECASE,
)


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


class _Resolver:
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

    # -- helpers ----------------------------------------------------------------------------

    def reject(self, path: str, value: str, reason: str) -> None:
        self.rejected.append(Rejected(field=path, value=value, reason=reason))

    def keep(self, path: str, start: int, end: int) -> None:
        span = Span(start=start, end=end, alignment="exact")
        self.grounded.append(Grounded(field=path, value=self.text[start:end], span=span))

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
        m = align(value, self.text[lo:hi], fuzzy=False, whole_words=True)
        return (lo + m.start, lo + m.end) if m is not None else None

    def written(self, words: str, span: tuple[int, int]) -> str:
        """The article's own words at ``span`` that ``words`` were found as; the model's
        casing stands when only that differs ("Riverton" for a "RIVERTON —" dateline)."""
        written = self.text[span[0] : span[1]]
        return words.strip() if words.strip().casefold() == written.casefold() else written

    # -- quotations: every one of the article, with the speaker chosen or proposed ----------

    def quotes(self, answer: PointerDraft) -> list[Quote]:
        """Every quotation of the article, with the speaker its reporting clause names (our
        code, ``summarizer.speakers``) or, where no clause settles it, the model's pick among
        the names offered; the clause and the speaker's words are kept as evidence."""
        chosen = quote_choices(answer)
        out: list[Quote] = []
        for q in self.u.quotations:
            a = q.attribution
            path = f"quotes[{len(out)}]"
            self.keep(f"{path}.text", q.start, q.end)
            pick = chosen.get(q.id)
            speaker, method, span = a.speaker, a.method, a.speaker_span
            if speaker is not None and pick not in (None, UNNAMED, speaker):
                self.reject(f"quotes.{q.id}", pick, f"the article's own attribution names {speaker}")
            elif speaker is None and q.asked and pick not in (None, UNNAMED):
                assert pick is not None
                span = self.model_pick(q, pick)
                speaker, method = (pick, "model") if span is not None else (None, method)
                if span is not None:  # shown in the brief: an editor checks it
                    self.notes.append(
                        f"quotes.{q.id}: speaker chosen by the model, no reporting clause names one"
                    )
                    self.review.append(
                        f"the speaker of “{self.text[q.start : q.end][:40]}” is the model's pick"
                    )
            if speaker is None:
                speaker, method, span = UNNAMED, "unnamed", None
            if span is not None:
                self.keep(f"{path}.speaker", *span)
            clause = a.clause
            if clause is not None:
                self.keep(f"{path}.attribution", clause.start, clause.end)
            attribution = QuoteAttribution(
                method=method,
                clause=self.text[clause.start : clause.end] if clause else None,
                clause_start=clause.start if clause else None,
                clause_end=clause.end if clause else None,
                speaker_start=span[0] if span else None,
                speaker_end=span[1] if span else None,
            )
            text = self.text[q.start : q.end]
            out.append(Quote(text=text, speaker=speaker, kind="direct", id=q.id, attribution=attribution))
        return out

    def model_pick(self, q: Quotation, pick: str) -> tuple[int, int] | None:
        """Where the model's speaker is named near the quotation, or None with the pick rejected:
        it must be one of the names offered and not a place."""
        path = f"quotes.{q.id}"
        if pick not in q.candidates:
            self.reject(path, pick, "not a name the article gives near this quotation")
            return None
        if pick in self.u.places:
            self.reject(path, pick, "a place in this article, not a speaker")
            return None
        lo = self.u.paragraphs[max(0, q.paragraph - 2)].start
        hi = self.u.paragraphs[min(len(self.u.paragraphs) - 1, q.paragraph + 1)].end
        where = self.phrase(pick, lo, hi) or self.phrase(pick.rsplit(maxsplit=1)[-1], lo, hi)
        if where is None:
            self.reject(path, pick, "not named near the quotation")
        return where

    # -- figures ------------------------------------------------------------------------------

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

    # -- events -------------------------------------------------------------------------------

    def events(self, answer: PointerDraft) -> list[Event]:
        out: list[Event] = []
        for i, e, what, s in self.worded(answer.events):
            if any(e2.sentence == s.id for e2 in out):
                continue  # the same sentence twice is one event (a small model repeats itself)
            out.append(self.event(f"events[{i}]", f"events[{len(out)}]", e, what, s, first=not out))
        lead = self.lead() if self.lead_stands_in and not out and answer.events else None
        if lead is not None:
            # No event held, and no re-ask is left: the article's lead, which news writing
            # makes the main event, stands in (copied, flagged) rather than a brief with no
            # event. On the dev set every re-ask of such an answer had failed again.
            self.notes.append(f"no event held to its sentence; the lead ({lead.id}) stands in")
            self.review.append(
                "the event is the article's lead: none of the model's events held to its sentence"
            )
            what = self.text[lead.start : lead.end]
            # Only the category carries over: the rejected event's modality, time, place and
            # actors were said of another sentence.
            neutral: dict[str, Any] = {"modality": "reported", "when": None, "where": None, "actors": []}
            e = answer.events[0].model_copy(update=neutral)
            out.append(self.event("events[0]", "events[0]", e, what, lead, first=True))
        return out

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

    def worded(self, events: list[EventPick]) -> list[tuple[int, EventPick, str, Sentence]]:
        """Each event with its wording and the sentence that supports it. Wording that fails
        but is about its cited sentence gives way to the sentence itself, unless another event
        holds to that sentence; wording about nothing cited is rejected."""
        picks = []
        for i, e in enumerate(events):
            what = whole(e.what, _cap(EventPick, "what"))
            s = self.sentence(f"events[{i}].sentence", e.sentence)
            if s is not None:
                picks.append((i, e, what, *self.supporting(s, what)))
        held = {s.id for *_, s, why in picks if why is None}
        out = []
        for i, e, what, s, why in picks:
            cited = self.text[s.start : s.end]
            if why and (s.id in held or not _points_at(what, cited) or not self.reports(s)):
                self.reject(f"events[{i}].what", what, why)
            elif why:  # the model pointed at the sentence and misworded it: the sentence stands in
                self.reject(f"events[{i}].what", what, f"{why}; the cited sentence stands in")
                self.review.append(
                    f"an event is its cited sentence ({s.id}): the model's wording did not hold to it"
                )
                out.append((i, e, cited, s))
            else:
                out.append((i, e, what, s))
        return out

    def event(self, path: str, kept: str, e: EventPick, what: str, s: Sentence, *, first: bool) -> Event:
        """The event ``e`` (answer path ``path``, record path ``kept``) on sentence ``s``."""
        cited = self.text[s.start : s.end]
        self.keep(f"{kept}.evidence", s.start, s.end)
        para = self.around(s)
        actors: list[str] = []
        for j, actor in enumerate(e.actors):
            if fold(actor.strip()) in ("", UNNAMED):
                continue  # the quotes' word for nobody named: the model's null, not a name
            if _PICTURE_CREDIT.fullmatch(actor.strip()):
                self.reject(f"{path}.actors[{j}]", actor, "a picture credit, not an actor")
            elif (where := self.phrase(actor, *para)) is None:
                self.reject(f"{path}.actors[{j}]", actor, "not named in the cited sentence's paragraph")
            elif (written := self.written(actor, where)) not in actors:
                self.keep(f"{kept}.actors[{len(actors)}]", *where)
                actors.append(written)
        future = e.modality == "future"
        when_words, where_words = _given(e.when), _given(e.where)
        near = self.nearby(s, lead=first)
        when = (
            self.when(path, kept, when_words, s, future=future)
            or next((w for o in near if (w := self.sentence_when(kept, o, future))), None)
            or next((w for o in near if (w := self.sentence_when(kept, o, future, clock=True))), None)
            or (self.dated(kept, future) if first else None)
        )
        place = None
        if where_words:
            where = self.phrase(where_words, *para)
            if where is not None and not any(w[:1].isupper() for w in where_words.split()):
                self.reject(f"{path}.where.place", where_words, "names no place")
            elif where is not None and _DEMONYM.search(where_words.strip()):
                self.reject(f"{path}.where.place", where_words, "a people's name, not a place")
            elif where is not None and self.speaks(where_words):
                self.reject(f"{path}.where.place", where_words, "a person the article quotes, not a place")
            elif where is None:
                self.reject(f"{path}.where.place", where_words, "not in the cited sentence's paragraph")
            else:
                self.keep(f"{kept}.where.place", *where)
                place = Where(place=self.written(where_words, where))
        place = place or next((p for o in near if (p := self.sentence_place(kept, o))), None)
        return Event(
            what=what,
            evidence=cited,
            sentence=s.id,
            category=e.category,
            event_type=e.event_type,
            modality=e.modality,
            when=when,
            where=place,
            actors=actors,
        )

    def when(self, path: str, kept: str, words: str | None, s: Sentence, *, future: bool) -> When | None:
        if not words:
            return None
        where = self.phrase(words, s.start, s.end) or self.phrase(words, *self.around(s))
        if where is None:
            self.reject(f"{path}.when", words, "time words not in the cited sentence")
            return None
        written = self.text[slice(*where)]
        if written.isupper() and not any(ch.isdigit() for ch in written):  # "USA TODAY": a paper
            self.reject(f"{path}.when", words, "written in capitals there: a name, not a time")
            return None
        own = find_time_words(self.text, s.start, s.end)
        if not s.start <= where[0] < s.end and own is not None and not self.quoted(own[0]):
            # the dev set's "after the third debate", from the sentence before "on Saturday"
            self.reject(f"{path}.when", words, "another sentence's time words; the cited one has its own")
            return None
        self.keep(f"{kept}.when.text", *where)
        written = self.written(words, where)
        return When(text=written, date=resolve_date(written, self.published_at, future=future))

    # The cited sentence's own time words and place, when the model gave none that hold: a
    # small model often leaves them null or writes a sentence id there. Copied, so verbatim.

    def nearby(self, s: Sentence, *, lead: bool) -> list[Sentence]:
        """Where an event's own time and place words are looked for when the model gave none
        that holds: its sentence, then the sentences before it in its paragraph, nearest first
        (one after it is often a new development: "The parade is set for Friday"); for the
        first event also the article's lead (its first three citable sentences: scraped pages
        open with sign-up residue), where news
        writing puts the main event's when and where."""
        same = [o for o in self.u.citable if o.paragraph == s.paragraph and o.end <= s.start]
        out = [s, *reversed(same)]
        if lead:
            out += [o for o in self.u.citable[:3] if o not in out]
        return out

    def speaks(self, words: str) -> bool:
        """``words`` name someone the article's own reporting clauses make a speaker (not a
        place the article also uses as one): "Leonid Vereshchagin" is no event's `where`."""
        name = fold(words.strip())
        if not name or any(fold(p) == name for p in self.u.places):
            return False
        speakers = {fold(q.attribution.speaker) for q in self.u.quotations if q.attribution.speaker}
        return any(name == sp or name in sp.split() or sp.endswith(f" {name}") for sp in speakers)

    def quoted(self, pos: int) -> bool:
        return any(q.start <= pos < q.end for q in self.u.quotations)

    def sentence_when(self, kept: str, s: Sentence, future: bool, *, clock: bool = False) -> When | None:
        """The sentence's first calendar time words ("on Sunday"), or with ``clock`` its match
        clock ("on lap 20"): a date anywhere near beats a lap in the cited sentence."""
        found = (find_clock_words if clock else find_time_words)(self.text, s.start, s.end)
        if found is None or self.quoted(found[0]):
            return None  # "Nobody should go near the pier until Friday," she said: not its when
        self.keep(f"{kept}.when.text", *found)
        words = self.text[slice(*found)]
        return When(text=words, date=resolve_date(words, self.published_at, future=future))

    def dated(self, kept: str, future: bool) -> When | None:
        """For the first event, when nothing near it has time words: the article's first full
        date ("November 8, 2016") within a week of its dateline, outside quotations. Scraped
        pages keep an embedded post's or a caption's date, and that dates the news; an older
        date ("March 22, 2016" under a November page) is background, not this event's."""
        if not self.published_at:
            return None
        for m in FULL_DATE.finditer(self.text):
            if self.quoted(m.start()) or any(a <= m.start() < b for a, b in self.u.withheld):
                continue
            day = resolve_date(m.group(0), self.published_at, future=future)
            if day and days_apart(day, self.published_at) <= 7:
                self.keep(f"{kept}.when.text", *m.span())
                return When(text=m.group(0), date=day)
        return None

    def sentence_place(self, kept: str, s: Sentence) -> Where | None:
        for name in self.u.names:
            if (
                s.start <= name.start
                and name.end <= s.end
                and not _DEMONYM.search(name.text)
                and not self.quoted(name.start)
                and PLACE_BEFORE.search(self.text[max(s.start, name.start - 40) : name.start])
            ):
                self.keep(f"{kept}.where.place", name.start, name.end)
                return Where(place=name.text)
        return None

    # -- claims -------------------------------------------------------------------------------

    def claims(self, answer: PointerDraft) -> list[Claim]:
        out: list[Claim] = []
        for i, c in enumerate(answer.claims):
            path = f"claims[{i}]"
            statement = whole(c.statement, _cap(ClaimPick, "statement"))
            s = self.cited(path, c.sentence, "statement", statement, denial=c.status == "denied")
            if s is None:
                continue
            cited = self.text[s.start : s.end]
            claimant = self.phrase(c.claimant, *self.around(s))
            if claimant is None:
                self.reject(f"{path}.claimant", c.claimant, "not named in the cited paragraph")
                continue
            status = c.status
            lo, hi = self.around(s)
            if s.paragraph + 1 < len(self.u.paragraphs):  # "could not verify" often follows
                hi = self.u.paragraphs[s.paragraph + 1].end
            hedged = _UNVERIFIED.search(self.text, lo, hi)
            if hedged and _verifier(self.text, lo, hedged) == fold(c.claimant).strip():
                self.reject(
                    f"{path}.claimant", c.claimant, "the party that could not verify it, not its claimant"
                )
                continue
            if hedged and status != "unverified":
                self.notes.append(f"{path}: the article says it could not verify this; status unverified")
                status = "unverified"
            elif status == "denied" and not _DENIED.search(self.text, lo, hi):
                self.reject(f"{path}.status", status, "the cited text denies nothing (no denial verb)")
                status = "claimed"
            kept = f"claims[{len(out)}]"
            self.keep(f"{kept}.evidence", s.start, s.end)
            self.keep(f"{kept}.claimant", *claimant)
            out.append(
                Claim(statement=statement, claimant=c.claimant, status=status, evidence=cited, sentence=s.id)
            )
        return out + self.unverified_accounts({c.sentence for c in out if c.sentence}, len(out))

    def unverified_accounts(self, cited: set[str | None], first: int) -> list[Claim]:
        """Accounts the article says it could not verify ("Reuters could not immediately verify
        the account."), added as ``unverified`` claims when the model cited none of them: an
        editor must see those. The account is the sentence before, with its "X said" claimant;
        statement and claimant are copied from it. The status says it all: no review flag."""
        out: list[Claim] = []
        sentences = self.u.sentences
        for k, t in enumerate(sentences):
            if k == 0 or t.withheld or not _UNVERIFIED.search(self.text[t.start : t.end]):
                continue
            s = sentences[k - 1]
            if s.withheld or s.id in cited or s.paragraph < t.paragraph - 1:
                continue
            sentence = self.text[s.start : s.end]
            said = next((m for p in _CLAIMANTS if (m := p.search(sentence))), None)
            if said is None:
                continue
            kept = f"claims[{first + len(out)}]"
            self.keep(f"{kept}.evidence", s.start, s.end)
            self.keep(f"{kept}.claimant", s.start + said.start("who"), s.start + said.end("who"))
            out.append(
                Claim(
                    statement=sentence,
                    claimant=said["who"],
                    status="unverified",
                    evidence=sentence,
                    sentence=s.id,
                )
            )
            cited.add(s.id)
        return out

    def sources(self, answer: PointerDraft) -> list[Source]:
        out: list[Source] = []
        visible = self.u.visible_text()
        for i, src in enumerate(answer.sources):
            if self.publisher and fold(src.name).strip() == fold(self.publisher).strip():
                continue  # the outlet itself, which the prompt names and the record keeps
            if align(src.name, visible, fuzzy=False, whole_words=True) is None:
                self.reject(f"sources[{i}].name", src.name, "this name does not occur in the article")
                continue
            where = self.phrase(src.name, 0, len(self.text))
            if where is not None:
                self.keep(f"sources[{len(out)}].name", *where)
            out.append(Source(name=src.name, kind=src.kind))
        return out

    # -- headline and brief -------------------------------------------------------------------

    def headline(self, answer: PointerDraft, title: str | None) -> tuple[str, str]:
        """The headline and brief, each sentence held to what the article says (``said``).
        Names and numbers must be in the article's visible text or its title (the dev set's
        "… at wet Brazilian Grand Prix" is the title's, and the text never says "Brazilian");
        prose that only a withheld passage supports is rejected. What fails is never shown:
        the title (or the lead) stands in for a headline, the sentence the model's summarised
        for a sentence of the brief, and the brief says so."""
        visible = self.u.visible_text()
        named = f"{title or ''}\n\n{visible}"  # the title is never scanned for injections: names only
        withheld = " ".join(self.text[a:b] for a, b in self.u.withheld)
        out = []
        for name, given in (("headline", answer.headline), ("brief", answer.brief)):
            prose = self.without_rejected(
                name, whole(given, _cap(PointerDraft, name), sentences=name == "brief")
            )
            if withheld and _echoes(prose, withheld, visible):
                self.reject(name, prose, "supported only by a passage withheld as a suspected injection")
                prose = ""
            else:
                names = unsupported_names(prose, named)
                numbers = [v for v in unsupported_numbers(prose, named) if v >= 0]
                if names or numbers:
                    what = ", ".join([*names[:3], *(f"{v:g}" for v in numbers[:3])])
                    self.reject(name, prose, f"names or numbers not in the article: {what}")
                    prose = ""
            out.append(self.said(name, prose, title))
        headline = out[0] or title or self.first_sentence()
        if not out[0]:
            stand_in = "title" if title else "first sentence"
            self.review.append(f"the headline is the article's {stand_in}: the model's did not hold")
        return headline, out[1]

    def said(self, name: str, prose: str, title: str | None) -> str:
        """``prose`` less each sentence that says what its best-supporting sentences of the
        article do not (``check_prose``: their numbers for the same things, their polarity and
        modality, no opposites, most of their words). A brief's failed sentence gives way to
        the article sentence it summarised; a headline's to the title, by the caller."""
        kept: list[str] = []
        visible = self.u.visible_text()
        for sentence in re.split(r"(?<=[.!?])\s+", prose) if prose else []:
            support = self.best_support(sentence, 3)
            cited = " ".join(self.text[t.start : t.end] for t in support)
            unbound = [n for n in unbound_numbers(sentence, visible) if not _VAGUE_START.match(n)]
            meaning = meaning_problem(sentence, cited)
            if meaning == HEDGED and self.asserted_elsewhere(sentence, cited):
                meaning = None
            why = (
                f"numbers the article does not give for this: {', '.join(unbound[:3])}"
                if unbound
                else meaning or share_problem(sentence, cited, MIN_SHARE_PROSE, f"{title or ''} {visible}")
            )
            if why is None:
                kept.append(sentence)
                continue
            self.reject(name, sentence, why)
            if name == "brief" and support and support[0].id not in self.stood_in:
                self.stood_in.add(support[0].id)
                kept.append(trimmed(self.text[support[0].start : support[0].end], BRIEF_SENTENCE))
                self.review.append(
                    f"a sentence of the brief is the article's ({support[0].id}): the model's did not hold"
                )
        return " ".join(kept)

    def asserted_elsewhere(self, prose: str, cited: str) -> bool:
        """Each clause of ``prose`` that the supporting sentences only hedge is stated as done
        by another sentence of the article that has most of its words: "Ukraine retakes areas
        around Kyiv as Russia shifts focus to Donbas", where the lead says Russia is "set to
        focus" on the Donbas and a later sentence that it "is now the focus of its war effort"."""
        for clause in _PROSE_CLAUSES.split(prose):
            words = content_stems(clause)
            if not words or unasserted(clause, cited) is None:
                continue
            texts = [self.text[t.start : t.end] for t in self.best_support(clause, 3)]
            if not any(
                unasserted(clause, text) is None and len(words & content_stems(text)) >= 0.6 * len(words)
                for text in texts
            ):
                return False
        return True

    def best_support(self, prose: str, n: int = 2) -> list[Sentence]:
        """The ``n`` citable sentences sharing most content words with the prose, best first
        (a sentence repeated word for word, a caption repeating the lead, counted once)."""
        words = content_stems(prose)
        ranked = sorted(self.u.citable, key=lambda o: -len(words & content_stems(self.text[o.start : o.end])))
        out: list[Sentence] = []
        for o in ranked:
            text = self.text[o.start : o.end]
            if len(out) == n or not words & content_stems(text):
                break
            if all(text != self.text[t.start : t.end] for t in out):
                out.append(o)
        return out

    def without_rejected(self, name: str, prose: str) -> str:
        """The headline or brief less any sentence that restates an event or claim grounding
        rejected: the dev set's Croydon brief opened with "A 30-year-old man was killed in a
        tram crash", the very event rejected three times (the 30-year-old survived)."""
        rejected = [
            content_stems(r.value) for r in self.rejected if r.field.endswith((".what", ".statement"))
        ]
        if not rejected or not prose:
            return prose
        kept = []
        for sentence in re.split(r"(?<=[.!?])\s+", prose):
            words = content_stems(sentence)
            if words and any(len(words & r) / len(words) >= 0.6 for r in rejected if r):
                self.reject(name, sentence, "restates an event or claim rejected above")
            else:
                kept.append(sentence)
        return " ".join(kept)

    def first_sentence(self) -> str:
        s = next(iter(self.u.citable), None)
        return trimmed(self.text[s.start : s.end], _cap(PointerDraft, "headline") or 110) if s else ""


_PROSE_CLAUSES = re.compile(r"[,;:]\s|\s(?:as|and|while|after|before)\s")


def _verifier(text: str, lo: int, hedge: re.Match[str]) -> str:
    """Who could not verify it: the words before "could not verify" in its sentence
    ("Reuters could not immediately verify the account." -> "reuters"), folded."""
    start = max(text.rfind(c, lo, hedge.start()) for c in ".!?\n") + 1
    words = fold(text[max(lo, start) : hedge.start()]).strip().split()
    return " ".join(w for w in words if w not in {"the", "we", "it"}) if 0 < len(words) <= 4 else ""


def _same_figure(kept: KeyFigure, text: str, counts: str, source: str) -> bool:
    """The same number, counting the same, told by a sentence that mostly repeats the kept
    one's (a photo caption repeating the lead); "two people died" in Leeds and in York stay two."""
    if fold(kept.text) != fold(text) or fold(kept.counts) != fold(counts):
        return False
    a, b = content_stems(kept.source_text), content_stems(source)
    return bool(a and b) and len(a & b) / min(len(a), len(b)) >= MIN_SHARE_REPEATED


def _points_at(prose: str, sentence: str) -> bool:
    """The prose is about the sentence, though it does not hold to it: a third of its content
    words are the sentence's. The dev set's small-model events failed on one number or a few
    words of their own ("A 30-year-old man was killed" for a sentence on the crash); every
    re-ask for them failed again, and the article lost all its events."""
    words = [stem(w) for w in content_words(prose)]
    have = content_stems(sentence)
    return bool(words) and sum(w in have for w in words) / len(words) >= MIN_SHARE_POINTED


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


def _cap(model: type[BaseModel], name: str) -> int | None:
    """The answer schema's length cap of one field (the grammar stops the model there)."""
    return next((m.max_length for m in model.model_fields[name].metadata if hasattr(m, "max_length")), None)


_BROKEN_END = frozenset(
    ["the", "a", "an", "of", "to", "by", "with", "for", "from", "at", "and", "or", "that", "who"]
)
_BROKEN_END |= frozenset(["which", "via", "their", "its", "his", "her", "as", "than"])


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
        end = max(text.rfind(p) for p in (". ", "! ", "? "))
        if end >= len(text) // 3:
            return text[: end + 1]
    if cut:
        words = words[:-1]
    elif not (words and fold(words[-1].strip(",;:")) in _BROKEN_END):
        return prose
    while words and fold(words[-1].strip(",;:")) in _BROKEN_END:
        words.pop()
    return " ".join(words).rstrip(",;:") + "\u2026" if words else prose


def trimmed(text: str, cap: int) -> str:
    """An article sentence shown in the model's place, cut at a word to ``cap`` characters."""
    text = text.strip()
    if len(text) <= cap:
        return text
    return whole(text[: text.rfind(" ", 0, cap - 1)], None).rstrip(",;: \u2026") + "\u2026"


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


def _echoes(prose: str, withheld: str, visible: str) -> bool:
    """Most of the prose's words come from the withheld passage and not from the rest."""
    words = [fold(w) for w in content_words(prose)]
    if not words:
        return fold(prose).strip() != "" and fold(prose).strip() in fold(withheld)
    inside = {fold(w) for w in content_words(withheld)}
    outside = {fold(w) for w in content_words(visible)}
    only_withheld = sum(w in inside and w not in outside for w in words)
    return only_withheld / len(words) >= 0.3 or (
        sum(w in inside for w in words) / len(words) >= 0.8
        and sum(w in outside for w in words) / len(words) < 0.5
    )


def resolve(
    answer: PointerDraft,
    units: Units,
    *,
    published_at: str | None = None,
    title: str | None = None,
    lead: bool = True,
    publisher: str | None = None,
) -> GroundingResult:
    """Turn the model's pointers into a grounded ``Summary``; never raises on any text.

    ``lead``: when none of the answer's events holds, the article's lead stands in as its one
    event (the strict check asks again first). ``publisher``: the outlet the prompt names; the
    model's naming it as a source is dropped, not rejected (the dev set's "dailymail")."""
    answer = canonical_answer(answer)
    r = _Resolver(units, published_at, title, lead=lead, publisher=publisher)
    quotes = r.quotes(answer)
    figures = r.figures(answer)
    events = r.events(answer)
    claims = r.claims(answer)
    sources = r.sources(answer)
    headline, brief = r.headline(answer, title)
    summary = Summary(
        headline=headline,
        brief=brief,
        topics=list(answer.topics),
        events=events,
        key_figures=figures,
        quotes=quotes,
        claims=claims,
        sources=sources,
    )
    return GroundingResult(summary, r.grounded, r.rejected, r.notes, r.review)


def canonical_answer(answer: PointerDraft) -> PointerDraft:
    """The answer with every string canonical, as the article is (``summarizer.canonical``):
    a zero-width space in "8\u200b6,266" or a Cyrillic letter in a name cannot slip past.
    Copied, not validated again (validation is where grounding runs)."""
    copy: PointerDraft = _canonical_model(answer)
    return copy


def _canonical_model(model: Any) -> Any:
    if isinstance(model, BaseModel):
        update = {name: _canonical_model(getattr(model, name)) for name in type(model).model_fields}
        return model.model_copy(update=update)
    if isinstance(model, list):
        return [_canonical_model(v) for v in model]
    return canonical(model) if isinstance(model, str) else model


class GroundingError(ValueError):
    """Raised inside validation so instructor re-asks with these specific problems."""


@dataclass
class GroundingCheck:
    """Validation hook. Strict: raise (so instructor re-asks) when no event survives.
    Lenient: record. Remembers its last result, so the record is built from the very grounding
    the answer passed."""

    units: Units
    strict: bool = True
    published_at: str | None = None
    title: str | None = None
    publisher: str | None = None
    _last: tuple[Any, GroundingResult] | None = field(default=None, repr=False)

    def __call__(self, answer: PointerDraft) -> None:
        result = resolve(
            answer,
            self.units,
            published_at=self.published_at,
            title=self.title,
            lead=not self.strict,
            publisher=self.publisher,
        )
        self._last = (answer, result)
        if self.strict and not result.draft.events:
            lines = [f"- {r.field}: {r.reason}" for r in result.rejected[:6]]
            raise GroundingError(
                "No event is supported by its cited sentence. Cite the sentence id that reports "
                "each event and describe it with that sentence's own names and numbers:\n" + "\n".join(lines)
            )

    def result_for(self, answer: PointerDraft) -> GroundingResult | None:
        if self._last is not None and self._last[0] is answer:
            return self._last[1]
        return None
