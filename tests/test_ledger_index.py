"""The on-disk key index beside a batch output (``ledger_index.KeyIndex``).

The JSONL files are the truth; the index is a cache of them. Under test: it is rebuilt when
missing, damaged or describing files that have changed, caught up (only the tail) when the
files hold lines it lacks, never makes a rerun pay twice, and is never read back as an input.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer import ledger_index
from summarizer.batch import BatchOptions, BatchRunner
from summarizer.errors import BatchError
from summarizer.inputs import count_inputs, iter_inputs
from summarizer.ledger import Ledger, OwnFiles, failed_path_for
from summarizer.ledger_index import Entry, KeyIndex, KeyState, index_path_for, run_path_for
from summarizer.progress import NullProgress, Tally
from tests.support.fake_openai import FakeServer
from tests.test_batch import lines, settings_for, write_archive

ROOT = Path(__file__).resolve().parent.parent


class Notes(NullProgress):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(latency=0.002) as server:
        yield server


def run(fake: FakeServer, arch: Path, out: Path, **opts: Any) -> tuple[Any, list[str]]:
    progress = Notes()
    runner = BatchRunner(settings_for(fake), out, BatchOptions(**opts), progress=progress)
    tally = asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6, output=out)))
    return tally, progress.notes


def indexed(out: Path) -> dict[str, int]:
    with sqlite3.connect(index_path_for(out)) as conn:
        return dict(conn.execute("SELECT key, state FROM keys"))


def test_a_deleted_index_is_rebuilt_and_the_rerun_pays_nothing(fake: FakeServer, tmp_path: Path) -> None:
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 5)
    (arch / "empty.txt").write_bytes(b"")
    run(fake, arch, out)
    keys = {r["key"] for r in lines(out)} | {r["key"] for r in lines(failed_path_for(out))}
    assert set(indexed(out)) == keys and len(keys) == 6
    for name in os.listdir(tmp_path):
        if name.startswith("out.jsonl.index"):
            os.unlink(tmp_path / name)
    calls = fake.requests
    tally, notes = run(fake, arch, out)
    assert fake.requests == calls  # zero model calls
    assert (tally.inputs, tally.already_done, tally.failed) == (6, 5, 1)
    assert set(indexed(out)) == keys
    assert not any("rebuilt" in n for n in notes)  # missing is normal (a first run, an upgrade)


def test_lines_the_index_lacks_are_caught_up_reading_only_the_tail(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between a group's fsync and its index commit: the files hold lines the index lacks."""
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 3)
    run(fake, arch, out)
    covered = out.stat().st_size
    write_archive(arch, 6)  # three more articles, whose lines never reach the index
    with monkeypatch.context() as m:
        m.setattr(KeyIndex, "record", lambda self, entries: None)
        run(fake, arch, out)
    assert len(lines(out)) == 6 and len(indexed(out)) == 3
    starts: list[tuple[str, int]] = []
    real_iter = ledger_index.iter_lines

    def spy(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
        starts.append((path.name, start))
        return real_iter(path, start)

    monkeypatch.setattr(ledger_index, "iter_lines", spy)
    calls = fake.requests
    tally, notes = run(fake, arch, out)
    assert fake.requests == calls and tally.already_done == 6
    assert ("out.jsonl", covered) in starts and ("out.jsonl", 0) not in starts
    assert len(indexed(out)) == 6 and not any("rebuilt" in n for n in notes)


def test_a_garbage_index_is_rebuilt_from_the_jsonl(fake: FakeServer, tmp_path: Path) -> None:
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 4)
    run(fake, arch, out)
    index_path_for(out).write_bytes(b"\x00garbage, not SQLite\xff" * 500)
    Path(f"{index_path_for(out)}-wal").write_bytes(b"more garbage" * 100)
    calls = fake.requests
    tally, notes = run(fake, arch, out)
    assert fake.requests == calls and tally.already_done == 4
    assert any(n.startswith(f"rebuilt the key index {index_path_for(out)} from the JSONL") for n in notes)
    assert len(indexed(out)) == 4


def test_an_index_of_files_that_were_cut_or_changed_is_rebuilt(fake: FakeServer, tmp_path: Path) -> None:
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 4)
    run(fake, arch, out)
    records = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(records[:2]))  # someone cut the output: the cut articles are redone
    calls = fake.requests
    tally, notes = run(fake, arch, out)
    assert (fake.requests - calls, tally.already_done, tally.succeeded) == (2, 2, 4)
    assert any("shorter than the index has read" in n for n in notes)
    # Same length, other lines at the end (reordered by hand): rebuilt, nothing redone.
    records = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(reversed(records)))
    calls = fake.requests
    tally, notes = run(fake, arch, out)
    assert (fake.requests - calls, tally.already_done) == (0, 4)
    assert any("has changed since the index read it" in n for n in notes)


