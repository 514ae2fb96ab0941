"""The call relay: a small process that makes the desk's model calls and outlives the desk.

A ``kill -9`` of the desk used to lose every model answer in flight, and the restarted desk paid
for those calls again. The desk now sends each model request through this relay (``relayed``):
the relay makes the call in a task of its own, so the call goes on when the desk dies, and keeps
the answer in its spool until the desk says it has stored it. The restarted desk sends the same
request (the same prompt: the same bytes) and gets the kept answer, or waits for the call still
running: a call is bought once.

    python -m summarizer.desk.relay --folder DATA_DIR/relay [--detach]

- ``POST /call`` (headers ``x-relay-key``: sha256 of the request, ``x-relay-url``: where it goes,
  ``x-relay-timeout``: the desk's own limit for the call; the request's own headers and body):
  the spooled answer, else the call in flight for that key, else a new call. Answered with the
  endpoint's status, body and the headers a client acts on (``content-type``, ``retry-after``,
  ``retry-after-ms``, ``x-request-id``), and ``x-relay-replayed: 1`` when this request did not
  start the call. Only 2xx answers are kept; a call that could not be made answers 502 with
  ``x-relay-error: 1`` (the desk's transport retries).
- ``DELETE /call/<key>``: the desk stored the answer; the relay forgets it.
- ``GET /health``; ``POST /quit``: exit once no call is in flight (a call that comes meanwhile,
  from a desk restarted at once, keeps the relay).

The relay listens on a Unix socket, ``relay.sock``, in its folder (0700, the desk's user's, or
the relay refuses to start), so no other user can reach it or stand in for it; each request
also carries the token of ``relay.json`` (0600). One relay per folder (an exclusive lock on
``relay.lock``: a second one exits at once). It exits after ``IDLE_S`` with nothing in flight,
and drops kept answers nobody came back for after ``KEEP_S`` (looked for at start and every
``EXPIRE_EVERY_S``).

A SIGTERM (a service manager stopping the desk's whole process group) stops the relay the same
way as ``/quit``: the calls in flight finish and their answers are kept for the restarted desk.
In a container whose PID 1 is the desk, run an init (``docker run --init``) to reap the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hmac
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

STATE = "relay.json"  # {"pid", "token"}, written once the relay listens
SOCKET = "relay.sock"
LOCK = "relay.lock"
PASSED_ON = ("content-type", "retry-after", "retry-after-ms", "x-request-id")
IDLE_S = 600.0  # nothing in flight and no request for this long: exit
KEEP_S = 24 * 3600.0  # a kept answer nobody came back for is dropped after this
CALL_TIMEOUT_S = 900.0  # one model call's connect/read/write limits, unless the desk sends its own
EXPIRE_EVERY_S = 600.0
_KEY = re.compile(r"[0-9a-f]{64}")
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade"}

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # those of PASSED_ON the endpoint sent
    body: bytes

    @classmethod
    def plain(cls, status: int, text: str, *, error: bool = False) -> Answer:
        headers = {"content-type": "text/plain"} | ({"x-relay-error": "1"} if error else {})
        return cls(status, headers, text.encode("utf-8"))

    def dump(self) -> bytes:
        return json.dumps(
            {"status": self.status, "headers": self.headers, "body": self.body.decode("utf-8")}
        ).encode("utf-8")

    @classmethod
    def load(cls, raw: bytes) -> Answer:
        data = json.loads(raw)
        return cls(int(data["status"]), dict(data["headers"]), str(data["body"]).encode("utf-8"))


class Spool:
    """Kept answers, one file each (0600), written whole (temporary file, fsync, rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "calls"
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Answer | None:
        try:
            return Answer.load(self.path(key).read_bytes())
        except (OSError, ValueError, KeyError, UnicodeDecodeError):
            return None  # none kept, or a torn file: the call is made again

    def put(self, key: str, answer: Answer) -> None:
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, answer.dump())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path(key))

    def forget(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def expire(self, older_than: float) -> int:
        """Drop answers (and torn temporary files) older than ``older_than`` seconds."""
        cutoff, dropped = time.time() - older_than, 0
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    dropped += 1
        return dropped


class Relay:
    """The relay's ASGI app: calls keyed by the request's hash, each made once."""

    def __init__(self, folder: Path, token: str, *, idle_s: float = IDLE_S) -> None:
        self.spool = Spool(folder)
        self.token = token
        self.idle_s = idle_s
        self._calls: dict[str, asyncio.Task[Answer]] = {}
        self._last = time.monotonic()
        self.quitting = asyncio.Event()
        self._http = httpx2.AsyncClient(
            transport=httpx2.AsyncHTTPTransport(), timeout=CALL_TIMEOUT_S, follow_redirects=False
        )
        self._expired = time.monotonic()

    @property
    def idle(self) -> bool:
        return not self._calls and time.monotonic() - self._last > self.idle_s

    def tend(self) -> None:
        """Drop the answers nobody came back for, every ``EXPIRE_EVERY_S``."""
        if time.monotonic() - self._expired > EXPIRE_EVERY_S:
            self._expired = time.monotonic()
            self.spool.expire(KEEP_S)

    async def close(self) -> None:
        if self._calls:
            await asyncio.gather(*self._calls.values(), return_exceptions=True)
        await self._http.aclose()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self._last = time.monotonic()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not hmac.compare_digest(headers.get("x-relay-token", ""), self.token):
            await _reply(send, Answer.plain(403, "wrong relay token"))
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/call":
            await self._call(headers, await _body(receive), send)
        elif method == "DELETE" and path.startswith("/call/") and _KEY.fullmatch(key := path[6:]):
            self.spool.forget(key)
            await _reply(send, Answer(204, {}, b""))
        elif method == "GET" and path == "/health":
            health = json.dumps({"pid": os.getpid()}).encode()
            await _reply(send, Answer(200, {"content-type": "application/json"}, health))
        elif method == "POST" and path == "/quit":
            self.quitting.set()
            await _reply(send, Answer.plain(202, "exiting once no call is in flight"))
        else:
            await _reply(send, Answer.plain(404, "no such relay route"))
        self._last = time.monotonic()

    async def _call(self, headers: dict[str, str], body: bytes, send: Send) -> None:
        key, url = headers.get("x-relay-key", ""), headers.get("x-relay-url", "")
        if not _KEY.fullmatch(key) or not url.startswith(("http://", "https://")):
            await _reply(send, Answer.plain(400, "x-relay-key and x-relay-url are required"))
            return
        if (kept := self.spool.get(key)) is not None:
            await _reply(send, kept, replayed=True)
            return
        self.quitting.clear()  # a desk uses the relay again (one restarted right after a stop)
        task = self._calls.get(key)
        replayed = task is not None
        if task is None:
            forward = {k: v for k, v in headers.items() if k not in _HOP and not k.startswith("x-relay-")}
            limit = _seconds(headers.get("x-relay-timeout"))
            task = asyncio.create_task(self._make(key, url, forward, body, limit))
            self._calls[key] = task
            task.add_done_callback(lambda _: self._calls.pop(key, None))
        # Shielded: the desk going away (a kill) does not cancel the call; its answer is kept.
        await _reply(send, await asyncio.shield(task), replayed=replayed)

    async def _make(self, key: str, url: str, headers: dict[str, str], body: bytes, limit: float) -> Answer:
        try:
            response = await self._http.post(url, headers=headers, content=body, timeout=limit)
        except httpx2.HTTPError as exc:
            return Answer.plain(502, f"the relay could not reach {url}: {exc!r}", error=True)
        passed = {k: v for k in PASSED_ON if (v := response.headers.get(k)) is not None}
        answer = Answer(response.status_code, passed, response.content)
        if 200 <= answer.status < 300:
            try:
                await asyncio.to_thread(self.spool.put, key, answer)
            except (OSError, UnicodeDecodeError) as exc:  # not kept: still delivered
                print(f"summarizer relay: could not keep an answer: {exc}", file=sys.stderr)
        return answer


def _seconds(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else CALL_TIMEOUT_S
    except ValueError:
        return CALL_TIMEOUT_S


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, answer: Answer, *, replayed: bool = False) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if replayed:
        headers.append((b"x-relay-replayed", b"1"))
    with contextlib.suppress(OSError, RuntimeError):  # the desk went away: the answer is kept
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def own_folder(folder: Path) -> None:
    """``folder`` made (0700) or checked: this user's, and nobody else's to enter."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"{folder} belongs to another user; the relay will not use it")
    if st.st_mode & 0o077:
        folder.chmod(0o700)


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: they would end the process on SIGTERM
    (re-raising it once the server stops) before the calls in flight are finished and kept."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def write_state(folder: Path, token: str) -> None:
    path = folder / STATE
    tmp = folder / f".{STATE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "token": token}, fh)
    os.replace(tmp, path)


def _only_one(folder: Path) -> int | None:
    """The folder's relay lock, held for this process's life; None: another relay holds it."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


async def serve(folder: Path, idle_s: float = IDLE_S) -> None:
    own_folder(folder)
    lock = _only_one(folder)
    if lock is None:
        return  # the folder's relay is running: it is the one the desk finds
    relay = Relay(folder, secrets.token_urlsafe(24), idle_s=idle_s)
    relay.spool.expire(KEEP_S)
    path = folder / SOCKET
    path.unlink(missing_ok=True)  # a dead relay's
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    path.chmod(0o600)
    sock.listen(128)
    config = uvicorn.Config(relay, lifespan="off", log_level="warning", access_log=False, server_header=False)
    server = _Server(config)
    signalled = asyncio.Event()  # SIGTERM or SIGINT: finish the calls in flight, keep them, exit
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    write_state(folder, relay.token)
    try:
        while not serving.done():
            if relay.idle or ((relay.quitting.is_set() or signalled.is_set()) and not relay._calls):
                break
            relay.tend()
            await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):  # the next relay writes its own
            if json.loads((folder / STATE).read_text())["pid"] == os.getpid():
                (folder / STATE).unlink()
        server.should_exit = True
        await serving
        await relay.close()
        sock.close()
        path.unlink(missing_ok=True)
        os.close(lock)  # the next relay may start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="the relay's folder (state, kept answers)")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="exit after this many idle seconds")
    parser.add_argument("--detach", action="store_true", help="start the relay in its own session; return")
    args = parser.parse_args(argv)
    if args.detach:
        # The relay's parent exits at once, so the relay is nobody's child to reap but init's,
        # and in a session of its own, so a signal to the desk's process group spares it.
        argv = [sys.executable, "-m", "summarizer.desk.relay", "--folder", str(args.folder)]
        argv += ["--idle", str(args.idle)]
        own_folder(args.folder)
        fd = os.open(args.folder / "relay.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
            )
        return
    asyncio.run(serve(args.folder, args.idle))


if __name__ == "__main__":
    main()
