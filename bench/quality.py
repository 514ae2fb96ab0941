"""Quality on real text: the product pipeline beside a plain instructor baseline, per article.

    .venv/bin/python bench/quality.py ../shared/devset --out quality.json
    .venv/bin/python bench/quality.py ../shared/devset --limit 2 --systems summarizer
    .venv/bin/python bench/quality.py ../shared/devset --base-url http://127.0.0.1:8080/v1 --model m
    .venv/bin/python bench/quality.py --compare before.json after.json [--common]

The dev-set folder holds ``articles/ID.json`` (the project's article format) and, optionally,
``gold_5w1h.jsonl``; it is read from where it lies and nothing of it is copied. Results go to
``--out`` (rewritten after every article, so an interrupted run keeps what it measured); they
hold counts only, no article text, unless ``--keep-outputs`` is given.

Systems, run against the same endpoint and model in one process:

- ``summarizer`` (alias ``v2``): the product, ``Summarizer(settings)`` once for the run and
  ``.summarize(article)`` per article; scored from ``record.model_dump(mode="json")``.
- ``plain``: one instructor call with a 7-field pydantic model and a short plain prompt
  (``Mode.JSON_SCHEMA`` unless ``--baseline-mode``), temperature 0, ``max_retries=1``,
  ``--baseline-max-tokens`` (2048); an article too long for the endpoint's context window is
  cut at a paragraph or sentence end (the product cuts its own way; both are flagged).

With no ``--base-url`` the product starts its embedded server and the baseline calls the same
server. ``--project DIR`` measures another checkout of the package (e.g. an older version in
a git worktree); ``--compare`` puts saved result files side by side in one table.

Rules (also printed above every table and stored in the results file, see ``RULES``):

- Quotations in the article (our own rule, independent of the product): text between double
  quotation marks (straight, “ ”, „ “, « ») with at least 4 words, inside one paragraph
  (paragraphs split at line breaks). A straight mark opens after a space, bracket, dash or
  colon when a word follows (' "We'), and closes after a non-space when a space or
  punctuation follows ('it." '); otherwise it closes an open quotation or opens one. A
  quotation still open when another opens ends at the last sentence end (. ! ?) before the
  new mark (scraped text without line breaks runs paragraphs together this way); one open at
  the paragraph end runs to the paragraph end.
- A kept quote counts for a quotation when their character spans overlap by at least half
  of the shorter one (the quote's span from grounding, or where its text is found), or one
  text contains the other after normalising whitespace and quotation marks (the kept text
  needs 2 words or more). Quote recall = quotations matched by a kept quote with a named
  speaker / quotations. Speakers "", "unnamed", "unknown", "anonymous", "none", "the article
  (narrative)" and similar count as unnamed, reported separately.
- Speaker named near (a proxy for speaker precision, not a measure of it): the last word of
  the speaker (before any comma or bracket) occurs, as a word, in the quote's paragraph or the
  one before; in a paragraph over 1,500 characters (text flattened by a scraper) in the 400
  characters before the quote or the 200 after it.
- Numbers in the article: digit groups ("6,266", "3.5", "10:30"; "9/11" is two) and runs of
  number words joined by spaces, hyphens or "and" ("twenty-five", "3.5 million", "two hundred
  and fifty" count once; "tens of thousands" twice), not "one" (mostly a pronoun), not
  4-digit years 1900-2099.
- Rejected items are counted by reason, cut before the first ";" or ":".
- Not verbatim: a kept quote or figure whose text is not in the article after normalising
  whitespace and quotation marks; for the product also a grounding entry whose
  ``article.text[span.start:span.end]`` differs from its value after the same normalisation.
- 4W against gold: answers of the product: who = event actors + named quote speakers +
  claimants; what = event ``what`` + headline; when = event ``when.text``; where = event
  ``where.place``. The baseline: its own who/what/when/where lists, headline added to what.
  Answers are deduplicated per article. An answer matches a gold phrase when token F1 >= 0.5
  (lowercase, tokens are ``\\w+``, so punctuation is dropped) or one token sequence contains
  the other. Over the articles whose gold has phrases for the question: precision = matching
  answers / answers (0 with no answers); coverage = articles with a matching answer / articles.
  Macro = mean over who, what, when, where.
- A failed article counts with nothing kept (its quotations, numbers and gold stay in the
  denominators); seconds and tokens are what it cost.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "summarizer"
BASELINE = "plain"
SYSTEM_ALIASES = {"summarizer": PRODUCT, "v2": PRODUCT, "product": PRODUCT, "plain": BASELINE}
QUESTIONS = ("who", "what", "when", "where")
FORMAT = 1
ANSWER_KEY = "model_answer"  # kept outputs: the model's answer, for --regrade

RULES = [
    'quotations: text between double quotation marks (" “” „“ «») with >= 4 words, within a paragraph; '
    "an unclosed one ends at the last sentence end before the next opening mark, or at the paragraph end",
    "quote recall = quotations matched by a kept quote with a named speaker / quotations "
    "(match: spans overlap >= half the shorter, or containment after whitespace/quote normalisation)",
    "speaker named near (precision PROXY): speaker's last word in the quote's paragraph or the one "
    "before (paragraph > 1500 chars: 400 chars before to 200 after the quote); unnamed counted apart",
    "numbers: digit groups and number-word runs, not 'one', not years 1900-2099",
    "not verbatim: kept quote/figure text not in the article, or a grounding span whose text != value "
    "(whitespace and quotation marks normalised)",
    "4W: answer matches gold when token F1 >= 0.5 (lowercase \\w+ tokens) or one token sequence contains "
    "the other; precision = matching answers / answers, coverage = articles with a match / articles with "
    "gold, per question; macro = mean of who, what, when, where",
]

# --------------------------------------------------------------------------- normalisation

_QUOTE_MAP = dict.fromkeys('"“”„‟«»″', '"') | dict.fromkeys("‘’‚‛′", "'")
UNNAMED = {
    "",
    "unnamed",
    "unknown",
    "anonymous",
    "none",
    "null",
    "n/a",
    "unidentified",
    "unspecified",
    "not named",
    "the article (narrative)",
}


def _norm_map(text: str) -> tuple[str, list[int]]:
    """Whitespace runs -> one space, typographic quotation marks -> straight; with each output
    character's index in ``text``, so a match in the normalised text maps back to a span."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                index.append(i)
            continue
        out.append(_QUOTE_MAP.get(ch, ch))
        index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def norm(text: str) -> str:
    """An item's text for comparison: normalised, without surrounding quotation marks."""
    return _norm_map(text)[0].strip(' "')


