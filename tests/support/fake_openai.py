"""A FAKE OpenAI-compatible server for tests and benchmarks: test infrastructure, not product.

Nothing here is a model. Every answer is *generated* by a few text rules from the request, so that
it is schema-valid and grounded (or, on cue, deliberately broken). Its HTTP bodies are
hand-written, which docs/ARCHITECTURE.md §7 allows only in this fault-injection tier.

Endpoints (HTTP/1.1, keep-alive, Content-Length or chunked request bodies, loopback only):

- ``POST /v1/chat/completions``: a schema v2 answer (``PointerDraft``-shaped: ids, not copied
  text), in ``message.content`` (``response_format`` json_schema / json_object / none) or in
  ``message.tool_calls[0].function.arguments`` (when the request has ``tools``);
- ``GET /v1/models``: one model;
- ``/v1/files`` and ``/v1/batches``: a Batch API whose lines this fake answers
  (``tests.support.fake_batches``, ``fake.batches`` for its cues and counters);
- ``GET /fake/stats``, ``POST /fake/script`` (``{"key": ..., "steps": [...]}``),
  ``POST /fake/reset``: control for a fake running in another process (not counted as requests).

How an answer is generated (``answer_for``): the user message of ``prompts/summarize.j2`` shows
the article as numbered sentences (``S3: ...``) between two identical ``<<ARTICLE-...>>`` lines,
then its quotations (``Q1 in S5, choose: A | B | unnamed``) and numbers (``N1 in S4: at least
eight``). The request's answer schema (``response_format.json_schema.schema``, the json_object
``schema``, or the tool's ``parameters``) holds the ids and names allowed for this article as
enums. The fake fills that schema: one event citing the first body sentence whose own first words
make a ``what`` the prose checks accept (no number split off its scale, the negation kept), one
figure (the first number, ``counts`` from the words after it), for every quotation the first name
offered that the article gives in the quotation's paragraph or the two before it (else
"unnamed"), wire agencies named in the article as sources, no claims. Without a schema the
prompt's own lists are used; a prompt without ``S`` ids is split into sentences here.

The *article* of a request (for scripts, marker lines and ``requests_for``) is the text between
the boundary lines without its ids and header lines: sentences of a paragraph joined by a space,
paragraphs by a blank line, which equals ``Article.text`` for plainly written articles. Without
boundary lines, the joined message text is used instead.

Faults, deterministic and on cue. A *step* is ``kind[:arg][xN|*]``:

======================  =====================================================================
``ok``                  a normal answer
``429[:s]``             429 with ``retry-after`` (s, may be fractional) and ``retry-after-ms``
``500`` ``503`` (any    that HTTP status with an OpenAI-style error body, at once
4xx/5xx, e.g. ``401``
``400`` ``404``)
``timeout[:s]``         wait ``s`` seconds (default ``timeout_delay``), then answer normally
                        (if the client is still there)
``reset``               close the connection without answering
``truncated``           200, content cut off mid-JSON, ``finish_reason`` "stop"
``length``              200, partial content, ``finish_reason`` "length"
``refusal``             200, ``message.refusal`` set, content null
``content_filter``      200, content null, ``finish_reason`` "content_filter"
``empty``               200, ``choices: []``
``invalid``             200, valid JSON that is not schema-valid (no ``headline``)
``ungrounded``          200, schema-valid and citing a real sentence, but every event's ``what``
                        is "Aliens landed in Paris" (``UNGROUNDED_WHAT``): no event survives the
                        prose checks, so the strict grounding check re-asks
``reject_json_schema``  a request with ``response_format`` type ``json_schema`` gets the 500
                        llama-cpp-python's server answers it with (a HAND-WRITTEN replay of its
                        error shape, see ``llama_cpp_python_json_schema_refusal``); a request in
                        any other form is answered normally. The step is used up either way.
======================  =====================================================================

``xN`` repeats a step N times; ``*`` repeats it forever (later steps are ignored). After the
last step every request is answered normally. Two ways to cue:

- in the article text, a line ``FAULT: 500x2, ok`` (the first two requests for *this article*
  get 500, then normal). Marker lines are never used to build answers.
- ``fake.script(key, ["500", "500", "ok"])``: the next requests whose article contains ``key``
  (or whose article's sha256 hex equals ``key``) take these steps in order. Scripts are tried in
  the order they were added; a script replaces an earlier one with the same key, and wins over a
  marker line.

A whole server that refuses a structured-output form, for every article: ``reject_modes``
(``FakeServer(reject_modes={"json_schema"})``, ``--reject-mode json_schema``). ``json_schema`` is
refused as llama-cpp-python's server refuses it (the 500 above); ``json_object`` with an
OpenAI-style 400 naming ``response_format`` (hand-written too). Such a refusal comes after the key
check and the rate limits, and does not use up a scripted step.

Latency: every 200 answer waits ``latency`` seconds (``asyncio.sleep``, never blocking); HTTP-error
faults and ``reset`` act at once.

Limits: ``rpm`` requests and ``tpm`` tokens per ``window`` seconds (default 60), as a sliding
window over admitted requests. A request's tokens are its prompt estimate (body bytes / 4) plus
its ``max_tokens``/``max_completion_tokens``, as OpenAI reserves them. Over a limit: 429 with
``retry-after``/``retry-after-ms`` (the time until enough of the window expires); a 429 does not
use up a scripted step.

Counters (exact, thread-safe): ``requests`` (every ``/v1/`` request), ``requests_for(substring)``
(chat requests whose article contains it), ``status_counts`` (statuses of the responses sent),
``fault_counts`` (steps served: "ok", "500", ..., plus "rpm"/"tpm"/"auth" for limiter/key
answers and "reject_json_schema"/"reject_json_object" for refused forms), ``log`` (one ``Seen`` per ``/v1/`` request, with arrival time and ``max_tokens``).

Use in-process (own thread and event loop)::

    with FakeServer(latency=0.01, rpm=None, tpm=None, window=60) as fake:
        fake.base_url  # http://127.0.0.1:<free port>/v1

or as a separate process for benchmarks (no shared GIL); it prints ``FAKE_OPENAI_URL=...``::

    python -m tests.support.fake_openai --port 0 --latency 0.2 --rpm 600
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tests.support.fake_batches import FakeBatches

HOST = "127.0.0.1"
DEFAULT_MODEL = "fake-model"
REFUSAL_TEXT = "I'm sorry, but I can't help with that request. (fake refusal)"
MAX_BODY_BYTES = 256 * 1024 * 1024  # a Batch API file may be 200 MB
MAX_REPEAT = 10_000

ANSWER_KINDS = frozenset(
    {"ok", "truncated", "length", "refusal", "content_filter", "empty", "invalid", "ungrounded"}
)
OTHER_KINDS = frozenset({"timeout", "reset", "reject_json_schema"})
REJECTABLE_MODES = frozenset({"json_schema", "json_object", "grammar"})

_STEP = re.compile(
    r"^(?P<kind>[a-z_]+|[45]\d\d)(?::(?P<arg>\d+(?:\.\d+)?))?(?:x(?P<n>\d+)|(?P<forever>\*))?$"
)
_MARKER = re.compile(r"^FAULT:[ \t]*(?P<spec>.*?)[ \t]*$", re.MULTILINE)


# --------------------------------------------------------------------------- fault scripts


@dataclass(frozen=True)
class Step:
    kind: str
    arg: float | None = None


def parse_steps(steps: Iterable[str] | str) -> tuple[list[Step], Step | None]:
    """``["500x2", "ok"]`` or ``"500x2, ok"`` -> (steps in order, the step repeated forever)."""
    tokens = re.split(r"[,\s]+", steps) if isinstance(steps, str) else list(steps)
    out: list[Step] = []
    for raw in tokens:
        token = str(raw).strip().lower()
        if not token:
            continue
        m = _STEP.match(token)
        kind = m.group("kind") if m else ""
        if not m or not (kind in ANSWER_KINDS or kind in OTHER_KINDS or kind.isdigit()):
            raise ValueError(f"unknown fault step {raw!r}; see tests/support/fake_openai.py")
        arg = float(m.group("arg")) if m.group("arg") else None
        step = Step(kind, arg)
        if m.group("forever"):
            return out, step
        count = int(m.group("n") or 1)
        if count > MAX_REPEAT:
            raise ValueError(f"fault step {raw!r}: at most {MAX_REPEAT} repeats")
        out.extend([step] * count)
    return out, None


class Script:
    """A queue of fault steps; plain answers once it runs out (unless it ends in ``*``)."""

    def __init__(self, key: str, steps: Iterable[str] | str) -> None:
        self.key = key
        self.steps, self.forever = parse_steps(steps)
        self.used = 0

    def next(self) -> Step:
        self.used += 1
        if self.used <= len(self.steps):
            return self.steps[self.used - 1]
        return self.forever or Step("ok")


# --------------------------------------------------------------------------- the prompt

# What prompts/summarize.j2 (schema v2) shows between and after its boundary lines.
_BOUNDARY_LINE = re.compile(r"^<<ARTICLE-[A-Za-z0-9_-]+>>$")
_HEADER_LINE = re.compile(r"^(Title|Published|Publisher): ")
_UNIT_LINE = re.compile(r"^(?P<id>S\d+): (?P<text>.*)$")
_QUOTATION_LINE = re.compile(r"^(?P<id>Q\d+) in (?P<sentence>S\d+), choose: (?P<names>.+)$")
_NUMBER_LINE = re.compile(r"^(?P<id>N\d+) in (?P<sentence>S\d+): (?P<text>.+)$")
_WITHHELD_LINE = re.compile(r"^\[passage withheld\b.*\]$")
_SENTENCE_END = re.compile(r"[.!?]+[\"\u201d\u2019)\]]*(?=\s|$)")


@dataclass(frozen=True)
class Offer:
    """The units a prompt offers: its numbered sentences by paragraph, then the quotation lines
    (``Q1 in S5, choose: A | B | unnamed``) and number lines (``N1 in S4: at least eight``).

    ``withheld`` marks the paragraphs that are the prompt's "[passage withheld ...]" line.
    """

    paragraphs: tuple[tuple[tuple[str, str], ...], ...]  # ((sentence id, text), ...) per paragraph
    quotations: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (id, sentence id, names)
    numbers: tuple[tuple[str, str, str], ...] = ()  # (id, sentence id, text)
    withheld: frozenset[int] = frozenset()  # indexes of withheld-marker paragraphs

    @property
    def sentences(self) -> dict[str, str]:
        return {sid: text for para in self.paragraphs for sid, text in para}

    def near(self, sid: str, before: int = 2) -> str:
        """The text of the paragraph of sentence ``sid`` and the ``before`` paragraphs ahead
        of it (withheld ones show only their marker)."""
        k = next((i for i, para in enumerate(self.paragraphs) if any(s == sid for s, _ in para)), None)
        if k is None:
            return ""
        return "\n\n".join(
            " ".join(t for _, t in para) for para in self.paragraphs[max(0, k - before) : k + 1]
        )

    @property
    def article(self) -> str:
        """The article as the prompt shows it: sentences of a paragraph joined by a space,
        paragraphs by a blank line (equal to ``Article.text`` for plainly written articles)."""
        return "\n\n".join(" ".join(text for _, text in para) for para in self.paragraphs)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(str(p.get("text", "")) for p in parts)
    return ""


def sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, each an exact slice of it (for prompts without ids)."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(paragraph):
        piece = paragraph[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _offer_from_block(block: list[str], after: list[str]) -> Offer:
    if block and _HEADER_LINE.match(block[0]):  # Title:/Published:/Publisher: lines, then a blank
        blank = block.index("") if "" in block else len(block)
        block = block[blank + 1 :]
    paragraphs: list[list[tuple[str, str]]] = [[]]
    withheld: set[int] = set()
    numbered = any(_UNIT_LINE.match(line) for line in block)
    for line in block:
        unit = _UNIT_LINE.match(line) if numbered else None
        if unit:
            paragraphs[-1].append((unit.group("id"), unit.group("text").strip()))
        elif _WITHHELD_LINE.match(line.strip()):
            paragraphs += [[("", line.strip())], []]
            withheld.add(len(paragraphs) - 2)
        elif not line.strip():
            paragraphs.append([])
        elif not numbered:  # a prompt without sentence ids: number the sentences here
            paragraphs[-1] += [("", s) for s in sentences(line.strip())]
            paragraphs.append([])
    kept = [p for p in paragraphs if p]
    withheld_kept = frozenset(
        k for k, p in enumerate(kept) if p[0][0] == "" and _WITHHELD_LINE.match(p[0][1])
    )
    if not numbered:
        counter = itertools.count(1)
        kept = [
            [(sid or (f"S{next(counter)}" if k not in withheld_kept else ""), text) for sid, text in p]
            for k, p in enumerate(kept)
        ]
    quotations, numbers = [], []
    for line in after:
        q = _QUOTATION_LINE.match(line.strip())
        if q:
            names = tuple(n.strip() for n in q.group("names").split(" | ") if n.strip())
            quotations.append((q.group("id"), q.group("sentence"), names))
            continue
        n = _NUMBER_LINE.match(line.strip())
        if n:
            numbers.append((n.group("id"), n.group("sentence"), n.group("text").strip()))
    return Offer(tuple(tuple(p) for p in kept), tuple(quotations), tuple(numbers), withheld_kept)


def offer_from_messages(messages: Any) -> Offer | None:
    """The units of the first user message with two identical ``<<ARTICLE-...>>`` lines.

    The template's optional ``Title:``/``Published:``/``Publisher:`` header lines (ended by a
    blank line) are not article text and are dropped. A block without ``S1:`` ids (an older
    prompt) is split into sentences here and numbered in order.
    """
    if not isinstance(messages, list):
        return None
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        lines = _content_text(message.get("content")).split("\n")
        for i, line in enumerate(lines):
            if not _BOUNDARY_LINE.match(line):
                continue
            try:
                j = lines.index(line, i + 1)
            except ValueError:
                continue
            return _offer_from_block(lines[i + 1 : j], lines[j + 1 :])
    return None


def article_from_messages(messages: Any) -> str | None:
    """The article text shown between the two boundary lines, without the ``S3:`` ids and
    header lines (see ``Offer.article``)."""
    offer = offer_from_messages(messages)
    return None if offer is None else offer.article.strip()


def messages_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    return "\n".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))


def marker_steps(article: str) -> tuple[list[Step], Step | None] | None:
    m = _MARKER.search(article)
    if m is None:
        return None
    try:
        return parse_steps(m.group("spec"))
    except ValueError:
        return None  # an unparseable marker is just article text


# llama.cpp's llguidance grammar for a JSON schema: "%llguidance {}\nstart: %json {...}"
_LLGUIDANCE_JSON = re.compile(r"^%llguidance \{\}\nstart: %json (?P<schema>\{.*\})\s*$", re.DOTALL)


def request_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema a request asks its answer to fit, wherever its form puts it: the forced
    (or first) tool's ``parameters``, ``response_format.json_schema.schema``, or llama.cpp's
    ``response_format`` ``{"type": "json_object", "schema": ...}``."""
    tools = payload.get("tools")
    if isinstance(tools, list) and tools:
        name = _tool_name(payload)
        functions: list[dict[str, Any]] = [
            t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
        ]
        chosen = next((f for f in functions if f.get("name") == name), functions[0] if functions else {})
        parameters = chosen.get("parameters")
        return parameters if isinstance(parameters, dict) else None
    grammar = payload.get("grammar")
    if isinstance(grammar, str) and (found := _LLGUIDANCE_JSON.search(grammar)):
        schema = json.loads(found["schema"])
        return schema if isinstance(schema, dict) else None
    fmt = payload.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        schema = fmt["json_schema"].get("schema")
        return schema if isinstance(schema, dict) else None
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        return dict(fmt["schema"])
    return None


