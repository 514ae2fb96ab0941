"""The call relay (``summarizer.desk.relay``): each model call made once, across a desk's kill -9.

The relay app is driven in-process through an ASGI transport against the fake OpenAI server; the
relay process is started, found again and stopped for real; and one desk is killed with two
calls in flight and restarted: the fake must have been asked twice, not four times.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import sqlite3
import stat
import time
from pathlib import Path

import httpx2
import pytest

from summarizer.desk import relayed
from summarizer.desk.relay import Relay
from summarizer.desk.relayed import RelayHandle, RelayTransport, relay_alive
from summarizer.transport import CallStats, current_stats
from tests.support.desk_process import DeskProcess
from tests.support.fake_openai import FakeServer

TOKEN = "relay-test-token"
BODY = json.dumps(
    {"model": "fake-model", "messages": [{"role": "user", "content": "Town7 opens a bridge."}]}
).encode()


def call_headers(fake: FakeServer, key: str, token: str = TOKEN) -> dict[str, str]:
    return {
        "x-relay-token": token,
        "x-relay-key": key,
        "x-relay-url": f"{fake.base_url}/chat/completions",
        "authorization": "Bearer k",
        "content-type": "application/json",
    }


async def with_relay(folder: Path, go: object) -> None:
    relay = Relay(folder, TOKEN)
    transport = httpx2.ASGITransport(app=relay)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://relay") as client:
            await go(client, relay)  # type: ignore[operator]
    finally:
        await relay.close()


def test_the_same_request_twice_is_one_call_and_its_answer_is_kept_until_forgotten(tmp_path: Path) -> None:
    key = "a" * 64

    async def go(client: httpx2.AsyncClient, relay: Relay) -> None:
        first, second = await asyncio.gather(
            client.post("/call", content=BODY, headers=call_headers(fake, key)),
            client.post("/call", content=BODY, headers=call_headers(fake, key)),
        )
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json() and first.json()["object"] == "chat.completion"
        assert sorted(r.headers.get("x-relay-replayed", "0") for r in (first, second)) == ["0", "1"]
        kept = relay.spool.path(key)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        # A desk restarted after a kill sends the same request: the kept answer, no call.
        third = await client.post("/call", content=BODY, headers=call_headers(fake, key))
        assert third.headers["x-relay-replayed"] == "1" and third.json() == first.json()
        assert fake.requests == 1
        forgotten = await client.delete(f"/call/{key}", headers={"x-relay-token": TOKEN})
        assert forgotten.status_code == 204 and not kept.exists()
        fourth = await client.post("/call", content=BODY, headers=call_headers(fake, key))
        assert fourth.status_code == 200 and "x-relay-replayed" not in fourth.headers
        assert fake.requests == 2

    with FakeServer(latency=0.3) as fake:
        asyncio.run(with_relay(tmp_path / "relay", go))


def test_failures_are_passed_on_and_not_kept_and_strangers_are_refused(tmp_path: Path) -> None:
    key = "b" * 64

    async def go(client: httpx2.AsyncClient, relay: Relay) -> None:
        fake.script("Town7", ["500"])
        failed = await client.post("/call", content=BODY, headers=call_headers(fake, key))
        assert failed.status_code == 500 and not relay.spool.path(key).exists()
        again = await client.post("/call", content=BODY, headers=call_headers(fake, key))
        assert again.status_code == 200 and fake.requests == 2  # a failure is not an answer
        stranger = await client.post("/call", content=BODY, headers=call_headers(fake, key, token="guess"))
        assert stranger.status_code == 403
        unkeyed = await client.post("/call", content=BODY, headers=call_headers(fake, "../../etc"))
        assert unkeyed.status_code == 400
        gone = call_headers(fake, "c" * 64) | {"x-relay-url": "http://127.0.0.1:9/v1/chat/completions"}
        unreachable = await client.post("/call", content=BODY, headers=gone)
        assert unreachable.status_code == 502 and b"could not reach" in unreachable.content
        assert unreachable.headers["x-relay-error"] == "1"

    with FakeServer() as fake:
        asyncio.run(with_relay(tmp_path / "relay", go))


class Recording(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(f"{request.method} {str(request.url).rstrip('/')}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def through_the_relay(handle: RelayHandle, fake: FakeServer) -> list[str]:
    recording = Recording()
    async with httpx2.AsyncClient(transport=RelayTransport(recording, handle)) as client:
        answer = await client.post(
            f"{fake.base_url}/chat/completions", content=BODY, headers={"authorization": "Bearer k"}
        )
        assert answer.status_code == 200 and answer.json()["object"] == "chat.completion"
        listing = await client.get(f"{fake.base_url}/models", headers={"authorization": "Bearer k"})
        assert listing.status_code == 200
    return recording.sent


# The relay listens on a Unix socket; the network stays blocked for anything else.
RELAY_SOCKET = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", r".*/relay\.sock$"])


@RELAY_SOCKET
def test_the_relay_process_is_found_again_and_exits_when_asked(tmp_path: Path) -> None:
    handle = RelayHandle(tmp_path / "relay")
    pids: set[int] = set()
    try:
        assert handle.ensure() and handle.pid is not None
        pids.add(handle.pid)
        assert stat.S_IMODE((tmp_path / "relay").stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "relay" / "relay.json").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "relay" / "relay.sock").stat().st_mode) == 0o600
        again = RelayHandle(tmp_path / "relay")
        started = again.ensure()
        pids.add(again.pid or 0)
        assert started and again.pid == handle.pid  # one relay per folder
        with FakeServer() as fake:
            sent = asyncio.run(through_the_relay(handle, fake))
        # The paid call went through the relay (its answer is kept there, as no brief stored
        # it); a model listing went straight to the endpoint.
        assert sent == [f"GET {fake.base_url}/models"]
        assert len(list((tmp_path / "relay" / "calls").glob("*.json"))) == 1
        handle.quit()
        deadline = time.monotonic() + 10
        while relay_alive(handle.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not relay_alive(handle.pid)
        assert not (tmp_path / "relay" / "relay.json").exists()
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            pids.add(int(json.loads((tmp_path / "relay" / "relay.json").read_text())["pid"]))
        for pid in pids:
            if pid and relay_alive(pid):
                os.kill(pid, signal.SIGKILL)


@RELAY_SOCKET
def test_a_relay_that_runs_but_does_not_answer_yet_is_waited_for_not_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay busy finishing a killed desk's calls (or on a busy machine) may answer late; giving
    up after START_S sent the restarted desk's calls straight to the endpoint, paying again for
    the ones the relay had in flight (seen once in CI: 25 calls for 24 briefs)."""
    handle = RelayHandle(tmp_path / "relay")
    try:
        assert handle.ensure() and handle.pid is not None
        monkeypatch.setattr(relayed, "START_S", 0.3)
        os.kill(handle.pid, signal.SIGSTOP)  # running, but answering nothing
        again = RelayHandle(tmp_path / "relay")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            found = pool.submit(again.ensure)
            time.sleep(3.0)  # past START_S and a health check's own 2 s timeout
            assert not found.done()
            os.kill(handle.pid, signal.SIGCONT)
            assert found.result(timeout=30) and again.pid == handle.pid  # the same relay, not a second
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            pid = int(json.loads((tmp_path / "relay" / "relay.json").read_text())["pid"])
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while relay_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


