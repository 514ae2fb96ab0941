"""The self-contained HTML brief: the summary on the left, the article with its spans on the right.

Same content as the Markdown brief (``render.py``), plus the article itself: every grounded item
(``record.grounding``) and every suspected prompt-injection passage is highlighted in the text,
and every quote, figure, claim and name in the brief links to its span.

Safety: Jinja2 autoescapes everything; article and model text are never marked safe. The page
loads nothing (no fonts, images, CDNs); its one inline style and one inline script are allowed
by a Content-Security-Policy that names their sha256 hashes and nothing else. The only link out
is the article URL, and only when its scheme is http or https.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from summarizer.alignment import fold
from summarizer.render import FLAGGED_STATUSES, STATUS_MARK, attribution_note, speaker_label
from summarizer.schema import IPTC_TOPICS, EventSummary

TEMPLATE = "brief.html.j2"
SCRIPT = "brief.js"
STYLE = "brief.css"

_PARA_BREAK = re.compile(r"\n\s*\n")
_PATH = re.compile(r"^(\w+)\[(\d+)\]\.(.+)$")
_NAME_FIELDS = ("speaker", "claimant", "given_by", "actors", "name", "where.place")


def template_environment(package: str) -> Environment:
    """Autoescaping, strict templates from ``package``'s ``templates/`` (the brief's, the desk's)."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    return template_environment("summarizer")


def sha256_source(text: str) -> str:
    """A CSP source allowing exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def content_security_policy() -> str:
    """Nothing may load; only our own inline style and script (by hash) may apply or run.

    The template includes the same two files, so their rendered text is what was hashed.
    """
    env = environment()
    script = env.get_template(SCRIPT).render()
    style = env.get_template(STYLE).render()
    return "; ".join([
        "default-src 'none'",
        f"script-src {sha256_source(script)}",
        f"style-src {sha256_source(style)}",
        "base-uri 'none'",
        "form-action 'none'",
    ])  # fmt: skip


def safe_url(url: str | None) -> str | None:
    """``url`` if it may be a link (http or https with a host), else None: shown as text."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def kind_of(path: str) -> str:
    """Highlight kind of a grounded field path: quote, clause, figure, evidence, time or name."""
    m = _PATH.match(path)
    head, sub = (m[1], m[3]) if m else (path, "")
    if head == "quotes" and sub == "text":
        return "quote"
    if head == "quotes" and sub == "attribution":
        return "clause"
    if head == "key_figures" and sub == "text":
        return "figure"
    if sub in {"source_text", "evidence"}:
        return "evidence"
    if sub == "when.text":
        return "time"
    return "name" if sub.startswith(_NAME_FIELDS) else "other"


# --------------------------------------------------------------------------- article


@dataclass(frozen=True)
class _Span:
    key: str  # "g-N" (record.grounding[N]) or "inj-N" (record.suspected_injection[N])
    start: int
    end: int
    field: str
    alignment: str  # exact | normalized | fuzzy | injection
    kind: str


@dataclass(frozen=True)
class Segment:
    """A run of article text with one set of covering spans (none: plain text)."""

    text: str
    keys: tuple[str, ...] = ()
    id: str | None = None
    anchors: tuple[str, ...] = ()  # other spans starting here: empty elements with these ids
    classes: str = ""
    fields: str = ""
    title: str = ""


def _spans(record: EventSummary) -> list[_Span]:
    n = len(record.article.text)
    out = [
        _Span(f"g-{i}", max(0, g.span.start), min(n, g.span.end), g.field, g.span.alignment,
              kind_of(g.field))
        for i, g in enumerate(record.grounding)
    ]  # fmt: skip
    out += [
        _Span(f"inj-{i}", max(0, j.start), min(n, j.end), f"suspected_injection[{i}]",
              "injection", "injection")
        for i, j in enumerate(record.suspected_injection)
    ]  # fmt: skip
    return [s for s in out if s.start < s.end]