# --------------------------------------------------------------------------- the schema


class _Schema:
    """Just enough JSON Schema to fill one: ``$ref`` into ``$defs``, nullable ``anyOf``,
    ``enum``/``const`` choices, ``maxItems``, ``required``. An empty schema allows anything."""

    def __init__(self, root: dict[str, Any] | None) -> None:
        self.root: dict[str, Any] = root if isinstance(root, dict) else {}
        defs = self.root.get("$defs") or self.root.get("definitions") or {}
        self.defs: dict[str, Any] = defs if isinstance(defs, dict) else {}

    def node(self, node: Any) -> dict[str, Any]:
        """``node`` with ``$ref`` followed and a nullable ``anyOf`` reduced to its non-null part."""
        for _ in range(32):
            if not isinstance(node, dict):
                return {}
            if "$ref" in node:
                node = self.defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
                continue
            options = node.get("anyOf") or node.get("oneOf")
            if isinstance(options, list):
                real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                if real:
                    node = real[0]
                    continue
            return node
        return {}

    def at(self, *path: str) -> dict[str, Any]:
        """The node at ``path`` ("[]" steps into array items); {} where the schema says nothing."""
        node = self.node(self.root)
        for key in path:
            if key == "[]":
                node = self.node(node.get("items", {}))
            else:
                props = node.get("properties")
                node = self.node(props.get(key, {})) if isinstance(props, dict) else {}
        return node

    def choices(self, *path: str) -> tuple[Any, ...] | None:
        """The values allowed at ``path``, or None when any value goes."""
        node = self.at(*path)
        if "enum" in node and isinstance(node["enum"], list):
            return tuple(node["enum"])
        if "const" in node:
            return (node["const"],)
        return None

    def max_items(self, *path: str, default: int) -> int:
        value = self.at(*path).get("maxItems")
        return value if isinstance(value, int) else default

    def max_length(self, *path: str, default: int) -> int:
        value = self.at(*path).get("maxLength")
        return min(value, default) if isinstance(value, int) else default

    def properties(self, *path: str) -> list[str] | None:
        props = self.at(*path).get("properties")
        return list(props) if isinstance(props, dict) else None

    def default(self, node: Any, depth: int = 0) -> Any:
        """A schema-valid filler for a required field this fake knows nothing about."""
        raw = node if isinstance(node, dict) else {}
        if isinstance(raw.get("anyOf"), list) and any(
            isinstance(o, dict) and o.get("type") == "null" for o in raw["anyOf"]
        ):
            return None
        node = self.node(node)
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "array":
            return [self.default(node.get("items", {}), depth + 1) for _ in range(node.get("minItems", 0))]
        if kind == "object" or "properties" in node:
            props = node.get("properties", {}) if depth < 8 else {}
            return {k: self.default(props[k], depth + 1) for k in node.get("required", []) if k in props}
        return {"integer": 0, "number": 0, "boolean": False, "null": None}.get(str(kind), "")


