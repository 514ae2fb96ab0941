"""``summarizer serve``: bind, check the loopback/token rule, run the app under uvicorn.

The socket is bound here (not by uvicorn) so ``--port 0`` works and the line printed says the
real address: ``summarizer: desk on http://127.0.0.1:8765/``. A non-loopback address is refused
without a token unless ``--insecure`` is given: anyone who can reach the port could otherwise
spend the model and read every brief.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from summarizer.desk.connections import ConnectionLimits, protocol_for, quiet_log
from summarizer.desk.guard import GuardOptions, is_loopback_host
from summarizer.errors import ConfigurationError
from summarizer.settings import Settings

DEFAULT_PORT = 8765
DEFAULT_CONCURRENCY = 4  # with --base-url; the embedded server has one slot: 1


@dataclass
class ServeOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    concurrency: int | None = None
    max_queue: int = 100
    rate_per_minute: float = 60.0
    max_body: int | None = None
    token: str | None = None
    insecure: bool = False
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    retention_days: float | None = None
    relay: bool = True  # endpoint calls through the call relay (``desk.relay``)


def concurrency_for(settings: Settings, wanted: int | None) -> tuple[int, str | None]:
    """Model calls at a time, and a note when the wish was cut."""
    if settings.embedded:  # one brief per slot of the embedded server (--slots, default 1)
        slots = settings.embedded_slots
        if wanted is not None and wanted > slots:
            note = f"the embedded model answers {slots} request(s) at a time (--slots): --concurrency {slots}"
            return slots, note
        return wanted or slots, None
    return (wanted or DEFAULT_CONCURRENCY), None


def check_exposure(host: str, token: str | None, insecure: bool) -> None:
    if is_loopback_host(host) or token or insecure:
        return
    raise ConfigurationError(
        f"refusing to serve on {host} without a token: anyone who can reach it could spend the model "
        "and read every brief; pass --token (or set SUMMARIZER_TOKEN), or --insecure if you mean it"
    )


def bind(host: str, port: int) -> socket.socket:
    try:
        family = (
            socket.AF_INET6
            if isinstance(ipaddress.ip_address(host.strip("[]")), ipaddress.IPv6Address)
            else socket.AF_INET
        )
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port or --host"
        ) from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server, with Ctrl-C and SIGTERM handled by the desk's loop (``stop``): a first
    one shuts down gracefully (the desk closes, the embedded server stops), a second one at once.
    uvicorn's own handlers would re-raise the signal after shutdown, mid-way through our close."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def serve(settings: Settings, options: ServeOptions) -> None:
    """Run the desk until Ctrl-C or SIGTERM (the embedded server is stopped on the way out)."""
    from summarizer.desk.api import DeskApp
    from summarizer.desk.work import Desk, DeskOptions

    check_exposure(options.host, options.token, options.insecure)
    concurrency, note = concurrency_for(settings, options.concurrency)
    if note:
        print(f"summarizer: {note}", file=sys.stderr)
    desk = Desk(settings, DeskOptions(
        options.data_dir, concurrency=concurrency, max_queue=options.max_queue,
        retention_days=options.retention_days, relay=options.relay,
    ))  # fmt: skip
    guard = GuardOptions(
        token=options.token,
        loopback_only=is_loopback_host(options.host),
        max_body=options.max_body or 2 * settings.max_bytes + 1_000_000,
        rate_per_minute=options.rate_per_minute,
    )
    # The desk starts before uvicorn and closes after it (not in the ASGI lifespan), so a
    # start failure (a locked data dir, say) is one line and its exit code, not a traceback.
    app = DeskApp(desk, guard, manage_desk=False)
    sock = bind(options.host, options.port)
    config = uvicorn.Config(
        app.app, lifespan="off", log_level="warning", access_log=False, server_header=False,
        proxy_headers=False, timeout_graceful_shutdown=5, http=protocol_for(options.limits),
    )  # fmt: skip
    logging.basicConfig(level=logging.WARNING, format="summarizer: %(message)s")
    quiet_log()
    server = _Server(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            server.stop()
            desk.closing()  # long polls answer now: uvicorn's graceful stop waits for open requests

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await desk.start()
        try:
            print(
                f"summarizer: desk on {url_of(sock)} (data in {options.data_dir}, model {desk.model}, "
                f"{concurrency} at a time{', token required' if options.token else ''})",
                file=sys.stderr,
                flush=True,
            )
            await server.serve(sockets=[sock])
        finally:
            await desk.close()

    try:
        asyncio.run(main())
    finally:
        sock.close()
    print("summarizer: desk stopped", file=sys.stderr)
