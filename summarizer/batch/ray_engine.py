"""``summarizer batch --engine ray``: the per-article pipeline on a Ray cluster (the optional
``ray`` extra), with the local runner's inputs, keys, records, dead letters and exit codes.

The driver (this process) reads the inputs and keeps the books exactly as the local runner does
(``Intake``: keys, shards, what is done, duplicate texts, bad inputs; the ledger: one writer,
fsynced lines). New articles go to Ray Data in windows: ``from_items`` ->
``map_batches(Summarize, concurrency=actors)``: an actor pool, each actor one engine (one
client, ``--concurrency`` requests in flight, its share of ``--rpm``/``--tpm``, 429s paused for
their ``Retry-After``). Each actor returns an article's ``Outcome`` (``outcome.attempt``, the
same decision as the local runner's); the driver writes each line as it arrives. A killed job
loses only what was in flight: the rerun skips every key already in the ledger.

    ray start --head                        # on the head node; `ray start --address=...` on workers
    summarizer batch /archive -o out.jsonl --engine ray --ray-address auto --actors 16 \\
        --concurrency 8 --base-url http://vllm-lb:8000/v1 --model Qwen/Qwen2.5-7B-Instruct

Without ``--ray-address`` a local Ray is started for the run (``num_cpus`` = actors) and shut
down after it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

from summarizer.batch.books import BatchOptions, articles_in_flight
from summarizer.batch.outcome import ROW_FIELDS, Outcome, article_from_json, article_json, attempt
from summarizer.batch.runner import BatchRunner
from summarizer.errors import ConfigurationError
from summarizer.inputs import InputItem
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings

WINDOW_PER_SLOT = 32  # articles per actor slot in one window of the input


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigurationError(
            "--engine ray needs the ray extra: pip install 'newsroom-summarizer[ray]' (or use --engine local)"
        ) from None
    return ray


class Summarize:
    """A Ray actor: one engine, a batch of articles at a time, ``concurrency`` in flight."""

    def __init__(
        self, settings: dict[str, Any], concurrency: int, rpm: float | None, tpm: float | None
    ) -> None:
        from summarizer.engine import Engine

        self.loop = asyncio.new_event_loop()  # one loop for the actor's life: its client lives on it
        self.concurrency = concurrency
        self.engine = Engine(
            Settings(**settings), concurrency=concurrency, calls=concurrency, rpm=rpm, tpm=tpm
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = [o.to_row() for o in self.loop.run_until_complete(self._run(batch))]
        return {name: [row[name] for row in rows] for name in ROW_FIELDS}

    async def _run(self, batch: dict[str, Any]) -> list[Outcome]:
        slots = asyncio.Semaphore(articles_in_flight(self.concurrency))

        async def one(key: str, name: str, article: str) -> Outcome:
            async with slots:
                return await attempt(self.engine, name, article_from_json(article), key)

        rows = zip(batch["key"], batch["input"], batch["article"], strict=True)
        return list(await asyncio.gather(*(one(str(k), str(n), str(a)) for k, n, a in rows)))

    def __del__(self) -> None:
        try:
            self.loop.run_until_complete(self.engine.close())
        except Exception:  # an actor's end: nothing to report to
            logging.getLogger(__name__).debug("engine close failed", exc_info=True)


class RayRunner(BatchRunner):
    """One ``--engine ray`` run: ``await runner.run(items)`` -> ``Tally``."""

    def __init__(
        self,
        settings: Settings,
        out: Path,
        options: BatchOptions | None = None,
        *,
        actors: int = 2,
        address: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        if settings.embedded:
            raise ConfigurationError(
                "--engine ray needs an endpoint the actors share: pass --base-url (a vLLM "
                "cluster, say); the embedded model is for one machine (--engine local)"
            )
        self.ray = _ray()
        super().__init__(settings, out, options, progress=progress)
        self.actors = actors
        self.address = address
        self.window = max(256, actors * self.options.concurrency * WINDOW_PER_SLOT)

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        started = self._connect()  # on the main thread: Ray sets its signal handlers there
        try:
            async with self._session(total):
                await self._until_stopped(self._work(items), [])
        finally:
            if started:
                await asyncio.to_thread(self.ray.shutdown)
        return self.tally

    def _connect(self) -> bool:
        """Join ``address``, or start a local Ray for this run (True: ours to shut down)."""
        if self.ray.is_initialized():
            return False
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        if self.address:
            self.ray.init(address=self.address, **quiet)
        else:
            self.ray.init(num_cpus=self.actors, **quiet)
        context = self.ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        return True

    async def _work(self, items: Iterable[InputItem]) -> None:
        """Inputs read by the books' own intake, summarised on Ray a window at a time."""
        window: list[dict[str, str]] = []
        async for job in self._new_work(items, self.window):
            item, article, key = job[:3]
            window.append({"key": key, "input": item.name, "article": article_json(article)})
            if len(window) >= self.window:
                await self._summarize(window)
                window = []
        if window:
            await self._summarize(window)

    async def _summarize(self, window: list[dict[str, str]]) -> None:
        ray = self.ray
        opts = self.options
        share = max(self.actors, 1)
        dataset = ray.data.from_items(window).map_batches(
            Summarize,
            fn_constructor_kwargs={
                "settings": self.settings.model_dump(),
                "concurrency": opts.concurrency,
                "rpm": opts.rpm / share if opts.rpm else None,
                "tpm": opts.tpm / share if opts.tpm else None,
            },
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            batch_size=max(opts.concurrency * 2, 1),
            batch_format="default",
        )
        loop = asyncio.get_running_loop()
        rows: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        halt = threading.Event()  # this window is given up (a stop, an error): no more rows

        def pull() -> None:
            source = _rows(dataset)
            try:
                for row in source:
                    if halt.is_set() or self._stop.is_set():
                        return
                    loop.call_soon_threadsafe(rows.put_nowait, row)
            finally:
                source.close()  # ends the dataset's execution: no more paid calls for this window
                loop.call_soon_threadsafe(rows.put_nowait, None)

        reader = asyncio.ensure_future(asyncio.to_thread(pull))
        try:
            while (row := await rows.get()) is not None:
                await self._settle(Outcome.from_row(row))
            await reader
        finally:
            halt.set()
            reader.cancel()


def _rows(dataset: Any) -> Generator[dict[str, Any], None, None]:
    yield from dataset.iter_rows()