def _counts_something(sentence: str, number: str) -> bool:
    """Whether a word right after ``number`` in ``sentence`` says what it counts."""
    found = re.search(rf"(?<!\w){re.escape(number)}(?!\w)", sentence)  # "5", not the 5 of "15"
    word = re.match(r"[ -]?([^\W\d_][\w'\u2019-]*)", sentence[found.end() :]) if found else None
    return word is not None and word[1].lower() not in _NOT_COUNTED


def _allowed(values: list[str], choices: tuple[Any, ...] | None) -> list[str]:
    return values if choices is None else [v for v in values if v in choices]


# --------------------------------------------------------------------------- generated answers

_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_NOT_COUNTED = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "since",
        "than",
        "that",
        "the",
        "to",
        "was",
        "were",
        "with",
    ]
)
_QUOTE_MARKS = re.compile(r"[\"\u201c\u201d\u00ab\u00bb\u201e]")
_WEEKDAY = re.compile(
    r"\b(?:on |last |this |next )?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
# The negations summarizer.prose looks for: a cut of a sentence must keep its negation.
_NEGATION = re.compile(
    r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|denied|denies|deny|failed|"
    r"unable|не|нет|ни|нічого|ніколи)\b|n['\u2019]t\b",
    re.IGNORECASE,
)
# A word that is (part of) a number: a cut must not end on one ("4.5" of "4.5 million").
_NUMBERISH = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    r"ninety|dozens?|hundreds?|thousands?|millions?|billions?|trillions?|tens|scores|bn|m|k)\b",
    re.IGNORECASE,
)
_SPLIT_DIGITS = re.compile(r"\d\s\d")  # "6 266": a thousands space the prompt made a plain one
_LEADING = frozenset(
    re.findall(
        r"\w+",
        "The A An In On At As But And Or However Meanwhile After Before When While Thanks From "
        "He She They It We I You This That These Those Most Many Some Regional British",
    )
)
_WIRES = ("Reuters", "Associated Press", "AFP", "Agence France-Presse", "Bloomberg")
_TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "conflict, war and peace": (
        "war", "troops", "military", "missile", "missiles", "soldiers", "army", "attack",
        "attacks", "shelling", "ceasefire", "forces", "invasion",
    ),
    "politics": ("election", "minister", "parliament", "president", "government", "vote", "senate"),
    "economy, business and finance": (
        "market", "economy", "bank", "shares", "inflation", "company", "prices", "trade",
    ),
    "disaster, accident and emergency incident": (
        "earthquake", "flood", "floods", "fire", "crash", "hurricane", "explosion", "rescue",
    ),
    "weather": ("rain", "storm", "snow", "heatwave", "temperatures", "forecast"),
    "sport": ("match", "goal", "league", "championship", "season", "coach", "tournament"),
    "health": ("hospital", "virus", "disease", "vaccine", "patients", "doctors"),
    "science and technology": ("research", "scientists", "study", "technology", "software"),
    "crime, law and justice": ("police", "court", "arrested", "trial", "judge", "murder"),
}  # fmt: skip
UNGROUNDED_WHAT = "Aliens landed in Paris"  # the ``ungrounded`` fault's every event
FALLBACK_TOPIC = "society"
UNNAMED = "unnamed"


def names_in(paragraph: str, skip: list[tuple[int, int]] | None = None) -> list[tuple[int, str]]:
    """Runs of two or more capitalised words (exact slices), with their start offsets."""
    skip = skip or []
    words = [
        m for m in _WORD.finditer(paragraph)
        if m.group(0)[0].isupper() and not any(a <= m.start() < b for a, b in skip)
    ]  # fmt: skip
    runs: list[list[re.Match[str]]] = []
    for w in words:
        if runs and runs[-1][-1].end() + 1 == w.start() and paragraph[runs[-1][-1].end()] == " ":
            runs[-1].append(w)
        else:
            runs.append([w])
    out: list[tuple[int, str]] = []
    for run in runs:
        first = next((i for i, w in enumerate(run) if w.group(0) not in _LEADING), len(run))
        if len(run) - first >= 2:
            out.append((run[first].start(), paragraph[run[first].start() : run[-1].end()]))
    return out


def first_words(sentence: str, max_words: int, max_chars: int, *, keep_negation: bool = True) -> str | None:
    """The sentence's own first words, at most ``max_words`` and ``max_chars``: the whole
    sentence when it fits, else a cut that splits no number off its scale and (with
    ``keep_negation``) keeps the sentence's negation. None when no such cut exists."""
    words = sentence.split()
    if len(words) < 2 or _SPLIT_DIGITS.search(sentence):
        return None
    negation = next((i for i, w in enumerate(words) if _NEGATION.search(w)), None)
    for n in range(min(len(words), max_words), 1, -1):
        prefix = " ".join(words[:n])
        if len(prefix) > max_chars:
            continue
        if n == len(words):
            return prefix
        if keep_negation and negation is not None and negation >= n:
            return None  # every shorter cut loses it too
        if _NUMBERISH.search(words[n - 1]):
            continue
        return prefix.rstrip(",;:-\u2013\u2014 ")
    return None


def _names_in_text(name: str, text: str) -> bool:
    """``name``, or its last word, as whole words of ``text`` (ignoring case)."""
    for form in dict.fromkeys((name, name.rsplit(maxsplit=1)[-1] if name.split() else name)):
        if form and re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text, re.IGNORECASE):
            return True
    return False


def _outlet(name: str) -> bool:
    from summarizer.speakers import REPORTS

    return REPORTS.search(name) is not None


def _supported_topics(text: str, *, best: bool = False) -> list[str]:
    """Topics whose cue words the text has, as grounding reads them (``grounding.topics``); with
    ``best``, the one with most cues."""
    from summarizer.grounding.topics import TOPIC_CUES, best_topic, supported
    from summarizer.meaning import lemmas

    words = lemmas(text)
    if best:
        return [t] if (t := best_topic(words)) else []
    return [topic for topic, cues in TOPIC_CUES.items() if supported(cues, words)]


def _topics(text: str) -> list[str]:
    words = Counter(w.lower() for w in _WORD.findall(text))
    scored = sorted(
        ((sum(words[k] for k in keys), topic) for topic, keys in _TOPIC_WORDS.items()),
        key=lambda pair: -pair[0],
    )
    return [topic for score, topic in scored[:2] if score > 0]


@dataclass(frozen=True)
class _Answers:
    good: str
    invalid: str
    ungrounded: str


def _is_marker(text: str) -> bool:
    return _MARKER.match(text) is not None


