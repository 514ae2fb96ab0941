"""``summarizer serve``: the desk's HTTP API, in-process (httpx2's ASGI transport) against the fake
OpenAI server, plus one real crash (SIGKILL of a serve process) and its restart.

What is under test is ours: intake with the CLI's messages, the store keyed like the batch
ledger (served without a model call), the one queue and its limits, the token and host rules,
the OpenAPI document. Model answers are the fake's generated ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import jsonschema
import pytest

from summarizer.articles import Article, load_article, normalize_text
from summarizer.batch import item_key
from summarizer.desk.api import DeskApp
from summarizer.desk.guard import GuardOptions, RateLimiter
from summarizer.desk.openapi import document
from summarizer.desk.server import check_exposure, concurrency_for
from summarizer.desk.store import Store
from summarizer.desk.work import Desk, DeskOptions
from summarizer.errors import ConfigurationError, InputError
from summarizer.render import to_json
from summarizer.schema import EventSummary
from summarizer.settings import Settings
from tests.conftest import ROOT, SEED
from tests.support.desk_process import DeskProcess
from tests.support.fake_openai import FakeServer

T = TypeVar("T")
BASE = "http://127.0.0.1:8765"
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - never bound: the rule refuses it first
PARAGRAPH = (
    "The city council of {town} voted on Tuesday to build {n} new bridges, officials said. "
    '"We need them now," said councillor Maria Lopez. The plan costs {n}00 million euros.'
)


def article_text(i: int, extra: str = "") -> str:
    return f"Bridges for town {i}\n\n" + PARAGRAPH.format(town=f"Town{i}", n=i + 2) + extra


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(latency=0.005) as server:
        yield server


def settings_for(fake: FakeServer, **kw: Any) -> Settings:
    base = {"base_url": fake.base_url, "model": "fake-model", "api_key": "k", "max_retries": 3,
            "max_retry_wait": 0.05, "structured_output": "json_schema"}  # fmt: skip
    return Settings(**{**base, **kw})


class HeldTransport(httpx2.AsyncBaseTransport):
    """Holds every model request until ``release`` is set: the test decides when the model answers."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.release = asyncio.Event()
        self.held = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.held += 1
        await self.release.wait()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def desk_client(
    settings: Settings,
    data_dir: Path,
    *,
    token: str | None = None,
    concurrency: int = 2,
    max_queue: int = 100,
    rate: float = 0.0,
    max_body: int = 5_000_000,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[tuple[httpx2.AsyncClient, Desk]]:
    desk = Desk(
        settings, DeskOptions(data_dir, concurrency=concurrency, max_queue=max_queue), transport=transport
    )
    app = DeskApp(desk, GuardOptions(token=token, max_body=max_body, rate_per_minute=rate), manage_desk=False)
    async with desk.running():
        transport_ = httpx2.ASGITransport(app=app.app)
        async with httpx2.AsyncClient(transport=transport_, base_url=BASE) as client:
            yield client, desk


async def until(check: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 60.0) -> None:
    """Wait for ``check`` (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + deadline_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def finished(client: httpx2.AsyncClient, bid: str, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal body
        body = (await client.get(f"/v1/briefs/{bid}", **kw)).json()
        return body["status"] in {"done", "failed"}

    await until(done, f"brief {bid}")
    return body


def seed_json() -> dict[str, Any]:
    return {
        "title": "Ukraine retakes areas around Kyiv",
        "text": SEED.read_text(encoding="utf-8"),
        "url": "https://example.org/news/kyiv",
        "published_at": "2022-04-02",
        "publisher": "Example Wire",
    }


# --------------------------------------------------------------------------- the happy path


def test_a_json_article_is_queued_then_done_with_the_record_of_format_json(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            r = await client.post("/v1/briefs", json=seed_json())
            assert r.status_code == 202, r.text
            accepted = r.json()
            bid = accepted["id"]
            assert r.headers["location"] == f"/v1/briefs/{bid}" == accepted["links"]["status"]
            assert accepted["status"] in {"queued", "running"}
            body = await finished(client, bid)
            assert body["status"] == "done", body
            record = EventSummary.model_validate(body["record"])
            text = load_article(SEED).text
            assert record.key == item_key(text, "fake-model") and len(bid) == 24
            assert record.article.url == "https://example.org/news/kyiv"
            assert record.article.publisher == "Example Wire" and record.article.published_at == "2022-04-02"
            assert body["headline"] == record.summary.headline
            assert body["timings"]["model_s"] > 0 and body["model_calls"] == 1
            # .json is exactly what `summarizer brief --format json` prints for this record.
            as_json = await client.get(f"/v1/briefs/{bid}.json")
            assert as_json.text == to_json(record) + "\n"
            md = await client.get(f"/v1/briefs/{bid}.md")
            assert md.headers["content-type"].startswith("text/markdown")
            assert md.text.startswith(f"# {record.summary.headline}")
            page = await client.get(f"/v1/briefs/{bid}.html")
            assert page.headers["content-security-policy"].startswith("default-src 'none'")
            assert 'http-equiv="Content-Security-Policy"' in page.text and "<mark" in page.text
        assert fake.requests == 1

    run(go())


def test_the_same_article_is_served_from_the_store_and_never_billed_twice(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            first = (await client.post("/v1/briefs", json={"text": article_text(1)})).json()
            await finished(client, first["id"])
            again = await client.post(
                "/v1/briefs", content=article_text(1).encode(), headers={"content-type": "text/plain"}
            )
            assert again.status_code == 200 and again.json()["status"] == "done"
            assert again.json()["id"] == first["id"]
            assert again.json()["record"]["key"] == first_record_key(article_text(1))
            # Five at once of a new article: one job, one model call.
            answers = await asyncio.gather(
                *(client.post("/v1/briefs", json={"text": article_text(2)}) for _ in range(5))
            )
            assert {a.status_code for a in answers} <= {200, 202}
            ids = {a.json()["id"] for a in answers}
            assert len(ids) == 1
            await finished(client, ids.pop())
        assert fake.requests == 2

    run(go())


def first_record_key(text: str) -> str:
    return item_key(normalize_text(text), "fake-model")


def test_a_corrected_dateline_is_a_new_brief_grounded_without_a_model_call(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            story = {"text": article_text(3), "title": "Bridges for town 3", "published_at": "2015-12-30"}
            first = await finished(client, (await client.post("/v1/briefs", json=story)).json()["id"])
            assert first["model_calls"] == 1 and fake.requests == 1
            fixed = {**story, "published_at": "2022-04-02", "url": "https://example.org/b3",
                     "publisher": "Example Wire"}  # fmt: skip
            r = await client.post("/v1/briefs", json=fixed)
            assert r.json()["id"] != first["id"]
            second = await finished(client, r.json()["id"])
            assert fake.requests == 1 and second["model_calls"] == 0  # the kept answer, grounded again
            meta = second["record"]["article"]
            assert (meta["published_at"], meta["url"], meta["publisher"]) == (
                "2022-04-02",
                "https://example.org/b3",
                "Example Wire",
            )
            assert second["record"]["summary"]["events"] and second["record"]["key"] == first["record"]["key"]
            # Both stay: the list shows two briefs of the one text.
            assert (await client.get("/v1/briefs")).json()["total"] == 2

    run(go())


def test_uploads_and_raw_bodies_are_read_like_files(fake: FakeServer, tmp_path: Path) -> None:
    md = "# Floods hit Riverton\n\n" + PARAGRAPH.format(town="Riverton", n=3)
    html = (
        "<html><head><title>Tram vote in Zurich</title></head><body><article><h1>Tram vote in Zurich</h1>"
        "<p>" + PARAGRAPH.format(town="Zurich", n=4) + "</p><p>Voters will decide in June, the city said.</p>"
        "<script>alert(1)</script></article></body></html>"
    )

    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            up = await client.post(
                "/v1/briefs", files={"file": ("dir/floods.md", md.encode(), "text/markdown")}
            )
            assert up.status_code == 202, up.text
            assert up.json()["title"] == "Floods hit Riverton" and up.json()["source"] == "floods.md"
            raw = await client.post(
                "/v1/briefs", content=html.encode(), headers={"content-type": "text/html"}
            )
            assert raw.status_code == 202, raw.text
            form = await client.post("/v1/briefs", data={"text": article_text(7), "title": "Seven"})
            assert form.status_code == 202 and form.json()["title"] == "Seven"
            for r in (up, raw, form):
                assert (await finished(client, r.json()["id"]))["status"] == "done"
            record = EventSummary.model_validate(
                (await client.get(f"/v1/briefs/{raw.json()['id']}")).json()["record"]
            )
            assert "alert(1)" not in record.article.text and "Voters will decide" in record.article.text
            assert record.article.id == raw.json()["id"]  # no id given: the brief's own

    run(go())


# --------------------------------------------------------------------------- bad input


def cli_message(path: Path) -> str:
    """What `summarizer brief PATH` says about this file, with the path shortened to its name."""
    with pytest.raises(InputError) as info:
        load_article(path, max_bytes=1000)
    return str(info.value).replace(str(path), path.name)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("scan.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 2),
        ("empty.md", b""),
        ("latin1.txt", b"Caf\xe9 news from the town hall"),
        ("broken.json", b'{"text": "unterminated'),
        ("notext.json", b'{"title": "no text"}'),
        ("list.json", b"[1, 2]"),
        ("big.txt", b"word " * 300),
        ("report.pdf", b"%PDF-1.4 something"),
    ],
)
def test_bad_uploads_get_the_cli_message(fake: FakeServer, tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    expected = cli_message(path)
    status = {"big.txt": 413, "report.pdf": 415}.get(name, 422)

    async def go() -> None:
        async with desk_client(settings_for(fake, max_bytes=1000), tmp_path / "data") as (client, _desk):
            r = await client.post("/v1/briefs", files={"file": (name, data, "application/octet-stream")})
            assert r.status_code == status, r.text
            err = r.json()["error"]
            assert err["message"] == expected and err["status"] == status and err["kind"] == "input"
            assert "\n" not in err["message"]

    run(go())
    assert fake.requests == 0


def test_bad_bodies_are_4xx_with_one_line(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake, max_bytes=2000), tmp_path / "data", max_body=10_000) as (
            client,
            _d,
        ):
            cases = [
                (client.post("/v1/briefs", content=b'{"text": ', headers={"content-type": "application/json"}),
                 422, "request body: malformed JSON at line 1 column 10; fix the JSON"),
                (client.post("/v1/briefs", json={"text": "  "}),
                 422, "request body: the JSON has no non-empty 'text' field; add the article text"),
                (client.post("/v1/briefs", json={"text": "x", "title": ["a"]}),
                 422, "request body: field 'title' must be a string; fix the JSON"),
                (client.post("/v1/briefs", content=b"<x>", headers={"content-type": "image/png"}),
                 415, "request body: unsupported content type 'image/png'"),
                (client.post("/v1/briefs", content=b"a" * 3000, headers={"content-type": "text/plain"}),
                 413, "request body: 3,000 bytes is over the 2,000-byte limit; split the file or raise --max-bytes"),
                (client.post("/v1/briefs", content=b"a" * 20_000, headers={"content-type": "text/plain"}),
                 413, "over the 10,000-byte request limit"),
                (client.post("/v1/briefs", data={"title": "no text"}), 422, "needs a 'file'"),
                (client.get("/v1/briefs/0123456789abcdef01234567"), 404, "no brief '0123456789abcdef01234567'"),
                (client.get("/v1/briefs?limit=0"), 400, "limit must be a whole number from 1 to 200"),
                (client.get("/nowhere"), 404, "no such page"),
                (client.delete("/v1/briefs"), 405, "method not allowed"),
            ]  # fmt: skip
            for call, status, needle in cases:
                r = await call
                assert r.status_code == status, (needle, r.text)
                assert r.headers["content-type"] == "application/json"
                message = r.json()["error"]["message"]
                assert needle in message and "\n" not in message

    run(go())
    assert fake.requests == 0


def test_a_failed_brief_says_why_in_one_line_and_asking_again_retries(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            fake.script("Town3", ["400", "ok"])
            bid = (await client.post("/v1/briefs", json={"text": article_text(3)})).json()["id"]
            body = await finished(client, bid)
            assert body["status"] == "failed" and body["error_kind"] == "endpoint"
            assert body["error"] and "\n" not in body["error"] and "record" not in body
            r = await client.get(f"/v1/briefs/{bid}.md")
            assert r.status_code == 409 and "failed" in r.json()["error"]["message"]
            again = await client.post("/v1/briefs", json={"text": article_text(3)})
            assert again.status_code == 202 and again.json()["id"] == bid
            body = await finished(client, bid)
            assert body["status"] == "done" and body["error"] is None and body["model_calls"] == 2

    run(go())


def test_healthz_is_not_ok_once_briefs_keep_failing_against_the_endpoint(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data", concurrency=1) as (client, _desk):
            assert (await client.get("/healthz")).json()["ok"] is True
            for i in range(3):
                fake.script(f"Town{120 + i}", ["400"])
                bid = (await client.post("/v1/briefs", json={"text": article_text(120 + i)})).json()["id"]
                await finished(client, bid)
                if i < 2:  # one or two failures may be the articles'
                    assert (await client.get("/healthz")).json()["ok"] is True
            health = (await client.get("/healthz")).json()
            assert (
                health["ok"] is False
                and "the last 3 briefs failed reaching the model" in health["model_error"]
            )
            ok = (await client.post("/v1/briefs", json={"text": article_text(123)})).json()["id"]
            await finished(client, ok)
            assert (await client.get("/healthz")).json()["ok"] is True  # one brief through: healthy again

    run(go())


def test_retry_queues_a_failed_brief_and_regenerate_asks_the_model_anew(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, desk):
            fake.script("Town4", ["400", "ok"])
            bid = (await client.post("/v1/briefs", json={"text": article_text(4)})).json()["id"]
            assert (await finished(client, bid))["status"] == "failed"
            retried = await client.post(f"/v1/briefs/{bid}/retry")
            assert retried.status_code == 202 and retried.json()["id"] == bid
            assert retried.headers["location"] == f"/v1/briefs/{bid}"
            done = await finished(client, bid)
            assert done["status"] == "done" and done["model_calls"] == 2
            first = (await client.get(f"/v1/briefs/{bid}.json")).json()
            # A done brief is not retried (that would pay for the same answer again) ...
            again = await client.post(f"/v1/briefs/{bid}/retry")
            assert again.status_code == 409 and again.json()["error"]["kind"] == "done"
            assert "regenerate" in again.json()["error"]["message"]
            # ... it is regenerated: a new model call, sampled (temperature, a seed of its own).
            before = [s.sampling for s in fake.log if s.subject]
            assert set(before) == {(0.0, 7)}  # the run's greedy sampling
            regenerated = await client.post(f"/v1/briefs/{bid}/regenerate")
            assert regenerated.status_code == 202 and regenerated.json()["status"] == "queued"
            redone = await finished(client, bid)
            assert redone["status"] == "done" and redone["model_calls"] == 3
            last = [s.sampling for s in fake.log if s.subject][len(before) :]
            assert last == [(0.7, 7 + 3)]  # its third run
            record = (await client.get(f"/v1/briefs/{bid}.json")).json()
            assert record["provenance"]["created_at"] >= first["provenance"]["created_at"]
            assert desk.model_calls == 3
            missing = await client.post("/v1/briefs/0123456789abcdef01234567/retry")
            assert missing.status_code == 404

    run(go())


def test_a_long_poll_answers_at_the_next_change_or_304(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        held = HeldTransport()
        async with desk_client(settings_for(fake), tmp_path / "data", transport=held) as (client, desk):
            bid = (await client.post("/v1/briefs", json={"text": article_text(5)})).json()["id"]
            await until(lambda: _is(client, bid, "running"), "the brief to run")
            now = await client.get(f"/v1/briefs/{bid}")
            tag = now.headers["etag"]
            assert now.json()["status"] == "running" and tag.startswith('W/"')
            # Nothing changes for 1 s: 304, with the same ETag.
            quiet = await client.get(f"/v1/briefs/{bid}?wait=1", headers={"if-none-match": tag})
            assert quiet.status_code == 304 and quiet.headers["etag"] == tag
            # The answer arrives while the poll waits: the poll answers with the done status.
            poll = asyncio.create_task(
                client.get(f"/v1/briefs/{bid}?wait=30", headers={"if-none-match": tag})
            )
            await asyncio.sleep(0.2)
            assert not poll.done()
            held.release.set()
            answer = await asyncio.wait_for(poll, 20)  # a hang guard, not a timing assertion
            assert answer.status_code == 200 and answer.json()["status"] == "done"
            assert answer.headers["etag"] != tag
            # A stale ETag (a change happened since) answers at once; so does wait=0.
            stale = await client.get(f"/v1/briefs/{bid}?wait=30", headers={"if-none-match": tag})
            assert stale.status_code == 200 and stale.json()["status"] == "done"
            assert desk.changes >= 3  # queued, running, done
            bad = await client.get(f"/v1/briefs/{bid}?wait=600")
            assert bad.status_code == 400 and "wait" in bad.json()["error"]["message"]

    run(go())


def test_a_long_poll_returns_when_the_desk_closes(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        desk = Desk(settings_for(fake), DeskOptions(tmp_path / "data"))
        await desk.start()
        seen = desk.changes
        waiter = asyncio.create_task(desk.changed_since(seen, 30))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await desk.close()
        await asyncio.wait_for(waiter, 5)  # returned on close, long before its 30 s

    run(go())


# --------------------------------------------------------------------------- queue and limits


def test_queue_positions_and_a_full_queue_answers_429_with_retry_after(
    fake: FakeServer, tmp_path: Path
) -> None:
    async def go() -> None:
        held = HeldTransport()
        async with desk_client(settings_for(fake), tmp_path / "data", concurrency=1, max_queue=2,
                               transport=held) as (client, desk):  # fmt: skip
            first = (await client.post("/v1/briefs", json={"text": article_text(10)})).json()

            async def running() -> bool:
                return held.held == 1

            await until(running, "the first brief to reach the model")
            assert (await client.get(f"/v1/briefs/{first['id']}")).json()["status"] == "running"
            second = (await client.post("/v1/briefs", json={"text": article_text(11)})).json()
            third = (await client.post("/v1/briefs", json={"text": article_text(12)})).json()
            assert (second["status"], second["position"]) == ("queued", 1)
            assert (third["status"], third["position"]) == ("queued", 2)
            full = await client.post("/v1/briefs", json={"text": article_text(13)})
            assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
            assert full.json()["error"]["kind"] == "queue_full"
            listed = (await client.get("/v1/briefs")).json()
            assert (listed["queued"], listed["running"]) == (2, 1)
            assert [i["position"] for i in listed["items"]] == [2, 1, None]
            # A brief already in the store is still answered when the queue is full.
            assert (await client.post("/v1/briefs", json={"text": article_text(12)})).status_code == 202
            held.release.set()
            for b in (first, second, third):
                assert (await finished(client, b["id"]))["status"] == "done"
            assert desk.model_calls == 3

    run(go())


def test_submissions_are_rate_limited_per_client_and_reads_are_not(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data", rate=2) as (client, _desk):
            for i in range(2):
                assert (
                    await client.post("/v1/briefs", json={"text": article_text(20 + i)})
                ).status_code == 202
            r = await client.post("/v1/briefs", json={"text": article_text(22)})
            assert r.status_code == 429 and r.json()["error"]["kind"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
            for _ in range(5):
                assert (await client.get("/v1/briefs")).status_code == 200

    run(go())


def test_only_accepted_briefs_count_against_the_rate_limit(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data", rate=2) as (client, _desk):
            first = (await client.post("/v1/briefs", json={"text": article_text(150)})).json()["id"]
            await finished(client, first)
            for _ in range(4):  # store hits and refusals: no work queued, nothing counted
                assert (await client.post("/v1/briefs", json={"text": article_text(150)})).status_code == 200
                assert (await client.post("/v1/briefs", json={"text": ""})).status_code == 422
            assert (await client.post("/v1/briefs", json={"text": article_text(151)})).status_code == 202
            over = await client.post(f"/v1/briefs/{first}/regenerate")  # queues work: counted too
            assert over.status_code == 429  # the third accepted brief in the minute
            assert (await client.post(f"/v1/briefs/{first}/retry")).status_code == 429

    run(go())


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0])  # 6 a minute: one every 10 s, a burst of 6
    assert all(limiter.take("a") == 0 for _ in range(6))
    assert limiter.take("a") == pytest.approx(10.0)
    assert limiter.take("b") == 0  # per client
    now[0] = 10.0
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0


# --------------------------------------------------------------------------- token, host, origin


def test_the_token_is_required_for_everything_but_the_page(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data", token="s3cret") as (client, _desk):
            page = await client.get("/")
            assert page.status_code == 200 and 'data-token-required="yes"' in page.text
            for path in ("/v1/briefs", "/openapi.json", "/healthz", "/v1/briefs/abc", "/v1/briefs/abc.md"):
                r = await client.get(path)
                assert r.status_code == 401, path
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert "token" in r.json()["error"]["message"]
            wrong = await client.post(
                "/v1/briefs", json={"text": "x"}, headers={"authorization": "Bearer nope"}
            )
            assert wrong.status_code == 401
            ok = {"authorization": "Bearer s3cret"}
            r = await client.post("/v1/briefs", json={"text": article_text(30)}, headers=ok)
            assert r.status_code == 202
            assert (await finished(client, r.json()["id"], headers=ok))["status"] == "done"
            assert (await client.get("/openapi.json", headers=ok)).json()["components"]["securitySchemes"]

    run(go())
    assert fake.requests == 1


def test_foreign_hosts_and_origins_are_refused(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            r = await client.get("/v1/briefs", headers={"host": "evil.example:8765"})
            assert r.status_code == 403 and "loopback" in r.json()["error"]["message"]
            r = await client.post("/v1/briefs", json={"text": "x"}, headers={"origin": "http://evil.example"})
            assert r.status_code == 403
            r = await client.post("/v1/briefs", json={"text": article_text(40)}, headers={"origin": BASE})
            assert r.status_code == 202
            assert (await client.get("/", headers={"host": "localhost:8765"})).status_code == 200

    run(go())


def test_binding_rules() -> None:
    check_exposure("127.0.0.1", None, False)
    check_exposure("::1", None, False)
    check_exposure(ALL_ADDRESSES, "tok", False)
    check_exposure(ALL_ADDRESSES, None, True)
    with pytest.raises(ConfigurationError, match="pass --token"):
        check_exposure(ALL_ADDRESSES, None, False)
    assert concurrency_for(Settings(), 4) == (
        1,
        "the embedded model answers 1 request(s) at a time (--slots): --concurrency 1",
    )
    assert concurrency_for(Settings(embedded_slots=3), None) == (3, None)  # one brief per slot
    assert concurrency_for(Settings(base_url="http://127.0.0.1:9/v1", model="m"), None) == (4, None)


def test_serve_refuses_a_public_address_without_a_token() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "serve", "--host", ALL_ADDRESSES, "--port", "0",
         "--base-url", "http://127.0.0.1:9/v1", "--model", "m"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "summarizer: error: refusing to serve on 0.0.0.0 without a token: anyone who can reach it could "
        "spend the model and read every brief; pass --token (or set SUMMARIZER_TOKEN), or --insecure if you mean it"
    ]


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_documents_every_route_and_the_answers_fit_it(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, desk):
            doc = (await client.get("/openapi.json")).json()
            assert doc == json.loads(json.dumps(document(token_required=False)))
            app = DeskApp(desk, GuardOptions(), manage_desk=False)
            routes = {(r.path, m) for r in app.starlette.routes for m in (getattr(r, "methods", None) or ())}
            documented = {
                (p.replace("{brief_id}", "{brief_id}"), m.upper())
                for p, ops in doc["paths"].items()
                for m in ops
            }
            assert {(p, m) for p, m in routes if m != "HEAD" and p != "/favicon.ico"} == documented
            comps = doc["components"]

            def check(body: Any, name: str) -> None:
                jsonschema.validate(body, {"$ref": f"#/components/schemas/{name}", "components": comps})

            r = await client.post("/v1/briefs", json={"text": article_text(50)})
            check(r.json(), "BriefStatus")
            check((await client.get("/v1/briefs/0123456789abcdef01234567")).json(), "ErrorBody")
            check(await finished(client, r.json()["id"]), "BriefStatus")
            check((await client.get("/v1/briefs")).json(), "BriefList")
            check((await client.get("/healthz")).json(), "Health")

    run(go())


# --------------------------------------------------------------------------- store and restart


def test_the_list_is_newest_first_and_searchable(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            ids = []
            for i in range(3):
                r = await client.post(
                    "/v1/briefs", json={"text": article_text(60 + i), "title": f"Title {i} 100%"}
                )
                ids.append(r.json()["id"])
                await finished(client, ids[-1])
            assert len((await client.get("/v1/briefs?limit=&q=")).json()["items"]) == 3  # empty: defaults
            listed = (await client.get("/v1/briefs?limit=2")).json()["items"]
            assert [b["id"] for b in listed] == ids[::-1][:2]
            assert "record" not in listed[0]
            assert [
                b["id"] for b in (await client.get("/v1/briefs", params={"q": "title 1"})).json()["items"]
            ] == [ids[1]]
            assert (await client.get("/v1/briefs", params={"q": "0%"})).json()[
                "items"
            ]  # LIKE wildcards are literal
            assert not (await client.get("/v1/briefs", params={"q": "_itle"})).json()["items"]

    run(go())


def test_the_list_pages_with_a_total(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data") as (client, _desk):
            ids = []
            for i in range(5):
                r = await client.post("/v1/briefs", json={"text": article_text(80 + i), "title": f"Page {i}"})
                ids.append(r.json()["id"])
                await finished(client, ids[-1])
            pages = []
            for offset in (0, 2, 4, 6):
                body = (await client.get(f"/v1/briefs?limit=2&offset={offset}")).json()
                assert body["total"] == 5 and body["offset"] == offset
                pages.append([b["id"] for b in body["items"]])
            assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:5], []]
            found = (await client.get("/v1/briefs", params={"q": "Page 3", "limit": "1"})).json()
            assert found["total"] == 1 and [b["id"] for b in found["items"]] == [ids[3]]
            bad = await client.get("/v1/briefs?offset=-1")
            assert bad.status_code == 400 and "offset" in bad.json()["error"]["message"]

    run(go())


def test_delete_removes_a_brief_for_good_but_not_while_it_runs(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        data = tmp_path / "data"
        async with desk_client(settings_for(fake), data, concurrency=1) as (client, desk):
            secret = "Embargoed until Friday: the minister resigns over the bridge contracts."
            r = await client.post("/v1/briefs", json={"text": article_text(90) + "\n\n" + secret})
            bid = r.json()["id"]
            await finished(client, bid)
            deleted = await client.delete(f"/v1/briefs/{bid}")
            assert deleted.status_code == 204
            assert (await client.get(f"/v1/briefs/{bid}")).status_code == 404
            assert (await client.delete(f"/v1/briefs/{bid}")).status_code == 404
            assert (await client.get("/v1/briefs")).json()["total"] == 0
            # A running brief is not deleted under its worker's feet; a queued one leaves the queue.
            fake.script("Town91", ["timeout:1"])
            running = (await client.post("/v1/briefs", json={"text": article_text(91)})).json()["id"]
            queued = (await client.post("/v1/briefs", json={"text": article_text(92)})).json()["id"]
            await until(lambda: _is(client, running, "running"), "the first brief to run")
            answer = await client.delete(f"/v1/briefs/{running}")
            assert answer.status_code == 409 and answer.json()["error"]["kind"] == "running"
            assert desk.position(queued) == 1  # one worker, busy with the first
            assert (await client.delete(f"/v1/briefs/{queued}")).status_code == 204
            assert desk.position(queued) is None
            await finished(client, running)
            assert (await client.get(f"/v1/briefs/{queued}")).status_code == 404  # never run
        # The deleted article's words are nowhere in the store's files (secure_delete, checkpoint).
        for f in data.iterdir():
            if f.is_file():
                assert b"Embargoed until Friday" not in f.read_bytes(), f.name

    run(go())


async def _is(client: httpx2.AsyncClient, bid: str, status: str) -> bool:
    return bool((await client.get(f"/v1/briefs/{bid}")).json()["status"] == status)


def test_the_article_text_is_kept_once(fake: FakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def go() -> dict[str, Any]:
        async with desk_client(settings_for(fake), data) as (client, _desk):
            bid = (await client.post("/v1/briefs", json=seed_json())).json()["id"]
            body = await finished(client, bid)
            served = (await client.get(f"/v1/briefs/{bid}.json")).json()
            assert served["article"]["text"] == body["record"]["article"]["text"]
            return served

    served = run(go())
    assert served["article"]["text"] == load_article(SEED).text
    db = sqlite3.connect(data / "briefs.sqlite3")
    stored = json.loads(db.execute("SELECT record FROM briefs").fetchone()[0])
    db.close()
    assert stored["article"]["text"] is None and stored["article"]["text_chars"] == len(
        served["article"]["text"]
    )


def test_retention_deletes_finished_briefs_past_their_days(fake: FakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def make() -> str:
        async with desk_client(settings_for(fake), data) as (client, _desk):
            bid = (await client.post("/v1/briefs", json={"text": article_text(160)})).json()["id"]
            await finished(client, bid)
            return bid

    old = run(make())
    db = sqlite3.connect(data / "briefs.sqlite3")
    db.execute("UPDATE briefs SET finished_at = finished_at - 3 * 86400 WHERE id = ?", (old,))
    db.commit()
    db.close()

    async def later() -> None:
        desk = Desk(settings_for(fake), DeskOptions(data, retention_days=2))
        async with desk.running():
            fresh = await desk.submit(Article(id="n", text=normalize_text(article_text(161))), source="t")

            async def expired() -> bool:
                return await desk.get(old) is None

            await until(expired, "the retention pass")
            assert await desk.get(fresh.row.id) is not None  # queued work is never expired

    run(later())


def test_a_202_says_when_to_look_again_and_the_store_is_private(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        data = tmp_path / "data"
        async with desk_client(settings_for(fake), data) as (client, _desk):
            r = await client.post("/v1/briefs", json={"text": article_text(95)})
            assert r.status_code == 202 and int(r.headers["retry-after"]) >= 1
            await finished(client, r.json()["id"])
            again = await client.post("/v1/briefs", json={"text": article_text(95)})
            assert again.status_code == 200 and "retry-after" not in again.headers
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in data.iterdir() if f.is_file()}
        assert modes and all(m == 0o600 for m in modes.values()), modes

    run(go())


def test_restart_keeps_done_briefs_and_runs_again_what_was_queued_or_running(
    fake: FakeServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"

    async def first_run() -> tuple[str, str, str]:
        held = HeldTransport()
        async with desk_client(settings_for(fake), data, concurrency=1) as (client, _desk):
            done = (await client.post("/v1/briefs", json={"text": article_text(70)})).json()["id"]
            await finished(client, done)
        async with desk_client(settings_for(fake), data, concurrency=1, transport=held) as (client, _desk):
            running = (await client.post("/v1/briefs", json={"text": article_text(71)})).json()["id"]

            async def reached() -> bool:
                return held.held == 1

            await until(reached, "the model call")
            queued = (await client.post("/v1/briefs", json={"text": article_text(72)})).json()["id"]
        return done, running, queued  # the desk closed with one brief running and one queued

    done, running, queued = run(first_run())
    db = sqlite3.connect(data / "briefs.sqlite3")
    states = dict(db.execute("SELECT id, status FROM briefs").fetchall())
    db.close()
    assert states == {done: "done", running: "running", queued: "queued"}
    before = fake.requests

    async def second_run() -> None:
        async with desk_client(settings_for(fake), data) as (client, desk):
            assert desk.queued + desk.in_flight == 2
            for bid in (running, queued):
                assert (await finished(client, bid))["status"] == "done"
            again = await client.post("/v1/briefs", json={"text": article_text(70)})
            assert again.status_code == 200 and again.json()["id"] == done

    run(second_run())
    assert fake.requests - before == 2  # the two unfinished ones; the done one costs nothing


def test_an_answer_that_arrived_before_a_stop_is_grounded_on_restart_not_bought_again(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import summarizer.engine

    data = tmp_path / "data"
    release = threading.Event()
    real_build = summarizer.engine.build_record

    def stuck(*args: Any) -> Any:  # grounding never ends: the stop comes after the answer
        release.wait(30)
        return real_build(*args)

    async def first_run() -> str:
        monkeypatch.setattr(summarizer.engine, "build_record", stuck)
        try:
            async with desk_client(settings_for(fake), data, concurrency=1) as (client, desk):
                bid = (await client.post("/v1/briefs", json={"text": article_text(73)})).json()["id"]

                async def kept() -> bool:
                    key = item_key(normalize_text(article_text(73)), "fake-model")
                    return await desk._read(desk.store.answer, bid, key) is not None

                await until(kept, "the model's answer in the store")
            return bid  # the desk stopped with the brief running, its answer kept
        finally:
            monkeypatch.setattr(summarizer.engine, "build_record", real_build)
            release.set()

    bid = run(first_run())
    calls = fake.requests
    assert calls == 1

    async def second_run() -> dict[str, Any]:
        async with desk_client(settings_for(fake), data) as (client, _desk):
            return await finished(client, bid)

    body = run(second_run())
    assert body["status"] == "done" and body["record"]["summary"]["events"]
    assert fake.requests == calls  # grounded again from the store: no second call
    assert body["model_calls"] == 1  # the call made before the stop is counted, once
    db = sqlite3.connect(data / "briefs.sqlite3")
    kept = db.execute("SELECT answer FROM briefs WHERE id = ?", (bid,)).fetchone()[0]
    assert json.loads(kept)["id"] == "chatcmpl-fake00000001"  # kept: the same text re-grounds from it
    db.close()


def test_a_first_version_store_gains_the_answer_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "briefs.sqlite3")
    db.executescript(STORE_V1)
    db.execute("PRAGMA user_version=1")
    db.close()
    article = Article(id="v1", text=normalize_text(article_text(130)), title="Bridges for town 130")
    text_key = item_key(article.text, "fake-model")
    db = sqlite3.connect(data / "briefs.sqlite3")
    db.execute(
        "INSERT INTO briefs (id, key, seq, status, article, title, source, submitted_at, record)"
        " VALUES (?, ?, 1, 'done', ?, ?, 'request body', 1.0, '{}')",
        (text_key[:24], text_key, json.dumps(article.__dict__), article.title),
    )
    db.commit()
    db.close()
    store = Store(data)
    try:
        assert store.answer(text_key[:24], text_key) is None
        columns = [r[1] for r in store.db.execute("PRAGMA table_info(briefs)")]
        assert "answer" in columns and store.db.execute("PRAGMA user_version").fetchone()[0] == 2
        # The version-1 brief is found again for the same text and details, not for others.
        found = store.first_version_row(text_key, article)
        assert found is not None and found.id == text_key[:24]
        assert store.first_version_row(text_key, replace(article, url="https://e.x/other")) is None
    finally:
        store.close()


def test_a_kept_answer_is_reused_only_for_its_own_text_prompt_and_model(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    try:
        article = Article(id="a", text=normalize_text(article_text(131)), title="T")
        text_key = item_key(article.text, "model-a")
        row = store.enqueue("k" * 64, article, source="test", submitted_at=1.0, text_key=text_key)
        store.keep_answer(row.id, '{"id": "chatcmpl-1"}', 1)
        assert store.answer(row.id, text_key) == '{"id": "chatcmpl-1"}'
        assert store.answer(row.id, item_key(article.text, "model-b")) is None  # restarted on another model
        assert store.same_text_answer(text_key) is None  # not done: never lent to another brief
    finally:
        store.close()


STORE_V1 = """CREATE TABLE briefs (id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL,
status TEXT NOT NULL, article TEXT NOT NULL, title TEXT, source TEXT, headline TEXT, needs_review INTEGER,
record TEXT, error TEXT, error_kind TEXT, submitted_at REAL NOT NULL, queued_at REAL, started_at REAL,
finished_at REAL, model_s REAL, extract_s REAL, model_calls INTEGER NOT NULL DEFAULT 0,
runs INTEGER NOT NULL DEFAULT 0);"""


def test_one_server_per_data_dir(fake: FakeServer, tmp_path: Path) -> None:
    async def go() -> None:
        async with desk_client(settings_for(fake), tmp_path / "data"):
            second = Desk(settings_for(fake), DeskOptions(tmp_path / "data"))
            with pytest.raises(ConfigurationError, match="another summarizer serve uses"):
                await second.start()
            await second.close()

    run(go())


def test_sigkill_with_work_queued_then_restart_finishes_every_brief_once(tmp_path: Path) -> None:
    """Kill -9 mid-run: every accepted brief ends done, none twice in the store, and the model
    is paid once per brief: calls in flight at the kill are finished by the call relay."""
    n = 24
    data = tmp_path / "data"
    with FakeServer(latency=0.1) as fake:
        desk = DeskProcess(fake.base_url, data, args=("--concurrency", "2", "--rate-limit", "0"))
        try:
            desk.start()
            with httpx2.Client(base_url=desk.url, timeout=30) as client:
                accepted = [client.post("/v1/briefs", json={"text": article_text(100 + i)}) for i in range(n)]
                assert all(r.status_code == 202 for r in accepted), [r.text for r in accepted]
                ids = [r.json()["id"] for r in accepted]
                deadline = time.monotonic() + 60
                while (
                    sum(b["status"] == "done" for b in client.get("/v1/briefs?limit=200").json()["items"]) < 3
                ):
                    assert time.monotonic() < deadline, "gave up waiting for the first briefs"
                    time.sleep(0.02)
            desk.kill()
            db = sqlite3.connect(data / "briefs.sqlite3")
            at_kill = dict(db.execute("SELECT status, count(*) FROM briefs GROUP BY status").fetchall())
            db.close()
            assert sum(at_kill.values()) == n and at_kill.get("queued", 0) > 0, at_kill
            in_flight = at_kill.get("running", 0)
            desk.start()
            desk.wait_done(ids, timeout=120)
        finally:
            desk.stop()
        calls = fake.requests
    db = sqlite3.connect(data / "briefs.sqlite3")
    rows = db.execute("SELECT id, key, status, record, text_key, model_calls FROM briefs").fetchall()
    db.close()
    assert len(rows) == n and len({r[1] for r in rows}) == n and {r[2] for r in rows} == {"done"}
    assert all(json.loads(r[3])["key"] == r[4] for r in rows)  # the record's key: the ledger's
    assert calls == n, (calls, n, in_flight)
    # Every call is counted across the kill: each is counted before it is sent, so a kill between
    # the count and the send can count one that never left (at most one per brief in flight).
    counted = sum(r[5] for r in rows)
    assert calls <= counted <= calls + in_flight, (counted, calls, in_flight)
