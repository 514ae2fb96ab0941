"""The ledger's key index: which keys ``OUT`` and ``OUT.failed.jsonl`` hold, kept on disk.

A batch must know, for every article it meets, whether its key is already done or failed and
whether this run has taken it; an archive has millions of keys, so they live here and not in
memory (docs/ARCHITECTURE.md §5). The JSONL files stay the truth and the output format: the
index is a cache of them, built and caught up from them, never the other way round.

- ``OUT.index`` (SQLite in WAL mode, with its ``-wal``/``-shm``): ``keys`` (key -> state and the
  byte position of its latest line) and ``covered`` (per file: how many bytes the index has read,
  the position and sha256 of the last line read, unreadable lines met). ``OUT.index-run``: a
  scratch file for this run only (article ids seen, for duplicate-id notes), deleted at open and
  at close. Both are named so that ``ledger.OwnFiles`` keeps them out of the inputs.
- On open (after the ``flock`` on ``OUT`` and the torn-tail repair): the index is checked
  (SQLite's ``quick_check``, its format version, each file at least as long as covered and its
  last covered line unchanged) and then caught up: only the bytes beyond ``covered`` are read.
  Missing, unreadable, from another version, or describing files that have since been cut or
  changed: deleted and rebuilt from the files.
- Written only by the ledger's writer thread, one transaction per group commit, and only after
  that group's lines are fsynced: a key in the index is always a key on disk. A crash between
  the fsync and the index commit leaves the index behind the files, which the next open reads.
  ``synchronous=NORMAL``: a power loss may lose recent index commits (never its consistency);
  the catch-up reads those lines again.

Connections: ``_reader`` (look-ups) and ``_run`` (the scratch) are used by the event loop,
``_writer`` by the writer thread; WAL lets reader and writer run at once. SQLite's page cache
(2 MB a connection) bounds what each keeps in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import orjson

from summarizer.files import open_sqlite

FORMAT_VERSION = 1  # PRAGMA user_version of an index this code wrote
SUCCEEDED, FAILED = 1, 2
CHUNK = 20_000  # lines per transaction while catching up (an interrupted rebuild resumes)
_KEY_PREFIX = b'{"key":"'
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY, state INTEGER NOT NULL, pos INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS covered (
    file TEXT PRIMARY KEY, length INTEGER NOT NULL, last_pos INTEGER NOT NULL,
    last_sha BLOB NOT NULL, bad INTEGER NOT NULL
);
"""
# Succeeded wins over failed, whatever the order lines are read in; a failed key keeps the
# position of its latest line (so a failure written by this run is told from an earlier one).
_UPSERT = {
    SUCCEEDED: "INSERT INTO keys VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET state = 1, "
    "pos = excluded.pos",
    FAILED: "INSERT INTO keys VALUES (?, 2, ?) ON CONFLICT(key) DO UPDATE SET pos = excluded.pos "
    "WHERE state = 2",
}


class KeyState(Enum):
    """Where a key stands for the run that asks."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # by an earlier run
    FAILED_THIS_RUN = "failed this run"


def index_path_for(out: Path) -> Path:
    """``out.jsonl`` -> ``out.jsonl.index`` (SQLite adds ``-wal`` and ``-shm`` beside it)."""
    return out.with_name(f"{out.name}.index")


def run_path_for(out: Path) -> Path:
    """``out.jsonl`` -> ``out.jsonl.index-run``: this run's scratch (ids seen)."""
    return out.with_name(f"{out.name}.index-run")


def line_key(line: bytes) -> str | None:
    """The ``key`` of one ledger line, or None when the line cannot be read.

    Our writer puts the key first: one complete record per line takes the fast path; a torn
    write that a later record was appended to (two keys on a line) gets the full parse, fails
    it, and so counts as not done.
    """
    if line.startswith(_KEY_PREFIX) and line.rstrip().endswith(b"}") and line.count(_KEY_PREFIX) == 1:
        end = line.find(b'"', len(_KEY_PREFIX))
        return line[len(_KEY_PREFIX) : end].decode("ascii", "replace") if end > 0 else None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    key = obj.get("key") if isinstance(obj, dict) else None
    return key if isinstance(key, str) else None


