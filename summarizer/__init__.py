"""summarizer: news article in, validated, source-grounded event summary out.

The public API is the names below; everything else is private to its module.
"""

from summarizer.articles import Article, load_article
from summarizer.errors import SummarizerError
from summarizer.pipeline import Summarizer, summarize
from summarizer.schema import SCHEMA_VERSION, EventSummary
from summarizer.settings import Settings

__all__ = [
    "SCHEMA_VERSION",
    "Article",
    "EventSummary",
    "Settings",
    "Summarizer",
    "SummarizerError",
    "load_article",
    "summarize",
]
__version__ = "0.1.0"
