"""summarizer: news article in, validated, source-grounded event summary out.

The public API is the names below; everything else is private to its module. They load on
first use (PEP 562), so ``import summarizer`` and ``summarizer --help`` stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from summarizer.articles import Article, load_article
    from summarizer.errors import SummarizerError
    from summarizer.pipeline import Summarizer, summarize
    from summarizer.schema import SCHEMA_VERSION, EventSummary
    from summarizer.settings import Settings

_HOMES = {
    "SCHEMA_VERSION": "summarizer.schema",
    "Article": "summarizer.articles",
    "EventSummary": "summarizer.schema",
    "Settings": "summarizer.settings",
    "Summarizer": "summarizer.pipeline",
    "SummarizerError": "summarizer.errors",
    "load_article": "summarizer.articles",
    "summarize": "summarizer.pipeline",
}
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
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
