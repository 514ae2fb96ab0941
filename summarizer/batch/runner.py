"""``BatchRunner``: inputs in, ledger lines out, ``concurrency`` model requests in flight (and a
few more articles in hand: ``books.articles_in_flight``); Ctrl-C,
SIGTERM, a bad key or a full disk stop it with finished work kept and the rest pending."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

import httpx2

from summarizer.articles import Article
from summarizer.batch.books import BatchOptions, articles_in_flight, failure_line, landed
from summarizer.batch.collector import long_run
from summarizer.batch.executor import Executor
from summarizer.batch.intake import Intake, JobQueue
from summarizer.batch.outcome import Outcome, attempt
from summarizer.engine import Engine
from summarizer.errors import SummarizerError
from summarizer.inputs import InputItem
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings
from summarizer.transport import CallStats


class BatchRunner(Intake):
    """One batch run: inputs in, ledger lines out. ``await runner.run(items)`` -> ``Tally``."""

    def __init__(
        self,
        settings: Settings,
        out: Path,
        options: BatchOptions | None = None,
        *,
        progress: Progress | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, out, options, progress)
        self.models: Executor = Engine(
            settings,
            concurrency=self.options.concurrency,
            rpm=self.options.rpm,
            tpm=self.options.tpm,
            transport=transport,
            notify=self.progress.note,  # e.g. "json_schema refused by ...; using json_object"
            calls=self.options.concurrency,
        )
        self._loaded: Callable[[], None] = lambda: None  # ``collector.long_run``'s, in a run

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        async with self._session(total):
            await self._pool(lambda queue, n: self._produce(items, queue, n))
        return self.tally

    async def _pool(self, fill: Callable[[JobQueue, int], Awaitable[None]]) -> None:
        """Workers (``articles_in_flight``: a few more than the requests in flight) take the jobs
        ``fill`` puts in their queue (then one ``None`` per worker), until it is done or the run
        is stopped."""
        queue: JobQueue = asyncio.Queue(maxsize=2 * self.options.concurrency)
        n = articles_in_flight(self.options.concurrency)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(n)]
        producer = asyncio.ensure_future(fill(queue, len(workers)))
        await self._until_stopped(self._drain(producer, workers), [*workers, producer])

    async def _until_stopped(self, main: Coroutine[Any, Any, None], tasks: list[asyncio.Task[Any]]) -> None:
        """Run ``main`` until it ends or the run is stopped; then cancel ``tasks`` with it."""
        everything = asyncio.ensure_future(main)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([everything, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not self._stop.is_set():
                everything.result()
        finally:
            # Ctrl-C, SIGTERM, a bad key, a full disk or a bug: whatever is still running is
            # cancelled before the client and the ledger close; in-flight articles stay pending.
            for task in (*tasks, everything):
                task.cancel()
            await asyncio.gather(*tasks, everything, return_exceptions=True)
            stopper.cancel()

    @contextlib.asynccontextmanager
    async def _session(self, total: int | None) -> AsyncIterator[None]:
        """The ledger open, progress shown, Ctrl-C and SIGTERM caught; on the way out the model
        and the ledger closed, the tally final, a fatal error raised."""
        state = self.ledger.open()
        if state.repaired_bytes:
            self.progress.note(
                f"repaired a torn last line ({state.repaired_bytes} bytes cut) in {self.ledger.out}"
            )
        if state.unreadable_lines:
            self.progress.note(f"{state.unreadable_lines} unreadable ledger lines ignored")
        if state.index_rebuilt:
            self.progress.note(
                f"rebuilt the key index {self.ledger.index.path} from the JSONL ({state.index_rebuilt})"
            )
        self.progress.start(total)
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._interrupt)
        try:
            with long_run() as self._loaded:
                yield
        finally:
            if total is not None and self._stop.is_set():
                # Stopped early: inputs not read yet are pending too.
                self.tally.inputs = max(self.tally.inputs, total)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            await self.models.close()
            await asyncio.to_thread(self.ledger.close)
            await asyncio.sleep(0)  # let the last "written" callbacks update the tally
            self.progress.finish(self.tally)
        if self._fatal is not None:
            raise self._fatal

    def _interrupt(self) -> None:
        self.tally.interrupted = True
        self._stop.set()

    @staticmethod
    async def _drain(producer: asyncio.Future[None], workers: list[asyncio.Task[None]]) -> None:
        await producer
        await asyncio.gather(*workers)

    async def _worker(self, queue: JobQueue) -> None:
        # A worker takes its next article while its last line is on its way to disk (the
        # ledger's group commit, ~20 ms here, was a tenth of each article's turn at 200 ms a
        # call); it has one line in the writer's queue at most. The tally counts a line only
        # once it is on disk, and closing the ledger writes every line queued.
        line: asyncio.Future[None] | None = None
        while (job := await queue.get()) is not None and not self._stop.is_set():
            written = await self._one(*job)
            if line is not None:
                await landed(line)
            line = written
        if line is not None:
            await landed(line)

    async def _one(
        self, item: InputItem, article: Article, key: str, answered: Any = None
    ) -> asyncio.Future[None] | None:
        """One article to its ledger line (``answered``: see ``outcome.attempt``); the line's
        write, not waited for."""
        out = await attempt(
            self.models, item.name, article, key, answered=answered, stopping=self._stop.is_set
        )
        return self._record(out)

    async def _settle(self, out: Outcome) -> None:
        """Put an article's outcome in the books and wait for its line to be on disk."""
        if (written := self._record(out)) is not None:
            await landed(written)

    def _record(self, out: Outcome) -> asyncio.Future[None] | None:
        """Put an article's outcome in the books: the tally, the ledger (the line's write is
        returned), or a stop."""
        self.tally.model_calls += out.requests
        self.tally.throttled += out.throttled
        self.tally.prompt_tokens += out.usage.get("prompt_tokens", 0)
        self.tally.completion_tokens += out.usage.get("completion_tokens", 0)
        if out.fatal is not None:
            self._abort(out.fatal)
            return None
        if out.line is None:
            return None  # stopping: the article stays pending
        if out.note:
            self.progress.note(out.note)
        self._loaded()  # the first article done: what the process keeps is loaded
        key, ok = out.key, not out.failed
        return self._queue_line(out.line, failed=out.failed, then=lambda: self._finish(key, ok=ok))

    async def _failed_article(
        self, name: str, article: Article, key: str, stats: CallStats, err: SummarizerError
    ) -> None:
        """Dead-letter one article (``name``: its input) with what it cost."""
        self._account(stats, err.usage)
        self.progress.note(f"{name}: failed: {err}")
        line = failure_line(key, name, article.id, err)
        await self._append(line, failed=True, then=lambda: self._finish(key, ok=False))
