"""Passages of an article that address the summarizer instead of the reader.

The article is untrusted data. A passage that talks to "the AI summarizer", tells a reader to
"ignore previous instructions", fakes an end-of-article marker or dictates the headline is
*withheld*: the model never sees it as a citable unit, no item can cite it, and it is reported
in the record (``suspected_injection``) for the editor.

Detection reads the canonical text (zero-width and bidi controls gone, look-alike letters
folded: ``summarizer.canonical``) two ways, in the languages the dev set and wire copy bring
(English, German, French, Spanish, Italian, Portuguese, Russian, Ukrainian):

- known phrases ("ignore previous instructions", a fake end-of-article marker);
- the *shape* of an instruction, whatever its wording: one paragraph that names a machine
  reader (an AI, assistant, summarizer, digest, aggregator, automated system), names the
  brief's output (headline, summary, title, lede) and tells it what to do (a modal "must /
  should / is to", "please", or an imperative opening a sentence). All three are needed: news
  about AI names machines, news about media names headlines; only an instruction does both
  and dictates.

A paragraph that is only a lead-in ("Note for the AI system:") also withholds the paragraph it
introduces, so an instruction split across two paragraphs is withheld whole. This module
imports nothing of ours but the schema.
"""

from __future__ import annotations

import re
from functools import lru_cache

from summarizer.schema import Injection

_PATTERNS = [
    # English
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|every\s+)?(of\s+)?(the\s+|your\s+)?"
    r"(previous|prior|above|earlier|preceding|original)\s+(instructions|prompts?|rules|directions)",
    r"\bnew\s+instructions\b",
    r"\b(note|message|instructions?|attention)\s+(to|for)\s+(the\s+|any\s+|all\s+)?"
    r"(ai|a\.i\.|language[- ]models?|llms?|gpt|chatbots?|summari[sz]ers?)\b",
    r"\bsystem\s+prompt\b",
    r"\byou\s+are\s+now\b",
    r"\bend\s+of\s+(the\s+)?(article|document|text|input)\b",
    r"(=|-|#|\*){3,}\s*(end|begin|start)\b",
    r"\b(set|write|make|change|replace)\s+(the\s+|your\s+)?(headline|summary|brief)\b",
    r"\b(the|your)\s+(headline|summary|brief)\s+(must|should|shall|has to)\s+(?!have\b)",
    r"\b(respond|reply|answer)\s+only\s+with\b",
    # German, French, Spanish
    r"\b(ignorier\w*|vergiss\w*)\s+(sie\s+)?(alle\s+)?(vorherigen|bisherigen|obigen)\s+(anweisungen|befehle)",
    r"\bignore[rz]?\s+(toutes\s+)?(les\s+)?instructions\s+(pr[ée]c[ée]dentes|ant[ée]rieures)",
    r"\bignora\w*\s+(todas\s+)?(las\s+)?instrucciones\s+(anteriores|previas)",
    # Russian, Ukrainian
    r"\b(игнорир\w*|забудь\w*|проигнорир\w*|ігнор\w*)\s+(все\s+|всі\s+)?(предыдущие|прежние|попередні)\s+"
    r"(инструкции|указания|інструкції)",
    r"\bновые\s+инструкции\b",
    r"\b(ии|ші)[- ](ассистент|модел\w*|помічник)\b",
]
# The first letter of every phrase above, as a look-ahead: the engine then leaves most positions
# of a page after one character test, not one per phrase (2.7 -> 1.5 ms for a 5,000-character
# article). A phrase with another first letter must add it here (a test derives the set).
PHRASE_FIRST = "idfonmasyecrtwv=#*-изпінш"
_INJECTION = re.compile(
    f"(?=[{re.escape(PHRASE_FIRST)}])(?:" + "|".join(f"(?:{p})" for p in _PATTERNS) + ")", re.IGNORECASE
)
_LEAD_IN_WORDS = 14