def locate(needle: str, text: str) -> tuple[int, int] | None:
    """Span of the first occurrence of ``needle`` in ``text`` after normalisation, or None."""
    want = norm(needle)
    if not want:
        return None
    hay, index = _norm_map(text)
    pos = hay.find(want)
    if pos < 0:
        return None
    return index[pos], index[pos + len(want) - 1] + 1


def is_named(speaker: object) -> bool:
    return isinstance(speaker, str) and " ".join(speaker.lower().split()) not in UNNAMED


def _words(text: str) -> int:
    return sum(1 for w in text.split() if re.search(r"\w", w))


# --------------------------------------------------------------------------- quotations


@dataclass(frozen=True)
class Quotation:
    """A quotation's words, ``[start, end)`` without the marks, and its paragraph's index."""

    start: int
    end: int
    paragraph: int
    closed: bool


_CLOSERS = {'"': '"”', "“": '”"', "„": '“”"', "«": "»"}  # opening mark -> marks that close it
_MARKS = frozenset('"“”„«»')
_LEFT = "([{—–-/:"
_RIGHT_STOP = ".,;:!?)]}"


def paragraphs(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]


def _opens(text: str, i: int, open_mark: str | None) -> bool:
    ch = text[i]
    if ch in "„«":
        return True
    if ch in "”»":
        return False
    if ch == "“":
        return open_mark != "„"  # German „…“ closes with “
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    left = prev.isspace() or prev in _LEFT
    right = not nxt.isspace() and nxt not in _RIGHT_STOP
    if left == right:  # ' "W' opens, 'd" ' and 'd".' close
        return left
    return open_mark is None  # ambiguous (spaces or letters on both sides): close what is open


def _last_sentence_end(text: str, start: int, stop: int) -> int:
    segment = text[start:stop]
    ends = [m.end() for m in re.finditer(r"[.!?]+(?=\s|$)", segment)]
    return start + ends[-1] if ends else start + len(segment.rstrip())


def find_quotations(text: str, min_words: int = 4) -> list[Quotation]:
    """Quotations of the article by the rule in the module docstring."""
    found: list[Quotation] = []
    for p, (p_start, p_end) in enumerate(paragraphs(text)):
        start: int | None = None
        mark: str | None = None
        for i in range(p_start, p_end):
            ch = text[i]
            if ch not in _MARKS:
                continue
            opening = _opens(text, i, mark)
            if start is None or mark is None:
                if opening:
                    start, mark = i + 1, ch
                continue  # a closing mark with nothing open is ignored
            if not opening and ch in _CLOSERS[mark]:
                found.append(Quotation(start, i, p, closed=True))
                start = mark = None
            elif opening:
                found.append(Quotation(start, _last_sentence_end(text, start, i), p, closed=False))
                start, mark = i + 1, ch
        if start is not None:
            found.append(Quotation(start, p_end, p, closed=False))
    return [q for q in found if _words(text[q.start : q.end]) >= min_words]


def _overlaps(span: tuple[int, int], q: Quotation) -> bool:
    inter = min(span[1], q.end) - max(span[0], q.start)
    return inter > 0 and 2 * inter >= min(span[1] - span[0], q.end - q.start)


def _contains(kept: str, quotation: str) -> bool:
    a, b = norm(kept), norm(quotation)
    return bool(a and b) and ((_words(a) >= 2 and a in b) or b in a)


def surname(speaker: str) -> str | None:
    head = re.split(r"[,(;]", speaker, maxsplit=1)[0]
    words = re.findall(r"\w+(?:['’-]\w+)*", head)
    return words[-1] if words else None


LONG_PARAGRAPH = 1500


def named_near(speaker: str, text: str, span: tuple[int, int], paras: Sequence[tuple[int, int]]) -> bool:
    """The speaker's last word occurs in the quote's paragraph or the one before (proxy)."""
    name = surname(speaker)
    if not name or not paras:
        return False
    p = max((i for i, (s, _) in enumerate(paras) if s <= span[0]), default=0)
    p_start, p_end = paras[p]
    if p_end - p_start > LONG_PARAGRAPH:
        zone = text[max(p_start, span[0] - 400) : min(p_end, span[1] + 200)]
    else:
        zone = text[paras[max(p - 1, 0)][0] : p_end]
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", zone, re.IGNORECASE) is not None


@dataclass(frozen=True)
class KeptQuote:
    text: str
    speaker: str
    span: tuple[int, int] | None = None  # from grounding, when the record has it


