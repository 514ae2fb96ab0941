"""The seam between the runner and a model: an ``Executor`` turns an article into its record.
``engine.Engine`` is the one every runner uses (the embedded server or an endpoint, started by
the first article that needs it, stopped at the end); a benchmark's stub stands in for it."""

from __future__ import annotations

from typing import Any, Protocol

from summarizer.articles import Article
from summarizer.schema import EventSummary
from summarizer.transport import CallStats


class Executor(Protocol):
    """Turns an article into its record (the seam for stand-ins)."""

    async def summarize(
        self, article: Article, stats: CallStats, *, answered: Any = None
    ) -> EventSummary: ...

    async def close(self) -> None: ...
