"""``batch --processes N`` against the fake server (fault-injection tier): the local runner's
records, keys and dead letters from worker processes; a worker killed mid-run costs only its
in-flight articles (dead-lettered with the reason, run again by ``--retry-failed``); the parent
killed leaves no worker behind and a rerun pays only for what was not on disk."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from summarizer.batch import BatchOptions, BatchRunner
from summarizer.batch.processes import ProcessRunner, _Worker
from summarizer.errors import AuthenticationError, ConfigurationError
from summarizer.inputs import iter_inputs
from summarizer.settings import Settings
from tests.support.fake_openai import FakeServer
from tests.support.jobs import job, marked_processes
from tests.test_batch import (
    assert_same_records_and_dead_letters,
    assert_the_rerun_pays_only_for_the_rest,
    cli_env,
    lines,
    settings_for,
    wait_for_lines,
    write_archive,
)


def _run(runner: BatchRunner, arch: Path, total: int | None = None) -> object:
    return asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6), total))


def test_processes_give_the_local_runners_records_and_dead_letters(tmp_path: Path) -> None:
    n = 12
    arch = tmp_path / "a"
    # 4 fails on every request in either runner; 5 is retried, 6 and 7 re-asked, then answered.
    write_archive(arch, n, faults={4: "400*", 5: "500x2, ok", 6: "invalid, ok", 7: "ungrounded, ok"})
    procs_out, local_out = tmp_path / "procs.jsonl", tmp_path / "local.jsonl"
    with FakeServer(latency=0.01) as fake:  # a server each: the scripted faults are used up
        procs = ProcessRunner(settings_for(fake), procs_out, BatchOptions(concurrency=4), processes=2)
        procs_tally = _run(procs, arch)
    with FakeServer(latency=0.01) as fake:
        local_tally = _run(BatchRunner(settings_for(fake), local_out, BatchOptions(concurrency=4)), arch)
    assert (procs_tally.succeeded, procs_tally.failed) == (local_tally.succeeded, local_tally.failed)
    assert (procs_tally.succeeded, procs_tally.failed) == (n - 1, 1)
    assert procs_tally.model_calls == local_tally.model_calls == n + 4  # two retries, two re-asks
    assert procs_tally.completion_tokens == local_tally.completion_tokens > 0
    assert_same_records_and_dead_letters(procs_out, local_out, n - 1)
    assert all(w.proc.returncode is not None for w in procs.workers)  # every worker reaped


def test_processes_need_an_endpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--base-url"):
        ProcessRunner(Settings(), tmp_path / "o.jsonl")


def test_a_worker_that_cannot_start_stops_the_run_and_fails_no_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 3)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker's interpreter exits at once
    with FakeServer(latency=0.01) as fake:
        runner = ProcessRunner(settings_for(fake), out, BatchOptions(concurrency=2), processes=2)
        with pytest.raises(ConfigurationError, match=r"worker process could not start \(exit code 1\)"):
            _run(runner, arch)
        assert fake.requests == 0
    assert not lines(out) and not lines(out.with_name("out.failed.jsonl"))  # all still pending


def test_a_killed_worker_costs_only_its_articles_in_flight(tmp_path: Path) -> None:
    n = 24
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"

    async def kill_one_worker_mid_run(runner: ProcessRunner) -> tuple[object, int]:
        run = asyncio.ensure_future(runner.run(iter_inputs([str(arch)], max_bytes=10**6)))
        deadline = time.monotonic() + 60
        while not (busy := [w for w in runner.workers if len(w.jobs) >= 2 and w.alive]):
            assert time.monotonic() < deadline and not run.done(), "no worker ever had work"
            await asyncio.sleep(0.01)
        victim = busy[0]
        in_flight = len(victim.jobs)
        os.kill(victim.proc.pid, signal.SIGKILL)
        tally = await run
        assert victim not in runner.workers  # replaced for the articles after it
        return tally, in_flight

    with FakeServer(latency=0.3) as fake:
        settings = settings_for(fake)
        runner = ProcessRunner(settings, out, BatchOptions(concurrency=4), processes=2)
        tally, in_flight = asyncio.run(kill_one_worker_mid_run(runner))
        dead = lines(out.with_name("out.failed.jsonl"))
        assert 1 <= len(dead) <= in_flight  # answers already in the pipe are still read
        assert tally.failed == len(dead) and tally.succeeded == n - len(dead)  # nothing lost
        assert all("worker process running it ended (killed by SIGKILL)" in d["message"] for d in dead), [
            d["message"] for d in dead
        ]
        assert {d["key"] for d in dead}.isdisjoint(r["key"] for r in lines(out))
        assert len(runner.workers) == 2 and all(w.proc.returncode is not None for w in runner.workers)
        before = fake.requests
        retry = ProcessRunner(settings, out, BatchOptions(concurrency=4, retry_failed=True), processes=2)
        again = _run(retry, arch)
        assert fake.requests - before == len(dead)  # only the dead letters are paid for again
    assert again.succeeded == n and again.failed == 0
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == n and len(set(keys)) == n


def test_articles_go_to_the_live_worker_while_a_dead_one_is_replaced(tmp_path: Path) -> None:
    """A worker takes seconds to start: its replacement starts in the background and the live
    one takes the articles meanwhile (the run had stalled for the start); once ready, the new
    one is in the dead one's place. Stand-in workers: no process is started here."""

    def worker(returncode: int | None) -> _Worker:
        stdin = SimpleNamespace(is_closing=lambda: returncode is not None)
        proc = SimpleNamespace(returncode=returncode, stdin=stdin)
        return _Worker(proc, 2, {}, collections.deque())  # type: ignore[arg-type]

    live, dead, fresh = worker(None), worker(-9), worker(None)
    live.jobs = {"k1": ("a", None), "k2": ("b", None), "k3": ("c", None)}  # busier than any other

    async def scenario() -> None:
        ready = asyncio.Event()

        async def start(index: int) -> _Worker:
            assert index == 1
            await ready.wait()
            return fresh

        runner = ProcessRunner(Settings(base_url="http://127.0.0.1:9/v1", model="m"), tmp_path / "o.jsonl")
        runner._spawn = start  # type: ignore[method-assign]
        runner.workers = [live, dead]
        assert await asyncio.wait_for(runner._least_busy(), 1) is live  # not waiting for the start
        assert await asyncio.wait_for(runner._least_busy(), 1) is live  # one start, not two
        assert runner._deaths == 1 and not dead.alive
        ready.set()
        await asyncio.sleep(0)
        assert await runner._least_busy() is fresh and runner.workers == [live, fresh]

    asyncio.run(scenario())


