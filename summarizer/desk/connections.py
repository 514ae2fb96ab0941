"""The desk's connections on a network: uvicorn's h11 protocol with the limits it lacks.

uvicorn times out only an idle keep-alive connection. A client that opens a connection and
sends nothing, or sends a request's headers (or body) a byte at a time, would hold a socket and
a file descriptor for ever; a few thousand of them exhaust the process's descriptors. Here:

- **Read deadlines**: a request's headers must be complete ``read_timeout`` seconds after the
  connection opens or the request's first byte arrives (not reset by each byte: a trickle does
  not buy time), and its body ``read_timeout`` seconds plus one second per 64 KiB of its
  declared length after the headers. Past it the connection is closed.
- **Connection caps**: at most ``max_connections`` open in all (kept below the descriptor
  limit) and ``per_client`` from one address. A connection over a cap closes the oldest one
  (of that address, for its cap) with no request in progress: half-sent headers or an idle
  keep-alive. So a flood of half-open connections never locks out a real request, even from
  the flooding address; only when every connection is serving a request is the new one closed.
- **TCP_NODELAY** on every accepted socket (asyncio sets it only on sockets it makes itself; a
  socket the desk binds does not get it, and keep-alive requests then wait ~40 ms on Nagle).

What is refused is counted and said once per interval on the desk's log (``quiet_log``), never
a line per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

BODY_BYTES_PER_SECOND = 64 * 1024  # the slowest body upload allowed, after the read timeout
RESERVED_DESCRIPTORS = 64  # for the store, the model client, logs and the embedded server


@dataclass(frozen=True)
class ConnectionLimits:
    read_timeout: float = 10.0
    max_connections: int = 512
    per_client: int = 64

    def fitted(self) -> ConnectionLimits:
        """The caps kept below the process's open-file limit, so refusing stays possible."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self
        room = max(8, soft - RESERVED_DESCRIPTORS)
        total = min(self.max_connections, room)
        return ConnectionLimits(self.read_timeout, total, min(self.per_client, total))


class QuietLog(logging.Filter):
    """One line per message per ``interval`` seconds, with how many were held back."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) < self.interval:
            self._held[key] += 1
            return False
        self._last[key] = now
        if held := self._held.pop(key, 0):
            record.msg = f"{record.msg} ({held} more like it in the last {self.interval:.0f} s)"
        return True


def quiet_log(interval: float = 10.0) -> None:
    """Rate-limit the lines asyncio, uvicorn and the desk's connections write under a flood."""
    for name in ("asyncio", "uvicorn.error", __name__):
        logging.getLogger(name).addFilter(QuietLog(interval))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with read deadlines, connection caps and TCP_NODELAY; use
    ``protocol_for(limits)`` to get one bound to its limits."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    open_by_client: ClassVar[Counter[str]]
    # Connections with no request in progress, oldest first: the ones a new connection evicts.
    idle: ClassVar[dict[GuardedH11Protocol, None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._reading: str = "headers"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        address = self.client[0] if self.client else ""
        limits = self.limits
        if self.open_by_client[address] >= limits.per_client and not self._evict(address):
            self._refuse(transport)
            return
        if len(self.connections) > limits.max_connections and not self._evict(None):
            self._refuse(transport)
            return
        self._address = address
        self.open_by_client[address] += 1
        self.idle[self] = None
        self._arm(limits.read_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._reading = "headers"  # the next request on a kept-alive connection
            self._arm(self.limits.read_timeout)
        super().data_received(data)
        state = self.conn.their_state
        if state is not h11.IDLE:
            self.idle.pop(self, None)  # a request in progress is never evicted
        if state is h11.SEND_BODY and self._reading == "headers":
            self._reading = "body"
            length = self._declared_length()
            self._arm(self.limits.read_timeout + length / BODY_BYTES_PER_SECOND)
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is ending)
            self._reading = "done"

    def on_response_complete(self) -> None:
        self._reading = "headers"
        if self._address is not None:
            self.idle[self] = None  # kept alive, waiting for the next request
        super().on_response_complete()

    def _evict(self, address: str | None) -> bool:
        """Close the oldest connection with no request in progress (of ``address`` if given)."""
        victim = next((p for p in self.idle if address is None or p._address == address), None)
        if victim is None:
            return False
        log.warning("closed idle or half-sent connections to make room (%d open in all, %d per client)",
                    self.limits.max_connections, self.limits.per_client)  # fmt: skip
        victim._forget()
        victim.transport.abort()
        return True

    def _refuse(self, transport: asyncio.Transport) -> None:
        log.warning("refused connections over the limit, every one busy (%d open in all, %d per client)",
                    self.limits.max_connections, self.limits.per_client)  # fmt: skip
        transport.abort()

    def _forget(self) -> None:
        """Stop counting this connection (it is closing)."""
        self._disarm()
        self.idle.pop(self, None)
        if self._address is not None:
            self.open_by_client[self._address] -= 1
            if self.open_by_client[self._address] <= 0:
                del self.open_by_client[self._address]
            self._address = None

    def _declared_length(self) -> int:
        for name, value in self.headers or []:
            if name == b"content-length":
                try:
                    return max(0, int(value))
                except ValueError:
                    return 0
        return 0

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        log.warning("closed connections that sent a request too slowly (%s within %.0f s)",
                    self._reading, self.limits.read_timeout)  # fmt: skip
        if not self.transport.is_closing():
            self.transport.abort()


def protocol_for(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to ``limits`` (uvicorn makes one instance per connection)."""
    shared = {"limits": limits.fitted(), "open_by_client": Counter(), "idle": {}}
    return type("DeskH11Protocol", (GuardedH11Protocol,), shared)
