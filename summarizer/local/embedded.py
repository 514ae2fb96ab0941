"""The embedded model: llama.cpp's own OpenAI-compatible server, started and stopped by the tool.

The server is upstream llama.cpp's, run in-process by ``xllamacpp`` (prebuilt CPU wheels) inside
a child process of ours (``summarizer/local/llama_server.py``) on a free loopback port. The model is a
known one by name (``summarizer.local.models``; Qwen2.5-Coder-1.5B by default, assembled into the user's
cache on first use) or any GGUF given with ``--model-path``. The context window comes from the
GGUF's trained context, capped for CPU memory and speed; threads from the CPUs we may use; the chat
template from the GGUF's metadata.

The server is health-checked before use and stopped on exit, on Ctrl-C, SIGTERM and errors; on
Linux it is also told to die with its parent, and it watches its parent itself, so even a SIGKILL
of the tool leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2

from summarizer.errors import ConfigurationError, EndpointError
from summarizer.local.models import (
    DEFAULT_MODEL,
    EMBEDDED_CONTEXT_WINDOW,
    KnownModel,
    cache_dir,
    ensure_model,
    known_model,
    served_name,
    trained_context,
)
from summarizer.local.prefix_state import PrefixState

if TYPE_CHECKING:
    from summarizer.settings import Settings

INSTALL_HINT = "install the local extra: pip install 'newsroom-summarizer[local]' (see README)"
SERVER_SCRIPT = Path(__file__).with_name("llama_server.py")
# A llama.cpp log line: "<time> <level> <message>"; level E is an error.
_LLAMA_ERROR = re.compile(r"^\S+ E (?P<msg>.+)$")


def default_threads() -> int:
    """CPUs this process may run on (cgroup/affinity aware where the OS tells), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def context_for(model_path: Path, requested: int | None) -> int:
    """The context window to serve: as asked, else the GGUF's trained context capped for CPUs."""
    if requested:
        return requested
    trained = trained_context(model_path)
    return min(trained, EMBEDDED_CONTEXT_WINDOW) if trained else EMBEDDED_CONTEXT_WINDOW


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        # PR_SET_PDEATHSIG with SIGKILL, not SIGTERM: while llama.cpp generates, xllamacpp holds
        # the GIL and a Python handler cannot run, so an orphan finished its whole answer first
        # (seen: minutes at full CPU). Nobody awaits that answer; the tool's own stop() still
        # sends SIGTERM first for a clean exit.
        libc.prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class EmbeddedServer:
    """A running llama.cpp server; use as a context manager.

    ``model_path`` runs that GGUF; otherwise ``model`` names a known model (``summarizer models``).
    ``context_window`` None means: the model's trained context, at most EMBEDDED_CONTEXT_WINDOW.
    After ``start``, ``context_window`` is what the server really allocated.

    ``prefix`` is the text every request starts with (the system message): its KV state is
    restored at start from ``state_dir`` (default: ``prompt-states`` in the model cache) when an
    earlier run saved it, and saved after the first answer otherwise (``answered``); see
    ``summarizer.local.prefix_state``. Without a prefix, no state is saved or restored.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model: str | None = None,
        context_window: int | None = None,
        start_timeout: float = 180.0,
        threads: int | None = None,
        cache_dir: Path | None = None,
        prefix: str | None = None,
        state_dir: Path | None = None,
        slots: int = 1,
    ) -> None:
        if importlib.util.find_spec("xllamacpp") is None:
            raise ConfigurationError("the embedded model needs xllamacpp: " + INSTALL_HINT)
        self.known: KnownModel | None = None if model_path else known_model(model or DEFAULT_MODEL)
        self.model_path: Path | None = Path(model_path) if model_path else None
        if self.model_path is not None and not self.model_path.is_file():
            raise ConfigurationError(f"{self.model_path}: no such GGUF file; check --model-path")
        self.model_name = served_name(model_path, model or DEFAULT_MODEL)
        self.requested_context = context_window
        self.context_window: int | None = context_window
        self.start_timeout = start_timeout
        self.threads = threads or default_threads()
        self.slots = slots
        self.cache_dir = cache_dir
        self.prefix = prefix
        self.state_dir = state_dir
        self.prefix_state: PrefixState | None = None  # while running, when ``prefix`` is given
        self.port = 0
        self.started_in: float | None = None  # seconds from spawn to ready
        self._proc: subprocess.Popen[bytes] | None = None
        # Lives as long as the server; closed in __exit__.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @classmethod
    def from_settings(cls, settings: Settings, *, prefix: str | None = None) -> EmbeddedServer:
        return cls(
            settings.model_path,
            model=settings.embedded_model,
            context_window=settings.context_window,
            start_timeout=settings.server_start_timeout,
            prefix=prefix,
            slots=settings.embedded_slots,
        )

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def tokenize_url(self) -> str:
        """llama.cpp's own tokenizer endpoint (the model's vocabulary), beside ``/v1``."""
        return f"http://127.0.0.1:{self.port}/tokenize"

    def argv(self, model_path: Path, context_window: int) -> list[str]:
        # The script is run by path with -P (Python 3.11+: no script directory on sys.path), so
        # the child imports neither the summarizer package nor its dependencies: a faster start.
        states = ["--state-dir", str(self._state_folder())] if self._keeps_prefix else []
        return [
            sys.executable, "-P", str(SERVER_SCRIPT),
            "--model", str(model_path),
            "--port", str(self.port),
            "--ctx", str(context_window),
            "--threads", str(self.threads),
            "--alias", self.model_name,
            "--slots", str(self.slots),
            *states,
        ]  # fmt: skip

    @property
    def _keeps_prefix(self) -> bool:
        """Whether the prompt prefix's KV state is restored and saved across runs: one slot only.
        A state saved by a one-slot server does not load into a multi-slot one (measured: the
        restore fails, and the failed file would be deleted), and a batch's own prompt cache
        covers the prefix within its run."""
        return self.prefix is not None and self.slots == 1

    def _state_folder(self) -> Path:
        return self.state_dir or (self.cache_dir or cache_dir()) / "prompt-states"

    def start(self) -> EmbeddedServer:
        if self.known is not None:  # assembles the model into the cache on first use
            self.model_path = ensure_model(self.known, cache=self.cache_dir)
        assert self.model_path is not None
        context_window = context_for(self.model_path, self.requested_context)
        self.port = _free_port()
        started = time.monotonic()
        parent = os.getpid()
        self._proc = subprocess.Popen(
            self.argv(self.model_path, context_window),
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},  # never needs yours
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C at the terminal reaches only the tool, which then stops
            # the server itself (after in-flight work is settled), never the server first.
            start_new_session=True,
            preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        try:
            self.context_window = self._wait_ready() or context_window
            if self._keeps_prefix:
                assert self.prefix is not None
                root = self.base_url.removesuffix("/v1")
                self.prefix_state = PrefixState(self._state_folder(), root, self.model_path, self.prefix)
                self.prefix_state.restore()
        except BaseException:  # Ctrl-C or an error while waiting: never leave it running
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        return self

    @property
    def saves_prefix(self) -> bool:
        """Whether ``answered`` still has a state to save (cheap: callers on a worker thread
        check this first and hop to a thread only once per run)."""
        return self.prefix_state is not None and self._proc is not None and self.prefix_state.save_due

    def answered(self) -> None:
        """After an answer: keep the prompt prefix's KV state for the next run (once per run)."""
        if self.saves_prefix:
            assert self.prefix_state is not None
            self.prefix_state.save()

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def _failure_reason(self) -> str:
        """The most telling line of the server's log: llama.cpp's first error, else the last line."""
        lines = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        for line in lines:
            if match := _LLAMA_ERROR.match(line):
                return match["msg"]
        return lines[-1] if lines else "no output"

    def _wait_ready(self) -> int | None:
        """Poll until the server answers; return the context window it reports, if it does."""
        deadline = time.monotonic() + self.start_timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                reason = self._failure_reason()
                self.stop()
                raise EndpointError(
                    f"the embedded llama.cpp server exited ({code}): {reason}; check --model-path "
                    f"(a GGUF file), or reinstall xllamacpp: {INSTALL_HINT}"
                )
            with contextlib.suppress(httpx2.HTTPError, ValueError):
                response = httpx2.get(f"{self.base_url}/models", timeout=2.0)
                if response.status_code == 200:
                    return _reported_context(response.json())
            time.sleep(0.25)
        self.stop()
        raise EndpointError(
            f"the embedded llama.cpp server did not become ready in {self.start_timeout:.0f} s: "
            f"{self._failure_reason()}; raise SUMMARIZER_SERVER_START_TIMEOUT"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(timeout=10)  # always reaped: no zombie left behind

    def close(self) -> None:
        """Stop the server and close its log: the end of its use."""
        self.stop()
        self._log.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reported_context(models: object) -> int | None:
    """``n_ctx`` from llama.cpp's ``/v1/models`` answer (``data[0].meta.n_ctx``), if present."""
    with contextlib.suppress(LookupError, TypeError, AttributeError):
        value = models["data"][0]["meta"]["n_ctx"]  # type: ignore[index]
        return int(value) if isinstance(value, int) and value > 0 else None
    return None
