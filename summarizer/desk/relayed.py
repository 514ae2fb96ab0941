"""The desk's side of the call relay (``summarizer.desk.relay``): find the relay of the data
folder or start one, and send each model request through it.

``RelayTransport`` sits where the desk's HTTP pool was: a chat completion request to the
endpoint becomes a ``POST /call`` to the relay (other requests go straight to the endpoint),
keyed by the sha256 of its method, URL and body, so the same request after a restart finds the
call made before it. An answer the relay had already (``replayed``) is
not a call made: it is taken off the brief's request count. The key of each answer is noted in
``relay_keys`` for the brief, whose keeper tells the relay to forget it once the answer is in the
store. When no relay can be reached or started, requests go straight to the endpoint (logged
once): the relay saves money, it never stops a brief.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from summarizer.desk.relay import STATE
from summarizer.transport import current_stats

log = logging.getLogger(__name__)

_NOT_FORWARDED = (b"host", b"content-length")
RELAYED_PATH = "/chat/completions"  # the calls that are paid for; anything else goes direct
START_S = 20.0  # a relay that has not written its state by then is not coming

# The keys of the relayed answers of the current brief, for its keeper (``forget``).
relay_keys: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "summarizer_relay_keys", default=None
)


class RelayHandle:
    """The relay of one folder: its address and token, found or started on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url: str | None = None
        self.token = ""
        self.pid: int | None = None
        self._lock = asyncio.Lock()

    def _read(self) -> bool:
        try:
            state = json.loads((self.folder / STATE).read_text())
            self.url = f"http://127.0.0.1:{int(state['port'])}"
            self.token, self.pid = str(state["token"]), int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        try:
            r = httpx2.get(f"{self.url}/health", headers={"x-relay-token": self.token}, timeout=2.0)
            return r.status_code == 200
        except httpx2.HTTPError:
            return False

    def ensure(self) -> bool:
        """The folder's relay answering (started if need be); False if none could be."""
        if self._read():
            return True
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.folder / STATE).unlink(missing_ok=True)
            subprocess.run(  # returns once the relay is started, detached
                [sys.executable, "-m", "summarizer.desk.relay", "--folder", str(self.folder), "--detach"],
                check=True, timeout=60, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("the call relay could not be started in %s: %s", self.folder, exc)
            return False
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self._read():
                return True
            time.sleep(0.05)
        return False

    async def found(self) -> bool:
        """The relay found or started, once however many tasks ask at the same time."""
        return await self.restart(None)

    async def restart(self, stale: str | None) -> bool:
        """Find or start a relay again, once for all requests that saw ``stale`` fail."""
        async with self._lock:
            if self.url != stale and self.url is not None:
                return True  # found or started meanwhile
            ok = await asyncio.to_thread(self.ensure)
            if not ok:
                self.url = None
            return ok

    def quit(self) -> None:
        """Ask the relay to stop once its calls in flight are done (their answers stay kept)."""
        if self.url is None:
            return
        with contextlib.suppress(httpx2.HTTPError):
            httpx2.post(f"{self.url}/quit", headers={"x-relay-token": self.token}, timeout=5.0)


def call_key(request: httpx2.Request, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([request.method.encode(), str(request.url).encode(), body])).hexdigest()


class RelayTransport(httpx2.AsyncBaseTransport):
    """Model requests through the folder's relay; the endpoint directly if there is none."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, relay: RelayHandle) -> None:
        self._inner = inner
        self.relay = relay
        self._warned = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith(RELAYED_PATH):
            return await self._inner.handle_async_request(request)  # not a paid call
        body = await request.aread()
        key = call_key(request, body)
        for _ in range(2):
            url = self.relay.url
            if url is None:
                break
            headers = [(k, v) for k, v in request.headers.raw if k.lower() not in _NOT_FORWARDED]
            headers += [
                (b"x-relay-token", self.relay.token.encode()),
                (b"x-relay-key", key.encode()),
                (b"x-relay-url", str(request.url).encode()),
            ]
            relayed = httpx2.Request(
                "POST", f"{url}/call", headers=headers, content=body, extensions=request.extensions
            )
            try:
                response = await self._inner.handle_async_request(relayed)
            except httpx2.ConnectError:
                if await self.relay.restart(url):
                    continue  # the relay had gone (idle, or killed): a new one, same key
                break
            if response.headers.get("x-relay-replayed") == "1" and (stats := current_stats.get()):
                stats.requests -= 1  # answered by a call made before: not a call made now
            if (keys := relay_keys.get()) is not None and 200 <= response.status_code < 300:
                keys.append(key)
            return response
        if not self._warned:
            self._warned = True
            log.warning("the call relay could not be started: model calls go straight to the endpoint")
        return await self._inner.handle_async_request(request)

    async def forget(self, keys: list[str]) -> None:
        """The answers of ``keys`` are in the store: the relay drops them."""
        url = self.relay.url
        while keys and url is not None:
            key = keys.pop()
            request = httpx2.Request(
                "DELETE", f"{url}/call/{key}", headers={"x-relay-token": self.relay.token}
            )
            try:
                response = await self._inner.handle_async_request(request)
                await response.aclose()
            except httpx2.HTTPError:
                return  # dropped after KEEP_S anyway

    async def aclose(self) -> None:
        await self._inner.aclose()


def relay_alive(pid: int | None) -> bool:
    """Whether the relay process ``pid`` still runs (tests and the bench reap it)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
