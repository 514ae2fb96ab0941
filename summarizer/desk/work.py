"""The desk's queue, its workers and the one model client they share.

- One queue, in the order briefs were accepted; ``concurrency`` model calls at a time (1 for the
  embedded model, whose server has one slot). The queue is bounded: a full one refuses new work
  (``QueueFull``, the API's 429 with ``Retry-After``); work accepted before a crash is never refused.
- Exactly once: a brief is keyed by its text like a batch article (``batch.item_key``) and by
  the story's metadata (``store.brief_key``). Submitting a key that is ``done`` is answered from
  the store (no model call); one that is ``queued`` or ``running`` joins it; one that ``failed``
  is queued again (asking again is the desk's retry; ``rerun`` does it by id, and with ``fresh``
  regenerates a done brief: its kept answer forgotten, the model asked again at
  ``REGENERATE_TEMPERATURE`` with a new seed). The model's answer is kept as it arrives:
  a restart, or the same text with a corrected dateline, URL, publisher or title, grounds it
  again without a model call.
- Nothing lost: a brief is in the store before the API answers 202 and ``done`` in it before
  anyone is told; at start, work a crash left ``queued`` or ``running`` is queued again.
- Watching: ``changes`` counts every change of any brief's state or place in the queue;
  ``changed_since`` waits for the next one (the API's long poll), and returns at once on close.
- The model client is made once: the embedded llama.cpp server is started in the background when
  the desk starts (kept warm for every brief) and stopped when it closes, or ``--base-url`` is used.

The store is used from threads of its own (``store.StoreThreads``), so the event loop never waits
on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from openai.types.chat import ChatCompletion

from summarizer.articles import Article
from summarizer.batch.keys import item_key
from summarizer.desk.bodies import REGENERATE_TEMPERATURE
from summarizer.desk.model import DeskModel, model_wait
from summarizer.desk.relayed import relay_keys
from summarizer.desk.store import Row, Store, StoreThreads, brief_id, brief_key
from summarizer.errors import SummarizerError, internal_error
from summarizer.llm import Endpoint
from summarizer.llm.clients import keeper
from summarizer.llm.forms import sampling
from summarizer.settings import Settings
from summarizer.transport import CallStats

log = logging.getLogger(__name__)
T = TypeVar("T")


class QueueFull(SummarizerError):
    """The queue holds ``max_queue`` briefs; ``retry_after`` is a guess of when one frees up."""

    kind = "queue_full"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyDone(SummarizerError):
    """A retry of a brief that is done (regenerate asks the model again)."""

    kind = "done"


@dataclass
class DeskOptions:
    data_dir: Path
    concurrency: int = 1
    max_queue: int = 100
    retention_days: float | None = None  # finished briefs older than this are deleted
    relay: bool = False  # model calls through the call relay (``desk.relay``), which outlives a kill


RETENTION_EVERY_S = 3600.0  # how often old briefs are looked for (and once at start)


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


UNHEALTHY_AFTER = 3  # briefs in a row that failed reaching the model: /healthz says not ok
ENDPOINT_KINDS = frozenset({"endpoint", "authentication"})


class DeskView:
    """What the API reads of the desk: briefs from the store (on the reader thread) and the
    model's state."""

    threads: StoreThreads
    model_access: DeskModel
    _outcomes: deque[str | None]

    @property
    def store(self) -> Store:
        return self.threads.store

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.threads.read(fn, *args, **kwargs)

    async def get(self, bid: str) -> Row | None:
        return await self._read(self.store.get, bid)

    async def record(self, bid: str) -> str | None:
        return await self._read(self.store.record, bid)

    async def recent(self, limit: int, query: str | None, offset: int = 0) -> tuple[list[Row], int]:
        return await self._read(self.store.recent, limit, query, offset)

    async def counts(self) -> dict[str, int]:
        return await self._read(self.store.counts)

    @property
    def endpoint(self) -> Endpoint | None:
        return self.model_access.current_endpoint

    @property
    def model_error(self) -> str | None:
        """Why the model is not usable: it could not start, or the last briefs all failed
        reaching it (a dead endpoint, a revoked key), which ``/healthz`` must not hide."""
        if self.model_access.error is not None:
            return self.model_access.error
        last = self._outcomes
        if len(last) == UNHEALTHY_AFTER and all(o is not None for o in last):
            return f"the last {UNHEALTHY_AFTER} briefs failed reaching the model: {last[-1]}"
        return None


