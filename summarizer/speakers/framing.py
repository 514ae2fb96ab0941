"""Clauses built from a subject: a speech verb's own (``opening``), the sentence's subject, the
outer speaker of a pronoun's complement, and the subject or name that frames a quotation with
no speech verb at all."""

from __future__ import annotations

import re

from summarizer.speakers.lexicon import (
    AS_LABEL,
    LABEL_NOUN,
    PASSIVE_BEFORE,
    PASSIVE_LABEL,
    SKIP_BEFORE_VERB,
    TERM_NOUN,
    TOKEN,
    VERB_FORMS,
)
from summarizer.speakers.phrases import Phrases
from summarizer.speakers.spans import Clause, Phrase
from summarizer.speakers.words import adverb


class Framing(Phrases):
    """Clauses from subjects, and quotations framed without a speech verb."""

    def clause(self, start: int, end: int, phrase: Phrase | None) -> Clause | None:
        if phrase is None:
            return None
        verb = self.text[max(start, end - 12) : end]
        if (
            phrase.pronoun is None
            and not phrase.person
            and not self.text[phrase.end : start].strip()  # the verb right after the phrase
            and re.search(r"(?:ed|written)$", verb)
            and re.match(r"\s+(?:to|by|on|in|at|as)\b", self.text[end : end + 4])
        ):
            return None  # "a statement posted to the page": a participle, not a speaker's verb
        speaker = phrase.speaker
        if speaker is not None and phrase.name_start >= 0:
            speaker = self.person(speaker, phrase.name_start)
        return Clause(
            min(start, phrase.start), max(end, phrase.end), phrase.start, phrase.end, phrase.pronoun,
            phrase.name_start, phrase.name_end, speaker, phrase.person,
        )  # fmt: skip

    def outer(self, earlier: list[re.Match[str]], clause: Clause, floor: int) -> Clause | None:
        """The clause whose complement a pronoun's clause is ("Obama said it would tell … "…""):
        the quotation is the outer speaker's words."""
        if clause.pronoun is None or not earlier:
            return None
        verb = earlier[-1]
        if not re.fullmatch(r"\s*(?:that\s+)?", self.text[verb.end() : clause.subject_start]):
            return None
        found = self.opening(verb, floor)
        return found if found is not None and found.pronoun is None and found.speaker else None

    def framed(self, sentence_start: int, floor: int, open_mark: int) -> Clause | None:
        """A sentence with no speech verb that frames the quotation: a name labelling it
        (``label``), or a subject that does: "Reid has gone after Trump as a "…"", "Obama is
        rolling out a new message: "…"". The subject must be a name or a pronoun; a passive
        ("was known as") frames nothing."""
        label = self.label(floor, open_mark)
        if label is not None:
            return label
        lead = self.text[floor:open_mark]
        m = AS_LABEL.search(lead) or LABEL_NOUN.search(lead) or TERM_NOUN.search(lead)
        if m is None or PASSIVE_LABEL.search(lead, 0, m.start()):
            return None
        phrase = self.sentence_subject(sentence_start, floor + m.start())
        if phrase is None or not (phrase.pronoun or phrase.person):
            return None
        return self.clause(floor + m.start(), floor + m.end(), phrase)

    def label(self, floor: int, open_mark: int) -> Clause | None:
        """A person's full name written right before the opening mark, a colon or dash at most
        between: the label of a pull quote or a vox pop ("Martin Bamford "There was …"",
        "Ana Ruiz: "We …"")."""
        lead = self.text[floor:open_mark]
        b = floor + len(lead.rstrip())
        if self.text[b - 1 : b] in (":", "\u2014", "\u2013", "-"):
            b = floor + len(self.text[floor : b - 1].rstrip())
        named = [n for n in self.names_in(max(floor, b - 60), b + 1) if n.end >= b - 1]
        if not named:
            return None
        phrase = self.phrase(named[-1].start, b)
        if phrase is None or not phrase.person or phrase.speaker is None or len(phrase.speaker.split()) < 2:
            return None
        return self.clause(phrase.start, b, phrase)

    def opening(self, verb: re.Match[str], floor: int) -> Clause | None:
        v0, v1 = verb.start(), verb.end()
        word = verb.group(0).lower()
        if word.startswith("according"):
            return self.clause(v0, v1, self.phrase_after(v1, v1 + 120))
        if PASSIVE_BEFORE.search(self.text, max(floor, v0 - 10), v0) and not word.endswith("ing"):
            return None
        if re.search(r"[^\W\d_]\s+who\s+$", self.text[max(floor, v0 - 40) : v0]):
            return None  # "a young woman who suggested": a relative clause about someone else
        if word.endswith("ing") and re.search(r",\s*$", self.text[floor:v0]):
            return None  # "…, saying": the main clause's subject (see ``before``)
        return self.clause(v0, v1, self.subject_before(v0, floor))

    def sentence_subject(self, start: int, limit: int) -> Phrase | None:
        """The sentence's own subject: its leading noun phrase (after an opening phrase that
        ends in a comma, "In an August speech, Trump …")."""
        m = re.match(r"\s*(?:(?:In|At|On|During|After|Before|Speaking|Asked|Earlier|Later)\b[^,]{0,80},\s*)?",
                     self.text[start:limit])  # fmt: skip
        a = start + (m.end() if m else 0)
        end = a
        for t in TOKEN.finditer(self.text, a, limit):  # up to its first verb-like word
            word = t.group(0)
            low = word.lower()
            if self.stop(word, t.start()) or low in SKIP_BEFORE_VERB or low in VERB_FORMS or adverb(word):
                break
            if not word[0].isalnum() or (word.islower() and word.endswith("ed")):
                break
            end = t.end()
        return self.phrase(a, end) if end > a else None