def _build(offer: Offer, schema: _Schema) -> dict[str, Any]:
    """A v2 answer (``PointerDraft`` shape) to ``offer`` that fits ``schema``: the ids and names
    it picks are the schema's enum values where it has them, else the prompt's."""
    paragraphs = [
        [(sid, text) for sid, text in para if sid and not _is_marker(text)]
        for k, para in enumerate(offer.paragraphs)
        if k not in offer.withheld
    ]
    paragraphs = [p for p in paragraphs if p]
    shown = [s for p in paragraphs for s in p]
    by_id = dict(shown)
    # A first paragraph of one sentence before others is the title: the headline, not an event.
    body = (
        [s for p in paragraphs[1:] for s in p] if len(paragraphs) > 1 and len(paragraphs[0]) == 1 else shown
    )
    article = "\n\n".join(" ".join(t for _, t in p) for p in paragraphs)

    lead = shown[0][1].lstrip("# ") if shown else ""
    headline_chars = schema.max_length("headline", default=110)
    headline = (
        first_words(lead, 15, headline_chars, keep_negation=False) or "Untitled article"[:headline_chars]
    )
    brief_chars = schema.max_length("brief", default=320)
    brief = ""
    for _, text in body[:2]:  # the first two sentences, as many as fit whole
        if len(brief) + len(text) + 1 > brief_chars:
            break
        brief = f"{brief} {text}".strip()
    if not brief and body:
        brief = first_words(body[0][1], 50, brief_chars, keep_negation=False) or ""
    brief = brief or headline[:brief_chars]

    topic_choices = schema.choices("topics", "[]")
    # a faithful model names one topic its cited sentences (the lead, the brief, the event's)
    # are about, else the one the article is most about
    supported = _supported_topics(" ".join([lead, brief, *(t for _, t in body[:1])])) or _supported_topics(
        article, best=True
    )
    topics = (
        _allowed([t for t in _topics(article) if t in supported][:1], topic_choices)
        or _allowed(supported[:1], topic_choices)
        or _allowed([FALLBACK_TOPIC], topic_choices)
    )
    if not topics and topic_choices:
        topics = [str(topic_choices[0])]
    category_choices = schema.choices("events", "[]", "category")
    category = (_allowed(topics, category_choices) or list(category_choices or [FALLBACK_TOPIC]))[0]
    modality = (_allowed(["reported"], schema.choices("events", "[]", "modality")) or ["reported"])[0]

    event_ids = _allowed([sid for sid, _ in body + shown], schema.choices("events", "[]", "sentence"))
    event: dict[str, Any] | None = None
    for sid in dict.fromkeys(event_ids):
        text = by_id[sid]
        what = first_words(text, 12, schema.max_length("events", "[]", "what", default=100))
        if what is None or len(what.split()) < 3:
            continue
        quoted = [(m.start(), m.end()) for m in _QUOTE_MARKS.finditer(text)]
        spans = [(quoted[i][0], quoted[i + 1][1]) for i in range(0, len(quoted) - 1, 2)]
        actor_chars = schema.max_length("events", "[]", "actors", "[]", default=40)
        actors = list(dict.fromkeys(n for _, n in names_in(text, skip=spans) if len(n) <= actor_chars))
        actors = [a for a in actors if not _outlet(a)]  # an outlet reports the event, it is no actor
        actors = actors[: min(2, schema.max_items("events", "[]", "actors", default=2))]
        when = _WEEKDAY.search(text)
        event = {
            "sentence": sid, "what": what, "category": category, "event_type": None,
            "modality": modality, "when": when.group(0) if when else None, "where": None,
            "actors": actors,
        }  # fmt: skip
        break
    if event is None:  # nothing citable that fits: any allowed id, the headline's words
        ids = schema.choices("events", "[]", "sentence") or tuple(by_id) or ("S1",)
        event = {"sentence": str(ids[0]), "what": headline, "category": category, "event_type": None,
                 "modality": modality, "when": None, "where": None, "actors": []}  # fmt: skip
    event_fields = schema.properties("events", "[]")
    if event_fields is not None:  # only what the schema asks for (prompt v6 asks no `when`)
        event = {k: v for k, v in event.items() if k in event_fields}

    # Figures are number ids (prompt v5: our code reads what each counts): the first offered
    # that a word of its sentence says what it counts, as a careful model picks them.
    number_ids = _allowed(
        [nid for nid, sid, text in offer.numbers if sid in by_id and _counts_something(by_id[sid], text)],
        schema.choices("figures", "[]"),
    )
    figures = number_ids[:1] if schema.max_items("figures", default=6) > 0 else []

    quotes: dict[str, str] = {}
    speaker_ids = schema.properties("quotes")
    offered = {qid: (sid, names) for qid, sid, names in offer.quotations}
    for qid in speaker_ids if speaker_ids is not None else list(offered):
        sid, names = offered.get(qid, ("", ()))
        choices = schema.choices("quotes", qid) or names or (UNNAMED,)
        near = offer.near(sid)
        # The first name offered (the article's own attribution comes first) that the article
        # gives in the quotation's paragraph or the two before it; else "unnamed" if offered.
        named = [str(c) for c in choices if c != UNNAMED and _names_in_text(str(c), near)]
        quotes[qid] = named[0] if named else (UNNAMED if UNNAMED in choices else str(choices[0]))

    kind_choices = schema.choices("sources", "[]", "kind")
    kind = (_allowed(["wire agency"], kind_choices) or list(kind_choices or ["other"]))[0]
    sources = [
        {"name": wire, "kind": kind} for wire in _WIRES if re.search(rf"\b{re.escape(wire)}\b", article)
    ][: schema.max_items("sources", default=4)][:2]

    answer: dict[str, Any] = {
        "headline": headline,
        "brief": brief,
        "topics": topics[: schema.max_items("topics", default=3)],
        "events": [event],
        "figures": figures,
        "quotes": quotes,
        "claims": [],
        "sources": sources,
    }
    known = schema.properties()
    if known is not None:  # the schema's own fields only, and every field it requires
        answer = {k: v for k, v in answer.items() if k in known}
        root = schema.node(schema.root)
        for name in root.get("required", []):
            if name not in answer:
                answer[name] = schema.default(root["properties"].get(name, {}))
    return answer


