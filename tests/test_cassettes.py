"""Whole runs of ``brief`` replayed from cassettes recorded on the real embedded model.

Re-record with ``make cassettes`` after changing the prompt, schema or request shape.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from summarizer.articles import load_article
from summarizer.pipeline import Summarizer
from summarizer.render import to_markdown
from summarizer.schema import EventSummary
from tests.conftest import ARTICLES, SECRET_HEADERS

CASSETTES = Path(__file__).resolve().parent / "cassettes"


def _brief(path: Path, settings: Any) -> EventSummary:
    with Summarizer(settings) as run:
        return run.summarize(load_article(path))


def _assert_grounded(record: EventSummary) -> None:
    """Every kept item is the article's own text, at the recorded span (v2: all exact)."""
    text = record.article.text
    assert record.grounding, "nothing survived grounding"
    for item in record.grounding:
        assert item.span.alignment == "exact"
        assert text[item.span.start : item.span.end] == item.value
    for quote in record.summary.quotes:
        assert quote.text in text and quote.kind == "direct"
    for figure in record.summary.key_figures:
        assert figure.text in figure.source_text and figure.source_text in text
    for event in record.summary.events:
        assert event.evidence in text
    assert record.stats.items == len(record.grounding) + len(record.rejected)
    assert all(r.reason for r in record.rejected)
    # the flag means the brief shows something to check, and says what; dropped items alone do not set it
    assert record.needs_review == bool(record.review)
    if record.suspected_injection or record.article.truncated:
        assert record.needs_review
    stand_ins = [r for r in record.rejected if "stands in" in r.reason or "check it" in r.reason]
    assert not stand_ins or record.needs_review


def _figures(record: EventSummary) -> dict[str, float | None]:
    return {f.text: f.value for f in record.summary.key_figures}


@pytest.mark.vcr
def test_brief_of_the_seed(model_settings: Any, seed_path: Path) -> None:
    record = _brief(seed_path, model_settings)
    assert record.article.sha256 == load_article(seed_path).sha256
    assert record.provenance.prompt_version == "summarize-v6"
    assert record.provenance.schema_version == "2.2"
    assert record.provenance.attempts == 1
    assert 0 < record.provenance.usage.completion_tokens <= 600
    assert "Kyiv" in record.summary.headline
    _assert_grounded(record)
    quotes = record.summary.quotes
    assert len(quotes) == 5  # every quotation of the article, verbatim
    assert quotes[0].text.startswith("From one side") and quotes[0].speaker == "Leonid Vereshchagin"
    assert quotes[1].text.startswith("Thanks to the timely") and quotes[1].speaker == "Maksym Marchenko"
    assert "did not hit" in quotes[1].text
    # the article never names the man of the Irpin paragraph: his words stay unnamed
    assert [q.speaker for q in quotes[2:]] == ["unnamed"] * 3
    methods = [q.attribution.method if q.attribution else None for q in quotes]
    assert methods == ["clause", "pronoun", "unnamed", "unnamed", "unnamed"]
    for q in quotes[:2]:  # the evidence: the clause and the speaker's words, at their spans
        a = q.attribution
        assert a is not None and a.clause_start is not None and a.speaker_start is not None
        assert record.article.text[a.clause_start : a.clause_end] == a.clause
        assert q.speaker.endswith(record.article.text[a.speaker_start : a.speaker_end].split()[-1])
    assert not {q.speaker for q in quotes} & {"Martin Griffiths", "Antonio Guterres", "Kyrylo Tymoshenko"}
    figures = _figures(record)
    assert figures["6,266"] == 6266 and figures["86"] == 86
    # The model's brief has Mariupol (besieged) among the places reclaimed: no sentence naming
    # Mariupol says anything of the sort, and the lead, which says what was retaken, stands in.
    assert record.summary.brief.startswith("One by one the areas around the capital Kyiv")  # no dateline
    assert ("brief", "names the article never writes of this: Mariupol") in [
        (r.field, r.reason) for r in record.rejected
    ]
    assert record.review == ["a sentence of the brief is the article's (S2): the model's did not hold"]
    assert [e.sentence for e in record.summary.events]  # at least one event survived
    md = to_markdown(record)
    assert md.startswith("# ") and "Leonid Vereshchagin" in md and "6,266" in md


@pytest.mark.vcr
def test_brief_of_a_non_conflict_article(model_settings: Any) -> None:
    record = _brief(ARTICLES / "zurich_tram_vote.md", model_settings)
    assert record.article.title is not None and "Zürich" in record.article.title
    assert "Zürich" in record.summary.headline
    _assert_grounded(record)
    speakers = [q.speaker for q in record.summary.quotes]
    assert "Mélanie Brönnimann" in speakers and "Jörg Šťastný" in speakers  # non-ASCII names kept
    assert record.summary.events and "CHF 1.2 billion" in record.summary.events[0].what


@pytest.mark.vcr
def test_brief_of_a_messy_html_page(model_settings: Any) -> None:
    record = _brief(ARTICLES / "river_flood_liveblog.html", model_settings)
    text = record.article.text
    # Extraction kept the story and dropped page furniture and hidden planted instructions.
    assert "Ćuprija" in text and "1,800" in text
    for residue in ("ADVERTISEMENT", "Share this article", "Cookie settings", "Ignore all previous"):
        assert residue not in text
    assert record.article.publisher == "Balkan Wire"
    _assert_grounded(record)
    assert [q.speaker for q in record.summary.quotes][:2] == ["Dragana Petrović", "Vladimir Milošević"]
    figures = _figures(record)
    assert figures.get("at least 23") == 23 and figures.get("About 1,800") == 1800
    # prompt v6 asks for one or two events; on this page the model gives one, the lead's
    [lead] = record.summary.events[:1]
    assert lead.evidence.startswith("\u0106UPRIJA, Serbia - Floodwater cut off at least 23 villages")


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.rglob("*.yaml"))
    assert files, "no cassettes recorded: run `make cassettes`"
    secret = re.compile(r"sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._-]{8,}", re.IGNORECASE)
    for path in files:
        body = path.read_text(encoding="utf-8")
        assert not secret.search(body), f"{path.name} holds a key"
        for header in SECRET_HEADERS:
            assert not re.search(rf"^\s*{re.escape(header)}:", body, re.IGNORECASE | re.MULTILINE), (
                f"{path.name} holds header {header}"
            )
