"""Batch runs against the fake OpenAI-compatible server (fault-injection tier).

The fake's answers are generated test fixtures; what is under test is our runner and ledger:
exactly-once keys, nothing lost, failures recorded with reasons, exact model-call counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx2
import pytest

from summarizer.batch import BatchOptions, BatchRunner, in_shard, item_key, parse_shard
from summarizer.errors import AuthenticationError, BatchError, ConfigurationError, InputError
from summarizer.inputs import count_inputs, iter_inputs
from summarizer.ledger import failed_path_for, read_keys, repair_torn_tail
from summarizer.settings import Settings
from tests.support.fake_openai import UNGROUNDED_WHAT, FakeServer

PARAGRAPH = (
    "The city council of {town} voted on Tuesday to build {n} new bridges, officials said. "
    '"We need them now," said councillor Maria Lopez. The plan costs {n}00 million euros.'
)


def write_archive(folder: Path, n: int, *, faults: dict[int, str] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        text = f"Bridges for town {i}\n\n" + PARAGRAPH.format(town=f"Town{i}", n=i + 2)
        if faults and i in faults:
            text += f"\n\nFAULT: {faults[i]}"
        p = folder / f"a{i:04d}.txt"
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths


def settings_for(fake: FakeServer, **kw: Any) -> Settings:
    base = {"base_url": fake.base_url, "model": "fake-model", "api_key": "k", "max_retries": 3,
            "max_retry_wait": 0.05, "structured_output": "json_schema"}  # fmt: skip
    return Settings(**{**base, **kw})


def run_batch(fake: FakeServer, sources: list[str], out: Path, **opts: Any) -> Any:
    settings = settings_for(fake, **opts.pop("settings", {}))
    runner = BatchRunner(settings, out, BatchOptions(**opts))
    return asyncio.run(runner.run(iter_inputs(sources, max_bytes=settings.max_bytes)))


def finished(path: Path) -> int:
    """Whole lines on disk while a writer may be mid-line (a partial tail is not a record)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(latency=0.005) as server:
        yield server


