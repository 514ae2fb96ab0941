"""The desk's one model: the engine (``summarizer.engine``: the embedded llama.cpp server,
started in the background when the desk starts and kept warm, or ``--base-url``) shared by every
brief. A model that cannot start fails every brief with the same message until a restart;
``TimedTransport`` times each exchange with the endpoint for the brief's record. With a relay folder,
calls to an endpoint go through the call relay (``relayed``), which outlives a ``kill -9``; the
embedded server dies with the desk, so its calls are made directly."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from pathlib import Path

import httpx2

from summarizer.desk.relayed import RelayHandle, RelayTransport
from summarizer.engine import Engine
from summarizer.errors import ConfigurationError
from summarizer.llm import AsyncModelClient, Endpoint
from summarizer.settings import Settings

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


class DeskModel(Engine):
    """The desk's engine: each exchange timed for the brief's record (``TimedTransport``), through
    the call relay when ``relay_dir`` is given and the model is an endpoint, a model that cannot
    start logged once and named on every brief until a restart."""

    def __init__(
        self,
        settings: Settings,
        concurrency: int,
        transport: httpx2.AsyncBaseTransport | None,
        relay_dir: Path | None = None,
    ) -> None:
        super().__init__(
            settings, concurrency=concurrency, transport=transport, wrap=self._wrapped,
            notify=log.warning, hint="fix it and restart summarizer serve",
        )  # fmt: skip
        self.relay = RelayHandle(relay_dir) if relay_dir is not None and not settings.embedded else None
        self.relaying: RelayTransport | None = None

    def _wrapped(self, inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        if self.relay is not None:
            self.relaying = RelayTransport(inner, self.relay, connections=self.concurrency + 4)
            inner = self.relaying
        return TimedTransport(inner)

    async def start(self) -> AsyncModelClient:
        first = self.error is None
        if self.relay is not None and not self.started:
            await self.relay.found()
        try:
            return await super().start()
        except ConfigurationError as err:
            if first:
                log.error("%s", err)
            raise

    async def forget(self, keys: list[str]) -> None:
        """The relay may drop these answers: they are in the store."""
        if self.relaying is not None:
            await self.relaying.forget(keys)

    async def close(self) -> None:
        await super().close()
        if self.relay is not None:  # it finishes (and keeps) the calls still in flight, then exits
            await asyncio.to_thread(self.relay.quit)
        self.relaying = None

    @property
    def current_endpoint(self) -> Endpoint | None:
        """The endpoint once the model is up, else None (the page says "starting")."""
        return self.endpoint if self.started else None
