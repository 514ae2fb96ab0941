"""``summarizer serve`` in a child process, for tests that need a real socket (the browser) or a
real crash (SIGKILL). Always stopped and reaped: ``with DeskProcess(...) as desk:`` or
``stop()`` in a ``finally``. A desk on an endpoint makes its calls through a call relay process
(``summarizer.desk.relay``) that outlives a ``kill()`` on purpose; ``stop()`` waits for every relay
seen to exit (the desk's stop asks it to) and kills any that has not."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2

from summarizer.desk.relayed import relay_alive

ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"summarizer: desk on (http://\S+/)")


class DeskProcess:
    def __init__(self, base_url: str, data_dir: Path, *, port: int = 0, args: tuple[str, ...] = ()) -> None:
        self.argv = [
            sys.executable, "-m", "summarizer", "serve", "--port", str(port), "--data-dir", str(data_dir),
            "--base-url", base_url, "--model", "fake-model", "--api-key", "k",
            "--structured-output", "json_schema", *args,
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.relay_state = data_dir / "relay" / "relay.json"
        self.relays: set[int] = set()  # pids of the call relays seen
        self.relays_exited: bool | None = None  # at the last stop: each relay exited when asked
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> DeskProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
        self.stderr = []
        self._lines = queue.Queue()
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        self._reader.start()
        try:
            while True:
                line = self._lines.get(timeout=timeout)
                if line is None:
                    raise RuntimeError("summarizer serve exited: " + "".join(self.stderr))
                if m := _URL.search(line):
                    self.url = m[1].rstrip("/")
                    return self
        except BaseException:
            self.kill()
            raise

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.stderr.append(line)
            self._lines.put(line)
        self._lines.put(None)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash); the call relay goes on."""
        self._note_relay()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            if self._reader is not None:
                self._reader.join(10)  # the pipe is at its end once the process is gone
            if self.proc.stderr is not None:
                self.proc.stderr.close()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a graceful stop), SIGKILL if it does not end in time; always reaped."""
        if self.proc is None:
            return None
        self._note_relay()  # before the stop, which asks the relay to exit (its state goes)
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.kill()
            self.relays_exited = self.stop_relays()
        return self.proc.returncode

    def wait_done(self, ids: list[str], timeout: float) -> None:
        """Until every brief of ``ids`` is done; fails at once on a failed one, or at ``timeout``."""
        with httpx2.Client(base_url=self.url, timeout=30) as client:
            deadline = time.monotonic() + timeout
            while True:
                states = [client.get(f"/v1/briefs/{bid}").json()["status"] for bid in ids]
                if all(s == "done" for s in states):
                    return
                assert "failed" not in states and time.monotonic() < deadline, states
                time.sleep(0.05)

    def _note_relay(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.relays.add(int(json.loads(self.relay_state.read_text())["pid"]))

    def stop_relays(self, wait_s: float = 30.0) -> bool:
        """Every relay seen gone: True if each had exited by itself within ``wait_s`` (a relay
        finishes its calls in flight first); any left is killed (``relay_alive`` checks that the
        pid is still a relay's)."""
        deadline = time.monotonic() + wait_s
        while any(relay_alive(pid) for pid in self.relays) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in self.relays if relay_alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return not left

    def __enter__(self) -> DeskProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