class Desk(DeskView):
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
        self.threads = StoreThreads()
        self._db = self.threads.write
        self._queue: deque[str] = deque()
        self._running: dict[str, float] = {}
        # The last briefs' outcomes: None, or why one failed reaching the model (``model_error``).
        self._outcomes: deque[str | None] = deque(maxlen=UNHEALTHY_AFTER)
        self._wake: asyncio.Condition | None = None
        self._submit_lock: asyncio.Lock | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._warm: asyncio.Task[Any] | None = None
        relay_dir = options.data_dir / "relay" if options.relay else None
        self.model_access = DeskModel(settings, options.concurrency, transport, relay_dir)
        self._timing = _Timing()
        self.started = False
        self.model_calls = 0  # model requests sent by this process (tests and the load bench read it)
        self.changes = 0  # changes of any brief's state or queue place (``changed_since``)
        self._change = asyncio.Event()
        self._closing = False
        self._fresh: set[str] = set()  # queued by ``rerun(fresh=True)``: ask the model anew

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.started:
            return
        self._closing = False
        self._wake = asyncio.Condition()
        self._submit_lock = asyncio.Lock()
        await self.threads.open(self.options.data_dir)
        queued = await self._db(self.store.recover)
        self._queue.extend(queued)
        if queued:
            log.warning("re-queued %d brief(s) left queued or running by the last run", len(queued))
        self._workers = [
            asyncio.create_task(self._worker(), name=f"desk-worker-{i}")
            for i in range(max(1, self.options.concurrency))
        ]
        # Warm the model now, not on the first brief (the embedded server takes a while to load).
        self._warm = asyncio.create_task(self.model_access.start(), name="desk-warm")
        if self.options.retention_days is not None:
            self._workers.append(asyncio.create_task(self._retention(), name="desk-retention"))
        self.started = True

    async def close(self) -> None:
        """Stop the workers (a running brief stays ``running`` and is re-queued on the next
        start), then the model client, the embedded server and the store. Long polls return."""
        self.closing()
        tasks = [*self._workers, *([self._warm] if self._warm else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers = []
        await self.model_access.close()
        await self.threads.close()
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

    # -- watching -------------------------------------------------------------------------

    def closing(self) -> None:
        """The desk is about to close: long polls answer now, not after their wait."""
        self._closing = True
        self._touch()

    def _touch(self) -> None:
        """A brief changed state or place in the queue: wake whoever waits for a change."""
        self.changes += 1
        self._change.set()
        self._change = asyncio.Event()

    async def changed_since(self, seen: int, timeout: float) -> None:
        """Return once ``changes`` is past ``seen`` (at once if it already is, or the desk is
        closing), or after ``timeout`` seconds."""
        if self.changes != seen or self._closing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._change.wait(), timeout)

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
        text_key = item_key(article.text, self.model)
        key = brief_key(text_key, article)
        bid = brief_id(key)
        if article.id in {"desk", "upload"} or not article.id:
            article = replace(article, id=bid)
        async with self._submit_lock:  # one check-and-insert at a time: never two jobs per key
            row = await self._read(self.store.by_key, key) or await self._read(
                self.store.first_version_row, text_key, article
            )
            if row is not None and row.status != "failed":
                return Submission(row, created=False, position=self.position(row.id))
            if len(self._queue) >= self.options.max_queue:
                raise QueueFull(
                    f"the queue is full ({self.options.max_queue} briefs waiting); "
                    "try again after the Retry-After seconds",
                    self.retry_after(),
                )
            row = await self._db(
                self.store.enqueue, key, article, source=source, submitted_at=received_at or time.time(),
                text_key=text_key,
            )  # fmt: skip
            await self._queue_up(row.id)
        return Submission(row, created=True, position=self.position(row.id))

    async def _queue_up(self, bid: str) -> None:
        assert self._wake is not None
        async with self._wake:
            self._queue.append(bid)
            self._wake.notify()
        self._touch()

    async def rerun(self, bid: str, *, fresh: bool) -> Submission | None:
        """Queue a finished brief again: a failed one (retry; a kept answer is grounded again),
        or with ``fresh`` a done or failed one (regenerate: the model is asked anew, at
        ``REGENERATE_TEMPERATURE``). A queued or running brief is left as it is; a done one
        without ``fresh`` raises ``AlreadyDone``. None: no such brief."""
        assert self._submit_lock is not None, "start the desk first"
        async with self._submit_lock:
            row = await self._read(self.store.get, bid)
            if row is None:
                return None
            if row.status in {"queued", "running"}:
                return Submission(row, created=False, position=self.position(bid))
            if row.status == "done" and not fresh:
                raise AlreadyDone(f"brief {bid} is done; regenerate it to ask the model again")
            requeued = await self._db(self.store.requeue, bid, fresh=fresh, at=time.time())
            assert requeued is not None  # finished, and only this lock's holder changes that
            if fresh:
                self._fresh.add(bid)
            await self._queue_up(bid)
        return Submission(requeued, created=True, position=self.position(bid))

    async def delete(self, bid: str) -> bool | None:
        """Delete a brief: True if deleted, False if there was none, None while it runs (its
        answer is on its way; delete it when it is done). A queued one leaves the queue."""
        assert self._submit_lock is not None, "start the desk first"
        async with self._submit_lock:  # not while the same text is being submitted
            if bid in self._running:
                return None
            with contextlib.suppress(ValueError):
                self._queue.remove(bid)
            self._fresh.discard(bid)
            deleted = await self._db(self.store.delete, bid)
            self._touch()
            return deleted

    async def _retention(self) -> None:
        """Delete finished briefs older than the retention, at start and every hour."""
        assert self.options.retention_days is not None
        while True:
            cutoff = time.time() - self.options.retention_days * 86400
            gone = await self._db(self.store.expire, cutoff)
            if gone:
                log.warning(
                    "deleted %d brief(s) finished over %g days ago", gone, self.options.retention_days
                )
            await asyncio.sleep(RETENTION_EVERY_S)

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
        if article is None:  # pragma: no cover - a queued or running brief is never deleted
            return
        await self._db(self.store.start, bid, time.time())
        self._touch()
        started = time.monotonic()
        fresh = bid in self._fresh
        regenerated = await self._regenerating(bid) if fresh else None
        stats = CallStats()
        wait = [0.0]
        token = model_wait.set(wait)
        kept = _Kept(self, bid, stats)
        keeping = keeper.set(kept)
        relaying = relay_keys.set(kept.relayed)
        sampled = sampling.set(regenerated)
        try:
            text_key = item_key(article.text, self.model)
            # An answer kept before a stop, or one for the same text under other metadata.
            stored = None
            if not fresh:
                stored = await self._read(self.store.answer, bid, text_key) or await self._read(
                    self.store.same_text_answer, text_key
                )
            answered = _readable(stored)
            if answered is not None:
                log.info("brief %s: grounding a kept answer (no model call)", bid)
            record = await self.model_access.summarize(article, stats, answered=answered, offload=True)
            record.key = text_key
            line = record.model_dump_json()
        except asyncio.CancelledError:
            raise  # shutting down: the brief stays ``running``, re-queued at the next start
        except SummarizerError as err:
            await self._failed(bid, str(err), err.kind, wait[0], kept.uncounted())
            return
        except Exception as exc:  # one brief never takes the desk down
            log.exception("internal error on brief %s", bid)
            await self._failed(bid, str(internal_error(exc)), "internal", wait[0], kept.uncounted())
            return
        finally:
            sampling.reset(sampled)
            keeper.reset(keeping)
            relay_keys.reset(relaying)
            model_wait.reset(token)
            self.model_calls += stats.requests
        await self._db(
            self.store.finish, bid, record=line, headline=record.summary.headline,
            needs_review=record.needs_review, at=time.time(), model_s=round(wait[0], 4),
            extract_s=record.provenance.latency_s, model_calls=kept.uncounted(),
        )  # fmt: skip
        self._fresh.discard(bid)
        self._touch()
        self._timing.durations.append(time.monotonic() - started)
        self._outcomes.append(None)

    async def _regenerating(self, bid: str) -> tuple[float, int]:
        """A regenerated brief's sampling: a seed of its own for each run of it."""
        row = await self._read(self.store.get, bid)
        runs = row.runs if row is not None else 0
        return REGENERATE_TEMPERATURE, (self.settings.seed or 0) + runs

    async def _failed(self, bid: str, message: str, kind: str, model_s: float, calls: int) -> None:
        log.warning("brief %s failed: %s", bid, message)
        self._outcomes.append(message if kind in ENDPOINT_KINDS else None)
        await self._db(
            self.store.fail, bid, error=message, kind=kind, at=time.time(), model_s=round(model_s, 4),
            model_calls=calls,
        )  # fmt: skip
        self._fresh.discard(bid)
        self._touch()


class _Kept:
    """One brief's ``llm.clients.Keeper``: each call counted in the store before it is sent,
    each answer stored as it arrives (with any transport retries it took), before grounding."""

    def __init__(self, desk: Desk, bid: str, stats: CallStats) -> None:
        self.desk, self.bid, self.stats = desk, bid, stats
        self.counted = 0  # calls of this run already in the store's model_calls
        self.relayed: list[str] = []  # keys of answers the call relay keeps until they are stored

    def uncounted(self) -> int:
        return self.stats.requests - self.counted

    async def sending(self) -> None:
        self.counted += 1
        await self.desk._db(self.desk.store.count_calls, self.bid, 1)

    async def received(self, response: Any) -> None:
        calls, self.counted = self.uncounted(), self.stats.requests
        await self.desk._db(self.desk.store.keep_answer, self.bid, response.model_dump_json(), calls)
        await self.desk.model_access.forget(self.relayed)


def _readable(stored: str | None) -> ChatCompletion | None:
    """A kept answer as the client takes it; one that no longer reads (kept by another version
    of the SDK, say) is ignored: the model is asked again, the brief does not fail."""
    if not stored:
        return None
    try:
        return ChatCompletion.model_validate_json(stored)
    except ValueError:
        log.warning("a kept model answer could not be read; asking the model again")
        return None
