"""What every request passes before a route sees it (one pure ASGI middleware, no buffering).

In order:
1. Host: bound to a loopback address, only loopback host names are served (``localhost``,
   ``127.0.0.1``, ``[::1]``): a page elsewhere cannot reach the desk through DNS rebinding.
   An ``Origin`` header, when a browser sends one, must be this server's own (no cross-site
   posts from another page the editor has open).
2. Token: with ``--token`` set, every request needs ``Authorization: Bearer <token>``, except
   ``GET /`` (the page itself, which holds no data and asks for the token once).
3. Body limit: a declared ``Content-Length`` over the limit is refused at once (413); a body
   that streams past it is cut off (``BodyTooLarge``, answered 413 by the app).
4. Rate limit: ``POST /v1/briefs`` (and a brief's ``/retry`` and ``/regenerate``, which queue
   work too) is limited per client address (a token bucket holding one
   minute's worth); over it, 429 with ``Retry-After``. Only accepted work counts: a submission
   answered other than 202 (served from the store, refused) gets its token back.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/", "/favicon.ico"})
SUBMIT_PATH = "/v1/briefs"
RERUN_ACTIONS = ("/retry", "/regenerate")  # POST /v1/briefs/{id}/retry, .../regenerate


def queues_work(path: str) -> bool:
    """Whether a POST to ``path`` queues a brief (and so counts against the rate limit)."""
    return path == SUBMIT_PATH or (path.startswith(SUBMIT_PATH + "/") and path.endswith(RERUN_ACTIONS))


MAX_CLIENTS = 10_000


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def error_body(status: int, kind: str, message: str) -> bytes:
    return orjson.dumps({"error": {"status": status, "kind": kind, "message": message}})


async def send_error(
    send: Send, status: int, kind: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = error_body(status, kind, message)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"), *(headers or [])],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Per-client token buckets: ``per_minute`` submissions, a burst of at most that many."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.capacity = max(1.0, per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """0 when allowed (one token taken), else the seconds until the next token."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        rate = self.per_minute / 60.0
        tokens, at = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_CLIENTS:  # forget the fullest (idle) buckets first
                for name, _ in sorted(self._buckets.items(), key=lambda kv: -kv[1][0])[: MAX_CLIENTS // 10]:
                    self._buckets.pop(name, None)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / rate

    def refund(self, client: str) -> None:
        """Give back the token of a submission that queued no work (a store hit, a refusal)."""
        if client in self._buckets:
            tokens, at = self._buckets[client]
            self._buckets[client] = (min(self.capacity, tokens + 1.0), at)


@dataclass
class GuardOptions:
    token: str | None = None
    loopback_only: bool = True  # serve only loopback Host names (bound to a loopback address)
    max_body: int = 8_000_000
    rate_per_minute: float = 60.0


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _host_name(host_header: str) -> str:
    return urlsplit("//" + host_header).hostname or ""


class Guard:
    def __init__(self, app: ASGIApp, options: GuardOptions) -> None:
        self.app = app
        self.options = options
        self.limiter = RateLimiter(options.rate_per_minute)
        self._token = options.token.encode() if options.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if self.options.loopback_only and not is_loopback_host(_host_name(host)):
            await send_error(send, 403, "forbidden", f"this desk serves only loopback names, not {host!r}; "
                             "open it as http://127.0.0.1:PORT/")  # fmt: skip
            return
        origin = _header(scope, b"origin")
        if origin is not None and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
            await send_error(send, 403, "forbidden", "cross-origin request refused; use the desk's own page")
            return
        if origin == "null":
            await send_error(send, 403, "forbidden", "request from an opaque origin refused")
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if self._token is not None and not (method in {"GET", "HEAD"} and path in OPEN_PATHS):
            given = _header(scope, b"authorization") or ""
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self._token):
                await send_error(
                    send, 401, "authentication",
                    "missing or wrong token: send Authorization: Bearer <the desk's --token>",
                    [(b"www-authenticate", b'Bearer realm="summarizer"')],
                )  # fmt: skip
                return
        if method == "POST":
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > self.options.max_body:
                limit = self.options.max_body
                message = f"request body: {int(length):,} bytes is over the {limit:,}-byte request limit"
                await send_error(send, 413, "input", message + "; send a smaller article")
                return
            if queues_work(path):
                client = (scope.get("client") or ("?", 0))[0]
                wait = self.limiter.take(str(client))
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    await send_error(
                        send, 429, "rate_limited",
                        f"too many briefs from {client}: at most {self.options.rate_per_minute:g} a minute; "
                        f"try again in {seconds} s",
                        [(b"retry-after", str(seconds).encode())],
                    )  # fmt: skip
                    return
                send = self._refunding(send, str(client))
            receive = self._limited(receive)
        await self.app(scope, receive, send)

    def _refunding(self, send: Send, client: str) -> Send:
        """Only accepted work counts against the limit: a submission answered other than 202
        (served from the store, or refused) gets its token back."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") != 202:
                self.limiter.refund(client)
            await send(message)

        return sending

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.options.max_body

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited
