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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
_SCALE = re.compile(r"\s*(hundred|thousand|million|billion)\b", re.IGNORECASE)
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
    for m in _DIGITS.finditer(text):
        cleaned = re.sub(r"[,\u202f ]", "", m.group(0)).rstrip(".")
        try:
            value = float(cleaned)
        except ValueError:
            continue
        out.append(value)
        unit = _SCALE.match(text, m.end())  # "1.5 million" is also 1,500,000
        if unit:
            out.append(value * _NUMBER_WORDS[unit.group(1).lower()])
    words = re.findall(r"[a-z]+", fold(text))
    for i, w in enumerate(words):
        if w in _NUMBER_WORDS:
            value = float(_NUMBER_WORDS[w])
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if nxt in {"hundred", "thousand", "million", "billion"} and w not in {
                "hundred",
                "thousand",
                "million",
                "billion",
            }:
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


def _number_stated(value: str, sentence: str) -> bool:
    """``value`` ("at least eight", "86") is written in ``sentence`` as whole words, and says a
    number: "8" does not match inside "2018"."""
    wanted = numbers_in(value)
    if not wanted or not set(wanted) & set(numbers_in(sentence)):
        return False
    return align(value, sentence, fuzzy=False, whole_words=True) is not None


def qualifier_of(text: str) -> Qualifier | None:
    low = fold(text)
    for pattern, qualifier in _QUALIFIERS:
        if pattern.search(low):
            return qualifier
    return None


