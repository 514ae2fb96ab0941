"""``--export FILE`` / ``--import FILE``: the same request lines as ``--via batch-api``, through a
file instead of a provider, for ``vllm run-batch`` on a GPU node (or any tool that reads and
writes the OpenAI batch format).

    summarizer batch arch/ -o out.jsonl --model M --export requests.jsonl
    python -m vllm.entrypoints.openai.run_batch -i requests.jsonl -o results.jsonl --model M
    summarizer batch arch/ -o out.jsonl --model M --import results.jsonl

Export skips what the ledger has already; import joins each result to its article on
``custom_id`` (the ledger key), validates and grounds it like any answer, and writes the ledger
and the dead letters. Articles with no line in the results stay pending; a rerun of export then
writes only those. With ``--base-url`` an answer that must be asked again is re-asked there;
without it, the answer is checked as it is (kept if only grounding failed, else dead-lettered).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import httpx2

from summarizer.articles import Article
from summarizer.batch.books import BatchOptions
from summarizer.batch.intake import JobQueue
from summarizer.batch.provider_state import completion_of, read_results, result_reason
from summarizer.batch.request_lines import RequestBodies, as_sent, file_endpoint, request_line
from summarizer.batch.runner import BatchRunner
from summarizer.errors import BatchError, EndpointError
from summarizer.inputs import InputItem
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings
from summarizer.transport import CallStats


class ExportRunner(BatchRunner):
    """Writes the request line of every article not done yet to ``export``; calls nothing."""

    def __init__(
        self, settings: Settings, out: Path, export: Path, options: BatchOptions | None = None, *,
        progress: Progress | None = None,
    ) -> None:  # fmt: skip
        super().__init__(settings, out, options, progress=progress)
        self.bodies = RequestBodies(settings, file_endpoint(settings))
        self.export = export
        self.written = 0
        self._fh: IO[bytes] | None = None

    async def _take(self, item: InputItem, article: Article, key: str, queue: JobQueue) -> None:
        assert self._fh is not None
        self._waiting_dups[key] = 0  # a later copy of the same text is not written twice
        self._fh.write(request_line(key, self.bodies.body(article)) + b"\n")
        self.written += 1

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        try:
            self._fh = self.export.open("wb")  # emptied first: an old file is never run again
        except OSError as exc:
            raise BatchError(f"cannot write {self.export}: {exc.strerror}; check the path") from None
        try:
            return await super().run(items, total)
        finally:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


class ImportRunner(BatchRunner):
    """Collects a results file: each line joined to its article on ``custom_id``."""

    def __init__(
        self, settings: Settings, out: Path, results: Path, options: BatchOptions | None = None, *,
        progress: Progress | None = None, transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        settings = as_sent(settings, file_endpoint(settings))
        super().__init__(settings, out, options, progress=progress, transport=transport)
        try:
            self.answers = read_results(results)
        except OSError as exc:
            raise BatchError(f"cannot read {results}: {exc.strerror}; check the path") from None
        self.missing = 0

    async def _take(self, item: InputItem, article: Article, key: str, queue: JobQueue) -> None:
        raw = self.answers.pop(key, None)
        if raw is None:
            self.missing += 1  # not in this file: stays pending
            return
        self._waiting_dups[key] = 0
        answered, status, body = completion_of(raw)
        if answered is not None:
            await queue.put((item, article, key, answered))
            return
        err = EndpointError(
            f"the results file has no usable answer ({result_reason(status, body)}); "
            "export again and rerun it, or use --via local"
        )
        await self._failed_article(item.name, article, key, CallStats(requests=1), err)
