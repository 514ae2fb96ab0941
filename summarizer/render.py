"""Rendering a record: JSON for machines, Markdown (and HTML, see ``html.py``) for people."""

from __future__ import annotations

from collections.abc import Callable

from summarizer.schema import IPTC_TOPICS, EventSummary, Quote
from summarizer.speakers import UNNAMED

STATUS_MARK = {
    "confirmed": "confirmed",
    "claimed": "claimed",
    "disputed": "DISPUTED",
    "denied": "DENIED",
    "unverified": "UNVERIFIED",
}
FLAGGED_STATUSES = frozenset({"disputed", "denied", "unverified"})


def speaker_label(speaker: str) -> str:
    """A quote's speaker as shown to people: "unnamed" (the article does not say who) reads
    "unnamed speaker", never as if it were a name."""
    return "unnamed speaker" if speaker == UNNAMED else speaker


def attribution_note(q: Quote) -> str | None:
    """Why the quote is given to its speaker, for an editor checking it: the article's own
    reporting clause ("said Mayor Anna Stone"), that it continues an earlier one, that the model
    chose with no clause to go on, or the clause that names nobody ("he said"). None when there
    is nothing to show."""
    a = q.attribution
    if a is None:
        return None
    clause = f"“{a.clause}”" if a.clause else None
    if a.method == "model":
        return "the model's pick: no reporting clause names a speaker, check it"
    if a.method == "continuation" and clause:
        return f"continues {clause}"
    if a.method == "unnamed" and clause:
        return f"{clause}: nobody the article names agrees"
    return clause


def to_json(record: EventSummary, *, indent: int | None = 2) -> str:
    return record.model_dump_json(indent=indent)


def _md(text: str) -> str:
    """Escape what Markdown would act on in model or article text; keep it on one line."""
    out = text.replace("\\", "\\\\")
    for ch in "`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def _banners(r: EventSummary) -> list[str]:
    out = []
    if r.review:
        out.append("> **Needs review:** " + "; ".join(_md(reason) for reason in r.review) + ".")
    elif r.needs_review:  # a record of schema 2.1 or older: any rejection set the flag
        out.append("> **Needs review:** some items could not be tied to the article (see the end).")
    if r.article.truncated:
        out.append(
            f"> **Truncated:** the model saw the first {len(r.article.text):,} of "
            f"{r.article.chars:,} characters."
        )
    return out


def _events(r: EventSummary) -> list[str]:
    out = []
    for e in r.summary.events:
        tags = ", ".join([e.category] + ([e.event_type] if e.event_type else []) + [e.modality])
        where = f" — {_md(e.where.place)}" if e.where else ""
        when = f" ({_md(e.when.text)})" if e.when else ""
        out.append(f"- {_md(e.what)}{where}{when} _[{tags}]_")
        if e.actors:
            out.append(f"  - Actors: {', '.join(_md(a) for a in e.actors)}")
        c = e.casualties
        if c and (c.killed or c.injured):
            out.append(f"  - Casualties: killed {_md(c.killed or '—')}, injured {_md(c.injured or '—')}")
    return out


def _figures(r: EventSummary) -> list[str]:
    out = []
    for f in r.summary.key_figures:
        by = f" — {_md(f.given_by)}" if f.given_by else ""
        qual = f" ({f.qualifier})" if f.qualifier != "exact" else ""
        out.append(f"- **{_md(f.text)}**{qual} {_md(f.counts)}{by}")
    return out


def _quotes(r: EventSummary) -> list[str]:
    out = []
    for q in r.summary.quotes:
        who = _md(speaker_label(q.speaker)) + (f", {_md(q.speaker_role)}" if q.speaker_role else "")
        note = attribution_note(q)
        who += f" ({_md(note)})" if note else ""
        if q.kind == "direct":
            out.append(f"- “{_md(q.text)}” — {who}")
        else:
            out.append(f"- {who} (reported, not verbatim): {_md(q.text)}")
    return out


def _claims(r: EventSummary) -> list[str]:
    return [
        f"- [{STATUS_MARK[c.status]}{' ⚠' if c.status in FLAGGED_STATUSES else ''}] "
        f"{_md(c.statement)} — {_md(c.claimant)}"
        for c in r.summary.claims
    ]


def _sources(r: EventSummary) -> list[str]:
    return [f"- {_md(s.name)} ({s.kind})" for s in r.summary.sources]


def _injections(r: EventSummary) -> list[str]:
    return [f"- “{_md(i.text)}” at characters {i.start}–{i.end}" for i in r.suspected_injection]


def _rejected(r: EventSummary) -> list[str]:
    return [f"- `{r_.field}`: {_md(r_.value)} — {_md(r_.reason)}" for r_ in r.rejected]


SECTIONS: list[tuple[str, Callable[[EventSummary], list[str]]]] = [
    ("Events", _events),
    ("Key figures", _figures),
    ("Quotes", _quotes),
    ("Claims", _claims),
    ("Sources", _sources),
    ("Suspected prompt injection in the article (ignored)", _injections),
    ("Rejected by grounding (not shown above)", _rejected),
]


def _footer(r: EventSummary) -> list[str]:
    st, p = r.stats, r.provenance
    out = [
        "---",
        f"_Grounding: {st.items} items, {st.exact} exact, {st.normalized} normalized, "
        f"{st.fuzzy} fuzzy, {st.rejected} rejected._  ",
        f"_Model: {p.model} via {p.backend} ({p.structured_output}); prompt {p.prompt_version}, "
        f"schema {p.schema_version}; {p.attempts} call(s), {p.usage.total_tokens} tokens, "
        f"{p.latency_s:.1f} s._",
    ]
    if p.backend == "embedded":
        out.append("_Demo-grade embedded model: for newsroom use point --base-url at a real model._")
    return out


def to_markdown(record: EventSummary) -> str:
    s = record.summary
    lines = [f"# {_md(s.headline)}", ""]
    for banner in _banners(record):
        lines += [banner, ""]
    topics = ", ".join(f"{t} ({IPTC_TOPICS[t]})" for t in s.topics)
    lines += [_md(s.brief), "", f"**Topics:** {topics}", ""]
    for title, section in SECTIONS:
        body = section(record)
        if body:
            lines += [f"## {title}", "", *body, ""]
    return "\n".join(lines + _footer(record)) + "\n"
