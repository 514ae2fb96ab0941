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
import json
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from summarizer.articles import Article
from summarizer.batch.books import BatchOptions, articles_in_flight, failure_line
from summarizer.batch.collector import long_run
from summarizer.batch.outcome import Outcome, attempt
from summarizer.batch.runner import BatchRunner
from summarizer.errors import ConfigurationError, SummarizerError, internal_error
from summarizer.inputs import InputItem
from summarizer.progress import Progress, Tally
from summarizer.settings import Settings

LINE_LIMIT = 2**27  # one job line: an article of up to ``max_bytes`` and its JSON escapes
START_TIMEOUT = 120.0  # seconds for a worker to import and say it is ready (a busy machine)
STOP_GRACE = 10.0  # seconds a worker gets to close its client after its stdin closes
# Seconds a worker whose output ended gets to be seen gone before it is killed. Not at once:
# ``Popen.kill`` polls first, reaping a dead child before asyncio's watcher can, which then
# reports exit code 255, and the dead letters said so instead of "killed by SIGKILL".
EXIT_GRACE = 2.0
DEATHS_PER_WORKER = 3  # a run whose workers died more often than this (each) stops


@dataclasses.dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    calls: int  # its share of --concurrency
    jobs: dict[str, tuple[str, str | None]]  # key -> (input name, article id), in flight
    stderr: collections.deque[str]  # its last lines, for the reason it died
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    alive: bool = True

    @property
    def usable(self) -> bool:
        stdin = self.proc.stdin
        return self.alive and self.proc.returncode is None and stdin is not None and not stdin.is_closing()

    def why_ended(self) -> str:
        code = self.proc.returncode
        if code is None:
            how = "its output ended"
        elif code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:  # a real-time signal has no name
                how = f"killed by signal {-code}"
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
        if self.processes < processes:
            self.progress.note(
                f"{self.processes} worker processes: one for each of the {self.options.concurrency} "
                "requests of --concurrency"
            )
        self.workers: list[_Worker] = []
        self._every: list[_Worker] = []  # every worker this run started, replaced ones too
        self._deaths = 0
        self._replacing: dict[int, asyncio.Future[_Worker]] = {}  # worker index -> its start
        # A job line: the article as sent (JSON escapes) and the rest; the worker reads as much.
        self._line_limit = max(LINE_LIMIT, 8 * self.settings.max_bytes + 2**16)

    async def run(self, items: Iterable[InputItem], total: int | None = None) -> Tally:
        async with self._session(total):
            try:
                await self._until_stopped(self._work(items), [])
            finally:
                # Here, not in ``_work`` (which a stop cancels): the workers are closed, and what
                # they had answered read, before the session closes the ledger.
                await self._close_all()
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
                await self._send(key, item.name, article)
            for _ in range(room):  # every slot back: nothing in flight
                await self._room.acquire()
        except ConfigurationError as err:  # no worker, or they keep dying: the run stops
            self._abort(err)

    async def _start(self) -> None:
        spawns = [self._spawn(i) for i in range(self.processes)]
        spawned = await asyncio.gather(*spawns, return_exceptions=True)
        self.workers = [w for w in spawned if isinstance(w, _Worker)]
        for failed in spawned:
            if isinstance(failed, BaseException):
                raise failed

    async def _spawn(self, index: int) -> _Worker:
        """Worker ``index``, started and ready (its settings read, its engine made)."""
        # The child moves its stdout to stderr before it imports anything, keeping a copy of the
        # descriptor for the protocol: nothing a library prints can reach the parent as a line.
        boot = (
            "import os; fd = os.dup(1); os.dup2(2, 1); from summarizer.batch.processes import main; main(fd)"
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", boot, str(self._line_limit),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=self._line_limit,
            )  # fmt: skip
        except OSError as err:
            raise ConfigurationError(f"a worker process could not start: {err}") from None
        worker = _Worker(proc, self._calls(index), {}, collections.deque(maxlen=20))
        self._every.append(worker)  # closed at the end whatever happens from here
        worker.tasks.append(asyncio.ensure_future(self._tail(worker)))
        assert proc.stdin is not None
        assert proc.stdout is not None
        config = {
            # Settings go on stdin, never on the command line (an API key in `ps` for all to see).
            "settings": self.settings.model_dump(mode="json"),
            "calls": worker.calls,
            "rpm": self._share(self.options.rpm, index),
            "tpm": self._share(self.options.tpm, index),
        }
        try:
            proc.stdin.write(orjson.dumps(config) + b"\n")
            await proc.stdin.drain()
            ready = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        except (OSError, ValueError, TimeoutError):
            ready = b""
        if not ready.startswith(b'{"ready"'):
            worker.alive = False
            await self._end(worker)
            raise ConfigurationError(f"a worker process could not start ({worker.why_ended()})")
        worker.tasks.append(asyncio.ensure_future(self._read(worker)))
        return worker

    async def _least_busy(self) -> _Worker:
        """The live worker with the fewest articles in flight for its share. A dead one is
        replaced in the background (a start takes seconds: the others go on taking articles
        meanwhile); a run whose workers died more than ``DEATHS_PER_WORKER`` times each stops."""
        for i, worker in enumerate(self.workers):
            if not worker.usable and i not in self._replacing:
                self._deaths += 1
                if self._deaths > DEATHS_PER_WORKER * self.processes:
                    raise ConfigurationError(
                        f"worker processes keep dying ({self._deaths} so far; the last: "
                        f"{worker.why_ended()}); see the dead letters and rerun"
                    )
                worker.alive = False  # its reader dead-letters what it had in flight
                self._replacing[i] = asyncio.ensure_future(self._spawn(i))
        while True:
            for i, start in list(self._replacing.items()):
                if start.done():
                    del self._replacing[i]
                    self.workers[i] = start.result()  # a replacement that cannot start stops the run
            live = [w for w in self.workers if w.usable]
            if live:
                return min(live, key=lambda w: len(w.jobs) / w.calls)
            if not self._replacing:
                return await self._least_busy()  # every one died just now: replace them
            await asyncio.wait(self._replacing.values(), return_when=asyncio.FIRST_COMPLETED)

    async def _send(self, key: str, name: str, article: Article) -> None:
        """One article to the least busy worker; to another if that one turns out dead."""
        # The standard library's JSON, both ways: it carries what orjson refuses (a lone surrogate
        # in a title), so such an article fails in the worker like any other.
        line = json.dumps({"key": key, "input": name, "article": dataclasses.asdict(article)})
        while True:
            worker = await self._least_busy()
            worker.jobs[key] = (name, article.id)  # before the write: a death from here on fails it
            assert worker.proc.stdin is not None
            try:
                worker.proc.stdin.write(line.encode("utf-8") + b"\n")
                await worker.proc.stdin.drain()
                return
            except OSError:  # it died before it read the job: never ran there, so sent elsewhere
                if worker.jobs.pop(key, None) is None:
                    return  # its reader had already failed the job
                worker.alive = False

    async def _read(self, worker: _Worker) -> None:
        """A worker's outcomes into the books; at its end, its in-flight articles dead-lettered.
        A line that is not the protocol's ends the worker (killed) like a death."""
        assert worker.proc.stdout is not None
        try:
            while line := await worker.proc.stdout.readline():
                try:
                    message = orjson.loads(line)
                    out = None if "key" not in message else Outcome.from_row(message)
                except (ValueError, TypeError, KeyError) as exc:
                    worker.stderr.append(f"unreadable answer from the worker: {type(exc).__name__}: {exc}")
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.kill()
                    break
                if out is None and "pause" in message:
                    self._pause_others(worker, float(message["pause"]))
                elif out is None:
                    self.progress.note(str(message.get("note", "")))
                elif worker.jobs.pop(out.key, None) is not None:
                    self._record(out)  # counted once on disk
                    self._room.release()
        except (OSError, ValueError) as exc:  # a torn or overlong line from a dying worker
            worker.stderr.append(f"{type(exc).__name__}: {exc}")
        finally:
            worker.alive = False
            if worker.jobs:  # its output ended with articles in flight: it died, or it hangs
                try:
                    await asyncio.wait_for(worker.proc.wait(), EXIT_GRACE)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.kill()  # it cannot answer for them any more
            await worker.proc.wait()
            self._fail_in_flight(worker)

    def _pause_others(self, worker: _Worker, seconds: float) -> None:
        """A 429's pause in one worker, passed on: it pauses the whole run, as in one process."""
        line = orjson.dumps({"pause": seconds}) + b"\n"
        for other in self.workers:
            if other is not worker and other.usable and other.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    other.proc.stdin.write(line)

    def _fail_in_flight(self, worker: _Worker) -> None:
        if self._stop.is_set():
            return  # stopping: what was in flight stays pending
        for key, (name, article_id) in list(worker.jobs.items()):
            err = SummarizerError(
                f"the worker process running it ended ({worker.why_ended()}); "
                "rerun with --retry-failed to run it again"
            )
            del worker.jobs[key]
            self._record(_dead(key, name, article_id, err))
            self._room.release()

    @staticmethod
    async def _tail(worker: _Worker) -> None:
        assert worker.proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            while line := await worker.proc.stderr.readline():
                if text := line.decode("utf-8", "replace").strip():
                    worker.stderr.append(text)

    async def _close_all(self) -> None:
        for start in self._replacing.values():
            start.cancel()  # its process is in ``_every`` from its first moment: ended below
        for failed in await asyncio.gather(*self._replacing.values(), return_exceptions=True):
            if isinstance(failed, SummarizerError):  # after the last article went out: said, not raised
                self.progress.note(str(failed))
        await asyncio.gather(*(self._end(w) for w in self._every))

    async def _end(self, worker: _Worker) -> None:
        """Close a worker's stdin (it stops), wait for it a while, kill it if it lingers; reaped,
        and its answers read."""
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