_CRASHING_RUN = """
import asyncio, os, signal, sys
from pathlib import Path
from summarizer.batch import BatchOptions, BatchRunner
from summarizer.inputs import iter_inputs
from summarizer.ledger_index import KeyIndex
from summarizer.settings import Settings

url, arch, out, after = sys.argv[1:]
real, groups = KeyIndex.record, []

def record(self, entries):
    groups.append(len(entries))
    if len(groups) > int(after):  # this group is fsynced; its index commit never happens
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, entries)

KeyIndex.record = record
settings = Settings(base_url=url, model="fake-model", api_key="k", structured_output="json_schema")
runner = BatchRunner(settings, Path(out), BatchOptions(concurrency=4))
asyncio.run(runner.run(iter_inputs([arch], max_bytes=10**6, output=Path(out))))
"""


def test_sigkill_between_fsync_and_index_commit_costs_no_model_call(tmp_path: Path) -> None:
    """Killed for real right after an fsync, before the index hears of it; the output sits in
    the input folder, so the index, its -wal/-shm and the run's scratch lie among the inputs."""
    n = 30
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = arch / "out.jsonl"
    with FakeServer(latency=0.02) as fake:
        proc = subprocess.run(
            [sys.executable, "-c", _CRASHING_RUN, fake.base_url, str(arch), str(out), "5"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        on_disk = len(lines(out))
        assert 6 <= on_disk < n and len(indexed(out)) < on_disk
        leftovers = {p.name for p in arch.iterdir() if p.name.startswith("out.jsonl.")}
        assert {"out.jsonl.index", "out.jsonl.index-wal", "out.jsonl.index-run"} <= leftovers
        assert count_inputs([str(arch)], output=out) == n
        calls = fake.requests
        tally, _ = run(fake, arch, out, concurrency=4)
        rerun_calls = fake.requests - calls
    assert rerun_calls == n - on_disk  # nothing that reached the disk is paid for again
    assert (tally.inputs, tally.succeeded, tally.already_done, tally.failed) == (n, n, on_disk, 0)
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == len(set(keys)) == n
    assert not run_path_for(out).exists()


def test_an_index_write_error_stops_the_run_and_keeps_the_work(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 8)
    real, seen = KeyIndex.record, []

    def full(self: KeyIndex, entries: list[Entry]) -> None:
        seen.append(entries)
        if len(seen) >= 3:
            raise sqlite3.OperationalError("database or disk is full")
        real(self, entries)

    with monkeypatch.context() as m:
        m.setattr(KeyIndex, "record", full)
        runner = BatchRunner(settings_for(fake), out, BatchOptions(concurrency=1))
        with pytest.raises(BatchError, match=r"out.jsonl.index: .*database or disk is full; free disk space"):
            asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6)))
    # The third line is on disk but was never acknowledged: it counts as pending, not lost.
    assert len(lines(out)) == 3 and runner.tally.succeeded == 2
    calls = fake.requests
    tally, _ = run(fake, arch, out)
    assert (tally.already_done, tally.succeeded, fake.requests - calls) == (3, 8, 5)


def test_states_of_keys_in_both_files(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    failed = failed_path_for(out)
    out.write_bytes(b'{"key":"ok","x":1}\n{"key":"retried","x":2}\n')
    failed.write_bytes(b'{"key":"retried","m":1}\n{"key":"bad","m":2}\nnot json\n')
    ledger = Ledger(out)
    state = ledger.open()
    try:
        index = ledger.index
        assert state.unreadable_lines == 1
        assert index.state("ok") is index.state("retried") is KeyState.SUCCEEDED  # success wins
        assert index.state("bad") is KeyState.FAILED and index.state("new") is None
        index.record([Entry("failed", "bad", failed.stat().st_size, b'{"key":"bad","m":3}\n')])
        assert index.state("bad") is KeyState.FAILED_THIS_RUN
        assert not index.seen_id("a1") and index.seen_id("a1") and not index.seen_id("a2")
    finally:
        ledger.close()


def test_every_index_file_is_one_of_the_runs_own(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    own = OwnFiles(out)
    for base in (index_path_for(out), run_path_for(out)):
        for suffix in ("", "-wal", "-shm", "-journal"):
            assert Path(f"{base}{suffix}") in own
    assert tmp_path / "out.md" not in own


def test_duplicate_ids_are_counted_and_only_the_first_few_kept() -> None:
    tally = Tally()
    for i in range(1000):
        tally.note_duplicate_id(f"id{i}")
    assert tally.duplicate_id_count == 1000 and tally.duplicate_ids == [f"id{i}" for i in range(100)]