def iter_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(position, line)`` for each line of ``path`` from byte ``start`` (blank lines too)."""
    with path.open("rb") as fh:
        fh.seek(start)
        pos = start
        for line in fh:
            yield pos, line
            pos += len(line)


@dataclass
class Cover:
    """How much of one file the index has read."""

    length: int = 0
    last_pos: int = 0
    last_sha: bytes = b""
    bad: int = 0


@dataclass(frozen=True)
class Entry:
    """One line the writer has fsynced: its file's name in ``covered``, key, position."""

    file: str
    key: str | None
    pos: int
    line: bytes


class _Stale(Exception):
    """The index does not describe the files: rebuild it (caught in ``KeyIndex.open``)."""


class SeenIds:
    """The article ids met this run, in a scratch file beside the index (memory stays flat).
    Its own connection, so its long transactions never hold back the reader's view of what the
    writer commits; no journal, no fsync: it is thrown away at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_sqlite(path, journal="OFF", synchronous="OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self._pending = 0  # ids inserted since the last commit

    def seen(self, article_id: str) -> bool:
        """Note an article id; True if this run has met it before."""
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        cur = self._db.execute("INSERT OR IGNORE INTO ids VALUES (?)", (article_id,))
        self._pending += 1
        if self._pending >= 1000:  # a commit per thousand ids, not per id
            self._db.execute("COMMIT")
            self._pending = 0
        return cur.rowcount == 0

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self.remove(self.path)

    @staticmethod
    def remove(path: Path) -> None:
        for suffix in ("", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")


class KeyIndex:
    """The key index of one batch output. ``open`` first; ``close`` last."""

    def __init__(self, out: Path, failed_out: Path) -> None:
        self.path = index_path_for(out)
        self.run_path = run_path_for(out)
        self.files = {"out": out, "failed": failed_out}
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._run: SeenIds | None = None  # the event loop's
        self.covers: dict[str, Cover] = {}
        self.failed_start = 0  # length of OUT.failed.jsonl when this run began
        self.rebuilt: str | None = None  # why the index was rebuilt, when it was not just missing

    # -- open: check, catch up, or rebuild ------------------------------------------------

    def open(self) -> None:
        """Check and catch up the index with the files (or rebuild it). Raises ``sqlite3.Error``
        or ``OSError`` only when even a fresh index cannot be made."""
        SeenIds.remove(self.run_path)  # left by a killed run
        existed = self.path.exists()
        try:
            self._connect()
            self._check()
            self._catch_up()
        except (sqlite3.DatabaseError, _Stale) as exc:
            self._close_connections()
            if existed:
                self.rebuilt = str(exc) or type(exc).__name__
            self._delete()
            self._connect()
            self._catch_up()
        self.failed_start = self.covers["failed"].length
        self._run = SeenIds(self.run_path)

    def _connect(self) -> None:
        # Where a file system has no shared memory for WAL, SQLite keeps its rollback journal:
        # slower (the reader waits for the writer's commits) but just as correct.
        reader = open_sqlite(self.path, journal="WAL", synchronous="NORMAL", busy_s=30)
        self._reader = reader
        version = reader.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, FORMAT_VERSION):
            raise _Stale(f"index format {version}, this version writes {FORMAT_VERSION}")
        reader.executescript(_SCHEMA)
        reader.execute(f"PRAGMA user_version={FORMAT_VERSION}")
        self._writer = open_sqlite(self.path, synchronous="NORMAL", busy_s=30)
        self.covers = {name: Cover() for name in self.files}
        for name, length, last_pos, last_sha, bad in reader.execute("SELECT * FROM covered"):
            if name in self.covers:
                self.covers[name] = Cover(length, last_pos, bytes(last_sha), bad)

    def _check(self) -> None:
        assert self._reader is not None
        result = self._reader.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise _Stale(f"damaged ({result})")
        for name, path in self.files.items():
            cover = self.covers[name]
            if cover.length == 0:
                continue
            size = path.stat().st_size if path.exists() else 0
            if size < cover.length:
                raise _Stale(f"{path.name} is shorter than the index has read")
            with path.open("rb") as fh:
                fh.seek(cover.last_pos)
                last = fh.read(cover.length - cover.last_pos)
            if hashlib.sha256(last).digest() != cover.last_sha:
                raise _Stale(f"{path.name} has changed since the index read it")

    def _catch_up(self) -> None:
        """Read every line beyond what the index covers, in transactions of ``CHUNK`` lines."""
        assert self._writer is not None
        for name, path in self.files.items():
            if not path.exists():
                continue
            cover = self.covers[name]
            state = SUCCEEDED if name == "out" else FAILED
            rows: list[tuple[str, int]] = []
            last: tuple[int, bytes] | None = None
            bad = 0
            for pos, line in iter_lines(path, cover.length):
                last = (pos, line)
                if not line.strip():
                    continue
                key = line_key(line)
                if key is None:
                    bad += 1
                else:
                    rows.append((key, pos))
                if len(rows) >= CHUNK:
                    self._commit_scan(name, state, rows, last, bad)
                    rows, bad = [], 0
            if last is not None:
                self._commit_scan(name, state, rows, last, bad)

    def _commit_scan(
        self, name: str, state: int, rows: list[tuple[str, int]], last: tuple[int, bytes], bad: int
    ) -> None:
        assert self._writer is not None
        pos, line = last
        cover = self.covers[name]
        new = Cover(pos + len(line), pos, hashlib.sha256(line).digest(), cover.bad + bad)
        with _transaction(self._writer):
            self._writer.executemany(_UPSERT[state], rows)
            self._store_cover(name, new)
        self.covers[name] = new

    def _store_cover(self, name: str, c: Cover) -> None:
        assert self._writer is not None
        self._writer.execute(
            "INSERT OR REPLACE INTO covered VALUES (?, ?, ?, ?, ?)",
            (name, c.length, c.last_pos, c.last_sha, c.bad),
        )

    # -- the event loop's side ----------------------------------------------------------

    @property
    def unreadable_lines(self) -> int:
        return sum(c.bad for c in self.covers.values())

    def state(self, key: str) -> KeyState | None:
        """Where ``key`` stands in the files (as far as the writer has indexed them)."""
        assert self._reader is not None
        row = self._reader.execute("SELECT state, pos FROM keys WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if row[0] == SUCCEEDED:
            return KeyState.SUCCEEDED
        return KeyState.FAILED_THIS_RUN if row[1] >= self.failed_start else KeyState.FAILED

    def seen_id(self, article_id: str) -> bool:
        """Note an article id for this run; True if this run has met it before."""
        assert self._run is not None
        return self._run.seen(article_id)

    # -- the writer thread's side ---------------------------------------------------------

    def record(self, entries: list[Entry]) -> None:
        """Index lines the writer has just fsynced, in one transaction. Raises ``sqlite3.Error``."""
        assert self._writer is not None
        if not entries:
            return
        covers = dict(self.covers)
        with _transaction(self._writer):
            for name, state in (("out", SUCCEEDED), ("failed", FAILED)):
                mine = [e for e in entries if e.file == name]
                if not mine:
                    continue
                self._writer.executemany(_UPSERT[state], [(e.key, e.pos) for e in mine if e.key is not None])
                last = mine[-1]
                bad = sum(e.key is None for e in mine)
                covers[name] = Cover(
                    last.pos + len(last.line),
                    last.pos,
                    hashlib.sha256(last.line).digest(),
                    covers[name].bad + bad,
                )
                self._store_cover(name, covers[name])
        self.covers = covers

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        self._close_connections()
        if self._run is not None:  # only ours: a run refused by the flock leaves the other's alone
            self._run.close()
            self._run = None

    def _close_connections(self) -> None:
        # The writer first: the last connection to close checkpoints and removes the -wal.
        for conn in (self._writer, self._reader):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
        self._writer = self._reader = None

    def _delete(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