def answer_for(messages: Any, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fake's normal (``ok``) answer to a request with these messages and this answer
    schema (a fresh dict each call)."""
    answer: dict[str, Any] = json.loads(_answers(_dumps(messages), _dumps(schema)).good)
    return answer


def answer_for_request(payload: dict[str, Any]) -> dict[str, Any]:
    """The fake's normal answer to a chat-completions request body."""
    return answer_for(payload.get("messages"), request_schema(payload))


@lru_cache(maxsize=4096)
def _answers(messages_json: str, schema_json: str) -> _Answers:
    messages = json.loads(messages_json)
    offer = offer_from_messages(messages)
    if offer is None:  # no article block: the message text stands in for the article
        text = messages_text(messages)
        offer = _offer_from_block(text.split("\n"), [])
    schema = _Schema(json.loads(schema_json))
    good = _build(offer, schema)
    invalid = {k: v for k, v in good.items() if k != "headline"}
    # Schema-valid, citing a real sentence, but no event survives the prose checks.
    fake_events = [
        {**e, "what": UNGROUNDED_WHAT, "when": None, "where": None, "actors": []}
        for e in good.get("events", [])
    ]
    ungrounded = {**good, "events": fake_events} if "events" in good else good
    return _Answers(_dumps(good), _dumps(invalid), _dumps(ungrounded))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- rate limits


class SlidingWindow:
    """Requests and tokens admitted in the last ``window`` seconds."""

    def __init__(self, rpm: int | None, tpm: int | None, window: float) -> None:
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self.events: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self.events and self.events[0][0] <= horizon:
            self.tokens -= self.events.popleft()[1]

    def admit(self, now: float, tokens: int) -> tuple[str, float] | None:
        """None when admitted, else (which limit, seconds until it would be admitted)."""
        self._expire(now)
        if self.rpm is not None and len(self.events) >= self.rpm:
            oldest = self.events[len(self.events) - self.rpm][0]
            return "rpm", max(0.001, oldest + self.window - now)
        if self.tpm is not None and self.tokens + tokens > self.tpm:
            if tokens > self.tpm:
                return "tpm", self.window  # never fits; OpenAI says "request too large"
            need, freed = self.tokens + tokens - self.tpm, 0
            for at, used in self.events:
                freed += used
                if freed >= need:
                    return "tpm", max(0.001, at + self.window - now)
        self.events.append((now, tokens))
        self.tokens += tokens
        return None

    def headers(self, now: float) -> list[tuple[str, str]]:
        self._expire(now)
        out: list[tuple[str, str]] = []
        reset = f"{max(0.0, self.events[0][0] + self.window - now):.3f}s" if self.events else "0s"
        if self.rpm is not None:
            out += [
                ("x-ratelimit-limit-requests", str(self.rpm)),
                ("x-ratelimit-remaining-requests", str(max(0, self.rpm - len(self.events)))),
                ("x-ratelimit-reset-requests", reset),
            ]
        if self.tpm is not None:
            out += [
                ("x-ratelimit-limit-tokens", str(self.tpm)),
                ("x-ratelimit-remaining-tokens", str(max(0, self.tpm - self.tokens))),
                ("x-ratelimit-reset-tokens", reset),
            ]
        return out


# --------------------------------------------------------------------------- the fake app


@dataclass
class Seen:
    """One ``/v1/`` request as the fake saw it."""

    index: int
    at: float  # time.monotonic() at arrival
    method: str
    path: str
    request_id: str
    subject: str | None = None  # sha256 of the article (or message text) of a chat request
    mode: str | None = None  # "json_schema" | "json_object" | "tools" | "text"
    messages: int = 0  # how many messages the request carried (a re-ask carries more)
    max_tokens: int | None = None
    sampling: tuple[Any, Any] = (None, None)  # the request's (temperature, seed)
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens) of a 200 answer
    fault: str | None = None
    status: int | None = None  # None: no response was sent (reset, client gone)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class _Drop:
    """Close the connection without an answer."""


RESET = _Drop()
GONE = _Drop()

_REASONS = {
    200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}  # fmt: skip
_ERROR_TYPES = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None), 404: ("invalid_request_error", "model_not_found"),
    409: ("conflict_error", None), 422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}  # fmt: skip


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


# HAND-WRITTEN for fault injection, not a recording. llama-cpp-python's server
# (llama_cpp/server/types.py) types ``response_format`` as ``{"type": "text" | "json_object",
# "schema": ...}``; a request with ``{"type": "json_schema", ...}`` fails that validation inside
# the route, and its ``RouteErrorHandler`` (llama_cpp/server/errors.py) wraps any exception other
# than an HTTPException as a 500 "internal_server_error" whose message is ``str(error)``. This
# message is how FastAPI's request-validation error prints for that one error.
LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE = (
    "1 validation error:\n"
    "  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n"
)


