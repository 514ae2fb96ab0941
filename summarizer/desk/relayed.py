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

from summarizer.desk.relay import SOCKET, STATE
from summarizer.transport import current_stats

log = logging.getLogger(__name__)

_NOT_FORWARDED = (b"host", b"content-length")
RELAYED_PATH = "/chat/completions"  # the calls that are paid for; anything else goes direct
START_S = 20.0  # a relay that has not written its state by then is not coming
# A relay process that runs but does not answer yet (a busy machine, or one finishing the calls
# of a killed desk) is waited for this long: going direct meanwhile would pay again for calls
# it has in flight.
ALIVE_WAIT_S = 120.0
RETRY_S = 60.0  # after no relay could be found or started, calls go direct this long
RELAY_URL = "http://relay"  # over the Unix socket
SOCKET_PATH_MAX = 107  # sun_path, less its terminating NUL
FORGET_TIMEOUT = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}

# The keys of the relayed answers of the current brief, for its keeper (``forget``).
relay_keys: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "summarizer_relay_keys", default=None
)


class RelayHandle:
    """The relay of one folder: its socket and token, found or started on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / SOCKET
        self.url: str | None = None  # set while a relay is known to answer
        self.token = ""
        self.pid: int | None = None
        self._lock = asyncio.Lock()
        self._tried = -RETRY_S  # monotonic time of the last search that found none
        self._found_at = -1.0

    def _state(self) -> bool:
        try:
            state = json.loads((self.folder / STATE).read_text())
            self.token, self.pid = str(state["token"]), int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            self.pid = None
            return False
        return True

    def _answers(self) -> bool:
        try:
            with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(self.socket))) as client:
                r = client.get(f"{RELAY_URL}/health", headers={"x-relay-token": self.token}, timeout=2.0)
            return r.status_code == 200
        except httpx2.HTTPError:
            return False

    def ensure(self) -> bool:
        """The folder's relay answering (started if need be); False if none could be. A relay
        that runs but is slow to answer (a busy machine) is waited for, never doubled: a second
        one would not see the first one's calls in flight (and exits at once: ``relay.lock``)."""
        if len(str(self.socket)) > SOCKET_PATH_MAX:
            log.warning(
                "no call relay: %s is too long a path for a socket; use a shorter --data-dir", self.socket
            )
            return False
        began, started = time.monotonic(), None
        while True:
            if self._state() and self._answers():
                self.url = RELAY_URL
                return True
            alive, now = relay_alive(self.pid), time.monotonic()
            if now - began > (ALIVE_WAIT_S if alive else START_S):
                return False
            if not alive and (started is None or now - started > 2.0):
                started = now  # none, or one that was stopping: start one
                try:
                    self._start()
                except (OSError, subprocess.SubprocessError) as exc:
                    log.warning("the call relay could not be started in %s: %s", self.folder, exc)
                    return False
            time.sleep(0.05)

    def _start(self) -> None:
        """A relay for the folder, started detached (this returns at once)."""
        argv = [sys.executable, "-m", "summarizer.desk.relay", "--folder", str(self.folder), "--detach"]
        subprocess.run(argv, check=True, timeout=60, stdin=subprocess.DEVNULL)

    async def found(self) -> bool:
        """The relay found or started, once however many tasks ask at the same time (they wait
        for the one search); after a search that failed, looked for again at most every
        ``RETRY_S`` (calls go straight to the endpoint meanwhile)."""
        if self.url is not None:
            return True
        async with self._lock:
            if self.url is not None:
                return True
            if time.monotonic() - self._tried < RETRY_S:
                return False  # the last search failed a moment ago
            return await self._search()

    async def restart(self) -> bool:
        """After a request could not reach the relay: find or start one now, once for all the
        requests that failed at the same time."""
        failed_at = time.monotonic()
        async with self._lock:
            if self.url is not None and self._found_at > failed_at:
                return True  # found again meanwhile
            return await self._search()

    async def _search(self) -> bool:
        self.url = None
        ok = await asyncio.to_thread(self.ensure)
        if ok:
            self._found_at = time.monotonic()
        else:
            self._tried = time.monotonic()
        return ok

    def quit(self) -> None:
        """Ask the relay to stop once its calls in flight are done (their answers stay kept)."""
        if self.url is None:
            return
        with (
            contextlib.suppress(httpx2.HTTPError),
            httpx2.Client(transport=httpx2.HTTPTransport(uds=str(self.socket))) as client,
        ):
            client.post(f"{RELAY_URL}/quit", headers={"x-relay-token": self.token}, timeout=5.0)


def call_key(request: httpx2.Request, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([request.method.encode(), str(request.url).encode(), body])).hexdigest()


class RelayTransport(httpx2.AsyncBaseTransport):
    """Model requests through the folder's relay; the endpoint directly if there is none."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, relay: RelayHandle, connections: int = 100) -> None:
        self._inner = inner
        self.relay = relay
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._relay = httpx2.AsyncHTTPTransport(uds=str(relay.socket), limits=limits)
        self._warned = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith(RELAYED_PATH):
            return await self._inner.handle_async_request(request)  # not a paid call
        body = await request.aread()
        key = call_key(request, body)
        timeout = request.extensions.get("timeout", {}).get("read")
        for _ in range(2):
            if self.relay.url is None and not await self.relay.found():
                break
            headers = [(k, v) for k, v in request.headers.raw if k.lower() not in _NOT_FORWARDED]
            headers += [
                (b"x-relay-token", self.relay.token.encode()),
                (b"x-relay-key", key.encode()),
                (b"x-relay-url", str(request.url).encode()),
            ]
            if timeout:
                headers.append((b"x-relay-timeout", str(timeout).encode()))
            relayed = httpx2.Request(
                "POST", f"{RELAY_URL}/call", headers=headers, content=body, extensions=request.extensions
            )
            try:
                response = await self._relay.handle_async_request(relayed)
            except httpx2.ConnectError:
                if await self.relay.restart():
                    continue  # the relay had gone (idle, or killed): a new one, same key
                break
            if response.headers.get("x-relay-replayed") == "1" and (stats := current_stats.get()):
                stats.requests -= 1  # answered by a call made before: not a call made now
            if (keys := relay_keys.get()) is not None and 200 <= response.status_code < 300:
                keys.append(key)
            return response
        if not self._warned:
            self._warned = True
            log.warning("no call relay: model calls go straight to the endpoint until one starts")
        return await self._inner.handle_async_request(request)

    async def forget(self, keys: list[str]) -> None:
        """The answers of ``keys`` are in the store: the relay drops them."""
        while keys and self.relay.url is not None:
            key = keys.pop()
            request = httpx2.Request(
                "DELETE", f"{RELAY_URL}/call/{key}", headers={"x-relay-token": self.relay.token},
                extensions={"timeout": FORGET_TIMEOUT},
            )  # fmt: skip
            try:
                response = await self._relay.handle_async_request(request)
                await response.aclose()
            except httpx2.HTTPError:
                return  # dropped after KEEP_S anyway

    async def aclose(self) -> None:
        await self._relay.aclose()
        await self._inner.aclose()


def relay_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a call relay still running: not gone, not a zombie, and a relay (a pid
    in an old state file may have been given to another process since)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and b"summarizer.desk.relay" in cmdline