def test_without_a_relay_requests_go_straight_to_the_endpoint(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    handle = RelayHandle(tmp_path / "file" / "relay")  # cannot be made: no relay

    async def go() -> tuple[int, int]:
        assert not await handle.found()
        stats = CallStats()
        token = current_stats.set(stats)
        transport = RelayTransport(httpx2.AsyncHTTPTransport(), handle)
        try:
            async with httpx2.AsyncClient(transport=transport) as client:
                response = await client.post(
                    f"{fake.base_url}/chat/completions", content=BODY, headers={"authorization": "Bearer k"}
                )
            return response.status_code, fake.requests
        finally:
            current_stats.reset(token)

    with FakeServer() as fake:
        assert asyncio.run(go()) == (200, 1)


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_calls_in_flight_at_a_stop_are_paid_once_after_the_restart(tmp_path: Path, stop: str) -> None:
    """Two briefs whose model calls are in flight when the desk is killed (or stopped: its
    workers are cancelled): the relay finishes them; the restarted desk gets their answers
    from it (the same relay, or after it exited, the next one from the kept files). Without the
    relay the fake would be asked four times."""
    data = tmp_path / "data"
    texts = [
        f"Bridges for town {i}\n\nThe council of Town{i} approved {i + 2} bridges on Tuesday." for i in (1, 2)
    ]
    with FakeServer(latency=3.0) as fake:
        desk = DeskProcess(fake.base_url, data, args=("--concurrency", "2", "--rate-limit", "0"))
        try:
            desk.start()
            with httpx2.Client(base_url=desk.url, timeout=30) as client:
                ids = [client.post("/v1/briefs", json={"text": t}).json()["id"] for t in texts]
            deadline = time.monotonic() + 30
            while fake.requests < 2:
                assert time.monotonic() < deadline, "the calls never reached the fake"
                time.sleep(0.02)
            if stop == "kill -9":
                desk.kill()  # both calls are at the fake, answers not back yet
            else:
                desk.stop()  # the relay keeps both answers, then exits
            assert fake.requests == 2
            desk.start()
            desk.wait_done(ids, timeout=60)
        finally:
            desk.stop()
        assert desk.relays_exited, "the relay did not exit after the desk's stop"
        calls = fake.requests
    assert calls == 2, f"{calls} model calls for 2 briefs: paid twice across the kill"
    db = sqlite3.connect(data / "briefs.sqlite3")
    counted = [r[0] for r in db.execute("SELECT model_calls FROM briefs")]
    db.close()
    # Each call counted once: before it was sent in the killed run; not again for its replay.
    assert counted == [1, 1], counted
    assert not list((data / "relay" / "calls").glob("*.json")), "answers in the store are forgotten"


@RELAY_SOCKET
def test_a_sigterm_lets_the_relay_finish_and_keep_a_call_whose_desk_is_gone(tmp_path: Path) -> None:
    """The desk killed mid-call, then the relay stopped by SIGTERM (a service manager stopping
    the whole group): the call in flight is finished and kept for the restarted desk."""
    handle = RelayHandle(tmp_path / "relay")
    try:
        assert handle.ensure() and handle.pid is not None
        with FakeServer(latency=2.0) as fake:
            headers = call_headers(fake, "d" * 64, token=handle.token)
            transport = httpx2.HTTPTransport(uds=str(handle.socket))
            with (
                httpx2.Client(transport=transport, base_url="http://relay") as client,
                contextlib.suppress(httpx2.TimeoutException),  # the desk gives up: gone
            ):
                client.post("/call", content=BODY, headers=headers, timeout=0.5)
            os.kill(handle.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while relay_alive(handle.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not relay_alive(handle.pid), "the relay did not exit after SIGTERM"
            assert fake.requests == 1
        kept = tmp_path / "relay" / "calls" / f"{'d' * 64}.json"
        assert kept.exists() and json.loads(kept.read_text())["status"] == 200
    finally:
        if relay_alive(handle.pid):
            os.kill(handle.pid or 0, signal.SIGKILL)
