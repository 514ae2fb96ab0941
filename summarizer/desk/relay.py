"""The call relay: a small process that makes the desk's model calls and outlives the desk.

A ``kill -9`` of the desk used to lose every model answer in flight, and the restarted desk paid
for those calls again. The desk now sends each model request through this relay (``relayed``):
the relay makes the call in a task of its own, so the call goes on when the desk dies, and keeps
the answer in its spool until the desk says it has stored it. The restarted desk sends the same
request (the same prompt: the same bytes) and gets the kept answer, or waits for the call still
running: a call is bought once.

    python -m summarizer.desk.relay --folder DATA_DIR/relay [--detach]

- ``POST /call`` (headers ``x-relay-key``: sha256 of the request, ``x-relay-url``: where it goes;
  the request's own headers and body): the spooled answer, else the call in flight for that key,
  else a new call. Answered with the endpoint's status, ``content-type`` and body, and
  ``x-relay-replayed: 1`` when this request did not start the call. Only 2xx answers are kept;
  a call that could not be made answers 502 (the desk's transport retries).
- ``DELETE /call/<key>``: the desk stored the answer; the relay forgets it.
- ``GET /health``; ``POST /quit``: exit once no call is in flight (a call that comes meanwhile,
  from a desk restarted at once, keeps the relay).

Every request carries ``x-relay-token`` (``relay.json``, mode 0600, in a 0700 folder). The relay
listens on loopback only, exits after ``IDLE_S`` with nothing in flight, and drops kept answers
nobody came back for after ``KEEP_S``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

STATE = "relay.json"  # {"pid", "port", "token"}, written once the relay listens
IDLE_S = 600.0  # nothing in flight and no request for this long: exit
KEEP_S = 24 * 3600.0  # a kept answer nobody came back for is dropped after this
CALL_TIMEOUT_S = 900.0  # one model call, headers to last byte
_KEY = re.compile(r"[0-9a-f]{64}")
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade"}

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def dump(self) -> bytes:
        return json.dumps(
            {"status": self.status, "content_type": self.content_type, "body": self.body.decode("utf-8")}
        ).encode("utf-8")

    @classmethod
    def load(cls, raw: bytes) -> Answer:
        data = json.loads(raw)
        return cls(int(data["status"]), str(data["content_type"]), str(data["body"]).encode("utf-8"))


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

    @property
    def idle(self) -> bool:
        return not self._calls and time.monotonic() - self._last > self.idle_s

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
            await _reply(send, Answer(403, "text/plain", b"wrong relay token"))
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/call":
            await self._call(headers, await _body(receive), send)
        elif method == "DELETE" and path.startswith("/call/") and _KEY.fullmatch(key := path[6:]):
            self.spool.forget(key)
            await _reply(send, Answer(204, "text/plain", b""))
        elif method == "GET" and path == "/health":
            await _reply(send, Answer(200, "application/json", json.dumps({"pid": os.getpid()}).encode()))
        elif method == "POST" and path == "/quit":
            self.quitting.set()
            await _reply(send, Answer(202, "text/plain", b"exiting once no call is in flight"))
        else:
            await _reply(send, Answer(404, "text/plain", b"no such relay route"))
        self._last = time.monotonic()

    async def _call(self, headers: dict[str, str], body: bytes, send: Send) -> None:
        key, url = headers.get("x-relay-key", ""), headers.get("x-relay-url", "")
        if not _KEY.fullmatch(key) or not url.startswith(("http://", "https://")):
            await _reply(send, Answer(400, "text/plain", b"x-relay-key and x-relay-url are required"))
            return
        if (kept := self.spool.get(key)) is not None:
            await _reply(send, kept, replayed=True)
            return
        self.quitting.clear()  # a desk uses the relay again (one restarted right after a stop)
        task = self._calls.get(key)
        replayed = task is not None
        if task is None:
            forward = {k: v for k, v in headers.items() if k not in _HOP and not k.startswith("x-relay-")}
            task = asyncio.create_task(self._make(key, url, forward, body))
            self._calls[key] = task
            task.add_done_callback(lambda _: self._calls.pop(key, None))
        # Shielded: the desk going away (a kill) does not cancel the call; its answer is kept.
        await _reply(send, await asyncio.shield(task), replayed=replayed)

    async def _make(self, key: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            response = await self._http.post(url, headers=headers, content=body)
        except httpx2.HTTPError as exc:
            return Answer(502, "text/plain", f"the relay could not reach {url}: {exc!r}".encode())
        answer = Answer(response.status_code, response.headers.get("content-type", ""), response.content)
        if 200 <= answer.status < 300:
            try:
                await asyncio.to_thread(self.spool.put, key, answer)
            except (OSError, UnicodeDecodeError) as exc:  # not kept: still delivered
                print(f"summarizer relay: could not keep an answer: {exc}", file=sys.stderr)
        return answer


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, answer: Answer, *, replayed: bool = False) -> None:
    headers = [(b"content-type", answer.content_type.encode("latin-1") or b"application/octet-stream")]
    if replayed:
        headers.append((b"x-relay-replayed", b"1"))
    with contextlib.suppress(OSError, RuntimeError):  # the desk went away: the answer is kept
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def write_state(folder: Path, port: int, token: str) -> None:
    path = folder / STATE
    tmp = folder / f".{STATE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "port": port, "token": token}, fh)
    os.replace(tmp, path)


async def serve(folder: Path, idle_s: float = IDLE_S) -> None:
    import uvicorn

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    relay = Relay(folder, secrets.token_urlsafe(24), idle_s=idle_s)
    relay.spool.expire(KEEP_S)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(relay, lifespan="off", log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    write_state(folder, sock.getsockname()[1], relay.token)
    try:
        while not serving.done():
            if relay.idle or (relay.quitting.is_set() and not relay._calls):
                break
            await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(OSError):  # the next relay writes its own
            if json.loads((folder / STATE).read_text())["pid"] == os.getpid():
                (folder / STATE).unlink()
        server.should_exit = True
        await serving
        await relay.close()
        sock.close()


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
        args.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(args.folder / "relay.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
            )
        return
    asyncio.run(serve(args.folder, args.idle))


if __name__ == "__main__":
    main()
