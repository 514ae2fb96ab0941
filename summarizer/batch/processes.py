"""``summarizer batch --processes N``: the per-article work (prepare, the model call, grounding)
in N worker processes, for a client that is CPU-bound. One process spends ~12 ms of Python on
an article (its sentences, the SDK's request, the grounding), so against a fast endpoint at high
concurrency it tops out at what one core can do, whatever the endpoint could take.

The parent keeps the books exactly as the local runner does (``Intake``: keys, shards, what is
done, duplicate texts, bad inputs; the ledger: one writer, fsynced lines). Each worker is
``python -m summarizer.batch.processes``: its own engine (one client, its share of
``--concurrency``, ``--rpm`` and ``--tpm``), reading jobs as JSON lines on its stdin and writing
each article's ``Outcome`` (``Outcome.to_row``) as a JSON line on its stdout. The parent sends a
worker a job only while the run has room (``books.articles_in_flight``: ``--concurrency`` model
requests and a few articles more, in all), to the worker with the fewest in flight; each worker
has its share of the requests (at most one process for each).

- A worker that dies (killed, out of memory) takes only its in-flight articles with it: they go
  to OUT.failed.jsonl with the reason (``--retry-failed`` runs them again) and a new worker takes
  its place. Workers that keep dying, or one that cannot start, stop the run.
- The parent killed or stopped: each worker sees its stdin close and stops at once, dropping
  what it had in flight (as the local runner drops its in-flight calls); a rerun pays only for
  what is not on disk.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from summarizer.articles import Article
from summarizer.batch.books import BatchOptions, articles_in_flight, failure_line
from summarizer.batch.outcome import Outcome, attempt
from summarizer.batch.runner import BatchRunner
from summarizer.errors import ConfigurationError, SummarizerError
from summarizer.inputs import InputItem
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings

LINE_LIMIT = 2**27  # one job line: an article of up to ``max_bytes`` and its JSON escapes
START_TIMEOUT = 120.0  # seconds for a worker to import and say it is ready (a busy machine)
STOP_GRACE = 10.0  # seconds a worker gets to close its client after its stdin closes
DEATHS_PER_WORKER = 3  # a run whose workers died more often than this (each) stops


@dataclasses.dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    jobs: dict[str, tuple[str, str | None]]  # key -> (input name, article id), in flight
    stderr: collections.deque[str]  # its last lines, for the reason it died
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    alive: bool = True

    def why_ended(self) -> str:
        code = self.proc.returncode
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}"
        said = f": {self.stderr[-1]}" if self.stderr else ""
        return f"{how}{said}"


class ProcessRunner(BatchRunner):
    """One ``--processes N`` run: ``await runner.run(items)`` -> ``Tally``."""

    def __init__(
        self,
        settings: Settings,
        out: Path,
        options: BatchOptions | None = None,
        *,
        processes: int = 2,
        progress: Progress | None = None,
    ) -> None:
        if settings.embedded:
            raise ConfigurationError(
                "--processes needs an endpoint (--base-url): the embedded model already runs on "
                "this machine's cores; drop --processes"
            )
        super().__init__(settings, out, options, progress=progress)
        self.processes = min(processes, self.options.concurrency)  # each has a request at least
        self.workers: list[_Worker] = []
        self._deaths = 0

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        async with self._session(total):
            await self._until_stopped(self._work(items), [])
        return self.tally

    def _calls(self, index: int) -> int:
        """Worker ``index``'s share of ``--concurrency`` (the shares add up to it)."""
        share, more = divmod(self.options.concurrency, self.processes)
        return share + (index < more)

    def _share(self, limit: float | None, index: int) -> float | None:
        """Worker ``index``'s part of a rate limit, in proportion to its requests."""
        return limit * self._calls(index) / self.options.concurrency if limit else None

    async def _work(self, items: Iterable[InputItem]) -> None:
        room = articles_in_flight(self.options.concurrency)
        self._room = asyncio.Semaphore(room)
        try:
            async for job in self._new_work(items, room):
                item, article, key = job[:3]
                if not self.workers:  # started for the first article to run: a rerun may have none
                    await self._start()
                await self._room.acquire()
                await self._send(await self._least_busy(), key, item.name, article)
            for _ in range(room):  # every slot back: nothing in flight
                await self._room.acquire()
        except ConfigurationError as err:  # no worker, or they keep dying: the run stops
            self._abort(err)
        finally:
            await asyncio.shield(self._close_all())

    async def _start(self) -> None:
        spawns = [self._spawn(i) for i in range(self.processes)]
        spawned = await asyncio.gather(*spawns, return_exceptions=True)
        self.workers = [w for w in spawned if isinstance(w, _Worker)]
        for failed in spawned:
            if isinstance(failed, BaseException):
                raise failed

    async def _spawn(self, index: int) -> _Worker:
        """A worker process, started and ready (its settings read, its engine made)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "summarizer.batch.processes",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )  # fmt: skip
        worker = _Worker(proc, {}, collections.deque(maxlen=20))
        worker.tasks.append(asyncio.ensure_future(self._tail(worker)))
        assert proc.stdin is not None
        assert proc.stdout is not None
        config = {
            # Settings go on stdin, never on the command line (an API key in `ps` for all to see).
            "settings": self.settings.model_dump(mode="json"),
            "calls": self._calls(index),
            "rpm": self._share(self.options.rpm, index),
            "tpm": self._share(self.options.tpm, index),
        }
        try:
            proc.stdin.write(orjson.dumps(config) + b"\n")
            await proc.stdin.drain()
            ready = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        except (OSError, TimeoutError):
            ready = b""
        if not ready.startswith(b'{"ready"'):
            await self._end(worker)
            raise ConfigurationError(f"a worker process could not start ({worker.why_ended()})")
        worker.tasks.append(asyncio.ensure_future(self._read(worker)))
        return worker

    async def _least_busy(self) -> _Worker:
        """The live worker with the fewest articles in flight; a dead one replaced first."""
        for i, worker in enumerate(self.workers):
            if not worker.alive:
                self._deaths += 1
                if self._deaths > DEATHS_PER_WORKER * self.processes:
                    raise ConfigurationError(
                        f"worker processes keep dying ({self._deaths} so far; the last: "
                        f"{worker.why_ended()}); see the dead letters and rerun"
                    )
                self.workers[i] = await self._spawn(i)
        return min(self.workers, key=lambda w: len(w.jobs))

    async def _send(self, worker: _Worker, key: str, name: str, article: Article) -> None:
        worker.jobs[key] = (name, article.id)  # before the write: a death from here on fails it
        assert worker.proc.stdin is not None
        job = {"key": key, "input": name, "article": dataclasses.asdict(article)}
        with contextlib.suppress(OSError):  # died: its reader dead-letters the job
            worker.proc.stdin.write(orjson.dumps(job) + b"\n")
            await worker.proc.stdin.drain()

    async def _read(self, worker: _Worker) -> None:
        """A worker's outcomes into the books; at its end, its in-flight articles dead-lettered."""
        assert worker.proc.stdout is not None
        while line := await worker.proc.stdout.readline():
            message = orjson.loads(line)
            if "key" not in message:
                self.progress.note(str(message.get("note", "")))
                continue
            out = Outcome.from_row(message)
            if worker.jobs.pop(out.key, None) is not None:
                self._record(out)  # counted once on disk
                self._room.release()
        worker.alive = False
        await worker.proc.wait()
        if self._stop.is_set():
            return  # stopping: what was in flight stays pending
        for key, (name, article_id) in list(worker.jobs.items()):
            err = SummarizerError(
                f"the worker process running it ended ({worker.why_ended()}); "
                "rerun with --retry-failed to run it again"
            )
            self._record(Outcome(key, failure_line(key, name, article_id, err), failed=True,
                                 note=f"{name}: failed: {err}"))  # fmt: skip
            del worker.jobs[key]
            self._room.release()

    @staticmethod
    async def _tail(worker: _Worker) -> None:
        assert worker.proc.stderr is not None
        while line := await worker.proc.stderr.readline():
            if text := line.decode("utf-8", "replace").strip():
                worker.stderr.append(text)

    async def _close_all(self) -> None:
        await asyncio.gather(*(self._end(w) for w in self.workers))

    async def _end(self, worker: _Worker) -> None:
        """Close a worker's stdin (it stops), wait for it a while, kill it if it lingers; reaped."""
        proc = worker.proc
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await asyncio.gather(*worker.tasks, return_exceptions=True)


# --------------------------------------------------------------------------- the worker side


def main() -> None:
    """A worker process: settings, then jobs, on stdin; ``{"ready": true}``, then outcomes and
    notes, on stdout. Its stdin closing ends it (the parent is done with it, or gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    out = os.fdopen(os.dup(1), "wb")  # the protocol's own copy of stdout
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    asyncio.run(_serve(out))


async def _serve(out: BinaryIO) -> None:
    from summarizer.engine import Engine

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)

    def send(message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the parent is gone: stdin's end stops us
            out.write(orjson.dumps(message) + b"\n")
            out.flush()

    config = orjson.loads(await reader.readline())
    engine = Engine(
        Settings(**config["settings"]), concurrency=config["calls"], calls=config["calls"],
        rpm=config["rpm"], tpm=config["tpm"], notify=lambda text: send({"note": text}),
    )  # fmt: skip
    send({"ready": True})

    async def one(job: dict[str, Any]) -> None:
        outcome = await attempt(engine, job["input"], Article(**job["article"]), job["key"])
        send(outcome.to_row())

    running: set[asyncio.Task[None]] = set()
    try:
        while line := await reader.readline():
            task = asyncio.create_task(one(orjson.loads(line)))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await engine.close()


if __name__ == "__main__":
    main()
