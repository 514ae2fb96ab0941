"""``batch --engine ray`` on a local Ray (``num_cpus=2``) against the fake server
(fault-injection tier): the same records, keys and dead letters as the local runner, and a
killed job resumes without paying twice for finished articles."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="--engine ray needs the ray extra (installed by make test)")

from summarizer.batch import BatchOptions, BatchRunner
from summarizer.batch.ray_engine import RayRunner
from summarizer.errors import ConfigurationError
from summarizer.inputs import iter_inputs
from summarizer.settings import Settings
from tests.support.fake_openai import FakeServer
from tests.support.jobs import job
from tests.test_batch import (
    assert_same_records_and_dead_letters,
    assert_the_rerun_pays_only_for_the_rest,
    cli_env,
    settings_for,
    wait_for_lines,
    write_archive,
)


def test_ray_gives_the_local_runners_records_and_dead_letters(tmp_path: Path) -> None:
    n = 10
    arch = tmp_path / "a"
    write_archive(arch, n, faults={4: "400*"})  # fails on every request, on either engine
    ray_out, local_out = tmp_path / "ray.jsonl", tmp_path / "local.jsonl"
    with FakeServer(latency=0.01) as fake:
        settings = settings_for(fake)
        runner = RayRunner(settings, ray_out, BatchOptions(concurrency=3), actors=2)
        ray_tally = asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=10**6)))
        local = BatchRunner(settings, local_out, BatchOptions(concurrency=3))
        local_tally = asyncio.run(local.run(iter_inputs([str(arch)], max_bytes=10**6)))
    assert (
        (ray_tally.succeeded, ray_tally.failed) == (local_tally.succeeded, local_tally.failed) == (n - 1, 1)
    )
    assert ray_tally.model_calls == local_tally.model_calls
    assert_same_records_and_dead_letters(ray_out, local_out, n - 1)


def test_ray_needs_an_endpoint_the_actors_share(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--base-url"):
        RayRunner(Settings(), tmp_path / "o.jsonl")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's Ray processes through /proc")
def test_a_killed_ray_job_resumes_without_paying_twice(tmp_path: Path) -> None:
    n, k = 30, 5
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "summarizer", "batch", str(arch), "-o", str(out), "--engine", "ray",
            "--actors", "2", "-c", "2", "-q"]  # fmt: skip
    with FakeServer(latency=0.2) as fake:
        env = cli_env(fake.base_url, ("OPENAI_", "SUMMARIZER_", "RAY_"))
        with job(argv, env, uuid.uuid4().hex) as proc:
            wait_for_lines(out, k, proc)
            os.killpg(proc.pid, signal.SIGKILL)
        assert_the_rerun_pays_only_for_the_rest(argv, env, fake, out, n, k)