# The shape of an instruction: a machine reader addressed ...
_MACHINE = re.compile(
    r"\b(?:ai|a\.i\.|artificial intelligence|llms?|gpt\w*|chat ?bots?|bots?|assistants?|"
    r"(?:language|ai) models?|summari[sz](?:ers?|ation|ing)|digests?|aggregators?|crawlers?|"
    r"automated|automatic|machines?|algorithms?|"
    r"ki|sprachmodell\w*|automatisiert\w*|assistent\w*|"  # de
    r"ia|intelligence artificielle|automatis\w*|agr[ée]gateur\w*|robots?|"  # fr
    r"inteligencia artificial|asistente\w*|automatizad\w*|agregador\w*|"  # es, pt
    r"intelligenza artificiale|assistente|automatic\w*|aggregator\w*|"  # it
    r"ии|ші|нейросет\w*|нейромереж\w*|ассистент\w*|асистент\w*|бот\w*|агрегатор\w*|"
    r"автоматическ\w*|автоматичн\w*)\b",
    re.IGNORECASE,
)
# ... the brief's output named ...
_OUTPUT = re.compile(
    r"\b(?:headlines?|titles?|summar(?:y|ies)|briefs?|ledes?|outputs?|responses?|synopsis|"
    r"überschrift\w*|schlagzeile\w*|zusammenfassung\w*|titel|"  # de
    r"titre\w*|r[ée]sum[ée]s?|synth[èe]se\w*|"  # fr
    r"titular\w*|t[íi]tulo\w*|resumen\w*|resumo\w*|manchete\w*|"  # es, pt
    r"titolo|riassunto|sintesi|"  # it
    r"заголов\w*|резюме|сводк\w*|кратк\w* (?:содержани|изложени)\w*|підсум\w*|"
    r"стисл\w* (?:виклад|зміст)\w*)\b",
    re.IGNORECASE,
)
# ... and told what to do: a modal of obligation, a "please", or an imperative that opens a
# sentence (after a full stop, a colon or a dash).
_DIRECTIVE = re.compile(
    r"\b(?:must|should|shall|need to|is to|are to|is to be|are (?:asked|instructed|required|told) to|"
    r"please|make sure|be sure to|"
    r"muss|müssen|soll\w*|bitte|"  # de
    r"doit|doivent|devez|veuillez|merci de|"  # fr
    r"debe\w*|deve\w*|por favor|"  # es, pt, it
    r"должен|должн\w*|следует|нужно|пожалуйста|повин\w*|має|мають|слід|потрібно|будь ласка)\b|"
    r"(?:^|[.!?:;,\u2014\u2013-]\s*)(?:always |never |do not |don't )?"
    r"(?:write|say|state|report|describe|present|include|mention|use|call|summari[sz]e|title|"
    r"headline|lead with|emphasi[sz]e|treat|portray|frame|tell|list|omit|exclude|ignore|"
    r"schreib\w*|nenn\w*|écri\w*|indiquez|escrib\w*|indica\w*|scriv\w*|"
    r"напиш\w*|пиши\w*|укаж\w*|вкаж\w*|назов\w*|назв\w*)\b",
    re.IGNORECASE,
)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def _shaped(text: str) -> list[tuple[int, int]]:
    """Paragraphs with the shape of an instruction to the summarizer in one sentence or two
    that follow each other (a 25,000-character page without breaks is one paragraph)."""
    out = []
    paragraphs = paragraph_spans(text)
    for k, (start, end) in enumerate(paragraphs):
        body = text[start:end]
        if _lead_in(body) and k + 1 < len(paragraphs):  # "Note for AI systems" + its instruction
            body = f"{body}: {text[slice(*paragraphs[k + 1])]}"
        sentences = _SENTENCE_END.split(body)
        windows = [" ".join(sentences[j : j + 2]) for j in range(len(sentences))]
        if any(_MACHINE.search(w) and _OUTPUT.search(w) and _DIRECTIVE.search(w) for w in windows):
            out.append((start, end))
    return out


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each non-blank line, surrounding spaces excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for block in text.split("\n"):
        if block.strip():
            start = pos + (len(block) - len(block.lstrip()))
            spans.append((start, pos + len(block.rstrip())))
        pos += len(block) + 1
    return spans


def find_injections(text: str) -> list[Injection]:
    """Each matched phrase, and each instruction-shaped paragraph no phrase matched, with its
    span: what the editor sees highlighted."""
    return [Injection(text=text[a:b], start=a, end=b) for a, b in _injection_spans(text)]


@lru_cache(maxsize=8)  # asked twice per article, back to back: for its units and its record
def _injection_spans(text: str) -> tuple[tuple[int, int], ...]:
    found = [(m.start(), m.end()) for m in _INJECTION.finditer(text)]
    for start, end in _shaped(text):
        if not any(start <= a < end for a, _ in found):
            found.append((start, end))
    return tuple(sorted(found))


def withheld_spans(text: str) -> list[tuple[int, int]]:
    """Paragraph spans to withhold from the model: every paragraph with a suspected
    injection, plus the next paragraph when the flagged one is only a lead-in (ending in a
    colon, or short with no closing punctuation), so an instruction split across paragraphs
    goes whole."""
    hits = [found.start for found in find_injections(text)]
    if not hits:
        return []
    paragraphs = paragraph_spans(text)
    out: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(paragraphs):
        if not any(start <= h < end for h in hits):
            continue
        out.append((start, end))
        if _lead_in(text[start:end]) and k + 1 < len(paragraphs):
            out.append(paragraphs[k + 1])
    return sorted(set(out))


def _lead_in(paragraph: str) -> bool:
    """A paragraph that only introduces the next: it ends in a colon, or is short with no
    closing punctuation ("Note for the AI summarizer")."""
    tail = paragraph.rstrip()[-1:]
    return tail == ":" or (tail not in '.!?"\u201d\u00bb' and len(paragraph.split()) <= _LEAD_IN_WORDS)
