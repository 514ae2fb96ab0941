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
    """Whatever survived grounding really is in the article, at the recorded span."""
    text = record.article.text
    from summarizer.alignment import fold

    for item in record.grounding:
        piece = text[item.span.start : item.span.end]
        if item.span.alignment == "exact":
            assert piece == item.value.strip().strip('"“”')
        elif item.span.alignment == "normalized":
            assert fold(piece) == fold(item.value.strip().strip('"“”'))
    for quote in record.summary.quotes:
        assert any(g.field.endswith(".text") and g.value == quote.text for g in record.grounding)
    assert record.stats.items == len(record.grounding) + len(record.rejected)


@pytest.mark.vcr
def test_brief_of_the_seed(model_settings: Any, seed_path: Path) -> None:
    record = _brief(seed_path, model_settings)
    assert record.article.sha256 == load_article(seed_path).sha256
    assert record.provenance.prompt_version == "summarize-v1"
    assert record.provenance.attempts >= 1
    assert record.provenance.usage.total_tokens > 0
    assert "Kyiv" in record.summary.headline or "Ukrain" in record.summary.headline
    _assert_grounded(record)
    # The demo model invents evidence on the seed: grounding must reject it, say why, and flag
    # the brief, instead of showing it.
    if record.rejected:
        assert record.needs_review
        assert all(r.reason for r in record.rejected)
    md = to_markdown(record)
    assert md.startswith("# ")
    assert record.summary.headline.split()[0] in md


@pytest.mark.vcr
def test_brief_of_a_non_conflict_article(model_settings: Any) -> None:
    record = _brief(ARTICLES / "zurich_tram_vote.md", model_settings)
    assert record.article.title is not None and "Zürich" in record.article.title
    assert record.summary.headline
    _assert_grounded(record)


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
