"""The desk's store: one SQLite database (WAL) under the data dir, one row per brief.

A brief's ``key`` is its ``text_key`` (the batch ledger's ``batch.item_key``: normalised text,
prompt version, schema version, model) with the story's metadata (``brief_key``: title, URL,
dateline, publisher), and its ``id`` the key's first 24 hex digits: the same article with the same
metadata, prompt, schema and model is the same row, served from the store without a model call.
The model's answer is kept (``answer``) as it arrives: a brief stopped before it was done, or
another brief of the same text, is grounded from it without a model call. Files 0600, folder 0700.

States: ``queued`` -> ``running`` -> ``done`` | ``failed``. A row is written (and, with
``synchronous=FULL``, on disk) before the API answers ``202``; ``done`` is written before anyone
is told. On open, rows left ``running`` by a crash go back to ``queued``; queued rows are run
again in the order they were accepted (``seq``).

Two connections: ``db`` writes (``recover``, ``enqueue``, ``start``, ``finish``, ``fail``) and
``reader`` reads (WAL lets it read while a write is being fsynced). ``work.Desk`` uses each from a
thread of its own, so the event loop never waits on the disk and a status poll never waits
behind a commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from summarizer.articles import Article
from summarizer.errors import ConfigurationError
from summarizer.files import exclusive, open_sqlite, user_data_dir

T = TypeVar("T")

STORE_VERSION = 2  # 2: ``answer`` (the model's last answer) and ``text_key`` (the ledger key)
ID_LENGTH = 24
STATES = ("queued", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS briefs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    article TEXT NOT NULL,
    title TEXT,
    source TEXT,
    headline TEXT,
    needs_review INTEGER,
    record TEXT,
    error TEXT,
    error_kind TEXT,
    submitted_at REAL NOT NULL,
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    model_s REAL,
    extract_s REAL,
    model_calls INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    answer TEXT,
    text_key TEXT
);
CREATE INDEX IF NOT EXISTS briefs_queue ON briefs (status, seq);
CREATE INDEX IF NOT EXISTS briefs_recent ON briefs (submitted_at);
"""

_COLUMNS = (
    "id, key, seq, status, title, source, headline, needs_review, error, error_kind, "
    "submitted_at, queued_at, started_at, finished_at, model_s, extract_s, model_calls, runs"
)
_SELECT = "SELECT " + _COLUMNS + " FROM briefs"  # noqa: S608 - our own column names, no input


def brief_id(key: str) -> str:
    return key[:ID_LENGTH]


def default_data_dir() -> Path:
    """``$SUMMARIZER_DATA_DIR`` is read by the CLI; this is the fallback: the XDG data home."""
    return user_data_dir() / "desk"


@dataclass(frozen=True)
class Row:
    """A brief as stored, without its (large) article and record."""

    id: str
    key: str
    seq: int
    status: str
    title: str | None
    source: str | None
    headline: str | None
    needs_review: bool | None
    error: str | None
    error_kind: str | None
    submitted_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    model_s: float | None
    extract_s: float | None
    model_calls: int
    runs: int

    @classmethod
    def of(cls, values: tuple[Any, ...]) -> Row:
        row = cls(*values)
        if row.needs_review is not None:
            object.__setattr__(row, "needs_review", bool(row.needs_review))
        return row


def brief_key(text_key: str, article: Article) -> str:
    """A brief is its text under the prompt, schema and model (``text_key``, the batch ledger's
    key) and the story's metadata: a corrected dateline, URL, publisher or title makes another
    brief (grounded from the same answer, without a model call: ``Store.same_text_answer``)."""
    meta = json.dumps([article.title, article.url, article.published_at, article.publisher])
    return hashlib.sha256(f"{text_key}\0{meta}".encode()).hexdigest()


_TEXT_CHARS = "text_chars"  # a stored record's article.text: the first this many of the row's


