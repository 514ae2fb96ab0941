"""Grounding: every quote, figure, claim and name is tied to the article's text, or rejected.

``ground(draft, article_text)`` is pure and deterministic. It returns a cleaned draft (only
grounded items; narrative or reported speech labelled as a direct quote demoted to indirect),
the spans of what stayed, and ``rejected[]`` with field, value and reason.

The same function drives the re-ask loop: ``GroundingCheck(strict=True)`` raises the specific
problems as a validation error, which instructor sends back to the model (within the re-ask
budget); once re-asks are spent the pipeline keeps the last answer and records the rejections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from summarizer.alignment import (
    Match,
    align,
    fold,
    inside_quotes,
    name_in_article,
    name_near,
)
from summarizer.schema import (
    Grounded,
    GroundingStats,
    Injection,
    Qualifier,
    Rejected,
    Span,
    Summary,
    SummaryDraft,
)

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1_000_000,
    "billion": 1_000_000_000, "dozen": 12,
}  # fmt: skip
_VAGUE = {"dozens": 24, "hundreds": 200, "thousands": 2000, "millions": 2_000_000}
_QUALIFIERS: list[tuple[re.Pattern[str], Qualifier]] = [
    (re.compile(r"\b(at least|no fewer than|not less than)\b"), "at least"),
    (re.compile(r"\b(more than|over|upwards of)\b"), "more than"),
    (re.compile(r"\b(about|around|roughly|approximately|some|nearly|almost|an estimated)\b"), "about"),
    (re.compile(r"\b(up to|as many as|at most)\b"), "up to"),
    (re.compile(r"\b(fewer than|less than|under)\b"), "fewer than"),
]
_DIGITS = re.compile(r"\d[\d,.\u202f ]*\d|\d")
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+"
    r"(instructions|prompts?|rules)"
    r"|new instructions\s*:?"
    r"|\b(ai|language model|llm)\s+(summari[sz]er|assistant|model)s?\b"
    r"|\bsystem prompt\b"
    r"|\byou are now\b"
    r"|\bend of (the )?article\b",
    re.IGNORECASE,
)


def numbers_in(text: str) -> list[float]:
    """Numbers written in ``text``: digits ("6,266", "1.5"), words ("eight", "tens of thousands")."""
    out: list[float] = []
    for raw in _DIGITS.findall(text):
        cleaned = re.sub(r"[,\u202f ]", "", raw).rstrip(".")
        try:
            out.append(float(cleaned))
        except ValueError:
            continue
    words = re.findall(r"[a-z]+", fold(text))
    for i, w in enumerate(words):
        if w in _NUMBER_WORDS:
            value = float(_NUMBER_WORDS[w])
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if nxt in {"hundred", "thousand", "million", "billion"} and w not in {"hundred", "thousand", "million", "billion"}:
                continue  # "six thousand": counted at the multiplier below
            prev = words[i - 1] if i > 0 else ""
            if w in {"hundred", "thousand", "million", "billion"} and prev in _NUMBER_WORDS:
                value *= _NUMBER_WORDS[prev]
            out.append(value)
        elif w in {"tens", "hundreds", "thousands", "millions", "dozens"}:
            nxt = words[i + 2] if i + 2 < len(words) and words[i + 1] == "of" else ""
            base = {"tens": 10, "dozens": 12, "hundreds": 100, "thousands": 1000, "millions": 1e6}[w]
            scale = {"hundreds": 100, "thousands": 1000, "millions": 1e6}.get(nxt, 1)
            out.append(float(base * scale) if nxt else float(_VAGUE.get(w, base)))
    return out


def qualifier_of(text: str) -> Qualifier | None:
    low = fold(text)
    for pattern, qualifier in _QUALIFIERS:
        if pattern.search(low):
            return qualifier
    return None


def find_injections(article: str) -> list[Injection]:
    return [Injection(text=m.group(0), start=m.start(), end=m.end()) for m in _INJECTION.finditer(article)]


@dataclass
class GroundingResult:
    draft: Summary
    grounded: list[Grounded] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stats(self) -> GroundingStats:
        counts = {"exact": 0, "normalized": 0, "fuzzy": 0}
        for g in self.grounded:
            if g.span.alignment in counts:
                counts[g.span.alignment] += 1
        return GroundingStats(
            items=len(self.grounded) + len(self.rejected), rejected=len(self.rejected), **counts
        )

    @property
    def needs_review(self) -> bool:
        fuzzy_quote = any(
            g.field.startswith("quotes") and g.span.alignment == "fuzzy" for g in self.grounded
        )
        return bool(self.rejected or self.notes or fuzzy_quote)


class _Grounder:
    def __init__(self, article: str) -> None:
        self.article = article
        self.grounded: list[Grounded] = []
        self.rejected: list[Rejected] = []
        self.notes: list[str] = []

    def keep(self, path: str, value: str, match: Match) -> None:
        span = Span(start=match.start, end=match.end, alignment=match.alignment)
        self.grounded.append(Grounded(field=path, value=value, span=span))

    def reject(self, path: str, value: str, reason: str) -> bool:
        self.rejected.append(Rejected(field=path, value=value, reason=reason))
        return False

    def name(self, path: str, value: str | None) -> bool:
        """A name must be in the article; recorded as grounded at its first occurrence."""
        if value is None or not value.strip():
            return True
        if not name_in_article(value, self.article):
            return self.reject(path, value, "this name does not occur in the article")
        match = align(value, self.article, fuzzy=False)
        if match is not None:
            self.keep(path, value, match)
        return True

    def text(self, path: str, value: str, *, fuzzy: bool = True) -> Match | None:
        match = align(value, self.article, fuzzy=fuzzy)
        if match is None:
            self.reject(path, value, "this text is not in the article; copy it exactly")
        return match

    # -- per item kind ------------------------------------------------------------------

    def quote(self, i: int, q: dict[str, Any]) -> bool:
        path = f"quotes[{i}]"
        match = align(q["text"], self.article, fuzzy=True)
        if match is None:
            return self.reject(f"{path}.text", q["text"], "quote not found in the article; quotes must be copied exactly")
        if not self.name(f"{path}.speaker", q["speaker"]):
            return False
        if q["kind"] == "direct":
            if match.alignment == "fuzzy":
                q["kind"] = "indirect"
                self.notes.append(f"{path}: paraphrase, not verbatim; shown as indirect")
            elif not inside_quotes(match.start, match.end, self.article):
                q["kind"] = "indirect"
                self.notes.append(f"{path}: not inside quotation marks in the article; shown as indirect")
            elif not name_near(q["speaker"], self.article, match.start):
                return self.reject(
                    f"{path}.speaker", q["speaker"], "the article does not attribute this quote to this speaker"
                )
        self.keep(f"{path}.text", q["text"], match)
        return True

    def figure(self, i: int, f: dict[str, Any]) -> bool:
        path = f"key_figures[{i}]"
        source = self.text(f"{path}.source_text", f["source_text"])
        if source is None:
            return False
        figure = align(f["text"], self.article, fuzzy=False)
        if figure is None:
            return self.reject(f"{path}.text", f["text"], "figure not written this way in the article")
        in_source = self.article[source.start : source.end]
        wanted = numbers_in(f["text"])
        if not wanted or not set(wanted) & set(numbers_in(in_source)):
            return self.reject(f"{path}.text", f["text"], "no such number in the cited sentence")
        if f.get("value") is not None and float(f["value"]) not in wanted:
            return self.reject(f"{path}.value", str(f["value"]), f"value does not match '{f['text']}'")
        # Keep the qualifier the article itself uses ("at least eight" stays "at least").
        start = max(0, figure.start - 30)
        f["qualifier"] = qualifier_of(self.article[start : figure.end]) or f["qualifier"]
        if not self.name(f"{path}.given_by", f.get("given_by")):
            f["given_by"] = None
        self.keep(f"{path}.text", f["text"], figure)
        self.keep(f"{path}.source_text", f["source_text"], source)
        return True

    def claim(self, i: int, c: dict[str, Any]) -> bool:
        path = f"claims[{i}]"
        evidence = self.text(f"{path}.evidence", c["evidence"])
        if evidence is None or not self.name(f"{path}.claimant", c["claimant"]):
            return False
        self.keep(f"{path}.evidence", c["evidence"], evidence)
        return True

    def event(self, i: int, e: dict[str, Any]) -> bool:
        path = f"events[{i}]"
        evidence = self.text(f"{path}.evidence", e["evidence"])
        if evidence is None:
            return False
        self.keep(f"{path}.evidence", e["evidence"], evidence)
        e["actors"] = [a for j, a in enumerate(e["actors"]) if self.name(f"{path}.actors[{j}]", a)]
        if e.get("where") and not self.name(f"{path}.where.place", e["where"]["place"]):
            e["where"] = None
        if e.get("when"):
            match = align(e["when"]["text"], self.article, fuzzy=False)
            if match is None:
                self.reject(f"{path}.when.text", e["when"]["text"], "time words not in the article")
                e["when"] = None
            else:
                self.keep(f"{path}.when.text", e["when"]["text"], match)
        for key in ("killed", "injured"):
            value = (e.get("casualties") or {}).get(key)
            if value and not numbers_in(value):
                self.reject(f"{path}.casualties.{key}", value, "not a number")
                e["casualties"][key] = None
            elif value and align(value, self.article, fuzzy=False) is None:
                self.reject(f"{path}.casualties.{key}", value, "casualty figure not in the article")
                e["casualties"][key] = None
        return True


def ground(draft: SummaryDraft, article: str) -> GroundingResult:
    """Check every item of ``draft`` against ``article``; never raises on any text."""
    g = _Grounder(article)
    data = draft.model_dump()
    data["quotes"] = [q for i, q in enumerate(data["quotes"]) if g.quote(i, q)]
    data["key_figures"] = [f for i, f in enumerate(data["key_figures"]) if g.figure(i, f)]
    data["claims"] = [c for i, c in enumerate(data["claims"]) if g.claim(i, c)]
    data["events"] = [e for i, e in enumerate(data["events"]) if g.event(i, e)]
    data["sources"] = [s for i, s in enumerate(data["sources"]) if g.name(f"sources[{i}].name", s["name"])]
    cleaned = Summary.model_validate(data)
    return GroundingResult(cleaned, g.grounded, g.rejected, g.notes)


class GroundingError(ValueError):
    """Raised inside validation so instructor re-asks with these specific problems."""


@dataclass
class GroundingCheck:
    """Validation-context hook: ``strict`` raises to trigger a re-ask; lenient only records."""

    article: str
    strict: bool = True

    def __call__(self, draft: SummaryDraft) -> None:
        if not self.strict:
            return
        result = ground(draft, self.article)
        if result.rejected:
            lines = [f"- {r.field} = {r.value[:80]!r}: {r.reason}" for r in result.rejected[:8]]
            raise GroundingError(
                "These items are not supported by the article. Fix them by copying text "
                "exactly from the article, or remove them:\n" + "\n".join(lines)
            )
