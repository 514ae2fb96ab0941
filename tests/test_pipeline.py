"""The per-article pipeline without HTTP: fitting long archive articles into the context."""

from __future__ import annotations

from summarizer.articles import Article, load_article, normalize_text
from summarizer.pipeline import estimate_tokens, fit_article
from summarizer.settings import EMBEDDED_CONTEXT_WINDOW, Settings
from tests.conftest import ARTICLES

RESIDUE = (
    "ADVERTISEMENT\n\nShare this article: Facebook Twitter WhatsApp\n\n"
    "Photo: Residents of Ćuprija on Sunday. (Balkan Wire)\n\n"
    "— Sector for Emergency Management (@MUP_Vanredne) May 17, 2026\n\n"
)


def long_archive_article() -> Article:
    base = load_article(ARTICLES / "river_flood_liveblog.html")
    parts = [base.text]
    n = 0
    while sum(map(len, parts)) < 26_000:
        n += 1
        parts.append(RESIDUE + f"Update {n}: rescue teams in Paraćin reported {n * 7} more evacuations.")
    return Article(id="long", text=normalize_text("\n\n".join(parts)), title=base.title)


def test_a_25k_article_is_cut_at_a_paragraph_and_flagged() -> None:
    article = long_archive_article()
    assert len(article.text) > 25_000
    settings = Settings()
    fitted, truncated = fit_article(article, settings, EMBEDDED_CONTEXT_WINDOW)
    assert truncated
    assert article.text.startswith(fitted.text)
    assert article.text[len(fitted.text) : len(fitted.text) + 2] == "\n\n"  # a paragraph end
    room = EMBEDDED_CONTEXT_WINDOW - settings.max_output_tokens * (settings.max_reasks + 1)
    assert estimate_tokens(fitted.text) < room
    assert "Dragana Petrović" in fitted.text  # the story itself survives the cut


def test_short_articles_and_unbounded_endpoints_are_not_cut() -> None:
    article = long_archive_article()
    assert fit_article(article, Settings(), None) == (article, False)
    seed = load_article(ARTICLES.parent.parent.parent / "seeds" / "000_63ac3d2bfe42d99d.txt")
    assert fit_article(seed, Settings(), EMBEDDED_CONTEXT_WINDOW) == (seed, False)


def test_one_giant_paragraph_is_cut_at_a_sentence() -> None:
    text = "Word after word makes a sentence. " * 2000
    fitted, truncated = fit_article(Article(id="x", text=text.strip()), Settings(), EMBEDDED_CONTEXT_WINDOW)
    assert truncated and fitted.text.endswith(".") and len(fitted.text) < len(text)
