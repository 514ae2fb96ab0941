"""An event's when and where: time words and places read from the cited sentence, its
paragraph or the dateline, with the event's modality."""

from __future__ import annotations

import re

from summarizer.alignment import fold
from summarizer.dates import (
    FULL_DATE,
    days_apart,
    find_clock_words,
    find_time_words,
    looks_ahead,
    resolve_date,
)
from summarizer.grounding.findings import Findings
from summarizer.names import PLACE_BEFORE
from summarizer.schema import When, Where
from summarizer.units import Sentence

# "in Russian hands", "the American city of" name no place ("Vatican" does)
DEMONYM = re.compile(r"(?:ian|ean|ese|ish)s?$|\b(?:American|African|Mexican)s?$")


RELATIVE_TIME = "a relative time where the cited sentence gives a date or time"
# Where a relative time phrase ends: a clause break, or a word that starts another clause.
_TIME_PHRASE_END = re.compile(r"\s*[,;:(\u2014]|\s+(?:because|and|but|so|when|while|which|who)\b")
# Words a phrase cut short may end on: "within minutes because they were in the".
_DANGLING = frozenset(["the", "a", "an", "of", "in", "on", "at", "to", "for", "by", "with", "from"])


class Labels(Findings):
    """When and where of an event."""

    def when(self, path: str, kept: str, words: str | None, s: Sentence) -> When | None:
        """The model's time words for the event cited at ``s``, as the article writes them; a
        relative time ("within minutes", "for more than 85 hours") loses to a date or clock time
        of the cited sentence itself: an editor can place the one, not the
        other. A date of another sentence may be another event's."""
        if not words:
            return None
        where = self.phrase(words, s.start, s.end) or self.phrase(words, *self.around(s))
        if where is None:
            self.reject(f"{path}.when", words, "time words not in the cited sentence")
            return None
        # A longer stretch ends with its time words: a date or clock time as the article's
        # finder reads it ("in March last year, police said" -> "in March last year"), else a
        # relative time at its clause's end ("after the third debate, we felt so good").
        timed = find_time_words(self.text, *where) or find_clock_words(self.text, *where)
        where = (where[0], timed[1]) if timed else self.clause_of(*where)
        written = self.text[slice(*where)]
        if written.isupper() and not any(ch.isdigit() for ch in written):  # "USA TODAY": a paper
            self.reject(f"{path}.when", words, "written in capitals there: a name, not a time")
            return None
        if timed is None and self.own_time_words(s) is not None:
            self.reject(f"{path}.when", words, RELATIVE_TIME)
            return None
        if not s.start <= where[0] < s.end and self.own_time_words(s) is not None:
            # the dev set's "after the third debate", from the sentence before "on Saturday"
            self.reject(f"{path}.when", words, "another sentence's time words; the cited one has its own")
            return None
        self.keep(f"{kept}.when.text", *where)
        written = self.written(words, where)
        return When(text=written, date=resolve_date(written, self.published_at, future=self.ahead(*where)))

    def own_time_words(self, s: Sentence, *, clock: bool = False) -> tuple[int, int] | None:
        """The span of ``s``'s first calendar time words (with ``clock``, its match clock), unless
        they stand inside a quotation ("Nobody should go near the pier until Friday," she said)."""
        found = (find_clock_words if clock else find_time_words)(self.text, s.start, s.end)
        return None if found is None or self.quoted(found[0]) else found

    def clause_of(self, start: int, end: int) -> tuple[int, int]:
        """``start:end`` up to its first clause break, without a dangling little word; the whole
        stretch when the cut would leave no word of substance."""
        cut = end
        if (m := _TIME_PHRASE_END.search(self.text, start, end)) and m.start() > start:
            cut = m.start()
        words = list(re.finditer(r"\S+", self.text[start:cut]))
        while words and fold(words[-1][0]) in _DANGLING:
            words.pop()
        if not words or not any(w[0][:1].isalnum() for w in words):
            return start, end
        return start, start + words[-1].end()

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

    def ahead(self, start: int, end: int) -> bool:
        """The time words ``text[start:end]`` speak of what is to come, by their own clause's
        tense (``dates.looks_ahead``); the model's modality does not move a date."""
        s = next((o for o in self.u.sentences if o.start <= start < o.end), None)
        lo, hi = (s.start, s.end) if s is not None else (start, end)
        return looks_ahead(self.text, start, end, lo, hi)

    def sentence_when(self, kept: str, s: Sentence, *, clock: bool = False) -> When | None:
        """The sentence's first calendar time words ("on Sunday"), or with ``clock`` its match
        clock ("on lap 20"): a date anywhere near beats a lap in the cited sentence."""
        found = self.own_time_words(s, clock=clock)
        if found is None:
            return None
        self.keep(f"{kept}.when.text", *found)
        words = self.text[slice(*found)]
        return When(text=words, date=resolve_date(words, self.published_at, future=self.ahead(*found)))

    def dated(self, kept: str) -> When | None:
        """For the first event, when nothing near it has time words: the article's first full
        date ("November 8, 2016") within a week of its dateline, outside quotations. Scraped
        pages keep an embedded post's or a caption's date, and that dates the news; an older
        date ("March 22, 2016" under a November page) is background, not this event's."""
        if not self.published_at:
            return None
        for m in FULL_DATE.finditer(self.text):
            if self.quoted(m.start()) or any(a <= m.start() < b for a, b in self.u.withheld):
                continue
            day = resolve_date(m.group(0), self.published_at, future=self.ahead(*m.span()))
            if day and days_apart(day, self.published_at) <= 7:
                self.keep(f"{kept}.when.text", *m.span())
                return When(text=m.group(0), date=day)
        return None

    def sentence_place(self, kept: str, s: Sentence) -> Where | None:
        for name in self.u.names:
            if (
                s.start <= name.start
                and name.end <= s.end
                and not DEMONYM.search(name.text)
                and not self.quoted(name.start)
                and PLACE_BEFORE.search(self.text[max(s.start, name.start - 40) : name.start])
            ):
                self.keep(f"{kept}.where.place", name.start, name.end)
                return Where(place=name.text)
        return None
