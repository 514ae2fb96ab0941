"""The seam between the runner and a model: ``Executor`` turns a prepared article into an
``Extraction``; ``ModelAccess`` starts the one the settings ask for (the embedded server and an
async client) only when the first article needs it, and stops it at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import httpx2

from summarizer.batch.limits import RateGate
from summarizer.errors import SummarizerError
from summarizer.llm import AsyncModelClient, Endpoint, Extraction
from summarizer.local.embedded import EmbeddedServer
from summarizer.pipeline import Prepared, resolve_endpoint
from summarizer.prompts import system_message
from summarizer.settings import Settings
from summarizer.transport import CallStats, Throttle


class Executor(Protocol):
    """Turns a prepared article into a model answer (the seam for other backends)."""

    endpoint: Endpoint

    async def extract(self, prep: Prepared, stats: CallStats, answered: Any = None) -> Extraction: ...


class ClientExecutor:
    def __init__(
        self, client: AsyncModelClient, settings: Settings, server: EmbeddedServer | None = None
    ) -> None:
        self.client = client
        self.endpoint = client.endpoint
        self.settings = settings
        self.server = server

    async def extract(self, prep: Prepared, stats: CallStats, answered: Any = None) -> Extraction:
        extraction = await self.client.extract(**prep.request(self.settings), stats=stats, answered=answered)
        if self.server is not None and self.server.saves_prefix:  # the prefix's KV state, once
            await asyncio.to_thread(self.server.answered)
        return extraction


class ModelAccess:
    """The run's one executor, started by the first article that needs it."""

    def __init__(
        self,
        settings: Settings,
        *,
        rpm: float | None,
        tpm: float | None,
        concurrency: int,
        transport: httpx2.AsyncBaseTransport | None,
        notify: Callable[[str], None],
        abort: Callable[[SummarizerError], None],
    ) -> None:
        self.settings = settings
        self.rpm, self.tpm, self.concurrency = rpm, tpm, concurrency
        self.throttle = Throttle()  # a 429 pauses every request of the run
        self._transport = transport
        self._notify = notify
        self._abort = abort
        self._executor: Executor | None = None
        self._server: EmbeddedServer | None = None
        self._client: AsyncModelClient | None = None
        self._lock = asyncio.Lock()

    async def executor(self) -> Executor:
        async with self._lock:
            if self._executor is None:
                s = self.settings
                if s.embedded:
                    server = EmbeddedServer.from_settings(s, prefix=system_message())
                    try:
                        await asyncio.to_thread(server.start)
                    except SummarizerError as err:
                        # The model cannot start for any article: stop, do not dead-letter all.
                        self._abort(err)
                        raise
                    self._server = server
                endpoint = resolve_endpoint(s, self._server)
                self._client = AsyncModelClient(
                    endpoint,
                    s,
                    transport=self._transport,
                    throttle=self.throttle,
                    gate=RateGate(self.rpm, self.tpm, endpoint.tokens.count),
                    max_connections=max(self.concurrency, 1) + 4,
                    notify=self._notify,  # e.g. "json_schema refused by ...; using json_object"
                )
                self._executor = ClientExecutor(self._client, s, self._server)
            return self._executor

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