def llama_cpp_python_json_schema_refusal() -> Reply:
    """The 500 llama-cpp-python's server answers ``response_format`` type ``json_schema`` with
    (hand-written replay of its error shape, for fault injection)."""
    error = {
        "message": LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE,
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
    return Reply(500, _dumps({"error": error}).encode())


def form_refusal(mode: str) -> Reply:
    """A server's refusal of the structured-output form ``mode`` (hand-written, fault injection)."""
    if mode == "json_schema":
        return llama_cpp_python_json_schema_refusal()
    error = {
        "message": f"response_format type '{mode}' is not supported by this server (fake server)",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
    return Reply(400, _dumps({"error": error}).encode())


def error_reply(status: int, message: str, *, code: str | None = None) -> Reply:
    fallback = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    kind, default_code = _ERROR_TYPES.get(status, fallback)
    error = {"message": message, "type": kind, "param": None, "code": code or default_code}
    body = {"error": error}
    return Reply(status, _dumps(body).encode())


class FakeOpenAI:
    """State, counters and request handling of the fake; ``FakeServer`` adds a thread."""

    def __init__(
        self,
        latency: float = 0.0,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        window: float = 60.0,
        timeout_delay: float = 30.0,
        retry_after: float = 1.0,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        keep_log: bool = True,
        reject_modes: Iterable[str] = (),
    ) -> None:
        if window <= 0 or latency < 0 or timeout_delay < 0 or retry_after < 0:
            raise ValueError("window must be > 0; latency, timeout_delay, retry_after >= 0")
        self.reject_modes = frozenset(reject_modes)
        if not self.reject_modes <= REJECTABLE_MODES:
            raise ValueError(f"reject_modes: only {sorted(REJECTABLE_MODES)} can be refused")
        self.latency = latency
        self.timeout_delay = timeout_delay
        self.retry_after = retry_after
        self.model = model
        self.api_key = api_key
        self.keep_log = keep_log
        self._limits = SlidingWindow(rpm, tpm, window)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._scripts: dict[str, Script] = {}
        self._marker_used: Counter[str] = Counter()
        self._subjects: dict[str, str] = {}
        self._log: list[Seen] = []
        self._requests = 0
        self._status: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self.batches = FakeBatches(self)  # /v1/files and /v1/batches

    # ---- cueing faults

    def script(self, key: str, steps: Iterable[str] | str) -> None:
        """Next requests whose article contains ``key`` (or has sha256 ``key``) take ``steps``."""
        if not key:
            raise ValueError("a script needs a non-empty key")
        new = Script(key, steps)
        with self._lock:
            self._scripts.pop(key, None)
            self._scripts[key] = new

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._marker_used.clear()

    def reset(self) -> None:
        """Forget scripts, counters, log and the rate-limit window."""
        with self._lock:
            self._scripts.clear()
            self._marker_used.clear()
            self._subjects.clear()
            self._log.clear()
            self._requests = 0
            self._status.clear()
            self._faults.clear()
            self._limits = SlidingWindow(self._limits.rpm, self._limits.tpm, self._limits.window)

    # ---- counters

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def status_counts(self) -> dict[int, int]:
        with self._lock:
            return dict(self._status)

    @property
    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults)

    @property
    def log(self) -> list[Seen]:
        with self._lock:
            return list(self._log)

    def requests_for(self, substring: str) -> int:
        """Chat requests whose article (or message text) contains ``substring``."""
        if not self.keep_log:
            raise RuntimeError("requests_for needs keep_log=True")
        with self._lock:
            keys = {k for k, text in self._subjects.items() if substring in text}
            return sum(1 for s in self._log if s.subject in keys)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "status_counts": {str(k): v for k, v in sorted(self._status.items())},
                "fault_counts": dict(sorted(self._faults.items())),
            }

    # ---- request handling

    def _seen(self, method: str, path: str) -> Seen:
        n = next(self._ids)
        seen = Seen(n, time.monotonic(), method, path, f"req_fake_{n:08d}")
        with self._lock:
            self._requests += 1
            if self.keep_log:
                self._log.append(seen)
        return seen

    def _fault(self, seen: Seen, label: str) -> None:
        seen.fault = label
        with self._lock:
            self._faults[label] += 1

    def note_sent(self, seen: Seen | None, status: int) -> None:
        if seen is None:
            return
        seen.status = status
        with self._lock:
            self._status[status] += 1

    def subject_of(self, seen: Seen, messages: Any) -> tuple[str | None, str, str]:
        """A chat request's article (None without boundary lines), its subject (the article or
        the message text) and the subject's sha256, noted on ``seen`` and in the log."""
        article = article_from_messages(messages)
        subject = article if article is not None else messages_text(messages)
        key = hashlib.sha256(subject.encode()).hexdigest()
        seen.subject = key
        if self.keep_log:
            with self._lock:
                self._subjects.setdefault(key, subject)
        return article, subject, key

    def _next_step(self, subject: str, key: str, article: str | None) -> Step:
        with self._lock:
            for script in self._scripts.values():
                if script.key in subject or script.key == key:
                    return script.next()
            if article is None:
                return Step("ok")
            parsed = marker_steps(article)
            if parsed is None:
                return Step("ok")
            steps, forever = parsed
            self._marker_used[key] += 1
            used = self._marker_used[key]
        if used <= len(steps):
            return steps[used - 1]
        return forever or Step("ok")

    async def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        reader: asyncio.StreamReader,
    ) -> tuple[Seen | None, Reply | _Drop]:
        if path.startswith("/fake/"):
            return None, self._control(method, path, body)
        if not path.startswith("/v1/"):
            return None, error_reply(404, f"no route {path} on the fake server")
        seen = self._seen(method, path)
        if path == "/v1/models" and method == "GET":
            self._fault(seen, "ok")
            data = {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}
            ]}  # fmt: skip
            return seen, Reply(200, _dumps(data).encode())
        if (batch_reply := self.batches.handle(method, path, headers, body)) is not None:
            return seen, batch_reply
        if path != "/v1/chat/completions":
            return seen, error_reply(404, f"no route {path} on the fake server")
        if method != "POST":
            return seen, error_reply(405, "use POST for /v1/chat/completions")
        return seen, await self._chat(seen, headers, body, reader)

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/fake/stats" and method == "GET":
            return Reply(200, _dumps(self.stats()).encode())
        if path == "/fake/reset" and method == "POST":
            self.reset()
            return Reply(200, b"{}")
        if path == "/fake/script" and method == "POST":
            try:
                payload = json.loads(body)
                self.script(str(payload["key"]), payload["steps"])
            except (ValueError, KeyError, TypeError) as exc:
                return error_reply(400, f"bad script: {exc}")
            return Reply(200, b"{}")
        return error_reply(404, f"no control route {method} {path}")

    async def _chat(
        self, seen: Seen, headers: dict[str, str], body: bytes, reader: asyncio.StreamReader
    ) -> Reply | _Drop:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
            self._fault(seen, "bad_request")
            return error_reply(400, "the body must be a JSON object with a 'messages' list")
        messages = payload["messages"]
        article, subject, key = self.subject_of(seen, messages)
        seen.mode = _mode_of(payload)
        seen.messages = len(messages)
        budget = payload.get("max_completion_tokens", payload.get("max_tokens"))
        seen.max_tokens = budget if isinstance(budget, int) else None
        seen.sampling = (payload.get("temperature"), payload.get("seed"))
        prompt_tokens = max(1, len(body) // 4)

        refused, limit_headers = self._gate(seen, headers, prompt_tokens)
        if refused is not None:
            return refused
        step = self._next_step(subject, key, article)
        self._fault(seen, step.kind)
        kind = step.kind
        if kind == "reject_json_schema" and seen.mode == "json_schema":
            return llama_cpp_python_json_schema_refusal()  # other forms: a normal answer
        if kind == "reset":
            return RESET
        if kind.isdigit():
            status = int(kind)
            reply = error_reply(status, f"fake fault {status} (cued)")
            if status == 429:
                reply.headers += _retry_after(self.retry_after if step.arg is None else step.arg)
            return reply
        if kind == "timeout":
            delay = self.timeout_delay if step.arg is None else step.arg
            if await _client_left_within(reader, delay):
                return GONE
            kind = "ok"
        elif self.latency > 0:
            await asyncio.sleep(self.latency)
        reply = self._completion(kind, payload, seen, prompt_tokens)
        reply.headers += limit_headers
        return reply

    def _gate(
        self, seen: Seen, headers: dict[str, str], prompt_tokens: int
    ) -> tuple[Reply | None, list[tuple[str, str]]]:
        """The key check, the rate limits and ``reject_modes``, before any scripted step is used."""
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            self._fault(seen, "auth")
            return error_reply(401, "Incorrect API key provided (fake server)."), []
        now = time.monotonic()
        limited = self._limits.admit(now, prompt_tokens + (seen.max_tokens or 0))
        limit_headers = self._limits.headers(now)
        if limited is None:
            if seen.mode in self.reject_modes:  # the whole server refuses this form
                self._fault(seen, f"reject_{seen.mode}")
                return form_refusal(str(seen.mode)), limit_headers
            return None, limit_headers
        which, wait = limited
        self._fault(seen, which)
        what = "requests" if which == "rpm" else "tokens"
        reply = error_reply(
            429,
            f"Rate limit reached for {self.model} on {what} per window "
            f"({which.upper()}); please try again in {_seconds(wait)}s. (fake server)",
        )
        reply.headers += _retry_after(wait) + limit_headers
        return reply, limit_headers

    def _completion(self, kind: str, payload: dict[str, Any], seen: Seen, prompt_tokens: int) -> Reply:
        answers = _answers(_dumps(payload.get("messages")), _dumps(request_schema(payload)))
        broken = {"invalid": answers.invalid, "ungrounded": answers.ungrounded}
        text = broken.get(kind, answers.good)
        finish = "stop"
        if kind in {"truncated", "length"}:
            text = text[: max(1, len(text) // 2)]
            finish = "stop" if kind == "truncated" else "length"
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if kind == "refusal":
            message = {"role": "assistant", "content": None, "refusal": REFUSAL_TEXT}
            text = REFUSAL_TEXT
        elif kind == "content_filter":
            message = {"role": "assistant", "content": None, "refusal": None}
            finish, text = "content_filter", ""
        elif seen.mode == "tools":
            tool_choice = payload.get("tool_choice")
            forced = isinstance(tool_choice, dict) and "function" in tool_choice
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [{
                    "id": f"call_fake_{seen.index:08d}",
                    "type": "function",
                    "function": {"name": _tool_name(payload), "arguments": text},
                }],
            }  # fmt: skip
            if finish == "stop" and not forced:
                finish = "tool_calls"
        completion_tokens = 0 if kind == "empty" else max(1, len(text) // 4)
        seen.usage = (prompt_tokens, completion_tokens)
        choices = [] if kind == "empty" else [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ]  # fmt: skip
        data = {
            "id": f"chatcmpl-fake{seen.index:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(payload.get("model") or self.model),
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return Reply(200, _dumps(data).encode())

    # ---- HTTP/1.1 over asyncio streams

    async def serve(self, port: int, ready: Callable[[int], None], stop: asyncio.Event) -> None:
        """Listen on 127.0.0.1:``port`` (0 = a free one) until ``stop`` is set."""
        connections: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await self._connection(reader, writer)
            except asyncio.CancelledError:
                pass  # shutting down; ending quietly keeps asyncio from logging each connection
            finally:
                connections.discard(task)

        server = await asyncio.start_server(on_connect, HOST, port, backlog=2048)
        ready(server.sockets[0].getsockname()[1])
        try:
            await stop.wait()
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if isinstance(request, Reply):  # malformed: answer and close
                    writer.write(_encode(request, None, keep_alive=False))
                    await writer.drain()
                    return
                method, path, headers, body, keep_alive = request
                seen, reply = await self.handle(method, path, headers, body, reader)
                if reply is RESET:
                    writer.transport.abort()
                    return
                if not isinstance(reply, Reply):  # GONE: the client left
                    return
                self.note_sent(seen, reply.status)
                writer.write(_encode(reply, seen, keep_alive=keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()


def _mode_of(payload: dict[str, Any]) -> str:
    if payload.get("tools"):
        return "tools"
    if isinstance(payload.get("grammar"), str):
        return "grammar"
    fmt = payload.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in {"json_schema", "json_object"}:
        return str(fmt["type"])
    return "text"


def _tool_name(payload: dict[str, Any]) -> str:
    choice = payload.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name", "PointerDraft"))
    tools = payload.get("tools") or [{}]
    function = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
    return str(function.get("name", "PointerDraft"))


def _retry_after(seconds: float) -> list[tuple[str, str]]:
    return [("retry-after", _seconds(seconds)), ("retry-after-ms", str(round(seconds * 1000)))]


async def _client_left_within(reader: asyncio.StreamReader, delay: float) -> bool:
    """Sleep ``delay`` seconds; True as soon as the client closes its end instead."""
    eof = asyncio.ensure_future(reader.read(1))
    try:
        done, _ = await asyncio.wait({eof}, timeout=delay)
    finally:
        if not eof.done():
            eof.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await eof
    return bool(done) and not eof.cancelled() and eof.exception() is None and eof.result() == b""


RequestHead = tuple[str, str, dict[str, str], bytes, bool]


async def _read_request(reader: asyncio.StreamReader) -> RequestHead | Reply | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection between requests
    except asyncio.LimitOverrunError:
        return error_reply(431, "request headers too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return error_reply(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return error_reply(400, "bad content-length")
        if length < 0 or length > MAX_BODY_BYTES:
            return error_reply(413, "request body too large for the fake")
        body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    path, _, headers[":query"] = target.partition("?")
    return method, path, headers, body, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise ConnectionError("chunked body too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _encode(reply: Reply, seen: Seen | None, *, keep_alive: bool) -> bytes:
    reason = _REASONS.get(reply.status, "Status")
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(reply.body))),
        ("connection", "keep-alive" if keep_alive else "close"),
        ("openai-processing-ms", "1"),
        ("server", "fake-openai (test infrastructure)"),
    ]
    if seen is not None:
        headers.append(("x-request-id", seen.request_id))
    head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers + reply.headers
    )
    return head.encode("latin-1") + b"\r\n" + reply.body


# --------------------------------------------------------------------------- in a thread


class FakeServer(FakeOpenAI):
    """The fake on 127.0.0.1 in a background thread with its own event loop.

    ``with FakeServer(latency=0.01) as fake: ...`` -> ``fake.base_url``. All of ``FakeOpenAI``'s
    counters and ``script()`` are safe to call from the test's thread.
    """

    def __init__(
        self,
        latency: float = 0.0,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        port: int = 0,
        window: float = 60.0,
        timeout_delay: float = 30.0,
        retry_after: float = 1.0,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        keep_log: bool = True,
        reject_modes: Iterable[str] = (),
    ) -> None:
        super().__init__(
            latency, rpm, tpm, window=window, timeout_delay=timeout_delay,
            retry_after=retry_after, model=model, api_key=api_key, keep_log=keep_log,
            reject_modes=reject_modes,
        )  # fmt: skip
        self._want_port = port
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake server is not running; use it as a context manager")
        return f"http://{HOST}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> FakeServer:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the fake server did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start()
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()

        def ready(port: int) -> None:
            self.port = port
            self._ready.set()

        await self.serve(self._want_port, ready, self._stop)

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- as a process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_openai",
        description="FAKE OpenAI-compatible server on 127.0.0.1 (test infrastructure; "
        "answers are generated, not a model).",
    )
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--rpm", type=int, default=None, help="requests per window")
    parser.add_argument("--tpm", type=int, default=None, help="tokens per window")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    parser.add_argument("--timeout-delay", type=float, default=30.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--api-key", default=None, help="require this bearer key (else any)")
    parser.add_argument("--log", action="store_true", help="keep a per-request log (memory)")
    parser.add_argument(
        "--reject-mode", action="append", default=[], choices=sorted(REJECTABLE_MODES),
        help="refuse this structured-output form, as llama-cpp-python refuses json_schema (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    app = FakeOpenAI(
        args.latency, args.rpm, args.tpm, window=args.window, timeout_delay=args.timeout_delay,
        retry_after=args.retry_after, model=args.model, api_key=args.api_key, keep_log=args.log,
        reject_modes=args.reject_mode,
    )  # fmt: skip

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(port: int) -> None:
            print(f"FAKE_OPENAI_URL=http://{HOST}:{port}/v1", flush=True)

        await app.serve(args.port, ready, stop)
        print(f"FAKE_OPENAI_STATS={_dumps(app.stats())}", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
