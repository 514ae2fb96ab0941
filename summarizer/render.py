"""Rendering a record: JSON for machines, Markdown (and HTML, see ``html.py``) for people."""

from __future__ import annotations

from summarizer.schema import IPTC_TOPICS, EventSummary

STATUS_MARK = {
    "confirmed": "confirmed",
    "claimed": "claimed",
    "disputed": "DISPUTED",
    "denied": "DENIED",
    "unverified": "UNVERIFIED",
}


def to_json(record: EventSummary, *, indent: int | None = 2) -> str:
    return record.model_dump_json(indent=indent)


def _md(text: str) -> str:
    """Escape what Markdown would act on in model or article text."""
    out = text.replace("\\", "\\\\")
    for ch in "`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def to_markdown(record: EventSummary) -> str:
    s = record.summary
    p = record.provenance
    lines: list[str] = [f"# {_md(s.headline)}", ""]
    if record.needs_review:
        lines += ["> **Needs review:** some items could not be tied to the article (see below).", ""]
    if record.article.truncated:
        lines += [
            f"> **Truncated:** the model saw the first {len(record.article.text):,} of "
            f"{record.article.chars:,} characters.",
            "",
        ]
    lines += [_md(s.brief), ""]
    topics = ", ".join(f"{t} ({IPTC_TOPICS[t]})" for t in s.topics)
    lines += [f"**Topics:** {topics}", ""]
    if s.events:
        lines += ["## Events", ""]
        for e in s.events:
            bits = [e.category] + ([e.event_type] if e.event_type else []) + [e.modality]
            where = f" — {_md(e.where.place)}" if e.where else ""
            when = f" ({_md(e.when.text)})" if e.when else ""
            lines.append(f"- {_md(e.what)}{where}{when} _[{', '.join(bits)}]_")
            if e.actors:
                lines.append(f"  - Actors: {', '.join(_md(a) for a in e.actors)}")
            if e.casualties and (e.casualties.killed or e.casualties.injured):
                lines.append(
                    f"  - Casualties: killed {e.casualties.killed or '—'}, "
                    f"injured {e.casualties.injured or '—'}"
                )
        lines.append("")
    if s.key_figures:
        lines += ["## Key figures", ""]
        for f in s.key_figures:
            by = f" — {_md(f.given_by)}" if f.given_by else ""
            qual = f" ({f.qualifier})" if f.qualifier != "exact" else ""
            lines.append(f"- **{_md(f.text)}**{qual} {_md(f.counts)}{by}")
        lines.append("")
    if s.quotes:
        lines += ["## Quotes", ""]
        for q in s.quotes:
            role = f", {_md(q.speaker_role)}" if q.speaker_role else ""
            if q.kind == "direct":
                lines.append(f"- “{_md(q.text)}” — {_md(q.speaker)}{role}")
            else:
                lines.append(f"- {_md(q.speaker)}{role} (reported): {_md(q.text)}")
        lines.append("")
    if s.claims:
        lines += ["## Claims", ""]
        for c in s.claims:
            mark = STATUS_MARK[c.status]
            flag = " ⚠" if c.status in {"unverified", "disputed", "denied"} else ""
            lines.append(f"- [{mark}{flag}] {_md(c.statement)} — {_md(c.claimant)}")
        lines.append("")
    if s.sources:
        lines += ["## Sources", ""]
        lines += [f"- {_md(src.name)} ({src.kind})" for src in s.sources]
        lines.append("")
    if record.suspected_injection:
        lines += ["## Suspected prompt injection in the article", ""]
        lines += [f"- “{_md(i.text)}” at {i.start}–{i.end}" for i in record.suspected_injection]
        lines.append("")
    if record.rejected:
        lines += ["## Rejected by grounding (not shown above)", ""]
        lines += [f"- `{r.field}`: {_md(r.value)} — {r.reason}" for r in record.rejected]
        lines.append("")
    st = record.stats
    lines += [
        "---",
        f"_Grounding: {st.items} items, {st.exact} exact, {st.normalized} normalized, "
        f"{st.fuzzy} fuzzy, {st.rejected} rejected._  ",
        f"_Model: {p.model} via {p.backend} ({p.structured_output}); prompt {p.prompt_version}, "
        f"schema {p.schema_version}; {p.attempts} call(s), {p.usage.total_tokens} tokens, "
        f"{p.latency_s:.1f} s._",
    ]
    if p.backend == "embedded":
        lines.append(
            "_Demo-grade embedded model: for newsroom use point --base-url at a real model._"
        )
    return "\n".join(lines) + "\n"
