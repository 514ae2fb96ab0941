"""The desk's one model: the embedded llama.cpp server (started in the background when the desk
starts, kept warm) or ``--base-url``, and the async client every brief shares. A model that
cannot start fails every brief with the same message until a restart; ``TimedTransport`` times
each exchange with the endpoint for the brief's record."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

import httpx2

from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.llm import AsyncModelClient, Endpoint
from summarizer.local.embedded import EmbeddedServer
from summarizer.pipeline import resolve_endpoint
from summarizer.prompts import system_message
from summarizer.settings import Settings
from summarizer.transport import Throttle

log = logging.getLogger(__name__)

# Seconds the current brief waited on the endpoint: a list the brief's task sets, one slot.
model_wait: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "summarizer_desk_model_wait", default=None
)


class TimedTransport(httpx2.AsyncBaseTransport):
    """Adds the wall time of each exchange with the endpoint (request sent -> body read) to the
    current brief's tally: the time spent waiting for the model, as opposed to our own work."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            if (wait := model_wait.get()) is not None:
                wait[0] += time.perf_counter() - started

    async def aclose(self) -> None:
        await self._inner.aclose()


class DeskModel:
    """The model client, made once (``client``), and the embedded server behind it if any."""

    def __init__(
        self, settings: Settings, concurrency: int, transport: httpx2.AsyncBaseTransport | None
    ) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._transport = transport
        self._lock: asyncio.Lock | None = None
        self.server: EmbeddedServer | None = None
        self._client: AsyncModelClient | None = None
        self._error: SummarizerError | None = None

    async def client(self) -> AsyncModelClient:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None:
                return self._client
            if self._error is not None:
                raise self._error
            s = self.settings
            try:
                if s.embedded:
                    server = EmbeddedServer.from_settings(s, prefix=system_message())
                    await asyncio.to_thread(server.start)
                    self.server = server
                endpoint = resolve_endpoint(s, self.server)
            except SummarizerError as err:
                # Not retried until a restart: every brief would wait for the same failure.
                self._error = ConfigurationError(
                    f"the model could not start: {err}; fix it and restart summarizer serve"
                )
                log.error("%s", self._error)
                raise self._error from None
            limits = httpx2.Limits(
                max_connections=self.concurrency + 4, max_keepalive_connections=self.concurrency + 4
            )
            inner = self._transport or httpx2.AsyncHTTPTransport(limits=limits)
            self._client = AsyncModelClient(
                endpoint, s, transport=TimedTransport(inner), throttle=Throttle(),
                max_connections=self.concurrency + 4, notify=log.warning,
            )  # fmt: skip
            return self._client

    @property
    def endpoint(self) -> Endpoint | None:
        return self._client.endpoint if self._client is not None else None

    @property
    def error(self) -> str | None:
        return str(self._error) if self._error is not None else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
            self.server = None