def score_quotes(text: str, kept: Sequence[KeptQuote]) -> dict[str, int]:
    quotations = find_quotations(text)
    paras = paragraphs(text)
    matched_named: set[int] = set()
    matched_any: set[int] = set()
    counts = Counter[str]()
    for quote in kept:
        spans = [s for s in (quote.span, locate(quote.text, text)) if s is not None]
        hits = {
            i
            for i, q in enumerate(quotations)
            if any(_overlaps(s, q) for s in spans) or _contains(quote.text, text[q.start : q.end])
        }
        counts["quotes_on_quotation"] += bool(hits)
        matched_any |= hits
        if not is_named(quote.speaker):
            counts["quotes_unnamed"] += 1
            continue
        counts["quotes_named"] += 1
        matched_named |= hits
        where = spans[0] if spans else None
        if where is None and hits:
            first = quotations[min(hits)]
            where = (first.start, first.end)
        if where is None:
            counts["quotes_unlocated"] += 1
        elif named_near(quote.speaker, text, where, paras):
            counts["named_near"] += 1
    return {
        "quotations": len(quotations),
        "quotes_kept": len(kept),
        "quotes_named": counts["quotes_named"],
        "quotes_unnamed": counts["quotes_unnamed"],
        "quotes_unlocated": counts["quotes_unlocated"],
        "quotes_on_quotation": counts["quotes_on_quotation"],
        "quotations_matched_named": len(matched_named),
        "quotations_matched_any": len(matched_any),
        "named_near": counts["named_near"],
    }


# --------------------------------------------------------------------------- numbers

_NUMBER_WORDS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    "thousand|million|billion|trillion|dozen"
)
_WORD = rf"(?<!\w)(?:{_NUMBER_WORDS})s?(?!\w)"
_DIGITS = r"(?<![\w.,])\d+(?:[.,:]\d+)*"
_NUMBER = re.compile(rf"(?:{_DIGITS}|{_WORD})(?:(?:\s+and\s+|[\s-]+){_WORD})*", re.IGNORECASE)


def numbers_in_text(text: str) -> list[str]:
    """Numbers of the article by the rule in the module docstring."""
    found = []
    for m in _NUMBER.finditer(text):
        value = m.group()
        if re.fullmatch(r"\d{4}", value) and 1900 <= int(value) <= 2099:
            continue
        found.append(value)
    return found


# --------------------------------------------------------------------------- verbatim


def not_verbatim(
    text: str, items: Iterable[tuple[str, object]], grounding: Iterable[object] = ()
) -> tuple[int, list[str]]:
    """Items checked, and the fields of those not in ``text`` (see the module docstring).

    ``items`` are (field, text) pairs; ``grounding`` the record's entries
    ``{"field", "value", "span": {"start", "end"}}``.
    """
    checked = 0
    bad: list[str] = []
    for field, value in items:
        checked += 1
        if not isinstance(value, str) or locate(value, text) is None:
            bad.append(field)
    for entry in grounding:
        g = _d(entry)
        span = _d(g.get("span"))
        start, end, value = span.get("start"), span.get("end"), g.get("value")
        checked += 1
        ok = (
            isinstance(start, int)
            and isinstance(end, int)
            and 0 <= start < end <= len(text)
            and isinstance(value, str)
            and norm(text[start:end]) == norm(value)
        )
        if not ok:
            bad.append(f"grounding:{g.get('field')}")
    return checked, bad


