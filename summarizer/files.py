"""Durable files, one of each: a folder's names made durable (``fsync_dir``), one process at a
time on a lock file (``exclusive``), the user's cache and data folders (platformdirs), and an
SQLite connection opened the one way our stores open them (``open_sqlite``)."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import platformdirs

# errno values of a directory fsync the platform or file system does not support (not failures).
_NO_DIR_FSYNC = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOTSUP", "EOPNOTSUPP", "EBADF", "EACCES", "EPERM", "EISDIR", "ENOSYS")
    if hasattr(errno, name)
)


def fsync_dir(folder: Path) -> bool:
    """Make the names in ``folder`` durable (a new file's directory entry lives there, not in the
    file: without this a power loss can lose a freshly created ``out.jsonl`` itself).

    Returns False where a directory cannot be fsynced (some platforms and file systems); other
    errors (EIO) propagate.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno in _NO_DIR_FSYNC:
            return False
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in _NO_DIR_FSYNC:
            return False
        raise
    finally:
        os.close(fd)
    return True


def exclusive(handle: IO[bytes] | IO[str], *, wait: bool) -> None:
    """Take the exclusive lock of an open file for as long as it stays open; ``wait=False``
    raises BlockingIOError when another process holds it. A no-op where there is no flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """One process at a time inside the block; the others wait their turn."""
    with lock_path.open("a") as handle:
        exclusive(handle, wait=True)
        yield  # closing the file releases the lock


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/summarizer`` (``~/.cache/summarizer``), or the platform's own."""
    return Path(platformdirs.user_cache_dir("summarizer", appauthor=False))


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/summarizer`` (``~/.local/share/summarizer``), or the platform's own."""
    return Path(platformdirs.user_data_dir("summarizer", appauthor=False))


def open_sqlite(
    path: Path, *, synchronous: str, journal: str | None = None, busy_s: float = 5.0, query_only: bool = False
) -> sqlite3.Connection:
    """One SQLite connection as every store of ours opens one: autocommit (we write ``BEGIN``
    ourselves), usable from the thread that owns it, waiting ``busy_s`` on a lock; ``journal``
    (``WAL``: readers never wait on the writer, ``OFF``: a scratch file) and ``synchronous``
    (``FULL``: each commit on disk; ``NORMAL``: on disk at checkpoints, enough for data that can
    be rebuilt) as the caller's durability needs."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_s)
    if journal is not None:
        db.execute(f"PRAGMA journal_mode={journal}")
    db.execute(f"PRAGMA synchronous={synchronous}")
    if query_only:
        db.execute("PRAGMA query_only=1")
    return db
