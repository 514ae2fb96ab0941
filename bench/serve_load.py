"""The desk under load, and through a SIGKILL, against the fake OpenAI server.

    .venv/bin/python bench/serve_load.py              # 200 briefs, 20 clients, 200 ms model latency
    .venv/bin/python bench/serve_load.py --quick      # 40 briefs, 8 clients (a smoke check)

Runs ``summarizer serve`` and the fake OpenAI-compatible server (tests/support/fake_openai.py,
generated answers) as child processes on 127.0.0.1, and drives the desk's HTTP API from this one
with asyncio clients; nothing but the project's own virtualenv is needed. Prints figures and
checks; exits 1 if a check fails. Nothing here asserts on time.

1. Load: one brief (the cold start) and 20 one at a time (no contention), then N distinct
   articles submitted by C concurrent clients (each: submit, poll until done, next). Every brief
   must end ``done``, each id once, and the fake must have been asked exactly N times (none
   billed twice). Per brief, from the desk's own timings: total (accepted -> stored), model
   (waiting for the model's HTTP answers), queued (waiting for a worker); overhead = total -
   model (as asked) and total - model - queued (the desk's own work: intake, store writes,
   prompt, validation, grounding). Clients poll every ``--poll`` seconds (0.1; the page: 0.7).
2. Again: the same N articles once more: every one served from the store, zero model calls.
3. Kill -9: K articles accepted at once by a desk running 2 at a time; SIGKILL once 3 are
   done; restart on the same data dir; every accepted brief must end ``done``, none twice in the
   store, and the fake asked exactly K times: the calls in flight at the kill were made by the
   call relay (``summarizer.desk.relay``), which outlives the desk, and the restarted desk gets
   their answers from it (0 extra calls). The relay is stopped and reaped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402 - after the path, like the project's other benchmarks

PARAGRAPHS = [
    "The regional council of {town} approved on Tuesday a plan to build {n} new bridges over the "
    "river, officials said, after a debate that lasted more than six hours.",
    '"We need them now, not in ten years," said councillor Maria Lopez, who led the campaign.',
    "Opponents said the plan, which costs {n}00 million euros, would raise local taxes. The "
    "transport department said work could start next spring if no appeal is lodged.",
    "Residents of {town} have complained for years about traffic on the old crossing, which "
    "carries about {n}0,000 vehicles a day according to the department.",
]
DESK_ARGS: list[str] = []  # more ``summarizer serve`` options for every desk (``--no-relay``)
_URL = re.compile(r"desk on (http://\S+/)")
FAILURES: list[str] = []
SOLO = 20  # briefs sent one at a time before the load
POLL_S = 0.1  # how often a client asks for its brief's status (--poll)


def article(i: int, tag: str = "") -> dict[str, str]:
    town = f"Town{tag}{i}"
    body = "\n\n".join(p.format(town=town, n=(i % 90) + 2) for p in PARAGRAPHS)
    return {"title": f"{town} approves new bridges", "text": f"{town} approves bridges\n\n{body}"}


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        FAILURES.append(what)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}


@contextmanager
def fake_server(latency: float) -> Iterator[str]:
    argv = [sys.executable, "-m", "tests.support.fake_openai", "--port", "0", "--latency", str(latency)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env())
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip().split("=", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def fake_requests(base_url: str) -> int:
    stats = httpx2.get(base_url.removesuffix("/v1") + "/fake/stats").json()
    return int(stats["requests"])


class Desk:
    """One ``summarizer serve`` child; always stopped (SIGTERM, then SIGKILL) and reaped."""

    def __init__(self, fake_url: str, data_dir: Path, concurrency: int, port: int = 0) -> None:
        self.argv = [
            sys.executable, "-m", "summarizer", "serve", "--port", str(port), "--data-dir", str(data_dir),
            "--base-url", fake_url, "--model", "fake-model", "--api-key", "k", "--structured-output",
            "json_schema", "--concurrency", str(concurrency), "--rate-limit", "0", "--max-queue", "1000",
            *DESK_ARGS,
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.data_dir = data_dir
        self.relays: set[int] = set()  # call relays seen (``summarizer.desk.relay``)

    def start(self) -> Desk:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env())
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if m := _URL.search(line):
                self.url = m[1].rstrip("/")
                # Keep draining stderr so the child never blocks on a full pipe.
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()
                return self
        raise RuntimeError(f"summarizer serve did not start (exit {self.proc.wait()})")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _note_relay(self) -> None:
        if (pid := relay_pid(self.data_dir)) is not None:
            self.relays.add(pid)

    def relays_stopped(self) -> bool:
        """Every relay seen has exited (asked by the desk's stop); any left is killed."""
        stopped = [stop_relay(pid) for pid in self.relays]  # each one, not up to the first left
        return all(stopped)

    def kill(self) -> None:
        self._note_relay()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        self._note_relay()
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.kill()


async def one_client(
    client: httpx2.AsyncClient, jobs: list[dict[str, str]], out: list[dict[str, Any]]
) -> None:
    for job in jobs:
        sent = time.perf_counter()
        r = await client.post("/v1/briefs", json=job)
        while r.status_code == 429:  # a full queue or the rate limit: wait as told, then again
            await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            r = await client.post("/v1/briefs", json=job)
        body = r.json()
        while body.get("status") in {"queued", "running"}:
            await asyncio.sleep(POLL_S)
            body = (await client.get(f"/v1/briefs/{body['id']}")).json()
        body["client_s"] = time.perf_counter() - sent
        body.pop("record", None)
        out.append(body)


async def drive(url: str, articles: list[dict[str, str]], clients: int) -> tuple[list[dict[str, Any]], float]:
    out: list[dict[str, Any]] = []
    limits = httpx2.Limits(max_connections=clients + 2)
    async with httpx2.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one_client(client, articles[i::clients], out) for i in range(clients)))
        return out, time.perf_counter() - started


