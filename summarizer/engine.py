"""The engine: the model of one run and one article through the pipeline, for every async user
(``batch`` in all its forms, the desk, a Ray actor). ``brief`` is its sync face
(``pipeline.Summarizer``), on the same ``open_endpoint`` and the same steps.

    engine = Engine(settings, concurrency=16)
    record = await engine.summarize(article, CallStats())   # starts the model on first use
    await engine.close()                                    # stops what it started

Started once, on first use (``start``), under a lock: the embedded llama.cpp server when no
endpoint is configured, else the endpoint; then one ``AsyncModelClient`` (a 429 pauses every
request: one ``Throttle``; ``rpm``/``tpm``: one ``RateGate``). A model that cannot start fails
every later call with the same ``ConfigurationError`` (nothing to retry until the cause is
fixed), so a batch stops and a desk says so on every brief.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx2

from summarizer.articles import Article
from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.limits import RateGate
from summarizer.llm import AsyncModelClient, Endpoint, Extraction
from summarizer.local.embedded import EmbeddedServer
from summarizer.pipeline import Prepared, build_record, open_endpoint, prepare
from summarizer.schema import EventSummary
from summarizer.settings import Settings
from summarizer.transport import CallStats, Throttle

Wrap = Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport]


class Engine:
    """The model of one run, started on first use, and the per-article pipeline over it."""

    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = 4,
        rpm: float | None = None,
        tpm: float | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        wrap: Wrap | None = None,
        notify: Callable[[str], None] | None = None,
        hint: str | None = None,
        calls: int | None = None,
    ) -> None:
        self.settings = settings
        self.calls = calls  # most model requests awaiting their answer at once; None: no limit
        self._hint = hint  # what to do when the model cannot start, after the reason
        self.concurrency = concurrency
        self.rpm, self.tpm = rpm, tpm
        self.throttle = Throttle()  # a 429 pauses every request of the run
        self._transport = transport
        self._wrap = wrap
        self._notify = notify
        self.server: EmbeddedServer | None = None
        self._client: AsyncModelClient | None = None
        self._error: ConfigurationError | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def endpoint(self) -> Endpoint:
        assert self._client is not None, "await engine.start() first"
        return self._client.endpoint

    @property
    def started(self) -> bool:
        return self._client is not None

    @property
    def error(self) -> str | None:
        return str(self._error) if self._error is not None else None

    async def start(self) -> AsyncModelClient:
        """The client, made once: the model started (or the endpoint resolved) first."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None:
                return self._client
            if self._error is not None:
                raise self._error
            try:
                self.server, endpoint = await asyncio.to_thread(open_endpoint, self.settings)
            except SummarizerError as err:
                # Not retried: every article would wait for the same failure.
                hint = f"; {self._hint}" if self._hint else ""
                self._error = ConfigurationError(f"the model could not start: {err}{hint}")
                raise self._error from None
            connections = max(self.concurrency, 1) + 4
            limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
            inner = self._transport or httpx2.AsyncHTTPTransport(limits=limits)
            self._client = AsyncModelClient(
                endpoint, self.settings, transport=self._wrap(inner) if self._wrap else inner,
                throttle=self.throttle, gate=RateGate(self.rpm, self.tpm, endpoint.tokens.count),
                max_connections=connections, notify=self._notify,
                calls=asyncio.Semaphore(self.calls) if self.calls else None,
            )  # fmt: skip
            return self._client

    async def extract(self, prep: Prepared, stats: CallStats, answered: Any = None) -> Extraction:
        """The model's answer for a prepared article (``answered``: made already, see
        ``AsyncModelClient.extract``), validated and grounded by the check in ``prep``."""
        client = await self.start()
        extraction = await client.extract(**prep.request(self.settings), stats=stats, answered=answered)
        if self.server is not None and self.server.saves_prefix:  # the prefix's KV state, once
            await asyncio.to_thread(self.server.answered)
        return extraction

    async def summarize(
        self, article: Article, stats: CallStats, *, answered: Any = None, offload: bool = False
    ) -> EventSummary:
        """One article to its record. ``offload``: prepare and ground on a worker thread (the
        desk, whose event loop serves pages meanwhile); a batch keeps them on its loop."""
        await self.start()
        endpoint = self.endpoint
        if offload:
            prep = await asyncio.to_thread(prepare, article, self.settings, endpoint)
        else:
            prep = prepare(article, self.settings, endpoint)
        extraction = await self.extract(prep, stats, answered)
        if offload:
            return await asyncio.to_thread(build_record, prep, extraction, endpoint)
        return build_record(prep, extraction, endpoint)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.server is not None:
            await asyncio.to_thread(self.server.close)
            self.server = None
