"""Proper names in an article (runs of capitalised words, initials and particles allowed) and
which of them the article uses as places."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from summarizer import first_names
from summarizer.injections import paragraph_spans
from summarizer.speakers import ROLE, SPEECH_RE, clean
from summarizer.speakers.spans import Span

_NAME_WORD = r"[^\W\d_][\w'\u2019.-]*"
_CONNECTORS = frozenset(["de", "van", "von", "der", "den", "al", "el", "bin", "da", "del", "la", "le", "di"])
_NOT_NAMES = frozenset(
    """
    the a an and but or if in on at of for to by from with as after before during since while when
    where what who how this that these those there here it its he she they we you i his her their
    our my your mr mrs ms dr however meanwhile also still yet so then thus according but monday
    tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december reuters-style some many most all more one two three
    new last next first earlier later today yesterday tomorrow photo image video read more share
    advertisement subscribe subscribed thank thanks invalid email e-mail newsletter click cookie
    cookies privacy sign log loading skip menu comments comment copyright caption getty ad ads
    embed opens whatsapp messenger pinterest linkedin reddit media jan feb mar apr jun jul aug sep
    sept oct nov dec let let's
    """.split()  # noqa: SIM905 - a word list reads best as words
)
_FRONTED = frozenset("said says added asked wrote continued explained".split())  # noqa: SIM905
# Words written with a full stop inside a name ("Martin L. King", "Gen. Smith", "Jr."); after any
# other word a full stop ends the sentence and the name ("Sky News. Martin Bamford").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr jr sr st mt gen col lt sgt capt gov rep sen prof rev hon maj adm cpl pvt ft".split()  # noqa: SIM905
)
# A title's full stop ends no sentence ("said the Rev. Peter Wherry"); "Jr." and "Sr." may.
TITLE_ABBREVIATIONS = _ABBREVIATIONS - {"jr", "sr"}
_TITLES = re.compile(
    r"^(mr|mrs|ms|dr|prof|gen|col|lt|sgt|capt|president|governor|mayor|minister|senator|judge)\.?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Name:
    text: str
    start: int
    end: int


def find_names(text: str, sentences: Sequence[Span], lowercase_words: frozenset[str]) -> list[Name]:
    """Runs of capitalised words (initials and name particles allowed). A sentence-initial
    single word counts only if the article never writes it in lower case."""
    starts = {s.start for s in sentences}
    names: list[Name] = []
    initial: list[Name] = []
    title_case = _title_case_paragraphs(text)
    words = list(re.finditer(_NAME_WORD, text))
    i = 0
    while i < len(words):
        w = words[i]
        word = w.group(0).rstrip(".'\u2019-")
        bare = clean(word).lower()
        if not word[:1].isupper() or bare in _NOT_NAMES or _TITLES.match(word):
            i += 1
            continue
        if bare in _FRONTED and w.start() in starts and i + 1 < len(words) and text[w.end()] == " ":
            i += 1  # "Said Ellis: …": a speech verb put first, then the speaker
            continue
        j = i + 1
        while j < len(words) and j - i < 5:
            gap = text[words[j - 1].end() : words[j].start()]
            nxt = words[j].group(0).rstrip(".'\u2019-")
            if gap not in (" ", "-") and not (gap == ". " and len(words[j - 1].group(0)) <= 2):
                break
            if _ends_sentence(words[j - 1].group(0)):
                break
            if nxt[:1].isupper() and (
                nxt.lower() not in _NOT_NAMES or _surname_month(text, words[j - 1].group(0), words[j])
            ):
                j += 1
            elif nxt.lower() in _CONNECTORS and j + 1 < len(words) and words[j + 1].group(0)[:1].isupper():
                j += 2
            else:
                break
        while j - i > 2 and ROLE.match(words[i].group(0)):
            i += 1  # "Deputy Chief Constable Adrian Hanstock" -> "Adrian Hanstock"
        w = words[i]
        start, end = w.start(), words[j - 1].start() + len(words[j - 1].group(0).rstrip(".,'\u2019-"))
        single = j == i + 1
        at_start = start in starts or text[max(0, start - 1) : start] in ('"', "\u201c")
        if not (single and at_start) and len(word) > 1 and not any(a <= start < b for a, b in title_case):
            names.append(Name(text[start:end], start, end))
        elif single and at_start:
            initial.append(Name(text[start:end], start, end))
        i = j
    # A sentence-initial single word is a name only if the article also capitalises it
    # mid-sentence ("Reuters ... Reuters"), ends a longer name with it ("Perry" of "Katy
    # Perry"), or has it say something ("Rizzo added:"); not if it is just the first word.
    mid = {n.text for n in names} | {n.text.split()[-1] for n in names}
    names += [
        n
        for n in initial
        if n.text.lower() not in lowercase_words and (n.text in mid or SPEECH_RE.match(text, n.end + 1))
    ]
    return sorted(names, key=lambda n: n.start)


_MONTH_SURNAMES = frozenset("april may june august".split())  # noqa: SIM905


def _surname_month(text: str, before: str, word: re.Match[str]) -> bool:
    """A month's name that ends a person's name ("Theresa May said"), not a date ("Obama
    May 5"): after a first name, with no number after it."""
    if word.group(0).lower() not in _MONTH_SURNAMES or first_names.gender(before) is None:
        return False
    return not re.match(r"\s*\d", text[word.end() : word.end() + 3])


def _ends_sentence(word: str) -> bool:
    """A word whose full stop ends its sentence: not an initial ("J.") or an abbreviation."""
    if not word.endswith("."):
        return False
    bare = word.rstrip(".")
    return len(bare) > 1 and "." not in bare and bare.lower() not in _ABBREVIATIONS


# A name right after these words is a place: "in Kyiv", "near the Sandilands stop", "the port of
# Odesa", "south east London"; and a name ending in a place word is one ("Addiscombe Road").
PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|at|near|outside|inside|across)(?:\s+the)?"
    r"|\b(?:city|town|village|hamlet|port|region|province|county|district|suburb|state) of"
    r"|\b(?:north|south|east|west)(?:[\s-]?(?:east|west))?(?:ern)?)\s+$",
    re.IGNORECASE,
)
_PLACE_WORD = re.compile(
    r"\s(?:Road|Street|St|Avenue|Lane|Square|Bridge|Station|River|Sea|Ocean|Valley|Airport|"
    r"Stadium|Field|Park|Circuit|Island|Islands|Mountains|Bay|Gulf|Strait|Province|Region|County|"
    r"Oblast|Krai|City|Town)\.?$"
)


