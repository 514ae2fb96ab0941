"""Batch runs over an archive: the per-article pipeline of ``brief`` under an async runner.

- Exactly once: each article has a ledger key (sha256 over normalised text, prompt version,
  schema version, model). Keys already in the output are skipped with zero model calls; a key
  seen twice in one run (identical text) is processed once; failures are retried only when
  asked (``retry_failed``).
- Nothing lost: an article counts as done only after its line is fsynced (``ledger.Ledger``);
  bad files become failure lines with the reason; ``inputs = succeeded + failed + pending``.
- Polite: ``concurrency`` articles in flight; client-side requests/min and tokens/min limits
  every HTTP request passes (re-asks and retries included); a 429 pauses the whole runner.

The seam for other executors (the OpenAI Batch API, say) is ``Executor``: anything that turns a
prepared article into an ``Extraction`` can drive the same ledger and tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx2
import orjson
from aiolimiter import AsyncLimiter

from summarizer.articles import Article
from summarizer.embedded import EmbeddedServer
from summarizer.errors import (
    AuthenticationError,
    BatchError,
    ConfigurationError,
    InputError,
    SummarizerError,
)
from summarizer.inputs import InputItem
from summarizer.ledger import Ledger
from summarizer.ledger_index import KeyState
from summarizer.llm import AsyncModelClient, Endpoint, Extraction
from summarizer.pipeline import Prepared, build_record, prepare, resolve_endpoint
from summarizer.progress import NullProgress, Progress, Tally
from summarizer.prompts import prompt_version, system_message
from summarizer.schema import SCHEMA_VERSION
from summarizer.settings import Settings
from summarizer.tokens import counter_for, estimate_tokens
from summarizer.transport import CallStats, Throttle

EXIT_SOME_FAILED = 8  # documented in the README and `summarizer batch --help`


def item_key(text: str, model: str) -> str:
    """Ledger key: same normalised text, prompt, schema and model -> same work."""
    h = hashlib.sha256()
    for part in (text, prompt_version(), SCHEMA_VERSION, model):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def input_key(name: str) -> str:
    """Key of an input that could not be read (no text to hash): its name."""
    return "input-" + hashlib.sha256(name.encode("utf-8")).hexdigest()


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N), 1 <= K <= N."""
    if value is None:
        return None
    try:
        k, n = (int(x) for x in value.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise ConfigurationError(f"bad --shard {value!r}: use K/N with 1 <= K <= N, e.g. 2/8")
    return k, n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or int(key[:12], 16) % shard[1] == shard[0] - 1


MESSAGE_OVERHEAD_TOKENS = 4  # role and separators of one chat message (OpenAI's own count)


def request_tokens(request: httpx2.Request, count: Callable[[str], int] = estimate_tokens) -> int:
    """Tokens a provider reserves against tokens/min for ``request``, before it runs.

    Providers (OpenAI, Azure) count the prompt, estimated, plus the whole completion budget
    (``max_completion_tokens`` or ``max_tokens``, times ``n``): the answer's tokens are reserved
    whether or not the model writes them. The prompt is what the model reads, the messages and
    tool definitions, counted by ``count`` (the endpoint's ``tokens.TokenCounter``; the high
    estimate by default); a body that is not a chat request counts as its text.
    """
    try:
        body = orjson.loads(request.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return count(request.content.decode("utf-8", "replace"))
    prompt = 0
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        prompt += MESSAGE_OVERHEAD_TOKENS
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            prompt += count(content)
        elif content is not None:  # content parts
            prompt += count(orjson.dumps(content).decode())
        if message.get("tool_calls"):  # an earlier answer carried back in a re-ask
            prompt += count(orjson.dumps(message["tool_calls"]).decode())
    for key in ("tools", "functions"):
        if body.get(key):
            prompt += count(orjson.dumps(body[key]).decode())
    budget = body.get("max_completion_tokens", body.get("max_tokens"))
    n = body.get("n")
    completion = budget if isinstance(budget, int) else 0
    return prompt + completion * (n if isinstance(n, int) and n > 0 else 1)


class RateGate:
    """Client-side requests/min and tokens/min limits, shared by every request of a run.

    Requests are paced, not burst: the request bucket holds one request, so a server counting
    over any sliding window (a minute, or a few seconds) never sees more than its limit; the
    token bucket holds one large request's worth (8192 tokens, or the minute's budget if that is
    smaller). A request is charged ``request_tokens`` (prompt + completion budget, as providers
    count); one larger than the bucket takes it several times over, one larger than the whole
    minute's budget is charged that budget (the provider refuses it anyway). Both run at 98 %.
    """

    def __init__(
        self, rpm: float | None, tpm: float | None, count: Callable[[str], int] = estimate_tokens
    ) -> None:
        self._count = count
        self._rpm = self._bucket(rpm * 0.98, 1.0) if rpm else None
        self._tpm_per_minute = tpm * 0.98 if tpm else 0.0
        self._tpm = self._bucket(self._tpm_per_minute, min(8192.0, self._tpm_per_minute)) if tpm else None

    @staticmethod
    def _bucket(per_minute: float, capacity: float) -> AsyncLimiter:
        return AsyncLimiter(capacity, 60.0 * capacity / per_minute)

    async def __call__(self, request: httpx2.Request) -> None:
        if self._rpm is not None:
            await self._rpm.acquire()
        if self._tpm is not None:
            tokens = min(float(request_tokens(request, self._count)), self._tpm_per_minute)
            while tokens > 0:
                chunk = min(tokens, self._tpm.max_rate)
                await self._tpm.acquire(chunk)
                tokens -= chunk


class Executor(Protocol):
    """Turns a prepared article into a model answer (the seam for other backends)."""

    endpoint: Endpoint

    async def extract(self, prep: Prepared, stats: CallStats) -> Extraction: ...


class _ClientExecutor:
    def __init__(
        self, client: AsyncModelClient, settings: Settings, server: EmbeddedServer | None = None
    ) -> None:
        self.client = client
        self.endpoint = client.endpoint
        self.settings = settings
        self.server = server

    async def extract(self, prep: Prepared, stats: CallStats) -> Extraction:
        extraction = await self.client.extract(**prep.request(self.settings), stats=stats)
        if self.server is not None and self.server.saves_prefix:  # the prefix's KV state, once
            await asyncio.to_thread(self.server.answered)
        return extraction


@dataclass
class BatchOptions:
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    retry_failed: bool = False
    shard: tuple[int, int] | None = None


def _failure_line(key: str, name: str, article_id: str | None, err: SummarizerError) -> bytes:
    return orjson.dumps(
        {
            "key": key,
            "input": name,
            "id": article_id,
            "error_class": type(err).__name__,
            "kind": err.kind,
            "message": str(err),
            "attempts": err.attempts,
            "usage": err.usage,
            "request_id": err.request_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )


class BatchRunner:
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
        self.settings = settings
        self.options = options or BatchOptions()
        self.ledger = Ledger(out)
        self._index = self.ledger.index  # done and failed keys, on disk; open in ``run``
        self.progress = progress or NullProgress()
        self.tally = Tally()
        self.model = settings.resolved_model()
        self._transport = transport
        self._throttle = Throttle()
        self._executor: Executor | None = None
        self._server: EmbeddedServer | None = None
        self._client: AsyncModelClient | None = None
        self._client_lock = asyncio.Lock()
        self._fatal: SummarizerError | None = None
        # In flight (taken, not yet on disk): key -> later copies waiting on it. Bounded by the
        # queue and the workers; every other key lives in the ledger's on-disk index.
        self._waiting_dups: dict[str, int] = {}

    # -- model access, started only when some article needs it ------------------------------

    async def _ensure_executor(self) -> Executor:
        async with self._client_lock:
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
                    throttle=self._throttle,
                    gate=RateGate(self.options.rpm, self.options.tpm, endpoint.tokens.count),
                    max_connections=max(self.options.concurrency, 1) + 4,
                    notify=self.progress.note,  # e.g. "json_schema refused by ...; using json_object"
                )
                self._executor = _ClientExecutor(self._client, s, self._server)
            return self._executor

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)

    # -- the run --------------------------------------------------------------------------

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
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
        queue: asyncio.Queue[tuple[InputItem, Article, str] | None] = asyncio.Queue(
            maxsize=2 * self.options.concurrency
        )
        self.progress.start(total)
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._interrupt)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.options.concurrency)]
        producer = asyncio.create_task(self._produce(items, queue, len(workers)))
        everything = asyncio.ensure_future(self._drain(producer, workers))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([everything, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not self._stop.is_set():
                everything.result()
        finally:
            # Ctrl-C, SIGTERM, a bad key, a full disk or a bug: whatever is still running is
            # cancelled before the client and the ledger close; in-flight articles stay pending.
            for task in (*workers, producer, everything):
                task.cancel()
            await asyncio.gather(*workers, producer, everything, return_exceptions=True)
            if total is not None and self._stop.is_set():
                # Stopped early: inputs not read yet are pending too.
                self.tally.inputs = max(self.tally.inputs, total)
            stopper.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            await self._close_client()
            await asyncio.to_thread(self.ledger.close)
            await asyncio.sleep(0)  # let the last "written" callbacks update the tally
            self.progress.finish(self.tally)
        if self._fatal is not None:
            raise self._fatal
        return self.tally

    def _interrupt(self) -> None:
        self.tally.interrupted = True
        self._stop.set()

    def _abort(self, err: SummarizerError) -> None:
        self._fatal = self._fatal or err
        self._stop.set()

    @staticmethod
    async def _drain(producer: asyncio.Task[None], workers: list[asyncio.Task[None]]) -> None:
        await producer
        await asyncio.gather(*workers)

    async def _produce(
        self,
        items: Iterable[InputItem],
        queue: asyncio.Queue[tuple[InputItem, Article, str] | None],
        n_workers: int,
    ) -> None:
        for item in items:
            try:
                article = item.load()
            except InputError as err:
                await self._bad_input(item, err)
                continue
            except ConfigurationError as err:
                # Wrong for every such input (e.g. the HTML extractor is not installed): stop the
                # run like a bad key; nothing is dead-lettered, a rerun after the fix resumes.
                self._abort(err)
                return
            except Exception as exc:  # an unreadable input never stops the archive
                await self._bad_input(
                    item, InputError(f"{item.name}: cannot read: {type(exc).__name__}: {exc}")
                )
                continue
            key = item_key(article.text, self.model)
            if not in_shard(key, self.options.shard):
                continue
            self.tally.inputs += 1
            self._note_id(article.id, item.name)
            state = self._index.state(key)
            if state is KeyState.SUCCEEDED:
                self.tally.succeeded += 1
                self.tally.already_done += 1
            elif state is not None and not self.options.retry_failed:  # failed, before or this run
                self.tally.failed += 1
            elif key in self._waiting_dups or state is KeyState.FAILED_THIS_RUN:  # taken this run
                self._count_duplicate(key)
                self.progress.note(f"{item.name}: same text as an earlier article; not billed twice")
            else:
                self._waiting_dups[key] = 0
                await queue.put((item, article, key))
            self.progress.update(self.tally)
        for _ in range(n_workers):
            await queue.put(None)

    def _count_duplicate(self, key: str) -> None:
        """Same text as an article already taken this run: it shares that article's outcome."""
        self.tally.duplicates += 1
        if key in self._waiting_dups:
            self._waiting_dups[key] += 1
        elif self._index.state(key) is KeyState.SUCCEEDED:
            self.tally.succeeded += 1
        else:
            self.tally.failed += 1

    def _note_id(self, article_id: str, name: str) -> None:
        if self._index.seen_id(article_id):
            self.tally.note_duplicate_id(article_id)
            self.progress.note(f"{name}: duplicate id {article_id!r} (different text); both kept by key")

    async def _bad_input(self, item: InputItem, err: InputError) -> None:
        key = input_key(item.name)
        if not in_shard(key, self.options.shard):
            return
        self.tally.inputs += 1
        self.progress.note(str(err))
        if self._index.state(key) is not None:  # recorded by an earlier run or this one
            self.tally.failed += 1
            return

        def written() -> None:
            self.tally.failed += 1

        await self._append(_failure_line(key, item.name, None, err), failed=True, then=written)

    async def _append(
        self, line: bytes, *, failed: bool = False, then: Callable[[], None] | None = None
    ) -> None:
        """Write a ledger line; ``then`` runs once it is on disk, even if this task is cancelled
        meanwhile (so the tally always matches the files). A disk error stops the run."""
        fut = self.ledger.submit(line, failed=failed)

        def written(f: asyncio.Future[None]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is None:
                if then is not None:
                    then()
                return
            path = getattr(exc, "filename", None) or (self.ledger.failed_out if failed else self.ledger.out)
            reason = getattr(exc, "strerror", None) or exc
            self._abort(
                BatchError(
                    f"cannot write {path}: {reason}; free disk space and rerun (finished work is kept)"
                )
            )

        fut.add_done_callback(written)
        with contextlib.suppress(OSError):
            await asyncio.shield(fut)

    async def _worker(self, queue: asyncio.Queue[tuple[InputItem, Article, str] | None]) -> None:
        while (job := await queue.get()) is not None and not self._stop.is_set():
            await self._one(*job)

    async def _one(self, item: InputItem, article: Article, key: str) -> None:
        stats = CallStats()
        try:
            executor = await self._ensure_executor()
            prep = prepare(article, self.settings, executor.endpoint)
            extraction = await executor.extract(prep, stats)
            record = build_record(prep, extraction, executor.endpoint)
            record.key = key
            line = record.model_dump_json().encode("utf-8")
        except AuthenticationError as err:
            self._account(stats, err.usage)
            self._abort(err)  # the key is wrong for every article: stop the whole run
            return
        except ConfigurationError as exc:
            # Wrong for every article (e.g. a structured-output form the server refuses): stop
            # the run like a bad key; articles stay pending, nothing is dead-lettered.
            self._account(stats, exc.usage)
            self._abort(exc)
            return
        except SummarizerError as exc:
            if not self._stop.is_set():  # stopping: the article stays pending, not failed
                await self._failed_article(item, article, key, stats, exc)
            return
        except Exception as exc:  # one article never takes the run down
            internal = SummarizerError(
                f"internal error on this article: {type(exc).__name__}: {exc}; please report it"
            )
            await self._failed_article(item, article, key, stats, internal)
            return
        self._account(stats, extraction.usage)
        await self._append(line, then=lambda: self._finish(key, ok=True))

    async def _failed_article(
        self, item: InputItem, article: Article, key: str, stats: CallStats, err: SummarizerError
    ) -> None:
        self._account(stats, err.usage)
        self.progress.note(f"{item.name}: failed: {err}")
        line = _failure_line(key, item.name, article.id, err)
        await self._append(line, failed=True, then=lambda: self._finish(key, ok=False))

    def _account(self, stats: CallStats, usage: dict[str, int]) -> None:
        self.tally.model_calls += stats.requests
        self.tally.throttled += stats.throttled
        self.tally.prompt_tokens += usage.get("prompt_tokens", 0)
        self.tally.completion_tokens += usage.get("completion_tokens", 0)

    def _finish(self, key: str, *, ok: bool) -> None:
        n = 1 + self._waiting_dups.pop(key, 0)  # duplicates share the original's outcome
        # The key is in the index already: the writer indexes a line before acknowledging it.
        if ok:
            self.tally.succeeded += n
        else:
            self.tally.failed += n
        self.progress.update(self.tally)


def estimate(items: Iterable[InputItem], settings: Settings) -> dict[str, Any]:
    """``--dry-run``: count articles and prompt tokens without calling any model or starting the
    embedded one (its tokenizer is the server's: the estimate stands in for it)."""
    from summarizer.prompts import render_prompt

    counter = counter_for(None if settings.embedded else settings.resolved_model())
    articles = bad = tokens = 0
    for item in items:
        try:
            article = item.load()
        except InputError:
            bad += 1
            continue
        articles += 1
        tokens += sum(counter.count(m["content"]) for m in render_prompt(article).messages)
    return {"articles": articles, "unreadable": bad, "prompt_tokens": tokens, "counted_by": counter.name,
            "completion_tokens_max": articles * settings.max_output_tokens}  # fmt: skip
