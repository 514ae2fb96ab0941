"""The article's own units, with character offsets: what the model may point at.

``analyse(text)`` splits the article into paragraphs and sentences, and finds in code (never
by the model) every quotation in quotation marks, every figure-like number, the proper names,
and for each quotation the names it could belong to, with a rule-based speaker proposal from
reporting patterns ("X said", "said X", "X, a Y, said", "he continued"). The model answers
with the ids given here (``S3``, ``Q2``, ``N5``); our code copies text and spans from these
offsets, so every kept item is verbatim by construction.

Sentences come from syntok (segtok's successor): it segments with exact token offsets into the
original string (no re-searching of sentence text, so repeated sentences keep their own spans),
knows abbreviations and decimals, and is fast (about 40 ms for a 4,000-character article). Two
repairs on top: a sentence split inside a quotation is joined again, and a dateline fragment
("WASHINGTON (Reuters)") is joined to the sentence it heads.

Passages flagged as suspected injections are withheld: their sentences are marked and never
offered as ids, and their quotations and numbers are not candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from syntok import segmenter

from summarizer import first_names
from summarizer.injections import paragraph_spans, withheld_spans
from summarizer.numbers import NumberSpan, find_numbers
from summarizer.speakers import ROLE, SPEECH_RE, UNNAMED, Attribution, Region, attribute, clean

MIN_QUOTE_WORDS = 4  # shorter quoted bits are scare quotes or terms, not quotations

_OPENERS = {
    "\u201c": "\u201d",
    "\u201e": "\u201c\u201d",
    "\u00ab": "\u00bb",
    '"': '"\u201d',
    "\u2018": "\u2019",
}
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
_TITLE_ABBREVIATIONS = _ABBREVIATIONS - {"jr", "sr"}
_TITLES = re.compile(
    r"^(mr|mrs|ms|dr|prof|gen|col|lt|sgt|capt|president|governor|mayor|minister|senator|judge)\.?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    id: str
    start: int
    end: int
    paragraph: int
    withheld: bool = False


@dataclass(frozen=True)
class Name:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Quotation:
    """Words inside quotation marks: ``[start, end)`` is the inner text, marks excluded."""

    id: str
    start: int
    end: int
    sentence: int  # index into Units.sentences
    paragraph: int
    attribution: Attribution  # who said it by the article's own reporting clause, and the evidence

    @property
    def candidates(self) -> tuple[str, ...]:
        """Names the model may choose, most likely first; UNNAMED last."""
        return self.attribution.candidates

    @property
    def proposed(self) -> str | None:
        """The speaker our code settled on (clause, continuation or agreeing pronoun)."""
        return self.attribution.speaker

    @property
    def explicit(self) -> bool:
        """The speaker is named in the quotation's own reporting clause."""
        return self.attribution.explicit

    @property
    def asked(self) -> bool:
        """Whether the model chooses the speaker: only when the code settled nobody and the
        article offers a name (grounding then keeps a pick only among the names offered)."""
        return self.proposed is None and len(self.candidates) > 1


@dataclass(frozen=True)
class Number:
    id: str
    span: NumberSpan
    sentence: int


@dataclass
class Units:
    text: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    quotations: list[Quotation] = field(default_factory=list)
    numbers: list[Number] = field(default_factory=list)
    names: list[Name] = field(default_factory=list)
    withheld: list[tuple[int, int]] = field(default_factory=list)
    places: frozenset[str] = frozenset()  # names the article uses as places (``place_names``)

    def sentence(self, sid: str) -> Sentence | None:
        index = _sid_index(sid)
        return self.sentences[index] if index is not None and index < len(self.sentences) else None

    def sentence_text(self, s: Sentence) -> str:
        return self.text[s.start : s.end]

    def paragraph_text(self, k: int) -> str:
        p = self.paragraphs[k]
        return self.text[p.start : p.end]

    @property
    def citable(self) -> list[Sentence]:
        return [s for s in self.sentences if not s.withheld]

    def without_speaker_questions(self) -> Units:
        """These units with no quotation put to the model: one no clause attributes keeps
        "unnamed" as its only choice (``pipeline.asks_speakers``)."""
        quotations = [
            q
            if q.proposed is not None
            else replace(q, attribution=replace(q.attribution, candidates=(UNNAMED,)))
            for q in self.quotations
        ]
        return replace(self, quotations=quotations)

    def visible_text(self) -> str:
        """The article without withheld passages: what prose may be supported by."""
        out, pos = [], 0
        for a, b in self.withheld:
            out.append(self.text[pos:a])
            pos = b
        out.append(self.text[pos:])
        return " ".join(out)


