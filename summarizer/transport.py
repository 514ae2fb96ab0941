"""The one transport-retry layer: an HTTP transport that retries with tenacity.

It sits under the OpenAI SDK (whose own ``max_retries`` is 0) and under instructor (whose retries
are only re-asks after validation errors), so the layers never multiply.

- 429: wait ``retry-after-ms`` / ``retry-after`` (capped), else exponential backoff with jitter.
- 408, 409, 5xx, timeouts, connection errors: exponential backoff with jitter.
- a 400 / 422 / 500 whose body names ``response_format`` or ``json_schema`` is the server's
  answer to the structured-output form (llama-cpp-python refuses ``json_schema`` with a 500),
  not a fault: returned at once; ``llm`` decides what to do with it.
- anything else is returned at once; the SDK turns it into its typed error.

When retries run out the last response (or error) goes up unchanged, so the caller sees the real
status. Every request sent is counted in the current ``CallStats`` (a context variable), which
makes the per-article attempt count exact under asyncio too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

RETRY_STATUSES = frozenset({408, 409, 429})
TRANSIENT_ERRORS = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)


@dataclass
class CallStats:
    """Requests sent and 429s seen for one unit of work (one article)."""

    requests: int = 0
    throttled: int = 0
    request_ids: list[str] = field(default_factory=list)


current_stats: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar(
    "summarizer_call_stats", default=None
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    initial_wait: float = 0.5
    max_wait: float = 60.0


class Throttle:
    """A pause shared by every request of a runner: one 429 slows them all down. ``on_pause`` is
    told of each pause a 429 sets (a worker process passes it on to the others, which ``hold``)."""

    def __init__(self, on_pause: Callable[[float], None] | None = None) -> None:
        self._until = 0.0
        self.on_pause = on_pause

    def pause(self, seconds: float) -> None:
        self.hold(seconds)
        if self.on_pause is not None:
            self.on_pause(seconds)

    def hold(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._until = max(self._until, until)

    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())


def retry_after_seconds(response: httpx2.Response) -> float | None:
    """Seconds the server asks us to wait, from ``retry-after-ms`` or ``retry-after``."""
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # a header we cannot read: fall back to our own backoff
    return max(0.0, parsed.timestamp() - time.time())


STRUCTURED_OUTPUT_REFUSAL_STATUSES = frozenset({400, 422, 500})


def refuses_structured_output(status: int, body: str) -> bool:
    """True for an error answer about the request's structured-output form.

    llama-cpp-python's server answers ``response_format: {"type": "json_schema", ...}`` with a 500
    carrying its request-validation error; other servers answer 400 or 422 naming
    ``response_format``. That is a configuration answer, not a transient fault: the same request
    gets the same answer, so it is never retried.
    """
    if status not in STRUCTURED_OUTPUT_REFUSAL_STATUSES:
        return False
    text = body.lower()
    return any(word in text for word in ("response_format", "json_schema", "grammar", "llguidance"))


def _retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def _is_retryable(response: Any) -> bool:
    status = getattr(response, "status_code", 200)
    if not _retryable_status(status):
        return False
    try:
        body = response.text  # read by ``send`` for every status that may be retried
    except httpx2.ResponseNotRead:
        body = ""
    return not refuses_structured_output(status, body)


class _Wait:
    def __init__(self, policy: RetryPolicy, throttle: Throttle | None) -> None:
        self._policy = policy
        self._throttle = throttle
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait
        )

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if getattr(response, "status_code", 0) == 429:
                asked = retry_after_seconds(response)
                wait = min(asked, self._policy.max_wait) if asked is not None else None
                wait = self._backoff(state) if wait is None else wait
                if self._throttle is not None:
                    self._throttle.pause(wait)
                return wait
        return float(self._backoff(state))


def _count(request: httpx2.Request) -> None:
    stats = current_stats.get()
    if stats is not None:
        stats.requests += 1


def _note(response: httpx2.Response) -> httpx2.Response:
    stats = current_stats.get()
    if stats is not None:
        if response.status_code == 429:
            stats.throttled += 1
        rid = response.headers.get("x-request-id")
        if rid:
            stats.request_ids.append(rid)
    return response


def _retry_kwargs(policy: RetryPolicy, throttle: Throttle | None) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(policy.max_retries + 1),
        "wait": _Wait(policy, throttle),
        "retry": retry_if_exception_type(TRANSIENT_ERRORS) | retry_if_result(_is_retryable),
        # Out of retries: hand the last response (or error) up unchanged.
        "retry_error_callback": lambda state: state.outcome.result() if state.outcome else None,
        "reraise": True,
    }


class RetryingTransport(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.BaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        def send() -> httpx2.Response:
            _count(request)
            response = _note(self._inner.handle_request(request))
            if _retryable_status(response.status_code):
                response.read()  # error bodies are small; reading also closes the stream
            return response

        result: httpx2.Response = Retrying(**_retry_kwargs(self._policy, None))(send)
        return result

    def close(self) -> None:
        self._inner.close()


Gate = Callable[[httpx2.Request], Awaitable[None]]


class AsyncRetryingTransport(httpx2.AsyncBaseTransport):
    """Async twin, plus what a batch runner shares between requests: a ``Throttle`` that one
    429 sets for everyone, a ``gate`` (client-side rate limits) every request passes, and
    ``calls``, the most requests awaiting their answer at once (``--concurrency``: the articles
    around them are prepared and checked meanwhile)."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        policy: RetryPolicy,
        throttle: Throttle | None = None,
        gate: Gate | None = None,
        calls: asyncio.Semaphore | None = None,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._throttle = throttle
        self._gate = gate
        self._calls = calls

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        async def send() -> httpx2.Response:
            # The request's slot first, then the run's 429 pause and the rate gate inside it: a
            # request let through is sent at once (no burst of them when slots free together, and
            # none sent into a pause a 429 has just set); the backoff between tries is outside.
            async with self._calls or contextlib.nullcontext():
                if self._throttle is not None:
                    while (delay := self._throttle.remaining()) > 0:
                        await asyncio.sleep(delay)
                if self._gate is not None:
                    await self._gate(request)
                _count(request)
                response = _note(await self._inner.handle_async_request(request))
                if _retryable_status(response.status_code):
                    await response.aread()
            return response

        retrying = AsyncRetrying(**_retry_kwargs(self._policy, self._throttle))
        result: httpx2.Response = await retrying(send)
        return result

    async def aclose(self) -> None:
        await self._inner.aclose()