def test_a_bad_key_in_a_worker_stops_the_run_and_every_worker(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 12, faults=dict.fromkeys(range(12), "401*"))
    out = tmp_path / "out.jsonl"
    with FakeServer(latency=0.01) as fake:
        runner = ProcessRunner(settings_for(fake), out, BatchOptions(concurrency=2), processes=2)
        with pytest.raises(AuthenticationError, match="API key"):
            _run(runner, arch, total=12)
        # The first 401s, and the few requests already on their way (the articles in hand).
        assert 1 <= fake.requests <= 4
    assert not lines(out) and not lines(out.with_name("out.failed.jsonl"))  # pending, not failed
    assert runner.tally.pending == 12
    assert all(w.proc.returncode is not None for w in runner.workers)


def test_a_429_in_one_worker_pauses_every_worker(tmp_path: Path) -> None:
    """One article's first request gets a 429 asking for 1.5 s: no request of either worker
    reaches the endpoint within that pause (as one process pauses the whole run)."""
    arch = tmp_path / "a"
    write_archive(arch, 10, faults={0: "429:1.5, ok"})
    with FakeServer(latency=0.2) as fake:
        settings = settings_for(fake, max_retry_wait=3.0)
        runner = ProcessRunner(settings, tmp_path / "o.jsonl", BatchOptions(concurrency=2), processes=2)
        tally = _run(runner, arch)
        log = list(fake.log)
    assert tally.succeeded == 10 and tally.throttled == 1
    paused_at = next(seen.at for seen in log if seen.status == 429)
    # A little for the pause to reach the other worker; the last 0.2 s is the retry's own slack.
    during = [seen for seen in log if paused_at + 0.15 < seen.at < paused_at + 1.3]
    assert during == [], [(round(seen.at - paused_at, 2), seen.status) for seen in during]
    assert any(seen.at >= paused_at + 1.4 for seen in log)  # and the run went on after it


def test_an_article_orjson_refuses_fails_alone_as_in_the_local_runner(tmp_path: Path) -> None:
    """A lone surrogate in a JSONL title: the standard library reads it, orjson will not write
    it. The local runner dead-letters that article; so does a run in worker processes."""
    src = tmp_path / "in.jsonl"
    rows = [{"id": f"r{i}", "title": f"Bridges {i}", "text": f"Town{i} council approves {i + 2} bridges, "
             "officials said on Tuesday after a long debate."} for i in range(4)]  # fmt: skip
    rows[1]["title"] = "Bad \ud800 title"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    results = {}
    with FakeServer(latency=0.01) as fake:
        for name, runner in {
            "local": BatchRunner(settings_for(fake), tmp_path / "local.jsonl", BatchOptions(concurrency=2)),
            "procs": ProcessRunner(
                settings_for(fake), tmp_path / "procs.jsonl", BatchOptions(concurrency=2), processes=2
            ),
        }.items():
            tally = asyncio.run(runner.run(iter_inputs([str(src)], max_bytes=10**6)))
            dead = lines(tmp_path / f"{name}.failed.jsonl")
            results[name] = (tally.succeeded, tally.failed, [d["id"] for d in dead])
    assert results["procs"] == results["local"] == (3, 1, ["r1"])


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's workers through /proc")
def test_a_killed_parent_leaves_no_worker_and_the_rerun_pays_only_for_the_rest(tmp_path: Path) -> None:
    n, k = 30, 5
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "summarizer", "batch", str(arch), "-o", str(out), "--processes", "2",
            "-c", "4", "-q"]  # fmt: skip
    with FakeServer(latency=0.2) as fake:
        env = cli_env(fake.base_url)
        marker = uuid.uuid4().hex
        with job(argv, env, marker) as proc:
            wait_for_lines(out, k, proc)
            assert len(marked_processes(marker)) == 3  # the parent and its two workers
            os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must notice
            proc.wait(timeout=30)
            deadline = time.monotonic() + 30
            while marked_processes(marker) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not marked_processes(marker), "a worker outlived its parent"
        assert_the_rerun_pays_only_for_the_rest(argv, env, fake, out, n, k)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--via", "batch-api"], "--processes is for requests as they go"),
        (["--engine", "ray"], "--processes is for requests as they go"),
        ([], "--processes needs an endpoint (--base-url)"),
    ],
)
def test_processes_refuse_what_they_cannot_do_in_one_line(
    tmp_path: Path, extra: list[str], needle: str
) -> None:
    from tests.test_cli import assert_one_line_error, run

    write_archive(tmp_path / "a", 1)
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARIZER_MODEL": "m"} if extra else {}
    proc = run(
        "batch", str(tmp_path / "a"), "-o", str(tmp_path / "o.jsonl"), "--processes", "2", *extra, env=env
    )
    assert_one_line_error(proc, 2, needle)