def _sid_index(sid: str) -> int | None:
    if len(sid) > 1 and sid[0] == "S" and sid[1:].isdigit():
        return int(sid[1:]) - 1
    return None


# --------------------------------------------------------------------------- segmentation


def _paragraphs(text: str) -> list[Paragraph]:
    return [Paragraph(a, b) for a, b in paragraph_spans(text)]


def _raw_sentences(text: str, para: Paragraph) -> list[tuple[int, int]]:
    chunk = text[para.start : para.end]
    spans: list[tuple[int, int]] = []
    for paragraph in segmenter.analyze(chunk):
        for sentence in paragraph:
            tokens = [t for t in sentence if t.value]
            if tokens:
                spans.append(
                    (para.start + tokens[0].offset, para.start + tokens[-1].offset + len(tokens[-1].value))
                )
    if not spans:
        spans = [(para.start, para.end)]
    # syntok leaves closing marks and trailing punctuation to the next token sometimes: extend
    # each sentence to just before the next one, so sentences tile the paragraph.
    tiled = []
    for i, (s, _e) in enumerate(spans):
        e = spans[i + 1][0] if i + 1 < len(spans) else para.end
        while e > s and text[e - 1].isspace():
            e -= 1
        tiled.append((s if i else para.start, e))
    return tiled


def _quote_regions(text: str, para: Paragraph) -> list[tuple[int, int]]:
    """Inner spans of quotations in one paragraph; an unclosed quotation runs to its end."""
    regions: list[tuple[int, int]] = []
    i = para.start
    while i < para.end:
        ch = text[i]
        closers = _OPENERS.get(ch)
        if (
            closers is None
            or (ch in '\u2018"' and i > para.start and text[i - 1].isalnum())
            or (ch == '"' and (i + 1 >= para.end or text[i + 1].isspace()))
        ):
            i += 1  # not an opening mark: an apostrophe, inch mark or stray closing quote
            continue
        j = i + 1
        while j < para.end and not (text[j] in closers or _straight_close(text, ch, j)):
            if text[j] in "\u201c\u00ab" and ch in '"\u201c\u00ab':
                break  # a new opening mark: this quotation was never closed
            j += 1
        if j < para.end and _reopens(text, j, para.end) and ch in '"\u201c':
            # "... more and more. "We were coming ...": a straight mark after a space that opens
            # the next quotation; the first one was never closed (a flattened multi-paragraph quote)
            regions.append((i + 1, _before_reopening(text, i + 1, j)))
            i = j
            continue
        if j < para.end and text[j] in "\u201c\u00ab" and text[j] not in closers:
            regions.append((i + 1, _before_reopening(text, i + 1, j)))
            i = j
            continue
        if ch == "\u2018" and j < para.end and j + 1 < para.end and text[j + 1].isalpha():
            # an apostrophe, not a closing single quote ("don’t"): keep looking
            k = text.find("\u2019", j + 1, para.end)
            while k >= 0 and k + 1 < para.end and text[k + 1].isalpha():
                k = text.find("\u2019", k + 1, para.end)
            j = k if k >= 0 else para.end
        if j >= para.end:
            j = _unclosed_end(text, i + 1, para.end)
        regions.append((i + 1, j))
        i = j + 1
    return regions


def _straight_close(text: str, opener: str, j: int) -> bool:
    """A straight mark closing a curly quotation in mixed copy ('“… the FBI," Chaffetz said'):
    it follows the quoted words' last letter or punctuation, not a space."""
    return opener == "\u201c" and text[j] == '"' and not text[j - 1].isspace()


def quotation_spans(text: str) -> list[tuple[int, int]]:
    """Inner spans of every quoted stretch of ``text``, short ones included (``analyse`` keeps
    the quotations of four words or more)."""
    return [span for para in _paragraphs(text) for span in _quote_regions(text, para)]


def _before_reopening(text: str, start: int, opener: int) -> int:
    """End of an unclosed quotation followed by another opening mark at ``opener``: its last
    sentence end before that mark, else just before the mark."""
    stop = max(text.rfind(p, start, opener) for p in ".!?")
    end = stop + 1 if stop > start else opener
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _reopens(text: str, j: int, end: int) -> bool:
    """The straight quotation mark at ``j`` opens a new quotation instead of closing one: it
    follows a space and a capitalised word starts right after it (a closing mark follows the
    quoted words' last letter or punctuation)."""
    if text[j] != '"' or j + 1 >= end or not text[j - 1].isspace():
        return False
    return text[j + 1].isupper() or text[j + 1].isdigit()