_PERIOD_FORMAT = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def resolve_date(text: str, published_at: str | None, *, future: bool = False) -> str | None:
    """ISO date (or month, or year) of time words relative to the article's dateline.

    dateparser reads the words ("on Sunday", "last week", "in 2014", many languages) with the
    dateline as the reference; None when there is no dateline or the words name no date.
    """
    if not published_at:
        return None
    try:
        base = datetime.fromisoformat(published_at.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None
    from dateparser.date import DateDataParser  # imported only when there is a date to read

    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future" if future else "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        data = DateDataParser(settings=settings).get_date_data(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if data.date_obj is None:
        return None
    return str(data.date_obj.strftime(_PERIOD_FORMAT.get(data.period or "day", "%Y-%m-%d")))


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
        fuzzy_quote = any(g.field.startswith("quotes") and g.span.alignment == "fuzzy" for g in self.grounded)
        return bool(self.rejected or self.notes or fuzzy_quote)


Keeps = list[tuple[str, str, Match]]  # (sub-path inside the item, value, where it is)
NARRATIVE = "the article (narrative)"  # speaker of verbatim narrative mislabelled as a quote


class _Grounder:
    """Checks items one by one. Rejections name the item's index in the model's answer;
    grounded spans name its index in the cleaned summary, so the brief can link to them."""

    def __init__(self, article: str, published_at: str | None = None) -> None:
        self.article = article
        self.published_at = published_at
        self.grounded: list[Grounded] = []
        self.rejected: list[Rejected] = []
        self.notes: list[str] = []

    def reject(self, path: str, value: str, reason: str) -> None:
        self.rejected.append(Rejected(field=path, value=value, reason=reason))

    def name(self, keeps: Keeps, path: str, sub: str, value: str | None) -> bool:
        """A name must occur in the article (as a whole word); its first occurrence is kept."""
        if value is None or not value.strip():
            return True
        if not name_in_article(value, self.article):
            self.reject(path + sub, value, "this name does not occur in the article")
            return False
        match = align(value, self.article, fuzzy=False, whole_words=True)
        if match is not None:
            keeps.append((sub, value, match))
        return True

    def text(self, keeps: Keeps, path: str, sub: str, value: str) -> bool:
        match = align(value, self.article)
        if match is None:
            self.reject(path + sub, value, "this text is not in the article; copy it exactly")
            return False
        keeps.append((sub, value, match))
        return True

    def run(
        self, kind: str, items: list[dict[str, Any]], check: Callable[[str, dict[str, Any]], Keeps | None]
    ) -> list[dict[str, Any]]:
        kept: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            keeps = check(f"{kind}[{i}]", item)
            if keeps is None:
                continue
            for sub, value, match in keeps:
                span = Span(start=match.start, end=match.end, alignment=match.alignment)
                self.grounded.append(Grounded(field=f"{kind}[{len(kept)}]{sub}", value=value, span=span))
            kept.append(item)
        return kept

    # -- per item kind: return what to keep, or None when the item is rejected ------------

    def quote(self, path: str, q: dict[str, Any]) -> Keeps | None:
        """Verbatim words inside quotation marks, from the speaker the article names there,
        stay as given. Verbatim narrative or reported speech, and paraphrases, are kept only
        as indirect; words are never pinned on someone the article does not attribute them to.
        """
        keeps: Keeps = []
        match = align(q["text"], self.article)
        if match is None:
            self.reject(
                f"{path}.text", q["text"], "quote not found in the article; quotes must be copied exactly"
            )
            return None
        if not self.name(keeps, path, ".speaker", q["speaker"]):
            return None
        attributed = name_near(q["speaker"], self.article, match.start)
        quoted = match.alignment != "fuzzy" and inside_quotes(match.start, match.end, self.article)
        if not attributed and (quoted or match.alignment == "fuzzy"):
            self.reject(
                f"{path}.speaker", q["speaker"], "the article does not attribute these words to this speaker"
            )
            return None
        if not quoted and q["kind"] == "direct":
            q["kind"] = "indirect"
            why = "paraphrase, not verbatim" if match.alignment == "fuzzy" else "not inside quotation marks"
            self.notes.append(f"{path}: {why} in the article; shown as indirect")
        if not attributed:  # verbatim narrative: the article's own words, nobody's quote
            self.notes.append(f"{path}: the article's narrative, not words of {q['speaker']}")
            q["speaker"] = NARRATIVE
            keeps = []
        keeps.append((".text", q["text"], match))
        return keeps

    def figure(self, path: str, f: dict[str, Any]) -> Keeps | None:
        keeps: Keeps = []
        if not self.text(keeps, path, ".source_text", f["source_text"]):
            return None
        source = keeps[0][2]
        figure = align(f["text"], self.article, fuzzy=False)
        if figure is None:
            self.reject(f"{path}.text", f["text"], "figure not written this way in the article")
            return None
        wanted = numbers_in(f["text"])
        if not wanted or not set(wanted) & set(numbers_in(self.article[source.start : source.end])):
            self.reject(f"{path}.text", f["text"], "no such number in the cited sentence")
            return None
        if f.get("value") is not None and float(f["value"]) not in wanted:
            self.reject(f"{path}.value", str(f["value"]), f"value does not match '{f['text']}'")
            return None
        # Keep the qualifier the article itself uses ("at least eight" stays "at least").
        f["qualifier"] = qualifier_of(self.article[max(0, figure.start - 30) : figure.end]) or f["qualifier"]
        if not self.name(keeps, path, ".given_by", f.get("given_by")):
            f["given_by"] = None
        keeps.append((".text", f["text"], figure))
        return keeps

    def claim(self, path: str, c: dict[str, Any]) -> Keeps | None:
        keeps: Keeps = []
        if not self.text(keeps, path, ".evidence", c["evidence"]):
            return None
        if not self.name(keeps, path, ".claimant", c["claimant"]):
            return None
        return keeps

    def event(self, path: str, e: dict[str, Any]) -> Keeps | None:
        keeps: Keeps = []
        if not self.text(keeps, path, ".evidence", e["evidence"]):
            return None
        actors: list[str] = []
        for j, actor in enumerate(e["actors"]):
            found: Keeps = []
            if self.name(found, f"{path}.actors[{j}]", "", actor):
                keeps += [(f".actors[{len(actors)}]", v, m) for _, v, m in found]
                actors.append(actor)
        e["actors"] = actors
        if e.get("where") and not self.name(keeps, path, ".where.place", e["where"]["place"]):
            e["where"] = None
        if e.get("when"):
            match = align(e["when"]["text"], self.article, fuzzy=False)
            if match is None:
                self.reject(f"{path}.when.text", e["when"]["text"], "time words not in the article")
                e["when"] = None
            else:
                keeps.append((".when.text", e["when"]["text"], match))
                self.date(path, e)
        evidence_text = self.article[keeps[0][2].start : keeps[0][2].end]
        for key in ("killed", "injured"):
            value = (e.get("casualties") or {}).get(key)
            if value and not _number_stated(value, evidence_text):
                self.reject(
                    f"{path}.casualties.{key}", value, "casualty figure not stated in the event's sentence"
                )
                e["casualties"][key] = None
        return keeps

    def date(self, path: str, e: dict[str, Any]) -> None:
        """The date comes from our own reading of the verbatim time words against the dateline,
        or from the article's own words; a date the model merely guessed is rejected."""
        when = e["when"]
        resolved = resolve_date(when["text"], self.published_at, future=e["modality"] == "future")
        if resolved is not None:
            when["date"] = resolved
        elif when.get("date") and when["date"] not in self.article:
            self.reject(
                f"{path}.when.date",
                when["date"],
                "date neither in the article nor resolvable from its dateline",
            )
            when["date"] = None

    def source(self, path: str, src: dict[str, Any]) -> Keeps | None:
        keeps: Keeps = []
        return keeps if self.name(keeps, path, ".name", src["name"]) else None


def ground(draft: SummaryDraft, article: str, *, published_at: str | None = None) -> GroundingResult:
    """Check every item of ``draft`` against ``article``; never raises on any text.

    ``published_at`` (the dateline) lets relative time words ("on Friday") resolve to dates.
    """
    g = _Grounder(article, published_at)
    data = draft.model_dump()
    data["quotes"] = g.run("quotes", data["quotes"], g.quote)
    data["key_figures"] = g.run("key_figures", data["key_figures"], g.figure)
    data["claims"] = g.run("claims", data["claims"], g.claim)
    data["events"] = g.run("events", data["events"], g.event)
    data["sources"] = g.run("sources", data["sources"], g.source)
    return GroundingResult(Summary.model_validate(data), g.grounded, g.rejected, g.notes)


class GroundingError(ValueError):
    """Raised inside validation so instructor re-asks with these specific problems."""


@dataclass
class GroundingCheck:
    """Validation hook: ``strict`` raises the problems to trigger a re-ask; lenient records.

    It remembers its last result, so the record is built from the very grounding the model's
    answer passed (and grounding is not computed twice per article).
    """

    article: str
    strict: bool = True
    published_at: str | None = None
    _last: tuple[SummaryDraft, GroundingResult] | None = field(default=None, repr=False)

    def __call__(self, draft: SummaryDraft) -> None:
        result = ground(draft, self.article, published_at=self.published_at)
        self._last = (draft, result)
        if self.strict and result.rejected:
            lines = [f"- {r.field}: {r.reason}" for r in result.rejected[:8]]
            raise GroundingError(
                "Some items are not supported by the article text between the boundary lines. "
                "For each field listed, copy words exactly from the article, or leave the item "
                "out:\n" + "\n".join(lines)
            )

    def result_for(self, draft: SummaryDraft) -> GroundingResult | None:
        if self._last is not None and self._last[0] is draft:
            return self._last[1]
        return None
