"""Noun phrases as a clause's subject: a name, a description ("a police spokesman") or a
pronoun, read before or after a speech verb."""

from __future__ import annotations

import itertools
import re

from summarizer.speakers.lexicon import (
    APPOSITIVE,
    CREDIT_BEFORE,
    DETERMINERS,
    HONORIFIC,
    LEMMA_SET,
    MARKS,
    OBJECT_BEFORE,
    PLURAL_SPEAKERS,
    PREPOSITIONS,
    PRONOUNS,
    ROLE,
    SENTENCE_OPENERS,
    SKIP_BEFORE_VERB,
    STOP_AFTER_VERB,
    TOKEN,
    VERB_FORMS,
)
from summarizer.speakers.people import People
from summarizer.speakers.spans import Phrase
from summarizer.speakers.words import (
    adverb,
    capitalised,
    clean,
    noun_head,
    person_like,
    speaker_like,
    tidy_name,
    verb_like,
)


class Phrases(People):
    """Subjects of speech verbs."""

    def phrase(self, a: int, b: int) -> Phrase | None:
        """The noun phrase ``text[a:b]`` as a speaker, or None when it is not one."""
        while a < b and self.text[a] in " ,\n":
            a += 1
        while b > a and self.text[b - 1] in " ,\n":
            b -= 1
        words = self.text[a:b]
        if not words or len(words) > 160 or any(m in words for m in MARKS):
            return None
        low = words.lower()
        if low in PRONOUNS:
            return Phrase(a, b, None, pronoun=low)
        last_word = re.search(r"(?:^|\s)([^\W\d_]+)$", words)
        if last_word and last_word.group(1) in ("he", "she", "they", "we"):  # "after the show she said"
            return Phrase(a + last_word.start(1), b, None, pronoun=last_word.group(1))
        if re.fullmatch(r"the\s+\d+-year-old", low):
            return Phrase(a, b, words)
        tokens = [(m.start() + a, m.end() + a, m.group(0)) for m in TOKEN.finditer(words)]
        if not tokens or any(self.stop(t[2], t[0]) for t in tokens):
            return None
        head = noun_head(tokens)
        if not head:
            return None
        last = head[-1][2].rstrip(".,")
        if any(verb_like(t[2]) for t in tokens[:-1]):
            return None  # "arrested Smith"
        if capitalised(last):
            found = self.name_at(head[-1][0], head[-1][1])
            if found is None:
                return None
            name, n0, n1 = found
            return Phrase(a, b, name, person=person_like(name), name_start=n0, name_end=n1)
        voice = re.match(
            r"(?:an?|the)\s+(?:\w+\s+)?(?:statement|letter|post)\s+(?:from|by|on behalf of)\s+", words, re.I
        )
        if voice and voice.end() < len(words):  # "A statement from Mr Lee's family": the family
            return self.phrase(a + voice.end(), b)
        return self.description(a, b, tokens, last)

    def name_at(self, lo: int, hi: int) -> tuple[str, int, int] | None:
        """The article's name that ends with the word at ``[lo, hi)``, if it can speak, and
        where its words are written."""
        for n in self.names_in(max(0, lo - 80), hi + 2):
            if n.start <= lo < n.end + 1 or n.start < hi <= n.end + 1:
                name, where = clean(n.text), n.start
                break
        else:
            word = clean(self.text[lo:hi].rstrip(".,"))
            if not (word.isupper() and len(word) > 1 and word not in ("US", "UK", "EU", "UN")):
                return None
            name, where = word, lo  # "WALLACE", an acronym the name finder passed over
        words = tidy_name(name.split())
        if ROLE.match(words[0]) and len(words) == 1 and not HONORIFIC.search(self.text, max(0, lo - 6), lo):
            return None  # "Chief" alone; "Mr. King" is a surname
        roles = [k for k, w in enumerate(words[:-1]) if ROLE.match(w) and k]
        if roles and len(words) - roles[-1] > 2:
            words = words[roles[-1] + 1 :]  # "Senate Majority Leader Mitch McConnell" -> "Mitch McConnell"
        name = " ".join(words)
        if name in self.places or self.full(name) in self.places or not speaker_like(name):
            return None
        if CREDIT_BEFORE.search(self.text, max(0, lo - 20), lo):
            return None
        if self.text[hi : hi + 1] == "/" or self.text[max(0, lo - 1) : lo] in ("@", "/", "#"):
            return None  # "(Name Surname/PA)", "@handle", "#hashtag"
        start = self.text.find(name, where, hi + 2)
        start = start if start >= 0 else where
        return name, start, start + len(name)

    def description(self, a: int, b: int, tokens: list[tuple[int, int, str]], last: str) -> Phrase | None:
        """A common-noun subject: "a police spokesman", "Mr Lee's family", "officials"."""
        first = tokens[0][2]
        if any(t[2] in SENTENCE_OPENERS for t in tokens[1:]):
            return None  # "the run A statement from …": a full stop lost in a scraped page
        for before, t in itertools.pairwise(tokens):
            if t[2].lower() in ("the", "a", "an") and before[2].lower() not in PREPOSITIONS:
                return None  # "Facebook the company": the phrase starts at its determiner
        lead_ok = (
            first.lower() in DETERMINERS
            or capitalised(first)
            or first[0].isdigit()
            or (len(tokens) == 1 and PLURAL_SPEAKERS.match(last) is not None)  # "officials said"
        )
        if not lead_ok or adverb(last) or len(last) < 3 or len(tokens) > 12:
            return None
        if last.lower() in DETERMINERS:
            return None
        # "the report says", "Tuesday's statement": a speech verb's bare form after a determiner
        # or a possessor is a noun, a document that speaks
        document = (
            len(tokens) > 1
            and last.lower() in LEMMA_SET
            and (first.lower() in DETERMINERS or tokens[-2][2].endswith(("'s", "\u2019s")))
        )
        if last.lower() in VERB_FORMS and not document:
            return None
        for _, _, word in tokens[1 : len(tokens) - 1 if document else len(tokens)]:
            if word.lower() in PREPOSITIONS:
                break
            if verb_like(word) or adverb(word):
                return None  # "Trump repeatedly demeaned women", "a complaint filed"
        return Phrase(a, b, self.text[a:b])

    def subject_before(self, verb_start: int, floor: int) -> Phrase | None:
        """The subject of the speech verb at ``verb_start``: the noun phrase right before it,
        past auxiliaries and adverbs ("has also said"), appositives and tags (", a Y,", ", 59,
        of Ashton, Md.,", ", R-Ky.,") or a relative "who", reaching back no further than
        ``floor``."""
        end = verb_start
        while True:
            m = re.search(r"([^\W\d_][\w'\u2019]*)\s+$", self.text[floor:end])
            if m is None or not (m.group(1).lower() in SKIP_BEFORE_VERB or adverb(m.group(1))):
                break
            if m.group(1)[:1].isupper():
                break  # "Lilly said": a name, not an adverb
            end = floor + m.start(1)
        before = self.text[floor:end].rstrip()
        relative = re.search(r",\s*who\b[^,.;:!?\"\u201c\u201d]{0,100}$", before)
        if relative:  # "X, who said" / "X, who lives near the stop told"
            before = before[: relative.start() + 1]
        if not before.endswith(","):
            return self.phrase_ending(floor + len(before), floor)
        # comma-separated segments right to left: skip appositives, the first other is the subject
        stop = max(before.rfind(c) + 1 for c in ';:!?"\u201c\u201d')  # "R." and "R-Ky." stay
        right = len(before) - 1
        for _ in range(5):
            comma = before.rfind(",", stop, right)
            segment = before[(comma + 1 if comma >= 0 else stop) : right]
            if comma < 0 or not APPOSITIVE.match(segment):
                return self.phrase_ending(floor + right, floor + (comma + 1 if comma >= 0 else stop))
            right = comma
        return None

    def phrase_ending(self, end: int, floor: int) -> Phrase | None:
        """The longest noun phrase that ends at ``end``: back to a clause boundary (a stop word,
        punctuation, a quotation mark) and no further than 12 words."""
        start = end
        for count, m in enumerate(reversed(list(TOKEN.finditer(self.text, max(floor, end - 200), end)))):
            word = m.group(0)
            if self.stop(word, m.start()) or (len(word) == 1 and not word.isalnum()) or count >= 12:
                break
            start = m.start()
        previous = ""
        for m in TOKEN.finditer(self.text, start, end):  # the longest phrase that reads as one
            best = self.phrase(m.start(), end)
            if best is not None:
                if previous.lower() in OBJECT_BEFORE or verb_like(previous):
                    return None  # "near the stop", "who arrested Smith": an object, not a subject
                return best
            previous = m.group(0)
        return None

    def phrase_after(self, start: int, limit: int) -> Phrase | None:
        """The noun phrase right after a verb ("said Charlie King, a prominent Democrat"): up to
        the first comma, full stop or stop word."""
        end = start
        for m in TOKEN.finditer(self.text, start, limit):
            word = m.group(0)
            if word.lower() in STOP_AFTER_VERB or word in ",;:!?" or word in MARKS:
                break
            if word == "." or (word.endswith(".") and not capitalised(word) and len(word) > 4):
                end = m.end() - 1 if word != "." else end
                break
            end = m.end()
        for cut in range(end, start, -1):  # the longest prefix that is a phrase
            if cut == end or self.text[cut].isspace():
                phrase = self.phrase(start, cut)
                if phrase is not None:
                    return phrase
        return None
