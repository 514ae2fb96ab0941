"""A command-line job under test in its own session, and the processes it started, found by a
marker in their environment (they inherit it, whatever session they run in): killed and reaped
however the test ends, and none may outlive it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def marked_processes(marker: str) -> list[int]:
    """Processes carrying ``marker`` in their environment (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def job(argv: list[str], env: dict[str, str], marker: str) -> Iterator[subprocess.Popen[str]]:
    """``argv`` in its own session with ``SUMMARIZER_TEST_JOB=marker``; at the end its process
    group and every marked process are killed (Ray's workers run in sessions of their own), and
    none may be left 30 s later."""
    proc = subprocess.Popen(
        argv, env={**env, "SUMMARIZER_TEST_JOB": marker}, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 30
        while (left := marked_processes(marker)) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        assert not marked_processes(marker), "processes of the job outlived the test"
