"""Each quotation's attribution in order: its own clause, a continuation of the quotation
before it, a pronoun that agrees, or nobody with the names the model may choose."""

from __future__ import annotations

from collections.abc import Sequence

from summarizer.speakers.clauses import Reader
from summarizer.speakers.lexicon import (
    CARRY_CHARS,
    CREDIT_BEFORE,
    MAX_CANDIDATES,
    MODIFIER,
    REPORTS,
    ROLE,
    SIGNATURE,
    UNNAMED,
)
from summarizer.speakers.pronouns import Pronouns
from summarizer.speakers.spans import Attribution, Name, Region, Sentence, Span
from summarizer.speakers.words import clean, speaker_like, title_like


class Attributor(Pronouns):
    def run(self, regions: Sequence[Region]) -> list[Attribution]:
        out: list[Attribution] = []
        spoken: list[tuple[Region, Attribution]] = []  # earlier quotations and who said them
        for region in regions:
            a = self.one(region, spoken)
            spoken.append((region, a))
            out.append(a)
        return out

    def one(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution:
        reader = self.r
        after, before = reader.after(q), reader.before(q)
        if title_like(reader.text[q.start : q.end]) and after is None and before is None:
            return Attribution(None, "unnamed", None, None, (UNNAMED,))  # "Curse of the Billy Goat"
        clause = reader.transcript(q) or reader.tweet(q) or reader.signed(q) or after
        if clause is not None and REPORTS.search(reader.text[clause.subject_start : clause.subject_end]):
            clause = before or clause  # 'X said "…," the Associated Press reports': X
        clause = clause or before or reader.colon_intro(q)
        if clause is not None and clause.pronoun is None and clause.speaker:
            speaker = clause.speaker
            return Attribution(speaker, "clause", clause, clause.name_span, (speaker, UNNAMED))
        if clause is not None and clause.pronoun is not None:
            return self.pronoun(q, clause, spoken)
        carried = self.continued(q, spoken) or self.paragraph_speaker(q, spoken)
        if carried is not None:
            return carried
        subject = self.pronoun_subject(q)
        if clause is None and subject is not None:  # "He lists neighbors …, men "buried there""
            return self.pronoun(q, subject, spoken)
        return Attribution(None, "unnamed", clause, None, self.candidates(q))

    def continued(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution | None:
        """No clause: the words go on from the quotation just before, in this paragraph or at
        the end of the previous one when this paragraph opens with a mark."""
        if not spoken:
            return None
        before, a = spoken[-1]
        same = before.paragraph == q.paragraph and q.start - before.end <= CARRY_CHARS
        opens = self.r.paragraph_opens_with_mark(q)
        if not (same or (opens and before.paragraph == q.paragraph - 1)):
            return None
        if a.speaker is None or SIGNATURE.match(self.r.text, before.end + 1):
            return None  # a signed quotation is whole: the next line is someone else's
        between = self.r.text[before.end + 1 : q.start - 1]
        if (
            not same
            and between.rstrip().endswith("?")
            and not self.r.text[before.end : before.end + 1].isspace()
        ):
            return None  # a question closes the paragraph before: the answer is someone else's
        gap = before.end + 1
        if a.clause is not None and before.end <= a.clause.start < q.start:
            # the earlier quotation's own "X said …" sentence is not someone else speaking
            gap = max(
                a.clause.end, min(self.r.sentences[self.r.sentence_at(a.clause.start)].end, q.start - 1)
            )
        if self.r.other_speaker(gap, q.start - 1):
            return None
        return Attribution(a.speaker, "continuation", a.clause, a.speaker_span, (a.speaker, UNNAMED))

    def paragraph_speaker(self, q: Region, spoken: list[tuple[Region, Attribution]]) -> Attribution | None:
        """ "…, Schiff said. "The other factor …"": a quotation that opens a sentence goes to
        the speaker of the sentence before it in its paragraph (two back at most) when that
        sentence reports speech with a named subject and holds no quotation of its own."""
        reader = self.r
        k = reader.sentence_at(q.start)
        if reader.text[reader.sentences[k].start : q.start - 1].strip():
            return None  # the quotation does not open its sentence
        for j in range(k - 1, max(-1, k - 3), -1):
            s = reader.sentences[j]
            if s.paragraph != q.paragraph or any(
                a <= s.start < b or s.start <= a < s.end for a, b in reader.quote_spans
            ):
                return None
            for verb in reversed(reader.verbs(s.start, s.end)):
                clause = reader.opening(verb, s.start)
                if clause is not None and clause.speaker:
                    speaker = clause.speaker
                    return Attribution(speaker, "continuation", clause, clause.name_span, (speaker, UNNAMED))
        return None

    def candidates(self, q: Region) -> tuple[str, ...]:
        """Names the model may choose for a quotation no clause attributes: speaker-like names
        of its paragraph and its neighbours, not places, platforms or papers, credits, links or
        handles, nor a name that only modifies a noun ("the Moscow army"); "unnamed" last."""
        reader = self.r
        pk = q.paragraph
        lo = reader.paragraphs[max(0, pk - 1)].start
        hi = reader.paragraphs[min(len(reader.paragraphs) - 1, pk + 1)].end
        out: list[str] = []
        for n in reader.names_in(lo, hi):
            if len(out) >= MAX_CANDIDATES - 1:
                break
            name = clean(n.text)
            if name in reader.places or not speaker_like(name) or ROLE.match(name) or REPORTS.search(name):
                continue
            if (
                reader.text[max(0, n.start - 1) : n.start] in ("/", "@", "#")
                or reader.text[n.end : n.end + 1] == "/"
            ):
                continue  # "pic.twitter.com/X8ox2wMl8H", "(@Kxngsosa)", "(Name Surname/PA)"
            if CREDIT_BEFORE.search(reader.text, max(0, n.start - 20), n.start):
                continue
            if MODIFIER.match(reader.text, n.end) and not reader.possessive(n):
                continue  # "the Moscow army", "Seattle police"
            full = reader.full(name)
            if full in reader.places:
                continue  # "Sea" of "the Sea of Azov" standing for "Black Sea"
            if full not in out:
                out.append(full)
        return (*out, UNNAMED)


def attribute(
    text: str,
    *,
    paragraphs: Sequence[Span],
    sentences: Sequence[Sentence],
    names: Sequence[Name],
    places: frozenset[str],
    regions: Sequence[Region],
) -> list[Attribution]:
    """Who said each quotation region, in order, with the clause that says so."""
    reader = Reader(
        text, paragraphs=paragraphs, sentences=sentences, names=names, places=places, quotes=regions
    )
    return Attributor(reader).run(regions)
