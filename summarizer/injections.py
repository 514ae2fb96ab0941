"""Passages of an article that address the summarizer instead of the reader.

The article is untrusted data. A passage that talks to "the AI summarizer", tells a reader to
"ignore previous instructions", fakes an end-of-article marker or dictates the headline is
*withheld*: the model never sees it as a citable unit, no item can cite it, and it is reported
in the record (``suspected_injection``) for the editor.

Detection is a set of patterns in the languages the dev set and wire copy bring (English,
German, French, Spanish, Russian, Ukrainian); a paragraph that is only a lead-in ("Note for the
AI system:") also withholds the paragraph it introduces, so an instruction split across two
paragraphs is withheld whole. This module imports nothing of ours but the schema.
"""

from __future__ import annotations

import re

from summarizer.schema import Injection

_PATTERNS = [
    # English
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|every\s+)?(of\s+)?(the\s+|your\s+)?"
    r"(previous|prior|above|earlier|preceding|original)\s+(instructions|prompts?|rules|directions)",
    r"\bnew\s+instructions\b",
    r"\b(ai|a\.i\.|language[- ]model|llm|gpt|chatbot)\s+"
    r"(summari[sz]er|assistant|model|system|tool|reading)s?\b",
    r"\b(summari[sz]ation|summari[sz]ing)\s+(model|system|tool|bot)s?\b",
    r"\bsystem\s+prompt\b",
    r"\byou\s+are\s+now\b",
    r"\bend\s+of\s+(the\s+)?(article|document|text|input)\b",
    r"(=|-|#|\*){3,}\s*(end|begin|start)\b",
    r"\b(set|write|make|change|replace)\s+(the\s+|your\s+)?(headline|summary|brief)\b",
    r"\b(the|your)\s+(headline|summary|brief)\s+(must|should|shall|has to)\b",
    r"\b(respond|reply|answer)\s+only\s+with\b",
    r"\bas\s+an\s+ai\b",
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
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
_LEAD_IN_WORDS = 14


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
    """Each matched phrase, with its span: what the editor sees highlighted."""
    return [Injection(text=m.group(0), start=m.start(), end=m.end()) for m in _INJECTION.finditer(text)]


def withheld_spans(text: str) -> list[tuple[int, int]]:
    """Paragraph spans to withhold from the model: every paragraph with a suspected
    injection, plus the next paragraph when the flagged one is only a lead-in (ending in a
    colon, or short with no closing punctuation), so an instruction split across paragraphs
    goes whole."""
    hits = [m.start() for m in _INJECTION.finditer(text)]
    if not hits:
        return []
    paragraphs = paragraph_spans(text)
    out: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(paragraphs):
        if not any(start <= h < end for h in hits):
            continue
        out.append((start, end))
        body = text[start:end]
        tail = body.rstrip()[-1:]
        lead_in = tail == ":" or (tail not in '.!?"\u201d\u00bb' and len(body.split()) <= _LEAD_IN_WORDS)
        if lead_in and k + 1 < len(paragraphs):
            out.append(paragraphs[k + 1])
    return sorted(set(out))
