"""The batch ledger: append-only JSONL of results and of failures, fsynced before acknowledged.

Invariant (docs/ARCHITECTURE.md §5): ``inputs = succeeded + failed + pending``, at every moment. An item is
done only once its line is written, flushed and fsynced; a crash before that leaves it pending,
a crash during the write leaves a torn last line that the next run cuts off.

Writes happen on one writer thread (group commit: every line queued while the previous fsync
ran is written and fsynced together), so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from summarizer.errors import BatchError
from summarizer.files import exclusive, fsync_dir
from summarizer.ledger_index import Entry, KeyIndex, iter_lines, line_key

Opener = Callable[[Path], IO[bytes]]


def failed_path_for(out: Path) -> Path:
    """``out.jsonl`` -> ``out.failed.jsonl`` (the dead-letter file beside the output)."""
    return out.with_name(f"{out.stem}.failed{out.suffix or '.jsonl'}")


def ledger_files(out: Path) -> tuple[Path, ...]:
    """Every file a run writing ``out`` keeps, all beside it: the output and the dead letters.

    A file or folder a run adds later (a lock, an index, SQLite's ``-wal``/``-shm``, the Batch
    API's ``out.jsonl.batch-api/``) must be named after one of these plus ``.`` or ``-``
    (``out.jsonl.index``, ``out.jsonl.index-wal``): ``OwnFiles`` then keeps it (and a folder's
    files) out of the inputs too.
    """
    return (out, failed_path_for(out))


class OwnFiles:
    """Recognises the files of a run writing ``out``, so an input walk never reads them back.

    ``summarizer batch arch/ -o arch/out.jsonl`` would otherwise take its own output (and its
    dead letters, which grow as it reads them) as articles. Matched by name first (cheap, for
    every file of an archive), then by the real folder, so symlinked paths match as well.
    """

    def __init__(self, out: Path) -> None:
        self.folder = os.path.realpath(out.parent)
        files = ledger_files(out)
        self.names = frozenset(p.name for p in files)
        # Sidecar prefixes only for names with a suffix: "out." alone would take "out.md".
        self._prefixes = tuple(f"{p.name}{sep}" for p in files if p.suffix for sep in ".-")

    def __contains__(self, path: Path) -> bool:
        parent = path.parent
        if parent.name.startswith(self._prefixes) and os.path.realpath(parent.parent) == self.folder:
            return True  # in a folder the run keeps beside its output (``out.jsonl.batch-api/``)
        name = path.name
        if name not in self.names and not name.startswith(self._prefixes):
            return False
        return os.path.realpath(parent) == self.folder


def repair_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a write a crash interrupted). Returns bytes cut."""
    if not path.exists():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the previous newline in blocks.
        pos = size
        while pos > 0:
            step = min(65536, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = pos - step + nl + 1
                break
            pos -= step
        else:
            keep = 0
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
        return size - keep


def read_keys(path: Path) -> tuple[set[str], int]:
    """Keys of the lines in ``path``, and how many lines could not be read (small files and
    tests: a run keeps its keys in ``ledger_index.KeyIndex``, not in memory)."""
    keys: set[str] = set()
    bad = 0
    if not path.exists():
        return keys, bad
    for _, line in iter_lines(path):
        if not line.strip():
            continue
        key = line_key(line)
        if key is None:
            bad += 1
        else:
            keys.add(key)
    return keys, bad


@dataclass
class LedgerState:
    """What ``Ledger.open`` found; the keys themselves are in ``Ledger.index``."""

    repaired_bytes: int = 0
    unreadable_lines: int = 0
    index_rebuilt: str | None = None  # why an existing index was rebuilt from the files


class Ledger:
    """Result and dead-letter files for one batch output. Use ``async with``."""

    def __init__(self, out: Path, *, opener: Opener | None = None) -> None:
        self.out = out
        self.failed_out = failed_path_for(out)
        # Buffered: ``flush`` writes every byte or raises, so a short write is never silent.
        self._opener: Opener = opener or (lambda p: p.open("ab"))
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._files: dict[Path, IO[bytes]] = {}
        self._sizes: dict[Path, int] = {}  # bytes in each file, as the writer has written them
        self._names = {self.out: "out", self.failed_out: "failed"}
        self._broken: OSError | None = None
        self.index = KeyIndex(self.out, self.failed_out)

    def open(self) -> LedgerState:
        """Repair torn tails and bring the key index up to date with the files (``index``:
        what is already done). Runs before the writer starts."""
        try:
            folder = self.out.parent
            created = [d for d in (folder, *folder.parents) if not d.exists()]
            folder.mkdir(parents=True, exist_ok=True)
            for path in (self.out, self.failed_out):
                self._files[path] = self._opener(path)
            # The new files' names (and any folder made for them) are durable before work starts.
            for d in (folder, *(c.parent for c in reversed(created))):
                fsync_dir(d)
            # One run per output: a second one would pay for every article again.
            exclusive(self._files[self.out], wait=False)
            repaired = repair_torn_tail(self.out) + repair_torn_tail(self.failed_out)
            self._sizes = {path: path.stat().st_size for path in self._files}
            self.index.open()  # after the flock: no other run touches the index
        except BlockingIOError:
            self.close()
            raise BatchError(f"another batch is writing {self.out}; wait for it or give another -o") from None
        except OSError as exc:
            self.close()
            raise BatchError(
                f"cannot open {self.out}: {exc.strerror}; check the path and permissions"
            ) from None
        except sqlite3.Error as exc:
            self.close()
            raise BatchError(
                f"cannot build the key index {self.index.path}: {exc}; check that its folder is "
                "writable and has free space (the index is a cache of the JSONL: deleting it is safe)"
            ) from None
        self._thread = threading.Thread(target=self._run, name="summarizer-ledger", daemon=True)
        self._thread.start()
        return LedgerState(repaired, self.index.unreadable_lines, self.index.rebuilt)

    def submit(self, line: bytes, *, failed: bool = False) -> asyncio.Future[None]:
        """Queue one JSON line; the future resolves once it is on disk (fsynced), or fails
        with ``OSError``. The line is written even if whoever awaits the future is cancelled."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        path = self.failed_out if failed else self.out
        self._queue.put((path, line if line.endswith(b"\n") else line + b"\n", fut))
        return fut

    async def append(self, line: bytes, *, failed: bool = False) -> None:
        await self.submit(line, failed=failed)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 1024:
                    batch.append(self._queue.get_nowait())
            stop = any(item is None for item in batch)
            items = [item for item in batch if item is not None]
            error = self._write(items)
            for _, _, fut in items:
                loop = fut.get_loop()
                if error is None:
                    loop.call_soon_threadsafe(_resolve, fut, None)
                else:
                    loop.call_soon_threadsafe(_resolve, fut, error)
            if stop:
                return

    def _write(self, items: list[tuple[Path, bytes, Any]]) -> OSError | None:
        if self._broken is not None:
            return self._broken  # after a failed write nothing more is written or acknowledged
        touched: set[Path] = set()
        entries: list[Entry] = []
        try:
            for path, line, _ in items:
                self._files[path].write(line)
                touched.add(path)
                entries.append(Entry(self._names[path], line_key(line), self._sizes[path], line))
                self._sizes[path] += len(line)
            for path in touched:
                fh = self._files[path]
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self._broken = exc
            return exc
        # Only now, with the lines durable, may the index name their keys. Should that fail,
        # the lines stay on disk unacknowledged (pending); the next open indexes them.
        try:
            self.index.record(entries)
        except Exception as exc:  # sqlite3.Error, or anything: this thread must resolve every future
            self._broken = OSError(errno.EIO, str(exc) or type(exc).__name__, str(self.index.path))
            return self._broken
        return None

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.index.close()
        for fh in self._files.values():
            with contextlib.suppress(OSError):
                fh.close()
        self._files.clear()


def _resolve(fut: asyncio.Future[None], error: OSError | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
