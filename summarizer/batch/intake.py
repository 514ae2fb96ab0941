"""Reading the inputs of a run: each article's key, its shard, whether it is done already, a
duplicate of one taken this run, or new work for the queue; unreadable inputs become failure
lines and never stop the archive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from summarizer.articles import Article
from summarizer.batch.books import Books, failure_line
from summarizer.batch.keys import in_shard, input_key, item_key
from summarizer.errors import ConfigurationError, InputError
from summarizer.inputs import InputItem
from summarizer.ledger_index import KeyState

# An article to run, under its key; or also its answer, made already (a Batch API result line).
Job = tuple[InputItem, Article, str] | tuple[InputItem, Article, str, Any]
JobQueue = asyncio.Queue[Job | None]


class Intake(Books):
    async def _new_work(self, items: Iterable[InputItem], room: int) -> AsyncIterator[Job]:
        """The new work among ``items`` (``_produce`` decides), one job at a time, at most
        ``room`` read ahead: for runners that take the jobs themselves instead of workers."""
        queue: JobQueue = asyncio.Queue(maxsize=room)
        producer = asyncio.ensure_future(self._produce(items, queue, 1))
        try:
            while (job := await queue.get()) is not None:
                yield job
            await producer
        finally:
            producer.cancel()

    async def _produce(self, items: Iterable[InputItem], queue: JobQueue, n_workers: int) -> None:
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
            elif self._held(key):  # sent by an earlier run, its answer still to come: not again
                self._waiting_dups[key] = 0
            else:
                await self._take(item, article, key, queue)
            self.progress.update(self.tally)
        for _ in range(n_workers):
            await queue.put(None)

    async def _take(self, item: InputItem, article: Article, key: str, queue: JobQueue) -> None:
        """New work: taken for this run (its later copies wait on it) and queued."""
        self._waiting_dups[key] = 0
        await queue.put((item, article, key))

    def _held(self, key: str) -> bool:
        """Whether ``key`` is out at a provider from an earlier run (``--via batch-api``)."""
        return False

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

        await self._append(failure_line(key, item.name, None, err), failed=True, then=written)