def store_rows(data: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(data / "briefs.sqlite3")
    try:
        return db.execute("SELECT id, key, status FROM briefs").fetchall()
    finally:
        db.close()


def load_phase(fake_url: str, data: Path, n: int, clients: int, concurrency: int) -> None:
    print(f"\n1. load: {n} briefs, {clients} concurrent clients, desk --concurrency {concurrency}")
    articles = [article(i) for i in range(n)]
    before = fake_requests(fake_url)
    desk = Desk(fake_url, data, concurrency)
    try:
        desk.start()
        # The first brief of a fresh process pays for lazy imports and schema set-up: shown apart.
        (first,), _ = asyncio.run(drive(desk.url, [article(0, "warm")], 1))
        print(f"  first brief of the process (cold): total {first['timings']['total_s'] * 1000:.0f} ms, "
              f"model {first['timings']['model_s'] * 1000:.0f} ms")  # fmt: skip
        # One client, one brief at a time: the desk's own work without 20 briefs sharing the CPU.
        solo, _ = asyncio.run(drive(desk.url, [article(i, "solo") for i in range(SOLO)], 1))
        own = [r["timings"]["overhead_s"] * 1000 for r in solo]
        minus = [(r["timings"]["total_s"] - r["timings"]["model_s"]) * 1000 for r in solo]
        print(f"  one at a time ({SOLO} briefs): total - model p50 {pct(minus, 50):.1f} ms, "
              f"p99 {pct(minus, 99):.1f} ms; own work p50 {pct(own, 50):.1f} ms")  # fmt: skip
        before = fake_requests(fake_url)
        cpu0 = desk.cpu_seconds()
        results, wall = asyncio.run(drive(desk.url, articles, clients))
        cpu = desk.cpu_seconds() - cpu0
        calls = fake_requests(fake_url) - before
        done = [r for r in results if r["status"] == "done"]
        t = [r["timings"] for r in done]
        total = [x["total_s"] * 1000 for x in t]
        model = [x["model_s"] * 1000 for x in t]
        minus_model = [(x["total_s"] - x["model_s"]) * 1000 for x in t]
        own = [x["overhead_s"] * 1000 for x in t]
        queued = [x["queued_s"] * 1000 for x in t]
        client = [r["client_s"] * 1000 for r in done]
        print(f"  wall {wall:.1f} s, {len(done) / wall:.1f} briefs/s; desk CPU {cpu:.1f} s "
              f"({cpu / max(1, len(done)) * 1000:.0f} ms per brief)")  # fmt: skip
        for name, xs in (
            ("total (accepted -> stored)", total),
            ("model (HTTP wait)", model),
            ("queued", queued),
            ("overhead = total - model", minus_model),
            ("overhead - queue wait (own work)", own),
            ("client-observed (incl. polling)", client),
        ):
            print(f"  {name:34s} p50 {pct(xs, 50):7.1f} ms   p99 {pct(xs, 99):7.1f} ms")  # fmt: skip
        rows = store_rows(data)
        check(len(done) == n, f"all {n} briefs done ({len(done)})")
        check(len({r["id"] for r in done}) == n, "each id once")
        check(calls == n, f"model calls {calls} == briefs {n} (none billed twice)")
        check(len(rows) == n + 1 + SOLO and len({r[1] for r in rows}) == n + 1 + SOLO,
              f"store holds {len(rows)} rows (with the earlier 1 + {SOLO}), keys unique")  # fmt: skip

        print(f"\n2. again: the same {n} articles")
        before = fake_requests(fake_url)
        again, wall = asyncio.run(drive(desk.url, articles, clients))
        calls = fake_requests(fake_url) - before
        client = [r["client_s"] * 1000 for r in again]
        print(
            f"  wall {wall:.2f} s; client-observed p50 {pct(client, 50):.1f} ms, p99 {pct(client, 99):.1f} ms"
        )
        check(
            all(r["status"] == "done" for r in again) and calls == 0,
            f"all from the store, {calls} model calls",
        )
    finally:
        desk.stop()
    check(desk.relays_stopped(), f"relay process(es) {sorted(desk.relays)} exited after the desk's stop")


async def submit_all(url: str, articles: list[dict[str, str]]) -> list[str]:
    async with httpx2.AsyncClient(base_url=url, timeout=60) as client:
        answers = await asyncio.gather(*(client.post("/v1/briefs", json=a) for a in articles))
    return [r.json()["id"] for r in answers if r.status_code == 202]


def kill_phase(fake_url: str, data: Path, n: int) -> None:
    print(f"\n3. kill -9: {n} briefs submitted at once, desk --concurrency 2, SIGKILL after 3 are done")
    before = fake_requests(fake_url)
    desk = Desk(fake_url, data, 2)
    try:
        desk.start()
        ids = asyncio.run(submit_all(desk.url, [article(i, "K") for i in range(n)]))
        with httpx2.Client(base_url=desk.url, timeout=60) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                items = client.get("/v1/briefs?limit=200").json()["items"]
                if sum(b["status"] == "done" for b in items) >= 3:
                    break
                time.sleep(0.01)
        desk.kill()
        states: dict[str, int] = {}
        for _, _, status in store_rows(data):
            states[status] = states.get(status, 0) + 1
        in_flight = states.get("running", 0)
        print(f"  at the kill: {states} (accepted {len(ids)})")
        check(len(ids) == n and states.get("queued", 0) > 0, "all accepted, work queued at the kill")
        desk.start()
        with httpx2.Client(base_url=desk.url, timeout=60) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                final = [client.get(f"/v1/briefs/{bid}").json()["status"] for bid in ids]
                if all(s in {"done", "failed"} for s in final):
                    break
                time.sleep(0.05)
    finally:
        desk.stop()
    calls = fake_requests(fake_url) - before
    rows = store_rows(data)
    print(f"  after the restart: model calls {calls}, store rows {len(rows)}")
    check(all(s == "done" for s in final), "every accepted brief ended done")
    check(len(rows) == n and len({r[1] for r in rows}) == n, "none duplicated in the store")
    print(f"  extra model calls after the restart: {calls - n} (briefs running at the kill: {in_flight})")
    if "--no-relay" in DESK_ARGS:  # the baseline: calls in flight at the kill are made again
        check(calls <= n + in_flight, f"model calls {calls} <= accepted {n} + in flight {in_flight}")
    else:
        check(calls == n, f"model calls {calls} == accepted {n}: none paid twice")
    check(desk.relays_stopped(), f"relay process(es) {sorted(desk.relays)} exited after the desk's stop")


def relay_pid(data: Path) -> int | None:
    try:
        return int(json.loads((data / "relay" / "relay.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def stop_relay(pid: int, wait_s: float = 15.0) -> bool:
    """The relay exits once asked (the desk's stop); if not, it is killed. True: it had exited."""
    from summarizer.desk.relayed import relay_alive

    deadline = time.monotonic() + wait_s
    while relay_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if relay_alive(pid):
        os.kill(pid, signal.SIGKILL)
        return False
    return True


def main() -> None:
    global POLL_S  # noqa: PLW0603 - one knob for every client
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20, help="the desk's model calls at a time")
    parser.add_argument("--latency", type=float, default=0.2, help="the fake model's seconds per answer")
    parser.add_argument("--kill-briefs", type=int, default=60)
    parser.add_argument("--poll", type=float, default=POLL_S, help="seconds between a client's status polls")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-relay", action="store_true", help="desk calls made directly (baseline)")
    args = parser.parse_args()
    POLL_S = args.poll
    if args.no_relay:
        DESK_ARGS.append("--no-relay")
    if args.quick:
        args.briefs, args.clients, args.concurrency, args.kill_briefs = 40, 8, 8, 20
    python = sys.version.split()[0]
    print(f"fake model latency {args.latency * 1000:.0f} ms; python {python}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp, fake_server(args.latency) as fake_url:
        load_phase(fake_url, Path(tmp) / "load", args.briefs, args.clients, args.concurrency)
        kill_phase(fake_url, Path(tmp) / "kill", args.kill_briefs)
    print("\n" + ("all checks passed" if not FAILURES else f"FAILED: {FAILURES}"))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