def _unclosed_end(text: str, start: int, end: int) -> int:
    """Where an unclosed quotation ends: at its paragraph's end in wire copy, but in text
    flattened to one line it cannot run on forever; it ends at the last sentence end before
    the next opening mark (or at the paragraph end when there is none)."""
    nxt = min(
        (k for ch in _OPENERS if ch not in '"\u2018' and (k := text.find(ch, start, end)) >= 0), default=end
    )
    if nxt == end:
        return end
    stop = max(text.rfind(p, start, nxt) for p in ".!?")
    return stop + 1 if stop > start else nxt


def _merge(spans: list[tuple[int, int]], text: str, quotes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged:
            ps, pe = merged[-1]
            inside_quote = any(a < pe < b and b > s for a, b in quotes)
            head = text[ps:pe]
            dateline = len(head.split()) <= 3 and not head.rstrip().endswith((".", "!", "?", '"', "\u201d"))
            starts_lower = text[s : s + 1].islower() or text[s : s + 1] in "-\u2013\u2014"
            last = head.rstrip().rsplit(maxsplit=1)[-1] if head.strip() else ""
            title = last.endswith(".") and last[:-1].lower() in _TITLE_ABBREVIATIONS  # "the Rev. Peter"
            if inside_quote or dateline or title or (starts_lower and len(head.split()) <= 3):
                merged[-1] = (ps, e)
                continue
        merged.append((s, e))
    return merged


# --------------------------------------------------------------------------- names


def _names(text: str, sentences: list[Sentence], lowercase_words: frozenset[str]) -> list[Name]:
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
    for p in _paragraphs(text):
        if text[p.start : p.end].rstrip().endswith((".", "!", "?")):
            continue
        words = re.findall(r"[^\W\d_]+", text[p.start : p.end])
        long = [w for w in words if len(w) > 3]
        if len(long) >= 3 and sum(w[0].isupper() for w in long) / len(long) > 0.7:
            out.append((p.start, p.end))
    return out


# --------------------------------------------------------------------------- entry point


@lru_cache(maxsize=32)
def analyse(text: str) -> Units:
    """All units of ``text`` (cached: the prompt, the schema and grounding share one analysis)."""
    units = Units(text=text, paragraphs=_paragraphs(text), withheld=withheld_spans(text))

    def withheld(a: int, b: int) -> bool:
        return any(x <= a < y or x < b <= y for x, y in units.withheld)

    regions: list[tuple[int, int, int]] = []  # quotation inner spans with paragraph index
    for pk, para in enumerate(units.paragraphs):
        quotes = _quote_regions(text, para)
        regions += [(a, b, pk) for a, b in quotes]
        for s, e in _merge(_raw_sentences(text, para), text, quotes):
            sid = f"S{len(units.sentences) + 1}"
            units.sentences.append(Sentence(sid, s, e, pk, withheld(s, e)))
    lowercase = frozenset(w for w in re.findall(r"\b[a-z][a-z'-]+\b", text))
    units.names = _names(text, units.sentences, lowercase)
    units.places = place_names(text, units.names)

    def sentence_of(pos: int) -> int:
        return next((i for i, s in enumerate(units.sentences) if s.start <= pos < max(s.end, s.start + 1)), 0)

    kept = [
        Region(a, b, sentence_of(a), pk)
        for a, b, pk in regions
        if len(text[a:b].split()) >= MIN_QUOTE_WORDS and not withheld(a, b)
    ]
    attributions = attribute(
        text,
        paragraphs=units.paragraphs,
        sentences=units.sentences,
        names=units.names,
        places=units.places,
        regions=kept,
    )
    units.quotations = [
        Quotation(f"Q{k + 1}", r.start, r.end, r.sentence, r.paragraph, a)
        for k, (r, a) in enumerate(zip(kept, attributions, strict=True))
    ]
    for sentence_index, sentence in enumerate(units.sentences):
        if sentence.withheld:
            continue
        for n in find_numbers(text, sentence.start, sentence.end):
            units.numbers.append(Number(f"N{len(units.numbers) + 1}", n, sentence_index))
    return units
