"""Who "he" or "she" is: the nearest earlier speaker or subject who agrees in gender, or
nobody."""

from __future__ import annotations

import re

from summarizer.speakers.clauses import Reader
from summarizer.speakers.lexicon import (
    MODIFIER,
    ORGANISATION,
    PRONOUN_REACH,
    PRONOUNS,
    REPORTS,
    ROLE,
    SAME_PRONOUN,
    UNNAMED,
)
from summarizer.speakers.spans import Attribution, Clause, Region
from summarizer.speakers.words import clean, person_like


class Pronouns:
    """Pronoun subjects resolved by agreement."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader

    def pronoun_subject(self, q: Region) -> Clause | None:
        """The "he"/"she" that opens the quotation's sentence when no speech verb attributes it:
        the words are that person's, whoever the rules can find them to be."""
        s = self.r.sentences[self.r.sentence_at(q.start)]
        m = re.match(r"\s*(He|She)\b(?:\s+[a-z]+)?", self.r.text[s.start : q.start])
        if m is None:
            return None
        a, b = s.start + m.start(1), s.start + m.end(1)
        return Clause(a, s.start + m.end(), a, b, m.group(1).lower())  # "He lists"

    def pronoun(self, q: Region, clause: Clause, spoken: list[tuple[Region, Attribution]]) -> Attribution:
        """ "he said": the nearest earlier speaker or sentence subject who agrees in gender."""
        want = PRONOUNS.get(clause.pronoun or "")
        if clause.pronoun == "it":
            found = self.body(q, clause, spoken)
        else:
            found = self.antecedent(q, clause, spoken, want) if want else None
        if found is None:  # the agreement rules looked at every candidate: nobody for the model
            return Attribution(None, "unnamed", clause, None, (UNNAMED,))
        name, span = found
        return Attribution(name, "pronoun", clause, span, (name, UNNAMED))

    def antecedent(
        self, q: Region, clause: Clause, spoken: list[tuple[Region, Attribution]], want: str
    ) -> tuple[str, tuple[int, int]] | None:
        """Sentence by sentence back from the clause (three at most, within the quotation's
        paragraph and the two before): who spoke there, then who opens a clause there (the
        subject, "Gaga's protest" included), then the other people, nearest first. A person
        whose gender is the pronoun's is taken; one of unknown gender only when they spoke or
        are the subject of the nearest sentence naming anybody; the other gender is passed over."""
        reader = self.r
        floor = reader.paragraphs[max(0, q.paragraph - 2)].start
        first = reader.sentence_at(clause.start)
        nearest = True
        for k in range(first, max(-1, first - 1 - PRONOUN_REACH), -1):
            s = reader.sentences[k]
            if s.end <= floor:
                break
            people = self.people_in(s.start, min(s.end, clause.start), spoken)
            alone = sum(p[3] for p in people) == 1  # one person who spoke or is the subject
            same = k < first and SAME_PRONOUN[want].match(reader.text, s.start) is not None
            for start, end, name, salient in people:
                if same and not salient:
                    continue  # "He said the missiles were fired from the Iskander system": he is still he
                if not salient and len(name.split()) < 2:
                    continue  # an object named by one word ("Iskander") is no antecedent
                gender = reader.gender(name)
                if gender == want or (gender is None and nearest and salient and alone):
                    return name, (start, end)
            if people:
                nearest = False
        return None

    def people_in(
        self, a: int, b: int, spoken: list[tuple[Region, Attribution]]
    ) -> list[tuple[int, int, str, bool]]:
        """Persons of sentence text ``text[a:b]`` in the order a pronoun looks for them, each
        once, as (start, end, full name, salient: spoke or opens a clause)."""
        reader = self.r
        spoke: list[tuple[int, int, str, bool]] = []
        for _, att in reversed(spoken):
            span = att.speaker_span
            if (
                att.speaker
                and span
                and a <= span[0] < b
                and att.method != "continuation"
                and person_like(att.speaker)
            ):
                spoke.append((span[0], span[1], att.speaker, True))
        for verb in reader.verbs(a, b):  # "… Assistant Chief Robert Merner said the incident …"
            clause = reader.opening(verb, a)
            if clause is not None and clause.person and clause.speaker:
                spoke.append((clause.name_start, clause.name_end, clause.speaker, True))
        subjects: list[tuple[int, int, str, bool]] = []
        others: list[tuple[int, int, str, bool]] = []
        for n in reader.names_in(a, b):
            name = clean(n.text)
            if name in reader.places or not person_like(name) or REPORTS.search(name):
                continue
            if all(ROLE.match(w) for w in name.split()):
                continue  # "Chief Constable"
            if MODIFIER.match(reader.text, n.end) and not reader.possessive(n):
                continue  # "Clinton communications director Jennifer Palmieri", "Seattle police"
            opens = reader.opens_clause(n, a)
            if reader.possessive(n) and not opens:
                continue  # "the Democrat candidate's rally": not who the sentence is about
            (subjects if opens else others).append((n.start, n.end, reader.person(name, n.start), opens))
        seen: set[str] = set()
        unique = []
        for item in spoke + subjects + others[::-1]:
            if item[2] not in seen:
                seen.add(item[2])
                unique.append(item)
        return unique

    def body(
        self, q: Region, clause: Clause, spoken: list[tuple[Region, Attribution]]
    ) -> tuple[str, tuple[int, int]] | None:
        """ "It said:" / "it added": the nearest earlier sentence (three at most, within the
        quotation's paragraph and the one before) where a body speaks: a speaker that is not a
        person ("Mondelez said", "the company said", "the report says"). Two bodies speaking in
        that sentence, or a person speaking after the body, leave it unnamed."""
        reader = self.r
        floor = reader.paragraphs[max(0, q.paragraph - 1)].start
        first = reader.sentence_at(clause.start)
        for k in range(first, max(-1, first - 1 - PRONOUN_REACH), -1):
            s = reader.sentences[k]
            if s.end <= floor:
                break
            found: dict[str, tuple[int, int]] = {}
            person = False
            for _, att in spoken:
                span = att.speaker_span
                if att.speaker and span and s.start <= span[0] < min(s.end, clause.start):
                    if self.is_person(att.speaker):
                        person = True
                    else:
                        found.setdefault(att.speaker, span)
            for verb in reader.verbs(s.start, min(s.end, clause.start)):
                said = reader.opening(verb, s.start)
                if said is None or not said.speaker or said.pronoun:
                    continue
                if said.person and self.is_person(said.speaker):
                    person = True
                else:
                    found.setdefault(said.speaker, said.name_span)
            if person or len(found) > 1:
                return None
            if found:
                return next(iter(found.items()))
        return None

    def is_person(self, name: str) -> bool:
        """A name the article shows to be a person (a gender by title, first name or pronouns);
        "Mondelez" or "the company" is not."""
        return person_like(name) and not ORGANISATION.search(name) and self.r.gender(name) is not None