# After a place the phrase ends: "in Kyiv on Monday", "in Seattle." A name that goes on
# ("in Trump's speech", "in Trump company losses") is someone's, not a place.
_PLACE_AFTER = re.compile(
    r"(?:\s*(?:[,.;:!?)\u2014\u2013]|$)|\s+(?:stop|station|area|region|district|road|street|city|town|"
    r"county|province|suburb|neighbou?rhood|village|port|airport|square|bridge|tram|bus|and|or|on|at|in|for|"
    r"to|with|where|when|that|which|who|as|"
    r"after|before|since|this|last|the|a|an|is|was|were|are|has|had|have|said|says|from|by|near)\b)"
)


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    """Country and territory names in English (Babel's CLDR data): "Russia" says things in the
    news, but never speaks a quotation."""
    from babel import Locale

    names = set(Locale("en").territories.values())
    return frozenset(names | {"Britain", "America", "US", "UK", "USA", "EU", "Gaza", "Crimea"})


def place_names(text: str, names: list[Name]) -> frozenset[str]:
    """Names the article uses as places anywhere, and countries: never offered as who said a
    quotation."""
    countries = _countries()
    return frozenset(
        n.text
        for n in names
        if n.text in countries
        or _PLACE_WORD.search(n.text)
        or (PLACE_BEFORE.search(text[max(0, n.start - 40) : n.start]) and _PLACE_AFTER.match(text, n.end))
    )


def _title_case_paragraphs(text: str) -> list[tuple[int, int]]:
    """Headline-style paragraphs ("Ukrainian Troops Reclaim Areas"): their capitals say nothing.
    A paragraph that ends a sentence ("… President Donald Trump tweeted on Sunday.") is prose."""
    out = []
    for p0, p1 in paragraph_spans(text):
        if text[p0:p1].rstrip().endswith((".", "!", "?")):
            continue
        words = re.findall(r"[^\W\d_]+", text[p0:p1])
        long = [w for w in words if len(w) > 3]
        if len(long) >= 3 and sum(w[0].isupper() for w in long) / len(long) > 0.7:
            out.append((p0, p1))
    return out
