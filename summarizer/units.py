"""The article's own units, with character offsets: what the model may point at.

``analyse(text)`` splits the article into paragraphs and sentences, and finds in code (never
by the model) every quotation in quotation marks, every figure-like number, the proper names,
and for each quotation the names it could belong to, with a rule-based speaker proposal from
reporting patterns ("X said", "said X", "X, a Y, said", "he continued"). The model answers
with the ids given here (``S3``, ``Q2``, ``N5``); our code copies text and spans from these
offsets, so every kept item is verbatim by construction.

Sentences come from syntok (segtok's successor): it segments with exact token offsets into the
original string (no re-searching of sentence text, so repeated sentences keep their own spans),
knows abbreviations and decimals. A paragraph syntok could not split (no terminal or opening
bracket before its closing marks: most of wire copy's) is taken whole without it. Two repairs
on top: a sentence split inside a quotation is joined again, and a dateline fragment
("WASHINGTON (Reuters)") is joined to the sentence it heads.

Passages flagged as suspected injections are withheld: their sentences are marked and never
offered as ids, and their quotations and numbers are not candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from syntok import segmenter
from syntok._segmentation_states import State as _SyntokState

from summarizer.injections import paragraph_spans, withheld_spans
from summarizer.marks import quote_regions
from summarizer.names import TITLE_ABBREVIATIONS, Name, find_names, place_names
from summarizer.numbers import NumberSpan, find_numbers
from summarizer.speakers import UNNAMED, Attribution, Region, attribute

MIN_QUOTE_WORDS = 4  # shorter quoted bits are scare quotes or terms, not quotations


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


# Where syntok may end a sentence: at one of its terminals (". ! ? ;" and their wide forms) or
# an opening bracket. A paragraph with none of them before its closing run (terminals, closing
# quotes and brackets) is one sentence, and syntok's tokenizer, the larger part of a batch's
# client CPU, need not read it: wire copy writes most paragraphs as one sentence. Taken from
# syntok itself, so an upgrade that adds a terminal adds it here.
_ENDINGS = "".join(sorted({c for t in _SyntokState.terminals for c in t}))
_SPLITS = re.compile("[" + re.escape(_ENDINGS + "".join(sorted(_SyntokState.opening_brackets))) + "]")
_CLOSING_RUN = _ENDINGS + "".join(sorted(_SyntokState.closing_quotes | _SyntokState.closing_brackets))


def _one_sentence(chunk: str) -> bool:
    core = chunk.rstrip().rstrip(_CLOSING_RUN)
    return _SPLITS.search(core) is None


def _raw_sentences(text: str, para: Paragraph) -> list[tuple[int, int]]:
    chunk = text[para.start : para.end]
    if _one_sentence(chunk):
        return [(para.start, para.start + len(chunk.rstrip()))]
    return _segmented(text, para)


def _segmented(text: str, para: Paragraph) -> list[tuple[int, int]]:
    """The paragraph's sentences as syntok segments them, tiling the paragraph."""
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


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence of a piece of prose, split as an article's are
    (``analyse``): "blamed the F.B.I. Director for the loss" is one sentence, not two."""
    out: list[tuple[int, int]] = []
    for para in _paragraphs(text):
        quotes = quote_regions(text, para.start, para.end)
        out += _merge(_raw_sentences(text, para), text, quotes)
    return out


def quotation_spans(text: str) -> list[tuple[int, int]]:
    """Inner spans of every quoted stretch of ``text``, short ones included (``analyse`` keeps
    the quotations of four words or more)."""
    return [span for para in _paragraphs(text) for span in quote_regions(text, para.start, para.end)]


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
            title = last.endswith(".") and last[:-1].lower() in TITLE_ABBREVIATIONS  # "the Rev. Peter"
            if inside_quote or dateline or title or (starts_lower and len(head.split()) <= 3):
                merged[-1] = (ps, e)
                continue
        merged.append((s, e))
    return merged


# --------------------------------------------------------------------------- entry point


@lru_cache(maxsize=32)
def analyse(text: str) -> Units:
    """All units of ``text`` (cached: the prompt, the schema and grounding share one analysis)."""
    units = Units(text=text, paragraphs=_paragraphs(text), withheld=withheld_spans(text))

    def withheld(a: int, b: int) -> bool:
        return any(x <= a < y or x < b <= y for x, y in units.withheld)

    regions: list[tuple[int, int, int]] = []  # quotation inner spans with paragraph index
    for pk, para in enumerate(units.paragraphs):
        quotes = quote_regions(text, para.start, para.end)
        regions += [(a, b, pk) for a, b in quotes]
        for s, e in _merge(_raw_sentences(text, para), text, quotes):
            sid = f"S{len(units.sentences) + 1}"
            units.sentences.append(Sentence(sid, s, e, pk, withheld(s, e)))
    lowercase = frozenset(w for w in re.findall(r"\b[a-z][a-z'-]+\b", text))
    units.names = find_names(text, units.sentences, lowercase)
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