def test_folder_with_bad_files_succeeds_for_the_rest(fake: FakeServer, tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    write_archive(arch, 5)
    (arch / "empty.txt").write_bytes(b"")
    (arch / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    (arch / "latin1.txt").write_bytes(b"Caf\xe9 news")
    (arch / "broken.json").write_text('{"text": "unterminated', encoding="utf-8")
    (arch / "ignored.pdf").write_bytes(b"%PDF")  # not an article type: not an input
    out = tmp_path / "out.jsonl"
    tally = run_batch(fake, [str(arch)], out, concurrency=3)
    assert (tally.inputs, tally.succeeded, tally.failed, tally.pending) == (9, 5, 4, 0)
    assert fake.requests == 5
    records = lines(out)
    assert len(records) == 5 and len({r["key"] for r in records}) == 5
    # The fake's answers are grounded: nothing rejected, nothing to review.
    assert all(r["rejected"] == [] and not r["needs_review"] for r in records)
    failures = {Path(f["input"]).name: f for f in lines(failed_path_for(out))}
    assert set(failures) == {"empty.txt", "binary.md", "latin1.txt", "broken.json"}
    assert "empty" in failures["empty.txt"]["message"]
    assert "binary" in failures["binary.md"]["message"]
    assert "UTF-8" in failures["latin1.txt"]["message"]
    assert "malformed JSON" in failures["broken.json"]["message"]
    assert all(f["error_class"] == "InputError" and f["attempts"] == 0 for f in failures.values())


def test_a_worker_asks_for_its_next_article_while_its_line_is_written(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker: the first line's write is held until the second article's request has
    reached the model (it used to wait for the disk first); every line lands, counted once."""
    from summarizer.ledger import Ledger

    arch = tmp_path / "arch"
    write_archive(arch, 3)
    real_write, seen_by_first_write = Ledger._write, []

    def held(self: Ledger, items: list[Any]) -> Any:
        if not seen_by_first_write:
            deadline = time.monotonic() + 10
            while fake.requests < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_by_first_write.append(fake.requests)
        return real_write(self, items)

    monkeypatch.setattr(Ledger, "_write", held)
    # One worker (no spare articles in hand), so what is seen is that worker's own doing.
    monkeypatch.setattr("summarizer.batch.runner.articles_in_flight", lambda concurrency: concurrency)
    tally = run_batch(fake, [str(arch)], tmp_path / "out.jsonl", concurrency=1)
    assert seen_by_first_write == [2]
    assert tally.succeeded == 3 and finished(tmp_path / "out.jsonl") == 3 and fake.requests == 3


class CountingTransport(httpx2.AsyncBaseTransport):
    """Passes every request on to the fake server, counting those awaiting their answer."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.waiting = self.most = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.waiting -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_requests_in_flight_stay_at_concurrency_while_the_next_articles_are_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--concurrency`` bounds the requests awaiting the model; the runner holds a few more
    articles, prepared while those requests wait and grounded after (it used to hold exactly
    ``concurrency``, so an article was prepared only once a request had come back)."""
    import summarizer.engine
    from summarizer.batch.books import articles_in_flight

    arch = tmp_path / "arch"
    write_archive(arch, 12)
    counting, in_hand, counts = CountingTransport(), [0], []
    real_prepare, real_build = summarizer.engine.prepare, summarizer.engine.build_record

    def prepare(*args: Any, **kwargs: Any) -> Any:
        in_hand[0] += 1
        counts.append(in_hand[0])
        return real_prepare(*args, **kwargs)

    def build_record(*args: Any, **kwargs: Any) -> Any:
        in_hand[0] -= 1
        return real_build(*args, **kwargs)

    monkeypatch.setattr(summarizer.engine, "prepare", prepare)
    monkeypatch.setattr(summarizer.engine, "build_record", build_record)
    with FakeServer(latency=0.2) as fake:
        runner = BatchRunner(settings_for(fake), tmp_path / "out.jsonl", BatchOptions(concurrency=3),
                             transport=counting)  # fmt: skip
        tally = asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6)))
        assert tally.succeeded == 12 and fake.requests == 12
    assert counting.most == 3  # never more requests out than --concurrency
    assert len(counts) == 12 and max(counts) == articles_in_flight(3) == 5


def test_rerun_makes_zero_model_calls_and_counts_everything(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 6)
    (tmp_path / "a" / "bad.txt").write_bytes(b"")
    out = tmp_path / "out.jsonl"
    run_batch(fake, [str(tmp_path / "a")], out)
    before, failed_before = out.read_bytes(), failed_path_for(out).read_bytes()
    calls = fake.requests
    tally = run_batch(fake, [str(tmp_path / "a")], out)
    assert fake.requests == calls  # zero model calls
    assert (tally.inputs, tally.succeeded, tally.already_done, tally.failed) == (7, 6, 6, 1)
    assert out.read_bytes() == before and failed_path_for(out).read_bytes() == failed_before


def test_identical_texts_and_duplicate_ids_are_billed_once(fake: FakeServer, tmp_path: Path) -> None:
    doc = {"title": "Same", "text": PARAGRAPH.format(town="Lyon", n=3)}
    other = {"id": "x", "text": PARAGRAPH.format(town="Gent", n=4)}
    jl = tmp_path / "in.jsonl"
    rows = [{**doc, "id": "x"}, {**doc, "id": "y"}, other, {**doc, "id": "z"}]
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    tally = run_batch(fake, [str(jl)], out)
    assert fake.requests_for("Lyon") == 1 and fake.requests_for("Gent") == 1
    assert (tally.inputs, tally.succeeded, tally.duplicates, tally.failed) == (5, 4, 2, 1)
    assert tally.duplicate_ids == ["x"]
    assert len(lines(out)) == 2


def test_torn_last_line_is_repaired_and_nothing_is_duplicated(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 4)
    out = tmp_path / "out.jsonl"
    run_batch(fake, [str(tmp_path / "a")], out)
    data = out.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    out.write_bytes(data[: last + 40])  # a crash in the middle of the last write
    tally = run_batch(fake, [str(tmp_path / "a")], out)
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 4 and len(set(keys)) == 4
    assert (tally.already_done, tally.succeeded, fake.requests) == (3, 4, 5)


def test_repair_torn_tail_on_its_own(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"key":"a"}\n{"key":"b"}\n{"key":"c')
    assert repair_torn_tail(p) == len(b'{"key":"c')
    assert read_keys(p) == ({"a", "b"}, 0)
    assert repair_torn_tail(p) == 0
    p.write_bytes(b"no newline at all")
    repair_torn_tail(p)
    assert p.read_bytes() == b""


class FullDisk:
    """A file opener whose files raise ENOSPC after ``room`` writes (all files together)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path: Path) -> IO[bytes]:
        fh = path.open("ab", buffering=0)
        opener = self

        class Limited:
            def write(self, data: bytes) -> int:
                if opener.room <= 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                opener.room -= 1
                return fh.write(data)

            def flush(self) -> None:
                fh.flush()

            def fileno(self) -> int:
                return fh.fileno()

            def close(self) -> None:
                fh.close()

        return Limited()  # type: ignore[return-value]


def test_disk_full_stops_cleanly_without_marking_work_done(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 8)
    out = tmp_path / "out.jsonl"
    settings = settings_for(fake)
    runner = BatchRunner(settings, out, BatchOptions(concurrency=1))
    runner.ledger._opener = FullDisk(room=3)
    with pytest.raises(BatchError, match="No space left on device"):
        asyncio.run(runner.run(iter_inputs([str(tmp_path / "a")], max_bytes=10**6)))
    assert len(lines(out)) == 3
    assert runner.tally.succeeded == 3 and runner.tally.pending == runner.tally.inputs - 3
    # With space again, the rerun finishes exactly the rest.
    calls = fake.requests
    tally = run_batch(fake, [str(tmp_path / "a")], out)
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 8 and len(set(keys)) == 8
    assert tally.already_done == 3 and fake.requests - calls == 5


@pytest.mark.parametrize(
    ("fault", "calls", "outcome", "kind"),
    [
        ("500x2", 3, "ok", None),
        ("503x9", 4, "failed", "endpoint"),  # 1 + max_retries, then recorded as failed
        ("429:0.01x2", 3, "ok", None),
        ("timeout:5", 2, "ok", None),
        ("reset", 2, "ok", None),
        ("400", 1, "failed", "endpoint"),
        ("404", 1, "failed", "endpoint"),
        ("422", 1, "failed", "endpoint"),
        ("refusal", 1, "failed", "model_response"),
        ("content_filter", 1, "failed", "model_response"),
        ("empty", 1, "failed", "model_response"),
        ("length", 2, "ok", None),
        ("lengthx2", 2, "failed", "model_response"),
        ("truncated", 2, "ok", None),
        ("invalid", 2, "ok", None),
        ("invalidx3", 3, "failed", "model_response"),
        ("ungrounded", 2, "ok", None),
    ],
)
def test_each_fault_ends_as_designed(
    fake: FakeServer, tmp_path: Path, fault: str, calls: int, outcome: str, kind: str | None
) -> None:
    write_archive(tmp_path / "a", 1, faults={0: fault})
    out = tmp_path / "out.jsonl"
    tally = run_batch(fake, [str(tmp_path / "a")], out, settings={"timeout": 1.0})
    assert fake.requests == calls
    if outcome == "ok":
        assert tally.succeeded == 1 and lines(out)[0]["provenance"]["attempts"] == calls
    else:
        failure = lines(failed_path_for(out))[0]
        assert tally.failed == 1 and failure["kind"] == kind
        assert failure["attempts"] == calls and failure["message"]


def test_ungrounded_answers_land_in_rejected_with_reasons(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 1, faults={0: "ungrounded*"})
    out = tmp_path / "out.jsonl"
    run_batch(fake, [str(tmp_path / "a")], out)
    record = lines(out)[0]
    assert fake.requests == 3  # first answer + 2 re-asks, then kept with rejections
    assert record["needs_review"] is True
    [rejected] = [r for r in record["rejected"] if r["value"] == UNGROUNDED_WHAT]
    assert rejected["field"] == "events[0].what" and "names not in the cited text" in rejected["reason"]
    assert all(e["what"] != UNGROUNDED_WHAT for e in record["summary"]["events"])
    assert [q["text"] for q in record["summary"]["quotes"]] == ["We need them now,"]  # still every quotation


def test_bad_key_stops_the_whole_run(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 5, faults=dict.fromkeys(range(5), "401*"))
    out = tmp_path / "out.jsonl"
    with pytest.raises(AuthenticationError, match="API key"):
        run_batch(fake, [str(tmp_path / "a")], out, concurrency=1)
    # The first 401, and at most the request that took its slot as it came back (the runner
    # holds an article or two more than --concurrency) before the stop reached the runner.
    assert 1 <= fake.requests <= 2 and not lines(failed_path_for(out))


def test_retry_failed_reruns_only_failures(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 4, faults={1: "400"})
    out = tmp_path / "out.jsonl"
    run_batch(fake, [str(tmp_path / "a")], out)
    assert fake.requests == 4
    tally = run_batch(fake, [str(tmp_path / "a")], out)  # without the flag: no calls
    assert fake.requests == 4 and tally.failed == 1
    fake.script("Town1", ["ok"])
    tally = run_batch(fake, [str(tmp_path / "a")], out, retry_failed=True)
    assert fake.requests == 5
    assert (tally.succeeded, tally.failed, tally.already_done) == (4, 0, 3)


def test_429_pauses_the_whole_runner(tmp_path: Path) -> None:
    # 4 requests per 2 s: the first burst of 8 workers exceeds it even on a slow, busy machine
    # (20 per 1 s did not: a client slowed by a CPU hog never sent 20 in one second)
    with FakeServer(latency=0.0, rpm=4, window=2.0) as fake:
        write_archive(tmp_path / "a", 30)
        tally = run_batch(fake, [str(tmp_path / "a")], tmp_path / "o.jsonl", concurrency=8,
                          settings={"max_retries": 8, "max_retry_wait": 2.0})  # fmt: skip
    assert tally.succeeded == 30
    assert fake.status_counts.get(429, 0) == tally.throttled > 0


def test_client_side_rpm_limit_avoids_429s(tmp_path: Path) -> None:
    with FakeServer(latency=0.0, rpm=600, window=1.0) as fake:  # 10 per second
        write_archive(tmp_path / "a", 20)
        started = time.monotonic()
        tally = run_batch(fake, [str(tmp_path / "a")], tmp_path / "o.jsonl", concurrency=8, rpm=560)
        elapsed = time.monotonic() - started
    assert tally.succeeded == 20 and fake.status_counts.get(429, 0) == 0
    assert elapsed > 1.0  # 20 requests at under 10/s cannot finish in one second


def test_shards_split_deterministically(fake: FakeServer, tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 12)
    keys = set()
    for k in (1, 2, 3):
        out = tmp_path / f"o{k}.jsonl"
        run_batch(fake, [str(tmp_path / "a")], out, shard=(k, 3))
        shard_keys = {r["key"] for r in lines(out)}
        assert all(in_shard(key, (k, 3)) for key in shard_keys)
        assert not keys & shard_keys
        keys |= shard_keys
    assert len(keys) == 12 and fake.requests == 12
    assert parse_shard("2/8") == (2, 8)
    with pytest.raises(ConfigurationError):
        parse_shard("9/8")


def test_inputs_stream_and_count(tmp_path: Path) -> None:
    write_archive(tmp_path / "a" / "sub", 3)
    (tmp_path / "a" / "x.jsonl").write_text('{"text": "a"}\n\n{"text": "b"}\n', encoding="utf-8")
    assert count_inputs([str(tmp_path / "a")]) == 5
    names = [i.name for i in iter_inputs([str(tmp_path / "a")], max_bytes=1000)]
    assert len(names) == 5 and names[0].endswith("x.jsonl:1") and names[2].endswith("a0000.txt")
    assert names == [i.name for i in iter_inputs([str(tmp_path / "a")], max_bytes=1000)]
    assert item_key("t", "m") != item_key("t", "m2") != item_key("t2", "m")


# --------------------------------------------------------------------------- kill and resume


@contextlib.contextmanager
def _reaped(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """The process, killed and reaped (pipes closed) however the test ends."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def cli_env(fake_url: str, drop: tuple[str, ...] = ("OPENAI_", "SUMMARIZER_")) -> dict[str, str]:
    """This environment without the user's model settings (``drop``), pointed at the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "OPENAI_BASE_URL": fake_url, "SUMMARIZER_MODEL": "fake-model", "OPENAI_API_KEY": "k"}


def wait_for_lines(out: Path, k: int, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    """Until ``out`` has ``k`` whole lines, the job ends, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and finished(out) < k and proc.poll() is None:
        time.sleep(0.05)


def assert_the_rerun_pays_only_for_the_rest(
    argv: list[str], env: dict[str, str], fake: FakeServer, out: Path, n: int, k: int
) -> None:
    """After a kill that left at least ``k`` of ``n`` lines: ``argv`` run again (``job``: in its
    own session, reaped) finishes the rest, every article once, paying only for what was not on
    disk."""
    from tests.support.jobs import job

    killed_at = finished(out)  # whole lines: a torn tail is cut on rerun
    assert k <= killed_at < n, "kill came too late to test anything"
    before = fake.requests
    with job(argv, env, uuid.uuid4().hex) as proc:
        _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == n and len(set(keys)) == n  # nothing lost, nothing twice
    assert f"{n} inputs = {n} succeeded ({killed_at} already done)" in err
    assert fake.requests - before == n - killed_at  # the rerun paid only for what was not on disk


def assert_same_records_and_dead_letters(out: Path, local_out: Path, succeeded: int) -> None:
    """Another runner's ``out`` holds what the local runner's ``local_out`` holds: the same keys,
    summaries and grounding for ``succeeded`` records, the same dead letters (one failed request:
    an ``EndpointError``)."""
    records = {r["key"]: r for r in lines(out)}
    local_records = {r["key"]: r for r in lines(local_out)}
    assert records.keys() == local_records.keys() and len(records) == succeeded
    for key, record in records.items():
        assert record["summary"] == local_records[key]["summary"]
        assert record["grounding"] == local_records[key]["grounding"]
    dead = lines(failed_path_for(out))
    local_dead = lines(failed_path_for(local_out))
    assert [d["key"] for d in dead] == [d["key"] for d in local_dead]
    assert dead[0]["error_class"] == local_dead[0]["error_class"] == "EndpointError"


def _cli_batch(fake_url: str, arch: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "summarizer", "batch", str(arch), "-o", str(out), "-c", "4", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(fake_url),
    )  # fmt: skip


def test_sigkill_then_resume_keeps_every_article_exactly_once(tmp_path: Path) -> None:
    n, k = 40, 10
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"
    with FakeServer(latency=0.05) as fake:
        with _reaped(_cli_batch(fake.base_url, arch, out)) as proc:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and finished(out) < k:
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        killed_at = finished(out)  # whole lines: a torn tail is cut on rerun
        assert k <= killed_at < n, "kill came too late to test anything"
        before = fake.requests
        with _reaped(_cli_batch(fake.base_url, arch, out)) as proc:
            _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"{n} inputs = {n} succeeded ({killed_at} already done)" in err
        calls = fake.requests
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == n and len(set(keys)) == n  # nothing lost, nothing twice
    # Paid at most once per article, plus what was in flight at the kill (4 workers); the rerun
    # pays for exactly what was not on disk (its key index may have lagged the fsynced lines).
    assert calls <= n + 4 and calls - before == n - killed_at


def test_cli_exit_codes_and_tally(tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 3, faults={2: "400"})
    out = tmp_path / "out.jsonl"
    with FakeServer() as fake:
        proc = _cli_batch(fake.base_url, tmp_path / "a", out)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 8
    assert "3 inputs = 2 succeeded + 1 failed + 0 pending" in err


def test_ctrl_c_prints_the_tally_and_a_rerun_resumes(tmp_path: Path) -> None:
    n = 30
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"
    with FakeServer(latency=0.1) as fake:
        with _reaped(_cli_batch(fake.base_url, arch, out)) as proc:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and finished(out) < 5:
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        done = len(lines(out))
        assert f"{n} inputs = {done} succeeded + 0 failed + {n - done} pending" in err
        assert "rerun the same command to resume" in err and "Traceback" not in err
        with _reaped(_cli_batch(fake.base_url, arch, out)) as proc:
            _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and f"({done} already done)" in err
    assert len({r["key"] for r in lines(out)}) == len(lines(out)) == n


def test_article_text_is_never_rendered_as_a_template(fake: FakeServer, tmp_path: Path) -> None:
    """instructor renders messages as Jinja when given ``context=``: we must never let it."""
    text = "Template test\n\nThe sign read {{ 7*7 }} and {% if x %}odd{% endif %} and {{ check.article }}."
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    tally = run_batch(fake, [str(tmp_path / "a")], out)
    assert tally.succeeded == 1
    assert fake.requests_for("{{ 7*7 }} and {% if x %}odd{% endif %} and {{ check.article }}") == 1
    assert "{{ 7*7 }}" in lines(out)[0]["article"]["text"]


def test_retry_failed_never_bills_the_same_text_twice_in_a_run(fake: FakeServer, tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 6, faults={0: "400"})
    (arch / "zz_copy.txt").write_text((arch / "a0000.txt").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run_batch(fake, [str(arch)], out)
    fake.script("Town0", ["400", "400"])
    before = fake.requests
    tally = run_batch(fake, [str(arch)], out, retry_failed=True)
    assert fake.requests - before == 1  # the copy shares the first attempt's outcome
    assert (tally.inputs, tally.failed, tally.duplicates) == (7, 2, 1)
    assert tally.inputs == tally.succeeded + tally.failed + tally.pending


def test_symlinked_folders_are_followed_once(fake: FakeServer, tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_archive(real, 2)
    arch = tmp_path / "arch"
    arch.mkdir()
    (arch / "linked").symlink_to(real, target_is_directory=True)
    (arch / "loop").symlink_to(arch, target_is_directory=True)
    names = [i.name for i in iter_inputs([str(arch)], max_bytes=10**6)]
    assert len(names) == 2 and count_inputs([str(arch)]) == 2


def test_pipes_and_deep_json_fail_as_inputs(fake: FakeServer, tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 2)
    os.mkfifo(arch / "pipe.txt")
    (arch / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    tally = run_batch(fake, [str(arch)], out)
    assert (tally.inputs, tally.succeeded, tally.failed) == (4, 2, 2)
    reasons = {Path(f["input"]).name: f["message"] for f in lines(failed_path_for(out))}
    assert "not a regular file" in reasons["pipe.txt"] and "nested too deeply" in reasons["deep.json"]


def test_one_run_per_output_file(fake: FakeServer, tmp_path: Path) -> None:
    from summarizer.ledger import Ledger

    out = tmp_path / "out.jsonl"
    first = Ledger(out)
    first.open()
    try:
        with pytest.raises(BatchError, match="another batch is writing"):
            run_batch(fake, [str(tmp_path)], out)
    finally:
        first.close()


def test_a_torn_line_joined_to_the_next_record_counts_as_not_done(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"key":"a","x":1}\n{"key":"b","sum{"key":"c","x":2}\n')
    keys, bad = read_keys(p)
    assert keys == {"a"} and bad == 1


# --------------------------------------------------------------------------- structured-output forms


def test_a_refused_forced_form_stops_the_batch_and_a_rerun_in_auto_does_the_work(tmp_path: Path) -> None:
    """A server that refuses the form the user forced is a configuration problem, like a bad key:
    the run stops (exit 2), nothing is dead-lettered, so the rerun in auto mode does every article."""
    from summarizer.batch.books import articles_in_flight

    arch, out, n = tmp_path / "a", tmp_path / "out.jsonl", 10
    write_archive(arch, n)
    with FakeServer(latency=0.005, reject_modes={"json_schema"}) as fake:
        runner = BatchRunner(settings_for(fake), out, BatchOptions(concurrency=4))  # json_schema forced
        with pytest.raises(ConfigurationError, match="use --structured-output json_object or auto") as caught:
            asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6), total=n))
        refused = fake.requests
        assert not lines(out) and not lines(failed_path_for(out))
        tally = run_batch(fake, [str(arch)], out, concurrency=4, settings={"structured_output": "auto"})
        rerun = [s.mode for s in fake.log[refused:]]
    assert caught.value.exit_code == 2
    # Only the articles in hand (four requests out, two more prepared) when the first refusal came back.
    assert 1 <= refused <= articles_in_flight(4) == 6
    assert (runner.tally.succeeded, runner.tally.failed, runner.tally.pending) == (0, 0, n)
    # The rerun: one refused request for all four workers, then one request per article.
    assert rerun == ["json_schema"] + ["json_object"] * n
    assert (tally.inputs, tally.succeeded, tally.failed, tally.model_calls) == (n, n, 0, n + 1)
    assert {r["provenance"]["structured_output"] for r in lines(out)} == {"json_object"}


def test_cli_batch_on_a_server_that_refuses_json_schema(tmp_path: Path) -> None:
    arch, out = tmp_path / "a", tmp_path / "out.jsonl"
    write_archive(arch, 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    with FakeServer(reject_modes={"json_schema"}) as fake:
        env.update(
            {"OPENAI_BASE_URL": fake.base_url, "SUMMARIZER_MODEL": "fake-model", "OPENAI_API_KEY": "k"}
        )
        argv = [sys.executable, "-m", "summarizer", "batch", str(arch), "-o", str(out), "-c", "2"]

        def cli(**extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                argv, env={**env, **extra}, capture_output=True, text=True, timeout=120, check=False
            )

        forced = cli(SUMMARIZER_STRUCTURED_OUTPUT="json_schema")
        auto = cli()
    assert forced.returncode == 2, forced.stderr
    assert "3 inputs = 0 succeeded + 0 failed + 3 pending" in forced.stderr
    assert "use --structured-output json_object or auto" in forced.stderr
    assert auto.returncode == 0, auto.stderr
    assert "3 inputs = 3 succeeded + 0 failed + 0 pending" in auto.stderr
    assert auto.stderr.count(f"summarizer: json_schema refused by {fake.base_url}; using json_object\n") == 1
    assert len(lines(out)) == 3 and not lines(failed_path_for(out))


# --------------------------------------------------------------------------- hardening (issue 9)


def _communicate(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """stderr of a finished CLI run; a run that does not end in time is killed and reaped."""
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return err


def test_output_inside_the_input_folder_is_never_read_back(tmp_path: Path) -> None:
    """``summarizer batch arch/ -o arch/out.jsonl``: the run's own files are not articles."""
    arch = tmp_path / "arch"
    write_archive(arch, 2)
    (arch / "empty.txt").write_bytes(b"")  # one dead letter, so out.failed.jsonl has a line
    out = arch / "out.jsonl"
    warning = f"summarizer: warning: the output {out} is inside the input folder {arch}; its own files"
    with FakeServer(latency=0.005) as fake:
        first = _cli_batch(fake.base_url, arch, out)
        err1 = _communicate(first)  # before the fix: never ended (it read its own lines back)
        # Sidecars a later run may keep beside the output (a lock, an index) are skipped too.
        (arch / "out.jsonl.index").write_bytes(b"SQLite format 3\x00")
        (arch / "out.jsonl.index-wal").write_bytes(b"")
        second = _cli_batch(fake.base_url, arch, out)
        err2 = _communicate(second)
        calls = fake.requests
    assert first.returncode == 8, err1
    assert "3 inputs = 2 succeeded + 1 failed + 0 pending" in err1
    assert err1.count(warning) == 1 and "out.jsonl, out.failed.jsonl" in err1
    assert second.returncode == 8, err2
    assert "3 inputs = 2 succeeded (2 already done) + 1 failed + 0 pending; 0 model calls" in err2
    assert err2.count(warning) == 1
    assert calls == 2 and len(lines(out)) == 2 and len(lines(failed_path_for(out))) == 1
    # The walker and the count agree, with the files present; an explicit source is skipped too.
    sources = [str(arch), str(out)]
    names = [Path(i.name).name for i in iter_inputs(sources, max_bytes=10**6, output=out)]
    assert names == ["a0000.txt", "a0001.txt", "empty.txt"]
    assert count_inputs(sources, output=out) == 3
    assert count_inputs([str(arch)]) > 3  # without the output named, its lines would be inputs


def test_ledger_fsyncs_the_folder_after_creating_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.ledger import Ledger

    out = tmp_path / "new" / "out.jsonl"
    synced: list[tuple[bool, int, bool]] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((stat.S_ISDIR(st.st_mode), st.st_ino, out.exists() and failed_path_for(out).exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    ledger = Ledger(out)
    ledger.open()
    ledger.close()
    dirs_after_create = {ino for is_dir, ino, created in synced if is_dir and created}
    # The folder holding both new names, and the parent holding the new folder's name.
    assert out.parent.stat().st_ino in dirs_after_create
    assert tmp_path.stat().st_ino in dirs_after_create

    # Where a directory cannot be fsynced (EINVAL on some file systems), the run goes on.
    def refusing_fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", refusing_fsync)
    ledger = Ledger(tmp_path / "other" / "out.jsonl")
    ledger.open()
    ledger.close()


def test_tpm_gate_counts_prompt_tokens_plus_max_tokens() -> None:
    import httpx2

    from summarizer.batch import RateGate, request_tokens
    from summarizer.tokens import estimate_tokens

    system, user = "Rules of the game. " * 40, "Статья: Київ, 1,800 евакуйовані. " * 30
    schema = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(400)}}
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": 3000,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }

    def request(**changes: Any) -> httpx2.Request:
        return httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions", json={**body, **changes})

    prompt = 2 * 4 + estimate_tokens(system) + estimate_tokens(user)  # + 4 per message
    assert request_tokens(request()) == prompt + 3000
    assert request_tokens(request(max_tokens=None, max_completion_tokens=500)) == prompt + 500
    assert request_tokens(request(n=2)) == prompt + 6000

    gate = RateGate(None, tpm=1_000_000)
    taken: list[float] = []

    class Recorder:
        max_rate = 8192.0

        async def acquire(self, amount: float = 1) -> None:
            taken.append(amount)

    gate._tpm = Recorder()  # type: ignore[assignment]
    asyncio.run(gate(request()))
    assert taken == [prompt + 3000]  # not the body's bytes / 4 (the schema is 20 kB)
    taken.clear()
    asyncio.run(gate(request(max_tokens=20_000)))  # larger than the bucket: charged in full
    assert sum(taken) == prompt + 20_000 and max(taken) <= 8192


def test_a_missing_html_extractor_stops_the_batch_without_dead_letters(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 2)
    story = PARAGRAPH.format(town="Novi Sad", n=7)
    (arch / "b.html").write_text(
        f"<html><body><article><h1>Bridges</h1><p>{story}</p><p>{story}</p></article></body></html>",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"pip install trafilatura 'lxml\[html_clean\]'"):
        run_batch(fake, [str(arch)], out, concurrency=1)
    assert not lines(failed_path_for(out))  # nothing dead-lettered: a rerun after the fix does it
    monkeypatch.undo()
    tally = run_batch(fake, [str(arch)], out)
    assert (tally.inputs, tally.succeeded, tally.failed) == (3, 3, 0)


def test_jsonl_with_a_bom_reads_and_utf16_jsonl_fails_as_one_input(tmp_path: Path) -> None:
    rows = "\n".join(json.dumps({"id": f"r{i}", "text": f"Story {i} of the day."}) for i in range(3)) + "\n"
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    (tmp_path / "wide.jsonl").write_bytes("\ufeff".encode("utf-16-le") + rows.encode("utf-16-le"))
    items = list(iter_inputs([str(tmp_path)], max_bytes=10**6))
    assert count_inputs([str(tmp_path)]) == len(items) == 4
    assert [items[i].load().id for i in range(3)] == ["r0", "r1", "r2"]  # line 1 parses despite the BOM
    with pytest.raises(InputError, match=r"wide.jsonl: this JSONL file is UTF-16.*iconv -f utf-16 -t utf-8"):
        items[3].load()


def test_the_run_collector_is_undone_and_leaves_a_hosts_freeze_alone() -> None:
    """``collector.long_run``: overlapping runs (the Python API) share one setting, undone by
    the last to end; the first article done freezes what the process holds, unless the host
    program froze something itself (its freeze stays); ``loaded`` after the run does nothing."""
    import gc

    from summarizer.batch.collector import YOUNG, long_run

    before = gc.get_threshold()
    with long_run() as loaded_a:
        assert gc.get_threshold()[0] == YOUNG
        with long_run() as loaded_b:
            loaded_b()
            assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG and gc.get_freeze_count() > 0  # A still runs
        loaded_a()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    loaded_a()  # a late call from a task of the finished run
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the host's own
    frozen = gc.get_freeze_count()
    try:
        with long_run() as loaded:
            loaded()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