def _dead(key: str, name: str, article_id: str | None, err: SummarizerError) -> Outcome:
    return Outcome(key, failure_line(key, name, article_id, err), failed=True, note=f"{name}: failed: {err}")


# --------------------------------------------------------------------------- the worker side


def main(fd: int) -> None:
    """A worker process (``boot`` in ``_spawn``: ``fd`` is its stdout, moved aside before any
    import): settings, then jobs, on stdin; ``{"ready": true}``, then outcomes and notes, on
    ``fd``. Its stdin closing ends it (the parent is done with it, or gone)."""
    # Ctrl-C and a group's SIGTERM reach every process: the parent decides, and closes our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else LINE_LIMIT
    asyncio.run(_serve(os.fdopen(fd, "wb"), limit))


async def _serve(out: BinaryIO, limit: int) -> None:
    from summarizer.engine import Engine

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
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
    engine.throttle.on_pause = lambda seconds: send({"pause": seconds})  # the others pause too
    send({"ready": True})

    async def one(job: dict[str, Any]) -> None:
        try:
            outcome = await attempt(engine, job["input"], Article(**job["article"]), job["key"])
            send(outcome.to_row())
            loaded()  # the first article done: what the process keeps is loaded
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never a job without an answer: the parent would wait for it
            dead = _dead(job["key"], job["input"], None, internal_error(exc))
            try:
                send(dead.to_row())
            except Exception:  # not even that: ending lets the parent fail it
                os._exit(1)

    running: set[asyncio.Task[None]] = set()
    try:
        with long_run() as loaded:
            while line := await reader.readline():
                job = json.loads(line)
                if "pause" in job:  # another worker's 429
                    engine.throttle.hold(job["pause"])
                    continue
                task = asyncio.create_task(one(job))
                running.add(task)
                task.add_done_callback(running.discard)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await engine.close()


if __name__ == "__main__":
    main(os.dup(1))
