"""Slow clients against ``summarizer serve``: thousands of half-open connections from loopback.

    .venv/bin/python bench/serve_slow_clients.py [--connections 3000] [--addresses 60]

Starts the desk (against the fake OpenAI server) with its defaults, opens ``--connections``
sockets from ``--addresses`` loopback source addresses (127.0.1.x), half of them sending an
unfinished request line and headers, the rest nothing; then times ``/healthz`` from another
address while they are held, and measures how long until the desk has closed every one, and how
much it wrote to stderr. Prints the figures; asserts nothing (the tests do, at a small scale:
tests/test_serve_network.py).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.desk_process import DeskProcess  # noqa: E402
from tests.support.fake_openai import FakeServer  # noqa: E402


def open_one(port: int, source: str, half: bool) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(True)
    s.settimeout(5)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        if half:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        s.close()
        return None
    return s


def healthz_seconds(port: int, source: str) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--addresses", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeServer(latency=0.005) as fake:
        desk = DeskProcess(fake.base_url, Path(tmp) / "data")
        held: list[socket.socket] = []
        try:
            desk.start()
            started = time.perf_counter()
            for i in range(args.connections):
                s = open_one(desk.port, f"127.0.1.{1 + i % args.addresses}", half=bool(i % 2))
                if s is not None:
                    held.append(s)
            opened_s = time.perf_counter() - started
            health = [healthz_seconds(desk.port, "127.0.2.1") for _ in range(5)]
            for s in held:
                s.settimeout(0.0)
            open_now = len(held)
            deadline = time.perf_counter() + 60
            while held and time.perf_counter() < deadline:
                still = []
                for s in held:
                    try:
                        if s.recv(4096) == b"":
                            s.close()
                            continue
                    except BlockingIOError:
                        still.append(s)
                        continue
                    except OSError:
                        s.close()
                        continue
                    still.append(s)
                held = still
                time.sleep(0.05)
            closed_s = time.perf_counter() - started
        finally:
            for s in held:
                s.close()
            desk.stop()
    stderr = sum(len(line) for line in desk.stderr)
    print(f"{args.connections} connections from {args.addresses} addresses opened in {opened_s:.1f} s "
          f"({open_now} connected)")  # fmt: skip
    print(f"/healthz from another address while held: median {sorted(health)[2] * 1000:.0f} ms, "
          f"max {max(health) * 1000:.0f} ms")  # fmt: skip
    print(f"all closed by the desk {closed_s:.1f} s after the first was opened; still open: {len(held)}")
    print(f"desk stderr: {stderr} bytes, {len(desk.stderr)} lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
