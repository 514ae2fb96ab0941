"""``summarizer batch --via batch-api``: the archive through a provider's Batch API (about half
the synchronous price, answers within 24 h), into the same ledger as the local runner.

    inputs -> parts (request files of at most 50,000 requests / 190 MB, ``custom_id`` = ledger
    key) -> upload -> one batch per part -> poll -> download output and error files -> each
    answer validated and grounded like a sync one (re-asked synchronously, within
    ``max_reasks``, when it must be) -> ledger; failed and expired lines go into a new part,
    at most ``max_submissions`` times, then to the dead letters.

Exactly once: the ledger's keys say what is done; ``provider_state`` says what each part is at
the provider, saved before each step, so a killed run resumes by polling; a part's batch is
looked up by its file before one is created. Keys in a live part are not sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from summarizer.batch.books import BatchOptions
from summarizer.batch.intake import JobQueue
from summarizer.batch.provider_state import (
    BUILT,
    COLLECTED,
    DOWNLOADED,
    MAX_BYTES,
    MAX_REQUESTS,
    PROVIDER_TERMINAL,
    UPLOADED,
    Held,
    Part,
    PartWriter,
    ProviderState,
    completion_of,
    read_results,
    result_reason,
    state_folder,
    write_atomic,
)
from summarizer.batch.request_lines import RequestBodies, as_sent, batch_endpoint
from summarizer.batch.runner import BatchRunner
from summarizer.errors import EndpointError
from summarizer.inputs import InputItem
from summarizer.ledger_index import KeyState
from summarizer.llm.batches import ProviderBatches, batch_summary
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings
from summarizer.transport import CallStats


@dataclass
class ProviderOptions:
    poll_seconds: float = 60.0
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES
    max_submissions: int = 3  # a line that fails or expires this often is dead-lettered
    download_wait: float = 2.0


# A failed batch whose file was fine: the provider's queue for the model was full. Its lines
# are submitted again (within ``max_submissions``); any other failure is the file's own.
PASSING_FAILURES = ("token_limit_exceeded", "rate_limit", "server_error")


def _passing(errors: list[str]) -> bool:
    return bool(errors) and all(any(code in e for code in PASSING_FAILURES) for e in errors)


class ProviderRunner(BatchRunner):
    """One ``--via batch-api`` run: ``await runner.run(items)`` -> ``Tally``."""

    def __init__(
        self,
        settings: Settings,
        out: Path,
        options: BatchOptions | None = None,
        *,
        provider: ProviderOptions | None = None,
        progress: Progress | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = batch_endpoint(settings)
        super().__init__(
            as_sent(settings, self.endpoint), out, options, progress=progress, transport=transport
        )
        self.provider = provider or ProviderOptions()
        self.state = ProviderState(state_folder(out))
        self.api = ProviderBatches(
            self.endpoint, settings, transport=transport, download_wait=self.provider.download_wait
        )
        self.bodies = RequestBodies(settings, self.endpoint)
        self._live: set[str] = set()

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        try:
            async with self._session(total):
                await asyncio.to_thread(self.state.load)
                self._live = await asyncio.to_thread(self.state.live_keys)
                await self._until_stopped(self._work(items), [])
        finally:
            await self.api.aclose()
        return self.tally

    def _held(self, key: str) -> bool:
        return key in self._live

    async def _work(self, items: Iterable[InputItem]) -> None:
        writer = PartWriter(self.state, self.provider.max_requests, self.provider.max_bytes)
        try:
            await self._intake(items, writer)
            await asyncio.to_thread(writer.seal)
        finally:
            writer.abandon()
        self._live.clear()  # every key taken is in ``_waiting_dups`` until collected
        while live := self.state.live():
            moved = False
            for part in live:
                moved = await self._advance(part) or moved
            if not moved:
                self._show()
                await asyncio.sleep(self.provider.poll_seconds)

    async def _intake(self, items: Iterable[InputItem], writer: PartWriter) -> None:
        """New articles into parts (``Intake._produce`` decides what is new)."""
        async for job in self._new_work(items, 64):
            item, article, key = job[:3]
            await self._write(writer, Held(key, item.name, 1, article))

    async def _write(self, writer: PartWriter, held: Held) -> None:
        body = self.bodies.body(held.article)
        if (sealed := writer.add(held, body)) is not None:
            self.progress.note(f"{sealed.name}: {sealed.requests} requests, {sealed.bytes:,} bytes")

    def _show(self) -> None:
        parts = self.state.live()
        states: dict[str, int] = {}
        for p in parts:
            states[p.status] = states.get(p.status, 0) + 1
        done = sum((p.counts or {}).get("completed", 0) for p in parts)
        total = sum(p.requests for p in parts)
        listed = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        self.progress.note(f"batches: {listed}; {done}/{total} requests answered at the provider")

    async def _advance(self, part: Part) -> bool:
        """One step for ``part``; True if its status changed (the next step needs no wait)."""
        before = part.status
        if part.status == BUILT:
            part.file_id = await self.api.upload(self.state.file(part, "requests"))
            part.status = UPLOADED
            await self._save()
            await self._submit(part, resumed=False)
        elif part.status == UPLOADED:
            await self._submit(part, resumed=True)
        elif part.at_provider:
            assert part.batch_id is not None
            self._note_batch(part, batch_summary(await self.api.retrieve(part.batch_id)))
        elif part.status in PROVIDER_TERMINAL:
            await self._download(part)
        elif part.status == DOWNLOADED:
            await self._collect(part)
        if part.status != before:
            await self._save()
            if part.status not in (UPLOADED, DOWNLOADED):
                self.progress.note(f"{part.name}: {part.status} ({self._counts(part)})")
        return part.status != before

    @staticmethod
    def _counts(part: Part) -> str:
        c = part.counts or {}
        if not c:
            return f"{part.requests} requests"
        return f"{c.get('completed', 0)} answered, {c.get('failed', 0)} failed of {part.requests}"

    async def _submit(self, part: Part, *, resumed: bool) -> None:
        """Create the part's batch, once: after a kill, the provider is asked first."""
        assert part.file_id is not None
        batch = await self.api.find(part.file_id) if resumed else None
        if batch is None:
            batch = await self.api.create(part.file_id, {"summarizer_part": part.name})
        part.batch_id = batch.id
        self._note_batch(part, batch_summary(batch))
        await self._save()

    @staticmethod
    def _note_batch(part: Part, summary: dict[str, Any]) -> None:
        part.status = summary["status"]
        if part.status in PROVIDER_TERMINAL:
            part.outcome = part.status
        part.output_file_id = summary["output_file_id"]
        part.error_file_id = summary["error_file_id"]
        part.counts = summary["counts"]
        part.errors = summary["errors"]

    async def _download(self, part: Part) -> None:
        for file_id, kind in ((part.output_file_id, "output"), (part.error_file_id, "errors")):
            if file_id is not None:
                data = await self.api.download(file_id)
                await asyncio.to_thread(write_atomic, self.state.file(part, kind), data)
        part.status = DOWNLOADED

    async def _save(self) -> None:
        await asyncio.to_thread(self.state.save)

    async def _collect(self, part: Part) -> None:
        """Every article of ``part`` to its ledger line, or into a new part, or dead letters."""
        results = await asyncio.to_thread(read_results, self.state.file(part, "errors"))
        results.update(await asyncio.to_thread(read_results, self.state.file(part, "output")))
        unanswered: list[tuple[Held, str]] = []

        async def feed(queue: JobQueue, n: int) -> None:
            """The part's articles, streamed: answered ones to the workers, the rest noted."""
            for h in self.state.held(part):
                state = self._index.state(h.key)
                if (
                    state is KeyState.SUCCEEDED
                    or state is KeyState.FAILED_THIS_RUN
                    or (state is KeyState.FAILED and not self.options.retry_failed)
                ):  # collected before a kill
                    self._finish(h.key, ok=state is KeyState.SUCCEEDED)
                    continue
                raw = results.pop(h.key, None)
                completion, status, body = completion_of(raw)
                if completion is not None:
                    item = InputItem(h.input, lambda a=h.article: a)  # type: ignore[misc]
                    await queue.put((item, h.article, h.key, completion))  # counted when run
                    continue
                self.tally.model_calls += status >= 400  # a request the provider ran and failed
                unanswered.append((h, result_reason(status, body) if raw else self._missing(part)))
            for _ in range(n):
                await queue.put(None)

        await self._pool(feed)
        if self._stop.is_set():
            return  # stays "downloaded": the next run collects what is not in the ledger yet
        # Parts of retries are entered unsaved: one save below says them and this part collected.
        writer = PartWriter(self.state, self.provider.max_requests, self.provider.max_bytes, save=False)
        entered, numbered = len(self.state.parts), self.state.next_part
        again = part.outcome != "failed" or _passing(part.errors)
        try:
            for h, reason in unanswered:
                if h.attempt < self.provider.max_submissions and again:
                    await self._write(writer, Held(h.key, h.input, h.attempt + 1, h.article, reason))
                else:
                    await self._dead_letter(h, part, reason)
            await asyncio.to_thread(writer.seal)
            part.status = COLLECTED
        except BaseException:
            del self.state.parts[entered:]  # never saved: the next run collects this part again
            self.state.next_part = numbered
            raise
        finally:
            writer.abandon()
        await self._save()
        await asyncio.to_thread(self.state.forget, part)

    @staticmethod
    def _missing(part: Part) -> str:
        if part.errors:
            return "; ".join(part.errors)[:200]
        return f"no answer in batch {part.batch_id} ({part.outcome})"  # its status is "downloaded" by now

    async def _dead_letter(self, h: Held, part: Part, reason: str) -> None:
        times = f"{h.attempt} submission{'s' * (h.attempt != 1)}"
        err = EndpointError(
            f"the Batch API gave no usable answer after {times} (last: {reason}); "
            "rerun with --retry-failed, or with --via local"
        )
        err.attempts = h.attempt
        await self._failed_article(h.input, h.article, h.key, CallStats(), err)
