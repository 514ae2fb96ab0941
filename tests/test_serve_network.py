"""``summarizer serve`` on a network: clients that connect and send nothing, send a request's
headers or body a byte at a time, or open more connections than anyone needs. A real serve
process (against the fake OpenAI server) and raw sockets from loopback; every socket and the
process are closed on every path."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from summarizer.desk.connections import ConnectionLimits, QuietLog
from tests.support.desk_process import DeskProcess
from tests.support.fake_openai import FakeServer

READ_TIMEOUT = 1.0
PER_CLIENT = 40


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[DeskProcess]:
    with FakeServer(latency=0.005) as fake:
        process = DeskProcess(
            fake.base_url, tmp_path / "data",
            args=("--read-timeout", str(READ_TIMEOUT), "--max-per-client", str(PER_CLIENT)),
        )  # fmt: skip
        with process:
            yield process


@contextlib.contextmanager
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for s in opened:
            s.close()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s: socket.socket, within: float = 20.0) -> bool:
    """True once the server closes ``s`` (EOF or reset); False if it is still open after
    ``within`` seconds (a generous bound: the deadline under test is READ_TIMEOUT)."""
    s.settimeout(within)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
            if data.startswith(b"HTTP/1.1 4"):  # an error answer before the close is fine too
                continue
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def healthz_from(port: int, source: str) -> int:
    with connect(port, source) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_half_sent_requests_and_idle_connections_are_closed_and_the_desk_keeps_answering(
    desk: DeskProcess,
) -> None:
    with sockets() as held:
        for i in range(PER_CLIENT):
            s = connect(desk.port)
            held.append(s)
            if i % 2:  # headers never finished; the other half sends nothing at all
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Over the per-client cap, a real request still gets through, from that same address
        # (the oldest half-open connection makes room) and from another one.
        assert healthz_from(desk.port, "127.0.0.1") == 200
        assert closed_by_server(held[0])
        assert healthz_from(desk.port, "127.0.0.2") == 200
        assert all(closed_by_server(s) for s in held)
    # Once they are gone, the same address is served again.
    with httpx2.Client(base_url=desk.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200


def test_a_trickled_body_is_cut_off(desk: DeskProcess) -> None:
    with sockets() as held:
        s = connect(desk.port)
        held.append(s)
        s.sendall(
            b"POST /v1/briefs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        cut = False
        for _ in range(200):  # a byte every 0.1 s: far slower than 64 KiB/s
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            time.sleep(0.1)
        assert cut or closed_by_server(s)


def test_a_flood_writes_a_few_lines_not_one_a_connection(desk: DeskProcess) -> None:
    with sockets() as held:
        for _ in range(PER_CLIENT + 200):  # each one over the cap closes the oldest half-open one
            held.append(connect(desk.port))
        assert all(closed_by_server(s) for s in held[:200])
        with httpx2.Client(base_url=desk.url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200
    lines = [line for line in desk.stderr if "to make room" in line]
    assert 1 <= len(lines) <= 3, lines
    assert sum(len(line) for line in desk.stderr) < 1_000_000


def test_quiet_log_lets_one_line_a_message_through_per_interval() -> None:
    import logging

    quiet = QuietLog(interval=60)
    records = [
        logging.LogRecord("asyncio", logging.ERROR, "", 0, "accept failed", None, None) for _ in range(5)
    ]
    assert [quiet.filter(r) for r in records] == [True, False, False, False, False]
    other = logging.LogRecord("asyncio", logging.ERROR, "", 0, "another message", None, None)
    assert quiet.filter(other)


def test_caps_stay_under_the_open_file_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    fitted = ConnectionLimits(max_connections=10**6, per_client=10**6).fitted()
    if soft != resource.RLIM_INFINITY:
        assert fitted.max_connections < soft and fitted.per_client <= fitted.max_connections
