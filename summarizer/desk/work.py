"""The desk's queue, its workers and the one model client they share.

- One queue, in the order briefs were accepted; ``concurrency`` model calls at a time (1 for the
  embedded model, whose server has one slot). The queue is bounded: a full one refuses new work
  (``QueueFull``, the API's 429 with ``Retry-After``); work accepted before a crash is never refused.
- Exactly once: a brief is keyed like a batch article (``batch.item_key``). Submitting a key that
  is ``done`` is answered from the store (no model call); one that is ``queued`` or ``running``
  joins it; one that ``failed`` is queued again (asking again is the desk's retry).
- Nothing lost: a brief is in the store before the API answers 202 and ``done`` in it before
  anyone is told; at start, work a crash left ``queued`` or ``running`` is queued again.
- The model client is made once: the embedded llama.cpp server is started in the background when
  the desk starts (kept warm for every brief) and stopped when it closes, or ``--base-url`` is used.

The store is used from one thread of its own (``_db``), so the event loop never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx2

from summarizer.articles import Article
from summarizer.batch.keys import item_key
from summarizer.desk.store import Row, Store, brief_id
from summarizer.embedded import EmbeddedServer
from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.llm import AsyncModelClient, Endpoint
from summarizer.pipeline import build_record, prepare, resolve_endpoint
from summarizer.prompts import system_message
from summarizer.settings import Settings
from summarizer.transport import CallStats, Throttle

log = logging.getLogger("summarizer.desk")
T = TypeVar("T")

_model_wait: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "summarizer_desk_model_wait", default=None
)


class QueueFull(SummarizerError):
    """The queue holds ``max_queue`` briefs; ``retry_after`` is a guess of when one frees up."""

    kind = "queue_full"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
            if (wait := _model_wait.get()) is not None:
                wait[0] += time.perf_counter() - started

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class DeskOptions:
    data_dir: Path
    concurrency: int = 1
    max_queue: int = 100


@dataclass
class Submission:
    row: Row
    created: bool  # False: answered from the store, or joined work already queued or running
    position: int | None = None


@dataclass
class _Timing:
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=20))

    def mean(self) -> float:
        return sum(self.durations) / len(self.durations) if self.durations else 5.0


class Desk:
    """The desk's work: ``async with Desk(settings, options) as desk: await desk.submit(article)``."""

    def __init__(
        self,
        settings: Settings,
        options: DeskOptions,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.model = settings.resolved_model()  # fail on configuration before anything starts
        settings.resolved_api_key()
        self._transport = transport
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-store")
        self._read_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-read")
        self._store: Store | None = None
        self._queue: deque[str] = deque()
        self._running: dict[str, float] = {}
        self._wake: asyncio.Condition | None = None
        self._submit_lock: asyncio.Lock | None = None
        self._client_lock: asyncio.Lock | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._warm: asyncio.Task[Any] | None = None
        self._server: EmbeddedServer | None = None
        self._client: AsyncModelClient | None = None
        self._client_error: SummarizerError | None = None
        self._timing = _Timing()
        self.started = False
        self.model_calls = 0  # model requests sent by this process (tests and the load bench read it)

    # -- lifecycle ------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store write (or the store's opening and closing) on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store read on the reader thread (never queued behind a commit)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, lambda: fn(*args, **kwargs))

    @property
    def store(self) -> Store:
        assert self._store is not None, "start the desk first"
        return self._store

    async def start(self) -> None:
        if self.started:
            return
        self._wake = asyncio.Condition()
        self._submit_lock = asyncio.Lock()
        self._client_lock = asyncio.Lock()
        self._store = await self._db(Store, self.options.data_dir)
        queued = await self._db(self.store.recover)
        self._queue.extend(queued)
        if queued:
            log.warning("re-queued %d brief(s) left queued or running by the last run", len(queued))
        self._workers = [
            asyncio.create_task(self._worker(), name=f"desk-worker-{i}")
            for i in range(max(1, self.options.concurrency))
        ]
        # Warm the model now, not on the first brief (the embedded server takes a while to load).
        self._warm = asyncio.create_task(self._ensure_client(), name="desk-warm")
        self.started = True

    async def close(self) -> None:
        """Stop the workers (a running brief stays ``running`` and is re-queued on the next
        start), then the model client, the embedded server and the store."""
        tasks = [*self._workers, *([self._warm] if self._warm else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
            self._server = None
        self._read_pool.shutdown(wait=True)
        if self._store is not None:
            await self._db(self._store.close)
            self._store = None
        self._pool.shutdown(wait=True)
        self.started = False

    async def __aenter__(self) -> Desk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Desk]:
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    # -- the model ------------------------------------------------------------------------

    async def _ensure_client(self) -> AsyncModelClient:
        assert self._client_lock is not None
        async with self._client_lock:
            if self._client is not None:
                return self._client
            if self._client_error is not None:
                raise self._client_error
            s = self.settings
            try:
                if s.embedded:
                    server = EmbeddedServer.from_settings(s, prefix=system_message())
                    await asyncio.to_thread(server.start)
                    self._server = server
                endpoint = resolve_endpoint(s, self._server)
            except SummarizerError as err:
                # Not retried until a restart: every brief would wait for the same failure.
                self._client_error = ConfigurationError(
                    f"the model could not start: {err}; fix it and restart summarizer serve"
                )
                log.error("%s", self._client_error)
                raise self._client_error from None
            limits = httpx2.Limits(
                max_connections=self.options.concurrency + 4,
                max_keepalive_connections=self.options.concurrency + 4,
            )
            inner = self._transport or httpx2.AsyncHTTPTransport(limits=limits)
            self._client = AsyncModelClient(
                endpoint, s, transport=TimedTransport(inner), throttle=Throttle(),
                max_connections=self.options.concurrency + 4, notify=log.warning,
            )  # fmt: skip
            return self._client

    @property
    def endpoint(self) -> Endpoint | None:
        return self._client.endpoint if self._client is not None else None

    @property
    def model_error(self) -> str | None:
        return str(self._client_error) if self._client_error is not None else None

    # -- queue ----------------------------------------------------------------------------

    def position(self, bid: str) -> int | None:
        """1-based place in the queue of a ``queued`` brief (None when not queued)."""
        try:
            return self._queue.index(bid) + 1
        except ValueError:
            return None

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def retry_after(self) -> int:
        """Seconds until the queue has room, roughly: one brief's time per worker."""
        per = self._timing.mean() / max(1, self.options.concurrency)
        return max(1, min(600, math.ceil(per)))

    async def submit(self, article: Article, *, source: str, received_at: float | None = None) -> Submission:
        """Queue ``article`` unless the store already has (or is making) its brief."""
        assert self._submit_lock is not None, "start the desk first"
        assert self._wake is not None
        key = item_key(article.text, self.model)
        bid = brief_id(key)
        if article.id in {"desk", "upload"} or not article.id:
            article = replace(article, id=bid)
        async with self._submit_lock:  # one check-and-insert at a time: never two jobs per key
            row = await self._read(self.store.by_key, key)
            if row is not None and row.status != "failed":
                return Submission(row, created=False, position=self.position(row.id))
            if len(self._queue) >= self.options.max_queue:
                raise QueueFull(
                    f"the queue is full ({self.options.max_queue} briefs waiting); "
                    "try again after the Retry-After seconds",
                    self.retry_after(),
                )
            row = await self._db(
                self.store.enqueue, key, article, source=source, submitted_at=received_at or time.time()
            )
            async with self._wake:
                self._queue.append(row.id)
                self._wake.notify()
        return Submission(row, created=True, position=self.position(row.id))

    async def get(self, bid: str) -> Row | None:
        return await self._read(self.store.get, bid)

    async def record(self, bid: str) -> str | None:
        return await self._read(self.store.record, bid)

    async def recent(self, limit: int, query: str | None) -> list[Row]:
        return await self._read(self.store.recent, limit, query)

    async def counts(self) -> dict[str, int]:
        return await self._read(self.store.counts)

    # -- workers --------------------------------------------------------------------------

    async def _worker(self) -> None:
        assert self._wake is not None
        while True:
            async with self._wake:
                while not self._queue:
                    await self._wake.wait()
                bid = self._queue.popleft()
                self._running[bid] = time.monotonic()
            try:
                await self._run(bid)
            except Exception:
                # The store could not be read or written (disk full, say): the brief stays as the
                # store last had it (queued or running, so it is run again at the next start) and
                # this worker goes on with the next one.
                log.exception("brief %s: the store failed; it will be run again at the next start", bid)
            finally:
                self._running.pop(bid, None)

    async def _run(self, bid: str) -> None:
        article = await self._read(self.store.article, bid)
        if article is None:  # pragma: no cover - rows are never deleted
            return
        await self._db(self.store.start, bid, time.time())
        started = time.monotonic()
        stats = CallStats()
        wait = [0.0]
        token = _model_wait.set(wait)
        try:
            client = await self._ensure_client()
            endpoint = client.endpoint
            prep = await asyncio.to_thread(prepare, article, self.settings, endpoint)
            extraction = await client.extract(**prep.request(self.settings), stats=stats)
            if self._server is not None and self._server.saves_prefix:  # the prefix's state, once
                await asyncio.to_thread(self._server.answered)
            record = await asyncio.to_thread(build_record, prep, extraction, endpoint)
            record.key = item_key(article.text, self.model)
            line = record.model_dump_json()
        except asyncio.CancelledError:
            raise  # shutting down: the brief stays ``running``, re-queued at the next start
        except SummarizerError as err:
            await self._failed(bid, str(err), err.kind, wait[0], stats)
            return
        except Exception as exc:  # one brief never takes the desk down
            log.exception("internal error on brief %s", bid)
            message = f"internal error on this article: {type(exc).__name__}: {exc}; please report it"
            await self._failed(bid, " ".join(message.split()), "internal", wait[0], stats)
            return
        finally:
            _model_wait.reset(token)
            self.model_calls += stats.requests
        await self._db(
            self.store.finish, bid, record=line, headline=record.summary.headline,
            needs_review=record.needs_review, at=time.time(), model_s=round(wait[0], 4),
            extract_s=extraction.latency_s, model_calls=stats.requests,
        )  # fmt: skip
        self._timing.durations.append(time.monotonic() - started)

    async def _failed(self, bid: str, message: str, kind: str, model_s: float, stats: CallStats) -> None:
        log.warning("brief %s failed: %s", bid, message)
        await self._db(
            self.store.fail, bid, error=message, kind=kind, at=time.time(), model_s=round(model_s, 4),
            model_calls=stats.requests,
        )  # fmt: skip