# --------------------------------------------------------------------------- 4W against gold


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(a: Sequence[str], b: Sequence[str]) -> float:
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def _contains_seq(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    n = len(shorter)
    return 0 < n <= len(longer) and any(
        list(longer[i : i + n]) == list(shorter) for i in range(len(longer) - n + 1)
    )


def answer_matches(answer: str, gold: str) -> bool:
    a, g = tokens(answer), tokens(gold)
    if not a or not g:
        return False
    return token_f1(a, g) >= 0.5 or _contains_seq(a, g) or _contains_seq(g, a)


def score_4w(answers: dict[str, list[str]], gold: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per question: whether gold has phrases, deduplicated answers, matching answers, covered."""
    out: dict[str, dict[str, Any]] = {}
    for q in QUESTIONS:
        golds = [g for g in _list(gold.get(q)) if isinstance(g, str) and tokens(g)]
        seen: dict[tuple[str, ...], str] = {}
        for a in answers.get(q, []):
            if isinstance(a, str) and tokens(a):
                seen.setdefault(tuple(tokens(a)), a)
        matched = sum(any(answer_matches(a, g) for g in golds) for a in seen.values())
        out[q] = {"has_gold": bool(golds), "answers": len(seen), "matched": matched, "covered": matched > 0}
    return out


# --------------------------------------------------------------------------- reading outputs


def _d(x: object) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _list(x: object) -> list[Any]:
    return x if isinstance(x, list) else []


def _str(x: object) -> str:
    return x if isinstance(x, str) else ""


def reason_key(reason: object) -> str:
    return re.split(r"[;:]", _str(reason), maxsplit=1)[0].strip() or "(no reason)"


def product_answers(summary: dict[str, Any]) -> dict[str, list[str]]:
    events = [_d(e) for e in _list(summary.get("events"))]
    who = [_str(a) for e in events for a in _list(e.get("actors"))]
    who += [
        _str(_d(q).get("speaker")) for q in _list(summary.get("quotes")) if is_named(_d(q).get("speaker"))
    ]
    who += [_str(_d(c).get("claimant")) for c in _list(summary.get("claims"))]
    return {
        "who": who,
        "what": [_str(e.get("what")) for e in events] + [_str(summary.get("headline"))],
        "when": [_str(_d(e.get("when")).get("text")) for e in events],
        "where": [_str(_d(e.get("where")).get("place")) for e in events],
    }


def score_product(record: dict[str, Any], text: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Metrics of one product record (the JSON of ``EventSummary``) on the article ``text``."""
    summary = _d(record.get("summary"))
    record_text = _str(_d(record.get("article")).get("text")) or text
    same_offsets = text.startswith(record_text)
    spans: dict[str, tuple[int, int]] = {}
    for entry in _list(record.get("grounding")):
        g, span = _d(entry), _d(_d(entry).get("span"))
        if same_offsets and isinstance(span.get("start"), int) and isinstance(span.get("end"), int):
            spans[_str(g.get("field"))] = (span["start"], span["end"])
    quotes = [_d(q) for q in _list(summary.get("quotes"))]
    kept = [
        KeptQuote(_str(q.get("text")), _str(q.get("speaker")), spans.get(f"quotes[{i}].text"))
        for i, q in enumerate(quotes)
    ]
    figures = [_d(f) for f in _list(summary.get("key_figures"))]
    items = [(f"quotes[{i}].text", q.get("text")) for i, q in enumerate(quotes)]
    items += [(f"key_figures[{i}].text", f.get("text")) for i, f in enumerate(figures)]
    checked, bad = not_verbatim(record_text, items, _list(record.get("grounding")))
    rejected = Counter(reason_key(_d(r).get("reason")) for r in _list(record.get("rejected")))
    provenance = _d(record.get("provenance"))
    usage = _d(provenance.get("usage"))
    row: dict[str, Any] = {
        **score_quotes(text, kept),
        "figures": len(figures),
        "events": len(_list(summary.get("events"))),
        "rejected": dict(rejected),
        "needs_review": bool(record.get("needs_review")),
        "empty_brief": not _str(summary.get("brief")).strip(),
        "verbatim_checked": checked,
        "not_verbatim": len(bad),
        "not_verbatim_fields": bad,
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
        "attempts": provenance.get("attempts"),
        "latency_s": provenance.get("latency_s"),
        "truncated": bool(_d(record.get("article")).get("truncated")),
    }
    return row, product_answers(summary)


def score_plain(brief: dict[str, Any], text: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Metrics of one baseline answer (the JSON of ``PlainBrief``) on the article ``text``."""
    quotes = [_d(q) for q in _list(brief.get("quotes"))]
    figures = [_d(f) for f in _list(brief.get("figures"))]
    kept = [KeptQuote(_str(q.get("text")), _str(q.get("speaker"))) for q in quotes]
    items = [(f"quotes[{i}].text", q.get("text")) for i, q in enumerate(quotes)]
    items += [(f"figures[{i}].text", f.get("text")) for i, f in enumerate(figures)]
    checked, bad = not_verbatim(text, items)
    row: dict[str, Any] = {
        **score_quotes(text, kept),
        "figures": len(figures),
        "events": None,
        "rejected": None,
        "needs_review": None,
        "verbatim_checked": checked,
        "not_verbatim": len(bad),
        "not_verbatim_fields": bad,
    }
    answers = {q: [_str(a) for a in _list(brief.get(q))] for q in QUESTIONS}
    answers["what"].append(_str(brief.get("headline")))
    return row, answers


# --------------------------------------------------------------------------- the baseline


class PlainQuote(BaseModel):
    text: str
    speaker: str


class PlainFigure(BaseModel):
    text: str
    counts: str


class PlainBrief(BaseModel):
    headline: str
    who: list[str]
    what: list[str]
    when: list[str]
    where: list[str]
    quotes: list[PlainQuote]
    figures: list[PlainFigure]


PLAIN_PROMPT = (
    "Extract a brief of this news article as JSON: a short headline; who is involved; what "
    "happened; when; where; the direct quotes, copied exactly, with who said each; and the key "
    "figures, copied exactly, with what each counts.\n\nArticle:\n{article}"
)


class PlainBaseline:
    """A plain instructor call on the product's endpoint and model."""

    def __init__(self, endpoint: Any, *, mode: str, max_tokens: int, timeout: float) -> None:
        import instructor
        import openai

        self.mode = instructor.Mode[mode.upper()]
        self.model = str(endpoint.model)
        self.max_tokens = max_tokens
        self.context_window: int | None = getattr(endpoint, "context_window", None)
        http = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=timeout)
        self.client = instructor.from_openai(http, mode=self.mode)

    def fit(self, text: str) -> tuple[str, bool]:
        """Cut at a paragraph (or sentence) end when the article cannot fit the context window
        (about 3 characters a token, conservatively); the product cuts its own way."""
        if self.context_window is None:
            return text, False
        room = max(1000, (self.context_window - self.max_tokens - 300) * 3)
        if len(text) <= room:
            return text, False
        head = text[:room]
        cut = max(head.rfind("\n"), head.rfind(". "))
        return (head[: cut + 1] if cut > room // 2 else head).strip(), True

    def run(self, title: str | None, text: str) -> tuple[dict[str, Any], dict[str, int], bool]:
        body, truncated = self.fit(text)
        article = f"{title}\n\n{body}" if title and not body.startswith(title) else body
        brief, completion = self.client.chat.completions.create_with_completion(
            model=self.model,
            response_model=PlainBrief,
            messages=[{"role": "user", "content": PLAIN_PROMPT.format(article=article)}],
            temperature=0,
            max_retries=1,
            max_tokens=self.max_tokens,
        )
        return brief.model_dump(mode="json"), _usage(getattr(completion, "usage", None)), truncated


def _usage(usage: object) -> dict[str, int]:
    """Prompt and completion tokens of an OpenAI usage object or dict (empty when unknown)."""
    if usage is None:
        return {}
    fields = usage if isinstance(usage, dict) else vars(usage) if hasattr(usage, "__dict__") else {}
    return {k: int(fields.get(k) or 0) for k in ("prompt_tokens", "completion_tokens")}


# --------------------------------------------------------------------------- totals


def _sum(rows: Sequence[dict[str, Any]], key: str) -> int:
    return sum(int(r.get(key) or 0) for r in rows)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The total row of one system: every figure a before/after table needs."""
    t: dict[str, Any] = {"articles": len(rows), "errors": sum(1 for r in rows if r.get("error"))}
    for key in (
        "quotations",
        "quotes_kept",
        "quotes_named",
        "quotes_unnamed",
        "quotes_unlocated",
        "quotes_on_quotation",
        "quotations_matched_named",
        "quotations_matched_any",
        "named_near",
        "numbers",
        "figures",
        "verbatim_checked",
        "not_verbatim",
        "prompt_tokens",
        "completion_tokens",
    ):
        t[key] = _sum(rows, key)
    t["quote_recall"] = _ratio(t["quotations_matched_named"], t["quotations"])
    t["quote_recall_any_speaker"] = _ratio(t["quotations_matched_any"], t["quotations"])
    t["named_near_share"] = _ratio(t["named_near"], t["quotes_named"])
    t["figures_per_number"] = _ratio(t["figures"], t["numbers"])
    product_like = any(r.get("rejected") is not None for r in rows)  # the baseline has no such fields
    t["events"] = _sum(rows, "events") if product_like else None
    rejected: Counter[str] = Counter()
    for r in rows:
        rejected.update(_d(r.get("rejected")))
    t["rejected"] = sum(rejected.values()) if product_like else None
    t["rejected_by_reason"] = dict(rejected.most_common()) if product_like else None
    t["needs_review"] = sum(1 for r in rows if r.get("needs_review")) if product_like else None
    # results saved before this row was counted have no such key: "–", not 0
    counted = product_like and any("empty_brief" in r for r in rows)
    t["empty_brief"] = sum(1 for r in rows if r.get("empty_brief")) if counted else None
    t["truncated"] = sum(1 for r in rows if r.get("truncated"))
    t["seconds"] = round(sum(float(r.get("seconds") or 0) for r in rows), 1)
    t["median_seconds"] = statistics.median([float(r.get("seconds") or 0) for r in rows]) if rows else None
    t["median_completion_tokens"] = (
        statistics.median([int(r.get("completion_tokens") or 0) for r in rows]) if rows else None
    )
    t["w4"] = {}
    for q in QUESTIONS:
        cells = [_d(_d(r.get("w4")).get(q)) for r in rows]
        cells = [c for c in cells if c.get("has_gold")]
        answers = sum(int(c.get("answers") or 0) for c in cells)
        matched = sum(int(c.get("matched") or 0) for c in cells)
        covered = sum(1 for c in cells if c.get("covered"))
        t["w4"][q] = {
            "articles": len(cells),
            "answers": answers,
            "matched": matched,
            "covered": covered,
            "precision": (matched / answers if answers else 0.0) if cells else None,
            "coverage": _ratio(covered, len(cells)),
        }
    asked = [v for v in t["w4"].values() if v["articles"]]
    t["w4_macro_precision"] = statistics.fmean(v["precision"] for v in asked) if asked else None
    t["w4_macro_coverage"] = statistics.fmean(v["coverage"] for v in asked) if asked else None
    return t


# --------------------------------------------------------------------------- tables


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _num(x: object) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}" if isinstance(x, float) else str(x)


def total_lines(t: dict[str, Any]) -> list[tuple[str, str]]:
    w4 = _d(t.get("w4"))
    lines = [
        ("articles (failed)", f"{t['articles']} ({t['errors']})"),
        ("quotations in the articles", _num(t["quotations"])),
        ("quotes kept: named speaker / unnamed", f"{t['quotes_named']} / {t['quotes_unnamed']}"),
        (
            "quote recall, named speaker",
            f"{_pct(t['quote_recall'])} ({t['quotations_matched_named']}/{t['quotations']})",
        ),
        ("quote recall, any speaker", _pct(t["quote_recall_any_speaker"])),
        ("kept quotes on a quotation", f"{t['quotes_on_quotation']}/{t['quotes_kept']}"),
        (
            "speaker named near (proxy)",
            f"{_pct(t['named_near_share'])} ({t['named_near']}/{t['quotes_named']})",
        ),
        ("numbers in the articles", _num(t["numbers"])),
        ("key figures kept (per number)", f"{t['figures']} ({_pct(t['figures_per_number'])})"),
        ("events kept", _num(t["events"])),
        ("rejected items", _num(t["rejected"])),
        ("needs review", _num(t["needs_review"])),
        ("brief line left empty", _num(t.get("empty_brief"))),
        ("articles truncated", _num(t.get("truncated"))),
        ("not verbatim (items checked)", f"{t['not_verbatim']} ({t['verbatim_checked']})"),
        ("prompt / completion tokens", f"{t['prompt_tokens']} / {t['completion_tokens']}"),
        ("median completion tokens", _num(t["median_completion_tokens"])),
        ("seconds total / median", f"{_num(t['seconds'])} / {_num(t['median_seconds'])}"),
    ]
    for q in QUESTIONS:
        c = _d(w4.get(q))
        value = "–"
        if c.get("articles"):
            value = (
                f"{_pct(c['precision'])} ({c['matched']}/{c['answers']}) / "
                f"{_pct(c['coverage'])} ({c['covered']}/{c['articles']})"
            )
        lines.append((f"{q}: precision / coverage", value))
    lines.append(
        (
            "4W macro precision / coverage",
            f"{_pct(t.get('w4_macro_precision'))} / {_pct(t.get('w4_macro_coverage'))}",
        )
    )
    return lines


def print_totals(columns: Sequence[tuple[str, dict[str, Any]]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for name, _ in columns:
        table.add_column(name, justify="right")
    rendered = [dict(total_lines(t)) for _, t in columns]
    labels = list(dict.fromkeys(label for t in columns for label, _ in total_lines(t[1])))
    for label in labels:
        table.add_row(label, *(r.get(label, "–") for r in rendered))
    reasons = list(dict.fromkeys(k for _, t in columns for k in _d(t.get("rejected_by_reason"))))
    for reason in reasons:
        cells = [
            None if t.get("rejected_by_reason") is None else _d(t["rejected_by_reason"]).get(reason, 0)
            for _, t in columns
        ]
        table.add_row(f"  rejected: {reason[:60]}", *(_num(c) for c in cells))
    _console().print(table)


def print_articles(system: str, rows: Sequence[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"{system}: per article", title_justify="left")
    head = "id quot named/kept recall near unnamed nums figs events rej review tok(p/c) s !verb 4W"
    for name in head.split():
        table.add_column(name, justify="left" if name == "id" else "right")
    for r in rows:
        w4 = [_d(_d(r.get("w4")).get(q)) for q in QUESTIONS]
        asked = [c for c in w4 if c.get("has_gold")]
        table.add_row(
            r["id"] + (" ERR" if r.get("error") else ""),
            _num(r.get("quotations")),
            f"{r.get('quotes_named', 0)}/{r.get('quotes_kept', 0)}",
            f"{r.get('quotations_matched_named', 0)}/{r.get('quotations', 0)}",
            _num(r.get("named_near", 0)),
            _num(r.get("quotes_unnamed", 0)),
            _num(r.get("numbers")),
            _num(r.get("figures", 0)),
            _num(r.get("events")),
            _num(sum(_d(r.get("rejected")).values()) if r.get("rejected") is not None else None),
            {True: "yes", False: "no", None: "–"}[r.get("needs_review")],
            f"{r.get('prompt_tokens', 0)}/{r.get('completion_tokens', 0)}",
            f"{float(r.get('seconds') or 0):.1f}",
            _num(r.get("not_verbatim", 0)),
            f"{sum(1 for c in asked if c.get('covered'))}/{len(asked)}" if asked else "–",
        )
    _console().print(table)


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


def print_rules() -> None:
    print("Rules:")
    for rule in RULES:
        print(f"  - {rule}")


# --------------------------------------------------------------------------- running


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _git(project: Path, *argv: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(project), *argv], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def article_paths(devset: Path, ids: Sequence[str], limit: int | None) -> list[Path]:
    folder = devset / "articles"
    if not folder.is_dir():
        raise SystemExit(f"quality: {folder} is not a folder; give the dev-set folder (it holds articles/)")
    paths = sorted(folder.glob("*.json"))
    if ids:
        by_id = {p.stem: p for p in paths}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise SystemExit(f"quality: no articles/{missing[0]}.json in {devset}")
        paths = [by_id[i] for i in ids]
    return paths[:limit] if limit else paths


def load_gold(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None or not path.is_file():
        return {}
    gold = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = _d(json.loads(line))
            gold[_str(obj.get("id"))] = obj
    return gold


def write_results(path: Path | None, results: dict[str, Any]) -> None:
    if path is None:
        return
    for system in results["systems"].values():
        system["total"] = totals(system["articles"])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_product(run: Any, article: Any) -> tuple[dict[str, Any], dict[str, list[str]], Any]:
    answer = None
    if hasattr(run, "extract"):  # keep the model's own answer, so --regrade can ground it again
        from summarizer.pipeline import build_record

        prep, extraction = run.extract(article)
        record = build_record(prep, extraction, run.endpoint).model_dump(mode="json")
        answer = {
            "draft": extraction.value.model_dump(mode="json"),
            "fitted_chars": len(prep.article.text),
            "failed_validation": extraction.failed_validation,
        }
    else:  # an older checkout
        record = run.summarize(article).model_dump(mode="json")
    row, answers = score_product(record, article.text)
    if isinstance(record.get("article"), dict):
        record["article"].pop("text", None)  # never store the article's text
    if answer is not None:
        record[ANSWER_KEY] = answer
    return row, answers, record


def article_row(
    article: Any, row: dict[str, Any], answers: dict[str, list[str]], seconds: object, gold: dict[str, Any]
) -> dict[str, Any]:
    """One article's results row: its id, the scores, what it cost, its numbers and 4W."""
    out = {"id": article.id, **row, "seconds": seconds}
    out["numbers"] = len(numbers_in_text(article.text))
    out["w4"] = score_4w(answers, gold[article.id]) if article.id in gold else None
    return out


def regrade_record(output: dict[str, Any], article: Any) -> dict[str, Any]:
    """The record the current grounding builds from a kept model answer: no model call.

    Re-asks are not replayed, so this answers "what would grounding keep of the same answer",
    not "what would a new run keep"; a run measures that."""
    from summarizer.answer import validate_answer
    from summarizer.llm import Endpoint, Extraction
    from summarizer.pipeline import build_record, prepare
    from summarizer.settings import Settings

    kept = _d(output.get(ANSWER_KEY))
    text = article.text[: int(kept["fitted_chars"])]
    fitted = type(article)(**{**article.__dict__, "text": text})
    prov = _d(output.get("provenance"))
    endpoint = Endpoint(
        base_url=_str(prov.get("base_url")) or "http://kept",
        api_key="kept",
        model=_str(prov.get("model")) or "kept",
        structured_output=prov.get("structured_output") or "json_schema",
        backend=_str(prov.get("backend")) or "kept",
        context_window=None,
    )
    prep = prepare(fitted, Settings(), endpoint)
    prep.original_chars = len(article.text)
    prep.truncated = bool(_d(output.get("article")).get("truncated"))
    usage = {k: v for k, v in _d(prov.get("usage")).items() if isinstance(v, int)}
    extraction = Extraction(
        value=validate_answer(kept["draft"], prep.units),
        usage=usage,
        attempts=int(prov.get("attempts") or 1),
        latency_s=float(prov.get("latency_s") or 0.0),
        failed_validation=bool(kept.get("failed_validation")),
    )
    return build_record(prep, extraction, endpoint).model_dump(mode="json")


def regrade(args: argparse.Namespace) -> int:
    """Ground the kept answers of a results file again with the checkout's current code."""
    project = Path(args.project).resolve()
    sys.path.insert(0, str(project))
    from summarizer.articles import load_article

    source = _d(json.loads(Path(args.regrade).read_text(encoding="utf-8")))
    devset = Path(args.devset)
    gold = load_gold(Path(args.gold) if args.gold else devset / "gold_5w1h.jsonl")
    paths = {p.stem: p for p in article_paths(devset, [], None)}
    systems = _d(source.get("systems"))
    results = new_results(args, project, list(systems) or [PRODUCT], bool(gold))
    results["run"]["regraded_from"] = _d(source.get("run")).get("label")
    results["run"]["endpoint"] = _d(source.get("run")).get("endpoint")
    for name, data in systems.items():  # other systems (the baseline) and metadata as they were
        results["systems"][name] = {"meta": _d(_d(data).get("meta")), "articles": []}
        if name != PRODUCT:
            results["systems"][name]["articles"] = _list(_d(data).get("articles"))
    results["systems"].setdefault(PRODUCT, {"meta": {}, "articles": []})
    rows = _list(_d(systems.get(PRODUCT)).get("articles"))
    skipped = 0
    for old in rows:
        output = _d(old.get("output"))
        path = paths.get(_str(old.get("id")))
        article = load_article(path) if path is not None and ANSWER_KEY in output else None
        record = None
        if article is not None and _d(output.get("article")).get("sha256") not in (None, article.sha256):
            log(f"quality: {article.id} changed since the run; its row is copied as it was")
        elif article is not None:
            try:
                record = regrade_record(output, article)
            except Exception as exc:  # an id today's units no longer have: say so, go on
                log(f"quality: {article.id} could not be regraded ({type(exc).__name__}: {exc}); copied")
        if record is None or article is None:
            skipped += 1
            results["systems"][PRODUCT]["articles"].append(old)  # failed, unkept or changed: as it was
            continue
        row, answers = score_product(record, article.text)
        record["article"].pop("text", None)
        record[ANSWER_KEY] = output[ANSWER_KEY]
        row = article_row(article, row, answers, old.get("seconds"), gold)
        if args.keep_outputs:
            row["output"] = record
        results["systems"][PRODUCT]["articles"].append(row)
    if skipped:
        log(f"quality: {skipped} rows (failed, unkept or changed) are copied as they were")
    results["run"]["complete"] = bool(_d(source.get("run")).get("complete"))
    write_results(Path(args.out) if args.out else None, results)
    report(results)
    return 0


def run_plain(baseline: PlainBaseline, article: Any) -> tuple[dict[str, Any], dict[str, list[str]], Any]:
    brief, usage, truncated = baseline.run(article.title, article.text)
    row, answers = score_plain(brief, article.text)
    return {**row, **usage, "truncated": truncated}, answers, brief


def failure_row(system: str, exc: BaseException, text: str) -> dict[str, Any]:
    """A failed article: nothing kept, the cost the error reports (if any)."""
    usage = (
        _d(getattr(exc, "usage", None))  # SummarizerError
        or _usage(getattr(exc, "total_usage", None))  # instructor's retry exception
        or _usage(getattr(getattr(exc, "last_completion", None), "usage", None))  # cut off
    )
    product = system == PRODUCT
    return {
        **score_quotes(text, []),
        "figures": 0,
        "events": 0 if product else None,
        "rejected": {} if product else None,
        "needs_review": None,
        "verbatim_checked": 0,
        "not_verbatim": 0,
        "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}",
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
    }


@dataclass
class Runner:
    """The systems of one run, on one endpoint, filling ``results`` article by article."""

    systems: list[str]
    product: Any  # summarizer.pipeline.Summarizer, entered
    baseline: PlainBaseline | None
    gold: dict[str, dict[str, Any]]
    results: dict[str, Any]
    keep_outputs: bool = False

    def measure(self, system: str, article: Any) -> tuple[dict[str, Any], str]:
        t0 = time.perf_counter()
        try:
            if system == PRODUCT:
                row, answers, output = run_product(self.product, article)
                meta = self.results["systems"][PRODUCT]["meta"]
                meta.setdefault("schema_version", output.get("schema_version"))
                for key in ("prompt_version", "structured_output", "model"):
                    meta.setdefault(key, _d(output.get("provenance")).get(key))
            else:
                assert self.baseline is not None
                row, answers, output = run_plain(self.baseline, article)
            status = "ok"
        except Exception as exc:  # SummarizerError and anything else: record it, go on
            if not _is_summarizer_error(exc):
                traceback.print_exc(file=sys.stderr)
            row, answers, output = failure_row(system, exc, article.text), {}, None
            status = row["error"][:160]
        seconds = time.perf_counter() - t0
        row = article_row(article, row, answers, round(seconds, 2), self.gold)
        if self.keep_outputs:
            row["output"] = output
        self.results["systems"][system]["articles"].append(row)
        return row, f"{seconds:.1f} s, {status}"


def _jsonable(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _is_summarizer_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "SummarizerError" for cls in type(exc).__mro__)


def new_results(args: argparse.Namespace, project: Path, systems: list[str], gold: bool) -> dict[str, Any]:
    return {
        "benchmark": "summarizer-quality",
        "format": FORMAT,
        "rules": RULES,
        "run": {
            "label": args.label or _git(project, "rev-parse", "--short", "HEAD") or project.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "project": str(project),
            "git_commit": _git(project, "rev-parse", "HEAD"),
            "git_dirty": bool(_git(project, "status", "--porcelain", "--untracked-files=no")),
            "devset": str(Path(args.devset).resolve()),
            "gold": gold,
            "argv": sys.argv[1:],
            "complete": False,
        },
        "systems": {s: {"meta": {}, "articles": []} for s in systems},
    }


def measure(args: argparse.Namespace) -> int:
    project = Path(args.project).resolve()
    sys.path.insert(0, str(project))  # the checkout to measure comes first
    from summarizer.articles import load_article
    from summarizer.errors import SummarizerError
    from summarizer.pipeline import Summarizer
    from summarizer.settings import Settings

    systems = list(dict.fromkeys(SYSTEM_ALIASES[s] for s in args.systems))
    devset = Path(args.devset)
    paths = article_paths(devset, args.ids, args.limit)
    gold = load_gold(Path(args.gold) if args.gold else devset / "gold_5w1h.jsonl")
    flags = {
        "base_url": args.base_url,
        "api_key": args.api_key,
        "model": args.model,
        "model_path": args.model_path,
    }
    try:
        settings = Settings(**{k: v for k, v in flags.items() if v is not None})
    except Exception as exc:
        raise SystemExit(f"quality: invalid settings: {exc}") from None
    out = Path(args.out) if args.out else None
    results = new_results(args, project, systems, bool(gold))
    started = time.perf_counter()
    try:
        with Summarizer(settings) as product:
            endpoint = product.endpoint
            results["run"]["endpoint"] = {
                k: _jsonable(getattr(endpoint, k, None))
                for k in ("base_url", "model", "structured_output", "backend", "context_window")
            }
            baseline = None
            if BASELINE in systems:
                baseline = PlainBaseline(
                    endpoint,
                    mode=args.baseline_mode,
                    max_tokens=args.baseline_max_tokens,
                    timeout=settings.timeout,
                )
                results["systems"][BASELINE]["meta"] = {
                    "mode": baseline.mode.name,
                    "max_tokens": baseline.max_tokens,
                    "prompt": PLAIN_PROMPT,
                    "model": baseline.model,
                }
            runner = Runner(systems, product, baseline, gold, results, args.keep_outputs)
            log(f"quality: {len(paths)} articles, systems {', '.join(systems)}, model {endpoint.model}")
            for n, path in enumerate(paths, 1):
                article = load_article(path)
                for system in systems:
                    _, status = runner.measure(system, article)
                    log(f"[{n}/{len(paths)}] {article.id} {system}: {status}")
                write_results(out, results)
    except KeyboardInterrupt:
        log("quality: interrupted; writing what was measured")
        write_results(out, results)
        return 130
    except SummarizerError as exc:  # the endpoint could not be set up (a failed article never gets here)
        log(f"quality: {exc}")
        return 2
    results["run"]["complete"] = True
    results["run"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_results(out, results)
    report(results)
    if out:
        log(f"quality: results in {out}")
    return 0


def report(results: dict[str, Any]) -> None:
    run = _d(results.get("run"))
    print(f"Quality benchmark: {run.get('label')} ({_d(run.get('endpoint')).get('model', '?')})")
    print_rules()
    columns = []
    for system, data in _d(results.get("systems")).items():
        rows = _list(_d(data).get("articles"))
        print_articles(system, rows)
        columns.append((system, totals(rows)))
    print_totals(columns, "totals")


def compare(files: Sequence[str], common: bool) -> int:
    loaded = []
    for name in files:
        data = _d(json.loads(Path(name).read_text(encoding="utf-8")))
        run = _d(data.get("run"))
        label = (_str(run.get("label")) or Path(name).stem) + ("" if run.get("complete") else " (partial)")
        for system, sdata in _d(data.get("systems")).items():
            loaded.append((f"{label}:{system}", _list(_d(sdata).get("articles"))))
    if not loaded:
        raise SystemExit("quality: no results in the files given")
    if common:
        ids = set.intersection(*({_str(r.get("id")) for r in rows} for _, rows in loaded))
        loaded = [(name, [r for r in rows if r.get("id") in ids]) for name, rows in loaded]
        log(f"quality: {len(ids)} articles are in every column")
    print_rules()
    title = "compare" + (" (articles present in every column)" if common else "")
    print_totals([(name, totals(rows)) for name, rows in loaded], title)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("devset", nargs="?", help="dev-set folder with articles/ and gold_5w1h.jsonl")
    parser.add_argument("--compare", nargs="+", metavar="RESULTS", help="print saved results side by side")
    parser.add_argument("--common", action="store_true", help="--compare: only articles present in all")
    parser.add_argument("--limit", type=int, help="first N articles (by id)")
    parser.add_argument("--ids", type=lambda s: [x for x in s.split(",") if x], default=[], help="a,b,...")
    parser.add_argument(
        "--systems",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=[PRODUCT, BASELINE],
        help="comma-separated: summarizer (alias v2), plain",
    )
    parser.add_argument("--out", help="results JSON, rewritten after every article")
    parser.add_argument("--label", help="name of this run in tables (default: the git commit)")
    parser.add_argument("--gold", help="gold JSONL (default: DEVSET/gold_5w1h.jsonl)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: the embedded server)")
    parser.add_argument("--api-key")
    parser.add_argument("--model", help="model name at the endpoint")
    parser.add_argument("--model-path", help="GGUF for the embedded server")
    parser.add_argument("--baseline-mode", default="json_schema", help="instructor Mode name for plain")
    parser.add_argument("--baseline-max-tokens", type=int, default=2048)
    parser.add_argument("--project", default=str(ROOT), help="checkout whose summarizer package to measure")
    parser.add_argument("--keep-outputs", action="store_true", help="store outputs (article excerpts!)")
    parser.add_argument(
        "--regrade",
        metavar="RESULTS",
        help="ground the model answers kept in RESULTS (a --keep-outputs run) again, no model call",
    )
    args = parser.parse_args(argv)
    if args.compare:
        return compare(args.compare, args.common)
    if not args.devset:
        parser.error("give the dev-set folder, or --compare RESULTS...")
    if args.regrade:
        return regrade(args)
    unknown = [s for s in args.systems if s not in SYSTEM_ALIASES]
    if unknown:
        parser.error(f"unknown system {unknown[0]!r}; choose from {', '.join(SYSTEM_ALIASES)}")
    import instructor

    if args.baseline_mode.upper() not in instructor.Mode.__members__:
        parser.error(
            f"unknown instructor mode {args.baseline_mode!r}, e.g. json_schema, json, md_json, tools"
        )
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