def _without_text(record: str, article_json: str) -> str:
    """The record to store: its article text left out when it is the start of the row's article
    (all of it, or what the model saw of a long one), so the text is kept once."""
    obj = orjson.loads(record)
    text = obj["article"]["text"]
    if not isinstance(text, str) or not article_from_json(article_json).text.startswith(text):
        return record
    obj["article"]["text"], obj["article"][_TEXT_CHARS] = None, len(text)
    return orjson.dumps(obj).decode("utf-8")


def _with_text(stored: str, article_json: str) -> str:
    """A stored record as the API gives it: the article text put back."""
    if f'"{_TEXT_CHARS}"' not in stored:
        return stored  # stored whole (a record from before, or a text that is not the article's start)
    obj = orjson.loads(stored)
    chars = obj["article"].pop(_TEXT_CHARS)
    obj["article"]["text"] = article_from_json(article_json).text[:chars]
    return orjson.dumps(obj).decode("utf-8")


def _matching(query: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a search in titles, headlines, sources and ids, and its arguments."""
    if not query:
        return "", []
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = (
        " WHERE title LIKE ? ESCAPE '\\' OR headline LIKE ? ESCAPE '\\'"
        " OR source LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\'"
    )
    return where, [like] * 4


def private_dir(folder: Path) -> None:
    """``folder`` made if missing, and readable by its owner only (0700): embargoed copy."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)


def private_file(path: Path) -> Path:
    """``path`` made if missing, and readable by its owner only (0600)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


def article_json(article: Article) -> str:
    return json.dumps(asdict(article), ensure_ascii=False)


def article_from_json(text: str) -> Article:
    return Article(**json.loads(text))


class Store:
    """The briefs table. Not thread-safe: use it from one thread (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "briefs.sqlite3"
        self._lock: IO[bytes] | None = None
        try:
            private_dir(data_dir)
            self._lock = private_file(data_dir / "desk.lock").open("ab")
            # One server per data dir: a second one would run the same queued work again.
            exclusive(self._lock, wait=False)
        except BlockingIOError:
            self.close()
            raise ConfigurationError(
                f"another summarizer serve uses {data_dir}; stop it, or give this one --data-dir"
            ) from None
        except OSError as exc:
            self.close()
            raise ConfigurationError(
                f"cannot use the data dir {data_dir}: {exc.strerror}; check the path and permissions "
                "or give --data-dir"
            ) from None
        try:
            # FULL: a commit is on disk before the API says 202 or done (as the batch ledger's fsync).
            # 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
            private_file(self.path)
            self.db = open_sqlite(self.path, journal="WAL", synchronous="FULL")
            self.db.execute("PRAGMA secure_delete=ON")  # a deleted brief's text is overwritten
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > STORE_VERSION:
                raise ConfigurationError(
                    f"{self.path} was written by a newer summarizer (store version {version}); "
                    "upgrade, or give another --data-dir"
                )
            with self.db:  # one transaction: a kill leaves the store as it was, or migrated
                self.db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                if version == 1:  # a store of the first version: the columns it lacks
                    self.db.execute("ALTER TABLE briefs ADD COLUMN answer TEXT")
                    self.db.execute("ALTER TABLE briefs ADD COLUMN text_key TEXT")
                    self.db.execute("UPDATE briefs SET text_key = key")  # version 1 keyed the text alone
                self.db.execute("CREATE INDEX IF NOT EXISTS briefs_text ON briefs (text_key)")
                self.db.execute(f"PRAGMA user_version={STORE_VERSION}")
            self.reader = open_sqlite(self.path, synchronous="FULL", query_only=True)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ConfigurationError(
                f"cannot open the store {self.path}: {exc}; move it away or give another --data-dir"
            ) from None

    def close(self) -> None:
        for name in ("reader", "db"):
            conn = getattr(self, name, None)
            if conn is not None:
                conn.close()
                setattr(self, name, None)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    # -- recovery -------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """After a crash: ``running`` rows go back to ``queued``. Returns the queue, in order."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE briefs SET status = 'queued', started_at = NULL WHERE status = 'running'")
        return [r[0] for r in self.db.execute("SELECT id FROM briefs WHERE status = 'queued' ORDER BY seq")]

    # -- reads ----------------------------------------------------------------------------

    def get(self, bid: str, *, conn: sqlite3.Connection | None = None) -> Row | None:
        values = (conn or self.reader).execute(_SELECT + " WHERE id = ?", (bid,)).fetchone()
        return Row.of(values) if values else None

    def by_key(self, key: str) -> Row | None:
        values = self.reader.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
        return Row.of(values) if values else None

    def article(self, bid: str) -> Article | None:
        values = self.reader.execute("SELECT article FROM briefs WHERE id = ?", (bid,)).fetchone()
        return article_from_json(values[0]) if values else None

    def record(self, bid: str) -> str | None:
        """The stored record's JSON (``EventSummary``, as ``--format json`` prints it, compact),
        its article text put back from the row's article (``finish`` keeps it once)."""
        values = self.reader.execute("SELECT record, article FROM briefs WHERE id = ?", (bid,)).fetchone()
        if not values or values[0] is None:
            return None
        return _with_text(values[0], values[1])

    def recent(self, limit: int, query: str | None = None, offset: int = 0) -> tuple[list[Row], int]:
        """The newest briefs (matching ``query``), from ``offset`` on, and how many match."""
        where, args = _matching(query)
        # ``where`` is one of two fixed strings (``_matching``); the search text is an argument.
        total = int(self.reader.execute("SELECT count(*) FROM briefs" + where, args).fetchone()[0])  # noqa: S608
        sql = _SELECT + where + " ORDER BY submitted_at DESC, seq DESC LIMIT ? OFFSET ?"
        return [Row.of(v) for v in self.reader.execute(sql, [*args, limit, offset])], total

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        out.update(
            dict(self.reader.execute("SELECT status, count(*) FROM briefs GROUP BY status").fetchall())
        )
        return out

    # -- writes ---------------------------------------------------------------------------

    def _next_seq(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(seq), 0) + 1 FROM briefs").fetchone()[0])

    def enqueue(
        self, key: str, article: Article, *, source: str, submitted_at: float, text_key: str | None = None
    ) -> Row:
        """A new brief, or a failed one asked for again: ``queued`` at the end of the queue."""
        bid = brief_id(key)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            self.db.execute(
                "INSERT INTO briefs (id, key, seq, status, article, title, source, submitted_at, queued_at,"
                " text_key) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, status = 'queued',"
                " article = excluded.article, title = excluded.title, source = excluded.source,"
                " submitted_at = excluded.submitted_at, queued_at = excluded.queued_at, started_at = NULL,"
                " finished_at = NULL, error = NULL, error_kind = NULL WHERE briefs.status = 'failed'",
                (
                    bid,
                    key,
                    seq,
                    article_json(article),
                    article.title,
                    source,
                    submitted_at,
                    time.time(),
                    text_key or key,
                ),
            )
        row = self.get(bid, conn=self.db)
        assert row is not None
        return row

    def requeue(self, bid: str, *, fresh: bool, at: float) -> Row | None:
        """A finished brief (done or failed) ``queued`` again at the end of the queue; ``fresh``
        forgets its kept answer, so the model is asked anew. None if it is not finished."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            changed = self.db.execute(
                "UPDATE briefs SET seq = ?, status = 'queued', submitted_at = ?, queued_at = ?,"
                " started_at = NULL, finished_at = NULL, error = NULL, error_kind = NULL,"
                " answer = CASE WHEN ? THEN NULL ELSE answer END"
                " WHERE id = ? AND status IN ('done', 'failed')",
                (seq, at, at, int(fresh), bid),
            ).rowcount
        return self.get(bid, conn=self.db) if changed else None

    def answer(self, bid: str, text_key: str) -> str | None:
        """The model's last answer for a brief (kept by ``keep_answer``), if it was given to
        this ``text_key``: the same text, prompt, schema and model (a desk restarted with
        another model or prompt asks again)."""
        values = self.reader.execute(
            "SELECT answer FROM briefs WHERE id = ? AND text_key = ?", (bid, text_key)
        ).fetchone()
        return values[0] if values else None

    def first_version_row(self, text_key: str, article: Article) -> Row | None:
        """A brief a version-1 store keyed by its text alone (``key = text_key``), if its story
        details are ``article``'s: the same brief, found again after the upgrade."""
        row = self.by_key(text_key)
        if row is None:
            return None
        stored = self.article(row.id)
        same = stored is not None and all(
            getattr(stored, f) == getattr(article, f) for f in ("title", "url", "published_at", "publisher")
        )
        return row if same else None

    def same_text_answer(self, text_key: str) -> str | None:
        """The kept answer of another brief of the same text (another dateline, URL, publisher
        or title): grounded with this brief's metadata, it needs no model call."""
        values = self.reader.execute(
            "SELECT answer FROM briefs WHERE text_key = ? AND answer IS NOT NULL AND status = 'done'"
            " ORDER BY finished_at DESC LIMIT 1",
            (text_key,),
        ).fetchone()
        return values[0] if values else None

    def count_calls(self, bid: str, calls: int) -> None:
        """Calls about to be made for a brief, counted before they are sent (a kill cannot
        make them uncounted)."""
        with self.db:
            self.db.execute("UPDATE briefs SET model_calls = model_calls + ? WHERE id = ?", (calls, bid))

    def keep_answer(self, bid: str, answer: str, calls: int) -> None:
        """The model's answer, the moment it arrives (before grounding), with the calls it cost
        so far: a restart grounds it again instead of paying for it again, and counts them."""
        with self.db:
            self.db.execute(
                "UPDATE briefs SET answer = ?, model_calls = model_calls + ? WHERE id = ?",
                (answer, calls, bid),
            )

    def delete(self, bid: str) -> bool:
        """Remove a brief (its article and record) for good; False if there was none. Its text
        is overwritten before the row goes (``secure_delete``), then the WAL is checkpointed."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            gone = self.db.execute("DELETE FROM briefs WHERE id = ?", (bid,)).rowcount
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(gone)

    def expire(self, before: float) -> int:
        """Delete every finished brief (done or failed) that finished before ``before``."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            gone = self.db.execute(
                "DELETE FROM briefs WHERE status IN ('done', 'failed') AND finished_at < ?", (before,)
            ).rowcount
        if gone:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(gone)

    def start(self, bid: str, at: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE briefs SET status = 'running', started_at = ?, runs = runs + 1 WHERE id = ?",
                (at, bid),
            )

    def finish(
        self,
        bid: str,
        *,
        record: str,
        headline: str,
        needs_review: bool,
        at: float,
        model_s: float,
        extract_s: float,
        model_calls: int,
    ) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            article = self.db.execute("SELECT article FROM briefs WHERE id = ?", (bid,)).fetchone()
            if article is not None:
                record = _without_text(record, article[0])
            self.db.execute(
                "UPDATE briefs SET status = 'done', record = ?, headline = ?, needs_review = ?,"
                " finished_at = ?, model_s = ?, extract_s = ?, model_calls = model_calls + ?,"
                " error = NULL, error_kind = NULL WHERE id = ?",
                (record, headline, int(needs_review), at, model_s, extract_s, model_calls, bid),
            )

    def fail(self, bid: str, *, error: str, kind: str, at: float, model_s: float, model_calls: int) -> None:
        with self.db:
            self.db.execute(
                "UPDATE briefs SET status = 'failed', error = ?, error_kind = ?, finished_at = ?,"
                " model_s = ?, model_calls = model_calls + ?, answer = NULL WHERE id = ?",
                (error, kind, at, model_s, model_calls, bid),
            )


class StoreThreads:
    """The store used from two threads of its own, so the event loop never waits on SQLite:
    one for writes (and opening and closing), one for reads (never queued behind a commit)."""

    def __init__(self) -> None:
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-store")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-read")
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "start the desk first"
        return self._store

    async def open(self, data_dir: Path) -> Store:
        self._store = await self.write(Store, data_dir)
        return self._store

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store write (or the store's opening and closing) on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writes, lambda: fn(*args, **kwargs))

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store read on the reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reads, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        self._reads.shutdown(wait=True)
        if self._store is not None:
            await self.write(self._store.close)
            self._store = None
        self._writes.shutdown(wait=True)
