"""Reporting clauses: the speech verb and its subject after, before or around a quotation,
a colon that introduces it, a transcript label, an embedded post's author."""

from __future__ import annotations

import re

from summarizer.speakers.framing import Framing
from summarizer.speakers.lexicon import (
    AFTER_WINDOW,
    BEFORE_WORDS,
    BYLINE,
    CYRILLIC_SPEECH,
    DETERMINER_NEAR,
    INVERTIBLE,
    LEMMA_SET,
    MARKS,
    NEW_CLAUSE,
    NOT_LABELS,
    NOUN_BEFORE,
    PASSIVE_BEFORE,
    RUN_ON,
    SIGNATURE,
    SPEECH_RE,
    STOP,
    TAG_REST,
    TRANSCRIPT,
    TWEET_AUTHOR,
)
from summarizer.speakers.spans import Clause, Region


class Reader(Framing):
    """The article's reporting clauses, phrases and people, for one ``attribute`` call."""

    def after(self, r: Region) -> Clause | None:
        """ "…," X said / "…," said X / "…" the letter reads, after the closing mark."""
        k = self.sentence_at(r.end)  # a quotation of several sentences ends in a later one
        s = self.sentences[k]
        p = self.paragraphs[r.paragraph]
        qe = r.end + 1
        stop = min(p.end, max(s.end, qe), qe + AFTER_WINDOW)
        tail = self.text[qe:stop]
        lead = len(tail) - len(tail.lstrip(" ,.!?'\u2014\u2013-"))
        if re.match(r"as\s", tail[lead:]):
            lead += 3  # '"…," as a Homeland Security memo put it'
        if not tail[lead:].strip() and k + 1 < len(self.sentences):
            nxt = self.sentences[k + 1]  # '"… EXONERATION!" ¶ President Trump tweeted.'
            if nxt.paragraph == r.paragraph and not any(c in self.text[nxt.start : nxt.end] for c in MARKS):
                return self.tag(nxt.start, min(nxt.end, nxt.start + AFTER_WINDOW), short=True)
            return None
        return self.tag(qe + lead, stop) or self.final_tag(qe, s.end)

    def final_tag(self, a: int, b: int) -> Clause | None:
        """'The FBI found the emails "have not changed our conclusion" that …, FBI director James
        Comey told congressional leaders.': the sentence ends in a tag after a comma, and the
        quotation is inside what it reports (no other quotation or speaker in between)."""
        tail = self.text[a:b]
        comma = tail.rfind(",")
        if comma < 0 or any(c in tail for c in MARKS) or re.search(r"[.!?;:]\s", tail[:comma]):
            return None
        clause = self.tag(a + comma + 1, b)
        if clause is None or clause.speaker is None or self.text[clause.start : clause.subject_start].strip():
            return None  # no tag, or an inverted one ("…, said of RT.")
        rest = self.text[clause.end : b].split()
        if len(rest) > 8 or "that" in rest or self.other_speaker(a, a + comma):
            return None  # "…, Smith told reporters that the plan …": a report of its own
        return clause

    def tag(self, a: int, b: int, *, short: bool = False) -> Clause | None:
        """A speech tag starting at ``a``: "X said", "said X", "X, a Y, said", "he said"."""
        verbs = self.verbs(a, b)
        verb = verbs[0] if verbs else None
        if verb is None or any(c in self.text[a : verb.start()] for c in MARKS):
            return None
        rest = self.text[verb.end() : b].strip(" .!?")
        if short and len(rest.split()) > 2 and not TAG_REST.match(rest):
            return None  # "X said the plan was unfunded." is a sentence of its own, not a tag
        word = verb.group(0).lower()
        if word.startswith("according"):  # '"…" at a conference, according to X'
            return self.clause(verb.start(), verb.end(), self.phrase_after(verb.end(), b))
        if not self.text[a : verb.start()].strip():  # "said X"
            if word.split()[0] not in INVERTIBLE and not re.match(CYRILLIC_SPEECH, word):
                return None  # '"…," told the paper' names the listener, "answering questions" an object
            phrase = self.phrase_after(verb.end(), b)
            return self.clause(verb.start(), verb.end(), phrase)
        if PASSIVE_BEFORE.search(self.text, max(a, verb.start() - 10), verb.start()) and not word.endswith(
            "ing"
        ):
            return None
        phrase = self.subject_before(verb.start(), a)
        if phrase is None:
            return None
        between = self.text[a : phrase.start]
        if between.strip() and not (
            re.fullmatch(r"[^.;:!?\"\u201c\u201d]*,\s*", between)
            and not any(w.lower() in STOP for w in re.findall(r"[^\W\d_]+", between))
        ):
            return None  # something between the mark and the subject: another clause's verb
        return self.clause(a, verb.end(), phrase)

    def other_speaker(self, a: int, b: int) -> bool:
        """Whether someone is said to speak in ``text[a:b]`` ("Mark Davis said the plan was
        unfunded."): a speech verb with a subject of its own."""
        for verb in SPEECH_RE.finditer(self.text, a, b):
            floor = max(a, self.text.rfind(".", a, verb.start()) + 1)
            if self.subject_before(verb.start(), floor) is not None:
                return True
        return False

    def verbs(self, a: int, b: int) -> list[re.Match[str]]:
        """Speech verbs in ``text[a:b]`` used as verbs: not "Trump's tweet", "the following
        comment", "with chants of", "a controversial comment"."""
        out = []
        for v in SPEECH_RE.finditer(self.text, a, b):
            if NOUN_BEFORE.search(self.text, max(0, v.start() - 12), v.start()) or self.in_name(v.start()):
                continue  # "Trump's tweet", "the United States"
            bare = v.group(0).lower()
            noun_like = bare in LEMMA_SET or bare.rstrip("s") in LEMMA_SET
            ends_tag = re.match(r"\s*[.,:;!?\"\u201c\u201d]", self.text[v.end() : v.end() + 3]) is not None
            if (
                noun_like
                and not ends_tag
                and DETERMINER_NEAR.search(self.text, max(0, v.start() - 40), v.start())
            ):
                continue  # "a controversial comment", "the recent claims"; not "the letter reads."
            out.append(v)
        return out

    def before(self, r: Region) -> Clause | None:
        """X said: "…", X says the plan is "…", According to X, "…", …, saying "…"."""
        s = self.sentences[r.sentence]
        open_mark = r.start - 1
        floor = s.start
        for _, b in self.quote_spans:  # not before an earlier quotation of the same sentence
            if s.start <= b < open_mark:
                floor = b + 1
        for m in RUN_ON.finditer(self.text, floor, open_mark):
            floor = m.end() - len(m.group(1))  # "… following the incident There was blood …"
        verbs = [
            v for v in self.verbs(floor, open_mark)
            if len(self.text[v.end() : open_mark].split()) <= BEFORE_WORDS
            and not NEW_CLAUSE.search(self.text, v.end(), open_mark)
        ]  # fmt: skip
        first = verbs[0] if verbs else None
        if first and not self.text[floor : first.start()].strip() and first.group(0).lower() in INVERTIBLE:
            fronted = self.clause(first.start(), first.end(), self.phrase_after(first.end(), open_mark))
            if fronted is not None:
                return fronted  # "Said Ellis: "…""
        for k in range(len(verbs) - 1, -1, -1):  # the nearest verb with a subject of its own
            clause = self.opening(verbs[k], floor)
            if clause is not None:
                return self.outer(verbs[:k], clause, floor) or clause
        for verb in reversed(verbs):  # "…, saying", "… and vowed", "X was heard … saying"
            if verb.group(0).endswith("ing") or re.search(
                r"(?:,|\band|\bbut)\s*$", self.text[floor : verb.start()]
            ):
                return self.clause(verb.start(), verb.end(), self.sentence_subject(s.start, verb.start()))
        return self.framed(s.start, floor, open_mark)

    def colon_intro(self, r: Region) -> Clause | None:
        """ "Caddell continued:" ending the paragraph before the one this quotation opens."""
        if r.paragraph == 0 or not self.paragraph_opens_with_mark(r):
            return None
        p = self.paragraphs[r.paragraph - 1]
        body = self.text[p.start : p.end].rstrip()
        if not body.endswith(":"):
            return None
        colon = p.start + len(body) - 1
        floor = self.sentences[self.sentence_at(colon)].start if self.sentences else p.start
        for verb in reversed(self.verbs(floor, colon)):
            clause = self.opening(verb, floor)
            if clause is not None:
                return clause
        made = re.compile(r"\b(?:made|issued|released|gave|offered|posted)\b")
        m = made.search(self.text, floor, colon)
        if m is None or not re.search(r"\b(?:statement|comments?|remarks)\b", self.text[m.end() : colon]):
            return None
        return self.opening(m, floor)

    def transcript(self, r: Region) -> Clause | None:
        """ "WALLACE: Let's start …": a transcript's speaker label opens the quotation."""
        p = self.paragraphs[r.paragraph]
        m = TRANSCRIPT.match(self.text, p.start)  # the label opens the quotation's paragraph
        if m is None or r.start > m.end() + 2 or NOT_LABELS.match(m.group(1).strip()):
            return None
        label = m.group(1).strip()
        return Clause(m.start(1), m.end(1) + 1, m.start(1), m.end(1), speaker=label)

    def signed(self, r: Region) -> Clause | None:
        """'"…" \u2015 Ana Ruiz': a person's name after a dash ends the quotation's line."""
        m = SIGNATURE.match(self.text, r.end + 1)
        if m is None or BYLINE.search(m.group("name")):
            return None
        end = m.start("name") + len(m.group("name").rstrip(". \u00a0"))
        phrase = self.phrase(m.start("name"), end)
        if phrase is None or not phrase.person or phrase.speaker is None:
            return None
        return self.clause(m.start(), end, phrase)

    def tweet(self, r: Region) -> Clause | None:
        """'"…" pic.twitter.com/x -- Papi (@Kxngsosa) November 3, 2016': the embed's author."""
        m = TWEET_AUTHOR.match(self.text, r.end + 1, r.end + 200)
        if m is None or BYLINE.search(m.group("name")):
            return None
        author = m.group("name").rstrip()
        return Clause(
            m.start("name"), m.end(), m.start("name"), m.start("name") + len(author), speaker=author
        )
