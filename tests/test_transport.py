"""The transport-retry layer in isolation, over httpx2.MockTransport.

The HTTP responses here are hand-written fault injections (status codes and headers only).
"""

from __future__ import annotations

import time

import httpx2
import pytest

from summarizer.transport import (
    CallStats,
    RetryingTransport,
    RetryPolicy,
    current_stats,
    retry_after_seconds,
)


def _client(
    statuses: list[int | Exception], headers: dict[str, str] | None = None, **policy: float
) -> tuple[httpx2.Client, list[float]]:
    sent: list[float] = []
    queue = list(statuses)

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(time.monotonic())
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return httpx2.Response(item, headers=headers or {}, json={"ok": item == 200})

    kw = {"max_retries": 4, "initial_wait": 0.01, "max_wait": 1.0, **policy}
    transport = RetryingTransport(httpx2.MockTransport(handler), RetryPolicy(**kw))  # type: ignore[arg-type]
    return httpx2.Client(transport=transport), sent


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    client, sent = _client([status, status, 200])
    assert client.get("http://t/x").status_code == 200
    assert len(sent) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_terminal_statuses_are_not_retried(status: int) -> None:
    client, sent = _client([status, 200])
    assert client.get("http://t/x").status_code == status
    assert len(sent) == 1


def test_retries_are_bounded_and_last_response_is_returned() -> None:
    client, sent = _client([503] * 10, max_retries=2)
    assert client.get("http://t/x").status_code == 503
    assert len(sent) == 3


def test_connection_errors_are_retried_then_raised() -> None:
    err = httpx2.ConnectError("refused")
    client, sent = _client([err, err, 200])
    assert client.get("http://t/x").status_code == 200
    client, sent = _client([err] * 5, max_retries=1)
    with pytest.raises(httpx2.ConnectError):
        client.get("http://t/x")
    assert len(sent) == 2


def test_429_waits_what_retry_after_asks_capped() -> None:
    client, sent = _client([429, 200], headers={"retry-after-ms": "300"})
    client.get("http://t/x")
    assert sent[1] - sent[0] >= 0.29
    client, sent = _client([429, 200], headers={"retry-after": "3600"}, max_wait=0.2)
    client.get("http://t/x")
    assert sent[1] - sent[0] < 1.0  # capped by max_wait, not an hour


def test_requests_are_counted_per_unit_of_work() -> None:
    client, _ = _client([500, 429, 200])
    stats = CallStats()
    token = current_stats.set(stats)
    try:
        client.get("http://t/x")
    finally:
        current_stats.reset(token)
    assert (stats.requests, stats.throttled) == (3, 1)


def test_retry_after_parsing() -> None:
    def resp(**h: str) -> httpx2.Response:
        return httpx2.Response(429, headers=h)

    assert retry_after_seconds(resp(**{"retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(resp(**{"retry-after": "2"})) == 2.0
    assert retry_after_seconds(resp()) is None
    assert retry_after_seconds(resp(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    assert retry_after_seconds(httpx2.Response(429, headers={"retry-after": "soon"})) is None
    client, sent = _client([429, 200], headers={"retry-after": "soon"})
    assert client.get("http://t/x").status_code == 200 and len(sent) == 2
