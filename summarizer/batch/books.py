"""The run's books: the tally, the ledger lines it writes, and what each article cost. A line
counts only once it is on disk; a disk error stops the run, finished work kept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from summarizer.errors import BatchError, SummarizerError
from summarizer.ledger import Ledger
from summarizer.progress import NullProgress, Progress, Tally
from summarizer.settings import Settings
from summarizer.transport import CallStats


@dataclass
class BatchOptions:
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    retry_failed: bool = False
    shard: tuple[int, int] | None = None


def articles_in_flight(concurrency: int) -> int:
    """Articles a run has in hand for ``concurrency`` model requests in flight: a quarter more
    (at least two), so that while the requests wait, the next articles are prepared and the
    answered ones grounded and written (the client's own ~10 ms an article off the endpoint's
    critical path)."""
    return concurrency + max(2, concurrency // 4)


def failure_line(key: str, name: str, article_id: str | None, err: SummarizerError) -> bytes:
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


async def landed(fut: asyncio.Future[None]) -> None:
    """Wait for a submitted line to be on disk (a failed write stops the run by itself); the
    write goes on if the waiter is cancelled."""
    with contextlib.suppress(OSError):
        await asyncio.shield(fut)


class Books:
    """Tally, ledger and the keys in flight of one run; the stop signal every part watches."""

    def __init__(
        self, settings: Settings, out: Path, options: BatchOptions | None, progress: Progress | None
    ) -> None:
        self.settings = settings
        self.options = options or BatchOptions()
        self.ledger = Ledger(out)
        self._index = self.ledger.index  # done and failed keys, on disk; open in ``run``
        self.progress = progress or NullProgress()
        self.tally = Tally()
        self.model = settings.resolved_model()
        self._fatal: SummarizerError | None = None
        self._stop = asyncio.Event()
        # In flight (taken, not yet on disk): key -> later copies waiting on it. Bounded by the
        # queue and the workers; every other key lives in the ledger's on-disk index.
        self._waiting_dups: dict[str, int] = {}

    def _abort(self, err: SummarizerError) -> None:
        self._fatal = self._fatal or err
        self._stop.set()

    async def _append(
        self, line: bytes, *, failed: bool = False, then: Callable[[], None] | None = None
    ) -> None:
        """Write a ledger line and wait until it is on disk (see ``_queue_line``)."""
        await landed(self._queue_line(line, failed=failed, then=then))

    def _queue_line(
        self, line: bytes, *, failed: bool = False, then: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Queue a ledger line; ``then`` runs once it is on disk, even if no one waits for it
        (so the tally always matches the files). A disk error stops the run."""
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
        return fut

    def _account(self, stats: CallStats, usage: dict[str, int]) -> None:
        self.tally.model_calls += stats.requests
        self.tally.throttled += stats.throttled
        self.tally.prompt_tokens += usage.get("prompt_tokens", 0)
        self.tally.completion_tokens += usage.get("completion_tokens", 0)

    def _finish(self, key: str, *, ok: bool) -> None:
        if key not in self._waiting_dups:
            return  # taken by an earlier run (a Batch API part) and not among this run's inputs
        n = 1 + self._waiting_dups.pop(key)  # duplicates share the original's outcome
        # The key is in the index already: the writer indexes a line before acknowledging it.
        if ok:
            self.tally.succeeded += n
        else:
            self.tally.failed += n
        self.progress.update(self.tally)