def _segment(text: str, a: int, b: int, cover: list[_Span], seen: set[str]) -> Segment:
    if not cover:
        return Segment(text[a:b])
    inner = min(cover, key=lambda s: (s.end - s.start, s.key))
    new = [s.key for s in cover if s.key not in seen]
    seen.update(new)
    classes = [s.key for s in cover] + [f"a-{inner.alignment}", f"k-{inner.kind}"]
    if any(s.kind == "injection" for s in cover):
        classes.append("inj")
    if len(cover) > 1:
        classes.append("multi")
    return Segment(
        text=text[a:b],
        keys=tuple(s.key for s in cover),
        id=new[0] if new else None,
        anchors=tuple(new[1:]),
        classes=" ".join(classes),
        fields=" ".join(s.field for s in cover),
        title="\n".join(f"{s.field} ({s.alignment})" for s in cover),
    )


def article_paragraphs(record: EventSummary) -> list[list[Segment]]:
    """The article split into paragraphs, and each paragraph at every span boundary.

    Spans may overlap or nest; a segment lists every span covering it. The first segment of
    each span carries its key as ``id``; when several spans start at one segment, the others
    get empty anchor elements with their ids just before it. Paragraph breaks are not
    rendered, so a span across one loses only that whitespace.
    """
    text = record.article.text
    spans = _spans(record)
    cuts = {p for s in spans for p in (s.start, s.end)}
    breaks = [(m.start(), m.end()) for m in _PARA_BREAK.finditer(text)]
    bounds = [0, *(p for br in breaks for p in br), len(text)]
    seen: set[str] = set()
    paragraphs: list[list[Segment]] = []
    for start, end in zip(bounds[::2], bounds[1::2], strict=True):
        if not text[start:end].strip():
            continue
        points = sorted({start, end} | {c for c in cuts if start < c < end})
        paragraphs.append([
            _segment(text, a, b, [s for s in spans if s.start <= a and b <= s.end], seen)
            for a, b in pairwise(points)
        ])  # fmt: skip
    return paragraphs


# --------------------------------------------------------------------------- brief -> spans


def _same_words(grounded: str, shown: str) -> bool:
    """The article's words of a grounded name are those the brief shows: equal ignoring case
    and quote or dash style ("RIVERTON" for "Riverton"), or whole words of it (the surname
    "Tymoshenko" the article uses near a quotation, for the speaker "Kyrylo Tymoshenko")."""
    g, s = fold(grounded), fold(shown)
    return bool(g) and f" {g} " in f" {s} "


class Links:
    """Finds the grounding entry of an item shown in the brief, as a span key or None.

    Grounding paths name items by their index in ``record.summary`` (what was kept), so the
    i-th quote shown links to ``quotes[i].text``; the value must match what the brief shows.
    Grounding (schema 2.0) records the article's own spelling of a name, which may differ in
    case or be its last word only: such a value matches by its words (``_same_words``).
    """

    def __init__(self, record: EventSummary) -> None:
        self.grounding = record.grounding
        self.by_path: dict[str, int] = {}
        for i, g in enumerate(record.grounding):
            self.by_path.setdefault(g.field, i)

    def __call__(self, name: str, index: int, sub: str, value: str | None) -> str | None:
        n = self.by_path.get(f"{name}[{index}].{sub}")
        if value is None or n is None:
            return None
        grounded = self.grounding[n].value
        if grounded != value and not _same_words(grounded, value):
            return None
        return f"g-{n}"


def to_html(record: EventSummary) -> str:
    """One self-contained HTML page for ``record`` (no network, no external resources)."""
    article = record.article
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            record=record,
            s=record.summary,
            p=record.provenance,
            st=record.stats,
            csp=content_security_policy(),
            url=safe_url(article.url),
            paragraphs=article_paragraphs(record),
            link=Links(record),
            iptc=IPTC_TOPICS,
            status_mark=STATUS_MARK,
            flagged=FLAGGED_STATUSES,
            speaker_label=speaker_label,
            attribution_note=attribution_note,
        )
    )
